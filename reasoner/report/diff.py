"""Renderers for `diff`: text (to paste into a pull request), md (a pull-request comment), json, sarif."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Sequence
from urllib.parse import quote

from reasoner.diff.compare import Change, DiffResult, first_flow
from reasoner.diff.naming import describe, endpoints
from reasoner.model.calico import DEFAULT_TIER
from reasoner.model.ports import ALL, span
from reasoner.query.verdict import Verdict
from reasoner.report.connectivity import allowed_json, allowed_text
from reasoner.report.prove import chain, chain_lines, describe_new_pod
from reasoner.report.sarif import first_location, location, repo_path, rule, source_root
from reasoner.report.sarif import log as sarif_log
from reasoner.report.text import join_lines
from reasoner.report.witness import witness_json
from reasoner.results import ChangeKind, PolicyRef

WORDS = {ChangeKind.NEWLY_ALLOWED: "NEWLY ALLOWED", ChangeKind.NEWLY_DENIED: "NEWLY DENIED"}
FOLD = 10  # a markdown table of more rows is folded in <details>


def ports_text(c: Change) -> str:
    if c.protocol not in ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6"):
        return c.protocol
    if c.protocol in ("ICMP", "ICMPv6"):
        return c.protocol if c.ranges == [(0, 65535)] else f"{c.protocol} (some types)"
    if c.ranges == [(1, 65535)]:
        return f"{c.protocol} all ports"
    return f"{c.protocol} " + ", ".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in c.ranges)


def _groups(result: DiffResult, c: Change) -> tuple[str, str]:
    return describe(c.srcs, result), describe(c.dsts, result)


def _count(result: DiffResult) -> str:
    n = len(result.changes)
    out = f"{n} flow class{'es' if n != 1 else ''} change{'s' if n == 1 else ''} verdict"
    return out if result.total is None else f"{out} (of {result.total}; only those the filters keep)"


def _one_version(result: DiffResult) -> list[str]:
    """The endpoints of one version only (their flows are not compared), a line per direction."""
    return [f"endpoints {word}: {', '.join(names)}" for word, names in
            (("added", result.endpoints_added), ("removed", result.endpoints_removed)) if names]


def _no_change(result: DiffResult) -> tuple[str, str]:
    """The verdict word and the sentence of a diff in which no flow changes verdict: equivalent, or different
    by the endpoints of one version only."""
    if result.total:
        return "DIFFERENT", (f"(scope: {result.scope}): none of the {result.total} flow classes that change verdict "
                             "is one the filters keep.")
    if result.equivalent:
        return "EQUIVALENT", f"(scope: {result.scope}): no flow changes verdict."
    n = result.shared
    return "DIFFERENT", (f"(scope: {result.scope}): verdicts agree on the {n} endpoint{'s' if n != 1 else ''} of both "
                         f"versions; {'; '.join(_one_version(result))}.")


def inventory_equivalent(result: DiffResult) -> bool | None:
    """In any-workload scope, whether the versions agree on the endpoints given (every change shown is only for
    pods that could be deployed, and no endpoint is added or removed); None in inventory scope."""
    if result.scope != "any-workload":
        return None
    if result.endpoints_added or result.endpoints_removed:
        return False

    def given(group):
        out = []
        for j in group:
            members = [m for m in j.members if m not in result.new_pods]
            if j.external or members:
                out.append(replace(j, members=members))
        return out
    return not any(first_flow(replace(c, srcs=given(c.srcs), dsts=given(c.dsts))) for c in result.changes)


def _note(result: DiffResult) -> str | None:
    if result.changes and inventory_equivalent(result):
        return ("For the endpoints given (scope inventory) the versions are equivalent: every change "
                f"{'shown ' if result.total is not None else ''}is only for pods that could be deployed.")
    return None


def wider_note(result: DiffResult) -> str | None:
    """After an equivalent inventory diff, what scope any-workload says (when it differs, or could not be told)."""
    w = result.wider
    if w is None or (w["checked"] and w["equivalent"]):
        return None
    if not w["checked"]:
        return f"Not checked for pods that could be deployed ({w['why']}): run with --scope any-workload."
    n, x = w["changes"], w["witness"]
    pods = "; ".join(f"{name} stands for {describe_new_pod(pod)}" for name, pod in x.new_pods.items())
    return (f"But for pods that could be deployed (--scope any-workload) the versions differ: {n} flow "
            f"{'classes change' if n != 1 else 'class changes'} verdict, e.g. {x} is {w['change'].replace('-', ' ')}"
            + (f" ({pods})" if pods else "") + ".")


def to_text(result: DiffResult) -> str:
    one_version = _one_version(result)
    if not result.changes:
        word, sentence = _no_change(result)
        return join_lines([f"{word} {sentence}", result.proof, *([n] if (n := wider_note(result)) else [])])
    note = _note(result)
    lines = [f"{_count(result)} (scope: {result.scope})", *([note] if note else []), "",
             *([*one_version, ""] if one_version else [])]
    for c in result.changes:
        src, dst = _groups(result, c)
        lines.append(f"{WORDS[c.kind]:<14} {src} -> {dst}  {ports_text(c)}")
        lines.append(f"  witness: {c.witness}")
        for name in (c.witness.src, c.witness.dst):
            if name in result.new_pods:
                lines.append(f"  {name} stands for {describe_new_pod(result.new_pods[name].describe())}")
        for label, v in (("before", c.before), ("after", c.after)):
            assert v is not None
            lines.append(f"  {label}: {'allowed' if v.allowed else 'denied'}")
            lines.extend(f"    {x}" for x in chain_lines(v))
        lines.append("")
    return join_lines(lines).rstrip()


# --------------------------------------------------------------------------------------------------
# The rule that decides a flow
# --------------------------------------------------------------------------------------------------

def decider(v: Verdict, other: Verdict) -> dict | None:
    """What decides `v` at the ends where it differs from `other`: {"text", "rule", "file", "line"} of the deciding rule
    (the last step of an ordered evaluation, else the first rule that allows), else of a policy that selects the
    endpoint while none of its rules allows the flow (one of the tier whose end denies it); None when no policy
    decides (none applies)."""
    for side, was in ((v.egress, other.egress), (v.ingress, other.ingress)):
        if side.allowed == was.allowed:
            continue
        ref = side.steps[-1].rule if side.steps else side.allowing[0] if side.allowing else None
        if ref is not None:
            return {"text": f"{ref.policy.ref} {ref.direction}[{ref.index}]", "rule": True, "file": ref.file,
                    "line": ref.line}
        if not side.allowed and side.isolating:  # of the tier whose end denies it, when there are tiers
            tier = side.steps[-1].tier if side.steps else None
            pol = PolicyRef.of(next((q for q in side.isolating if getattr(q, "tier", DEFAULT_TIER) == tier),
                                    side.isolating[0]))
            return {"text": f"{pol.ref} (no rule allows it)", "rule": False, "file": pol.file, "line": pol.line}
    return None


def rule_of(c: Change) -> tuple[dict | None, dict | None]:
    """(after, before): what decides the witness in each version."""
    assert c.before is not None and c.after is not None
    return decider(c.after, c.before), decider(c.before, c.after)


class Links:
    """`file:line` of a rule as markdown: a link `BASE + PATH + #L + LINE` (PATH from the top of the repository)
    when the file is in the repository and there is a base for it, else the text. `base` is for the files as they
    are on disk (the revision checked out); `git_base` for the files read from `git:REV:PATH` (another revision,
    whose lines may differ): without it they are not linked."""

    def __init__(self, base: str | None, git_base: str | None = None):
        self.base, self.git_base = base, git_base
        self.root = source_root() if base or git_base else None

    def __call__(self, d: dict | None, verdict: str) -> str:
        if d is None:
            return f"{verdict}: no policy applies"
        at = d["file"] if d["line"] is None else f"{d['file']}:{d['line']}"
        base = self.git_base if d["file"].startswith("git:") else self.base
        path = repo_path(d["file"], self.root) if self.root is not None and base else None
        if path is None:
            return f"{verdict} by {_cell(d['text'])} ({_cell(at)})"
        url = f"{base}{quote(path)}" + (f"#L{d['line']}" if d["line"] else "")
        return f"{verdict} by [{_cell(d['text'])}]({url})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _verdict(v: Verdict | None) -> str:
    return "allowed" if v is not None and v.allowed else "denied"


def _table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}", *(f"| {' | '.join(r)} |" for r in rows)]
    if len(rows) > FOLD:
        return [f"### {title} ({len(rows)})", "", f"<details><summary>{len(rows)} rows</summary>", "", *lines, "",
                "</details>", ""]
    return [f"### {title} ({len(rows)})", "", *lines, ""]


def _traffic(traffic: dict, protocols: tuple[str, ...]) -> str:
    return allowed_text(traffic, protocols) if traffic else "nothing"


def to_md(result: DiffResult, link_base: str | None = None, link_base_git: str | None = None) -> str:
    """A pull-request comment: a summary line, then tables of the flows newly allowed, newly denied, and changed
    (a source and destination group with both), each row with its witness and the rule that decides it after and
    before (linked with `link_base`, and `link_base_git` for files read from git: `Links`); long tables folded; the
    rule chains folded at the end."""
    one_version = [f"- {line}" for line in _one_version(result)]
    if not result.changes:
        word, sentence = _no_change(result)
        note = wider_note(result)
        return join_lines([f"**{word.capitalize()}** {sentence} {result.proof}".rstrip(), *one_version,
                           *(["", f"> **Note:** {note}"] if note else [])])
    link = Links(link_base, link_base_git)
    pairs: dict[tuple[str, str], list[Change]] = {}
    for c in result.changes:
        pairs.setdefault(_groups(result, c), []).append(c)
    both = {k for k, cs in pairs.items() if len({c.kind for c in cs}) == 2}
    tables: dict[str, list[list[str]]] = {kind: [] for kind in ChangeKind}
    changed = []
    for (src, dst), cs in pairs.items():
        if (src, dst) in both:
            c = cs[0]
            before = _traffic(c.traffic_before, result.old.facts.protocols)
            after = _traffic(c.traffic_after, result.new.facts.protocols)
            witnesses = "<br>".join(f"{'+' if c.kind == ChangeKind.NEWLY_ALLOWED else '−'} "
                                    f"`{_cell(str(c.witness))}`" for c in cs)
            rules = "<br>".join(f"{link(rule_of(c)[0], _verdict(c.after))}; before "
                                f"{link(rule_of(c)[1], _verdict(c.before))}" for c in cs)
            changed.append([_cell(src), _cell(dst), _cell(f"{before} → {after}"), witnesses, rules])
            continue
        for kind in ChangeKind:  # a row per pair: its protocols together
            of_kind = [c for c in cs if c.kind == kind]
            if not of_kind:
                continue
            deciders = [rule_of(c) for c in of_kind]
            after = dict.fromkeys(link(a, _verdict(c.after)) for c, (a, _b) in zip(of_kind, deciders))
            before = dict.fromkeys(link(b, _verdict(c.before)) for c, (_a, b) in zip(of_kind, deciders))
            tables[kind].append([_cell(src), _cell(dst), _cell("; ".join(ports_text(c) for c in of_kind)),
                                 f"`{_cell(str(of_kind[0].witness))}`",
                                 "<br>".join(after), "<br>".join(before)])
    counts = [f"{len(tables[ChangeKind.NEWLY_ALLOWED])} newly allowed",
              f"{len(tables[ChangeKind.NEWLY_DENIED])} newly denied", f"{len(changed)} changed"]
    note = _note(result)
    lines = [f"**{_count(result)}** (scope: {result.scope}): {', '.join(counts)} (pairs of groups)", "",
             *([f"> {note}", ""] if note else []), *([*one_version, ""] if one_version else [])]
    header = ["from", "to", "traffic", "witness", "after", "before"]
    if tables[ChangeKind.NEWLY_ALLOWED]:
        lines += _table("Newly allowed", header, tables[ChangeKind.NEWLY_ALLOWED])
    if tables[ChangeKind.NEWLY_DENIED]:
        lines += _table("Newly denied", header, tables[ChangeKind.NEWLY_DENIED])
    if changed:
        lines += _table("Changed", ["from", "to", "before → after", "witnesses", "rules (after; before)"], changed)
    lines += ["<details><summary>Rule chains</summary>", ""]
    for i, c in enumerate(result.changes, 1):
        lines.append(f"{i}. {WORDS[c.kind].lower()}: `{_cell(str(c.witness))}`")
        for label, v in (("before", c.before), ("after", c.after)):
            assert v is not None
            lines.append(f"   - {label} ({_verdict(v)}):")
            lines.extend(f"     - {_cell(x)}" for x in chain_lines(v))
    lines += ["", "</details>"]
    return join_lines(lines)


# --------------------------------------------------------------------------------------------------
# JSON, SARIF
# --------------------------------------------------------------------------------------------------

def _ports_json(c: Change) -> object:
    """As `connectivity -o json` writes them: "all" when every port (or type) of the protocol changes."""
    if c.protocol not in ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6"):
        return ALL
    if c.ranges == [span(c.protocol)]:
        return ALL
    return [list(r) for r in c.ranges]


def change_json(result: DiffResult, c: Change) -> dict:
    src, dst = _groups(result, c)
    out = {"change": c.kind, "src": src, "dst": dst, "src_endpoints": endpoints(c.srcs),
           "dst_endpoints": endpoints(c.dsts), "protocol": c.protocol, "ports": _ports_json(c)}
    new = {n: result.new_pods[n].describe() for n in (c.witness.src, c.witness.dst) if n in result.new_pods}
    out["witness"] = witness_json(replace(c.witness, new_pods=new))
    assert c.before is not None and c.after is not None
    out["before"] = {"allowed": c.before.allowed, "egress": chain(c.before.egress), "ingress": chain(c.before.ingress)}
    out["after"] = {"allowed": c.after.allowed, "egress": chain(c.after.egress), "ingress": chain(c.after.ingress)}
    after, before = rule_of(c)
    out["decided_by"] = {"before": before, "after": after}
    out["traffic"] = {"before": allowed_json(c.traffic_before), "after": allowed_json(c.traffic_after)}
    return out


def to_json(result: DiffResult) -> str:
    out = {"equivalent": result.equivalent, "scope": result.scope, "proof": result.proof or None,
           "changes": [change_json(result, c) for c in result.changes],
           "endpoints_added": result.endpoints_added, "endpoints_removed": result.endpoints_removed}
    if result.total is not None:
        out["changes_before_filters"] = result.total
    if result.scope == "any-workload":
        out["inventory_equivalent"] = bool(inventory_equivalent(result)) if result.changes else result.equivalent
    if result.wider is not None:  # inventory scope, equivalent: what any-workload scope says
        out["any_workload"] = _wider_json(result.wider)
    return json.dumps(out, indent=2)


def _wider_json(w: dict) -> dict:
    """What any-workload scope says after an equivalent inventory diff; the witness of its first change with the
    change's kind and the new pods it names (`newPods`, even none)."""
    if "witness" not in w:
        return w
    x = w["witness"]
    return {"checked": w["checked"], "equivalent": w["equivalent"], "changes": w["changes"],
            "witness": dict(witness_json(replace(x, new_pods={})), change=w["change"], newPods=dict(x.new_pods))}


