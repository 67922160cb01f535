"""Renderers for `diff`: text (to paste into a pull request), md, json."""

from __future__ import annotations

import json

from reasoner.connectivity import span
from reasoner.diff import Change, DiffResult, describe, endpoints
from reasoner.report.prove import chain, chain_lines, describe_new_pod
from reasoner.report.text import join_lines

WORDS = {"newly-allowed": "NEWLY ALLOWED", "newly-denied": "NEWLY DENIED"}


def ports_text(c: Change) -> str:
    if c.protocol not in ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6"):
        return c.protocol
    if c.protocol in ("ICMP", "ICMPv6"):
        return c.protocol if c.ranges == [(0, 65535)] else f"{c.protocol} (some types)"
    if c.ranges == [(1, 65535)]:
        return f"{c.protocol} all ports"
    return f"{c.protocol} " + ", ".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in c.ranges)


def _flow(w: dict) -> str:
    port = f"/{w['port']}" if w.get("port") is not None else ""
    return f"{w['src']} -> {w['dst']} {w['protocol']}{port}"


def _groups(result: DiffResult, c: Change) -> tuple[str, str]:
    return describe(c.srcs, result.by_ns, result.new_pods), describe(c.dsts, result.by_ns, result.new_pods)


def _count(result: DiffResult) -> str:
    n = len(result.changes)
    return f"{n} flow class{'es' if n != 1 else ''} change{'s' if n == 1 else ''} verdict"


def _one_version(result: DiffResult) -> list[str]:
    """The endpoints of one version only (their flows are not compared), a line per direction."""
    return [f"endpoints {word}: {', '.join(names)}" for word, names in
            (("added", result.endpoints_added), ("removed", result.endpoints_removed)) if names]


def _no_change(result: DiffResult) -> tuple[str, str]:
    """The verdict word and the sentence of a diff in which no flow changes verdict: equivalent, or different
    by the endpoints of one version only."""
    if result.equivalent:
        return "EQUIVALENT", f"(scope: {result.scope}): no flow changes verdict."
    n = result.shared
    return "DIFFERENT", (f"(scope: {result.scope}): verdicts agree on the {n} endpoint{'s' if n != 1 else ''} of both "
                         f"versions; {'; '.join(_one_version(result))}.")


def to_text(result: DiffResult) -> str:
    one_version = _one_version(result)
    if not result.changes:
        word, sentence = _no_change(result)
        return join_lines([f"{word} {sentence}", result.proof])
    lines = [f"{_count(result)} (scope: {result.scope})", "", *([*one_version, ""] if one_version else [])]
    for c in result.changes:
        src, dst = _groups(result, c)
        lines.append(f"{WORDS[c.kind]:<14} {src} -> {dst}  {ports_text(c)}")
        lines.append(f"  witness: {_flow(c.witness)}")
        for name in (c.witness["src"], c.witness["dst"]):
            if name in result.new_pods:
                lines.append(f"  {name} stands for {describe_new_pod(result.new_pods[name].describe())}")
        for label, v in (("before", c.before), ("after", c.after)):
            assert v is not None
            lines.append(f"  {label}: {'allowed' if v.allowed else 'denied'}")
            lines.extend(f"    {x}" for x in chain_lines(v))
        lines.append("")
    return join_lines(lines).rstrip()


def to_md(result: DiffResult) -> str:
    one_version = [f"- {line}" for line in _one_version(result)]
    if not result.changes:
        word, sentence = _no_change(result)
        return join_lines([f"**{word.capitalize()}** {sentence} {result.proof}"])
    lines = [f"**{_count(result)}** (scope: {result.scope})", "", *([*one_version, ""] if one_version else []),
             "| change | from | to | traffic | witness |", "|---|---|---|---|---|"]
    for c in result.changes:
        src, dst = _groups(result, c)
        lines.append(f"| {WORDS[c.kind].lower()} | {src} | {dst} | {ports_text(c)} | `{_flow(c.witness)}` |")
    lines.append("")
    for i, c in enumerate(result.changes, 1):
        lines.append(f"<details><summary>{i}. {WORDS[c.kind].lower()}: <code>{_flow(c.witness)}</code></summary>")
        lines.append("")
        for label, v in (("Before", c.before), ("After", c.after)):
            assert v is not None
            lines.append(f"{label} ({'allowed' if v.allowed else 'denied'}):")
            lines.extend(f"- {x}" for x in chain_lines(v))
            lines.append("")
        lines.append("</details>")
    return join_lines(lines)


def _ports_json(c: Change) -> object:
    """As `connectivity -o json` writes them: "all" when every port (or type) of the protocol changes."""
    if c.protocol not in ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6"):
        return "all"
    if c.ranges == [span(c.protocol)]:
        return "all"
    return [list(r) for r in c.ranges]


def change_json(result: DiffResult, c: Change) -> dict:
    src, dst = _groups(result, c)
    out = {"change": c.kind, "src": src, "dst": dst, "src_endpoints": endpoints(c.srcs),
           "dst_endpoints": endpoints(c.dsts), "protocol": c.protocol, "ports": _ports_json(c), "witness": c.witness}
    new = {n: result.new_pods[n].describe() for n in (c.witness["src"], c.witness["dst"]) if n in result.new_pods}
    if new:
        out["witness"] = dict(c.witness, newPods=new)
    assert c.before is not None and c.after is not None
    out["before"] = {"allowed": c.before.allowed, "egress": chain(c.before.egress), "ingress": chain(c.before.ingress)}
    out["after"] = {"allowed": c.after.allowed, "egress": chain(c.after.egress), "ingress": chain(c.after.ingress)}
    return out


def to_json(result: DiffResult) -> str:
    return json.dumps({"equivalent": result.equivalent, "scope": result.scope, "proof": result.proof or None,
                       "changes": [change_json(result, c) for c in result.changes],
                       "endpoints_added": result.endpoints_added, "endpoints_removed": result.endpoints_removed},
                      indent=2)