RULES = {
    ChangeKind.NEWLY_ALLOWED: ("A flow the change newly allows",
                      "The new version allows flows that the old one denies: the result is at the rule that allows "
                      "the witness flow now (else the policy whose rule that denied it is gone).",
                      "Check that the newly allowed traffic is intended; `reasoner diff -o md` lists every such flow "
                      "class with its witness and the rule chains."),
    ChangeKind.NEWLY_DENIED: ("A flow the change newly denies",
                     "The new version denies flows that the old one allows: the result is at the rule that denies the "
                     "witness flow now (else the rule that allowed it before, when it is gone).",
                     "Check that no workload still needs the denied traffic; `reasoner diff -o md` lists every such "
                     "flow class with its witness and the rule chains."),
}


def to_sarif(result: DiffResult, files: Sequence[str] = ()) -> str:
    """One result per change, at the rule that decides its witness after the change, else the one that decided it
    before (a rule removed), else the policy that decides it; `files`: the files read, the first under the root
    taking a result with neither."""
    root = source_root()
    rules = [rule(kind, *RULES[kind], defaultConfiguration={"level": "warning"}) for kind in RULES]
    results = []
    for c in result.changes:
        src, dst = _groups(result, c)
        after, before = rule_of(c)
        word = "allows" if c.kind == ChangeKind.NEWLY_ALLOWED else "denies"
        said = "; ".join(f"{label}: {_verdict(v)}" + (f" by {d['text']} ({d['file']}:{d['line']})" if d else "")
                         for label, v, d in (("before", c.before, before), ("after", c.after, after)))
        res = {"ruleId": c.kind, "level": "warning",
               "message": {"text": f"newly {word} {src} -> {dst} {ports_text(c)}; witness {c.witness} ({said})"},
               "properties": {"scope": result.scope, "witness": witness_json(c.witness)}}
        deciders = [d for d in (after, before) if d is not None]  # a rule (of either version) before a policy
        at = next((loc for d in sorted(deciders, key=lambda d: not d["rule"])
                   if (loc := location(d["file"], d["line"], root)) is not None), None)
        if at is not None:
            res["locations"] = [{"physicalLocation": at}]
        results.append(res)
    return sarif_log(rules, results, first_location(files, root))


def files_read(result: DiffResult) -> list[str]:
    """The files of both versions, the new one's first."""
    return list(dict.fromkeys(f for an in (result.new, result.old) if an is not None for f in an.cluster.files))


__all__ = ["to_text", "to_md", "to_json", "to_sarif", "files_read", "decider", "inventory_equivalent",
           "wider_note"]
