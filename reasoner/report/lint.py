"""Renderers for `lint`: text (grouped by file, most severe first), json, sarif (code scanning)."""

from __future__ import annotations

import json
from typing import Sequence

from reasoner.lint import SEVERITY, Finding
from reasoner.report.sarif import first_location, location, rule, source_root
from reasoner.report.sarif import log as sarif_log
from reasoner.report.text import join_lines


def to_text(findings: list[Finding]) -> str:
    if not findings:
        return "no findings"
    lines: list[str] = []
    by_file: dict[str, list[Finding]] = {}
    for f in findings:
        by_file.setdefault(f.file or "(no file)", []).append(f)
    for file, group in sorted(by_file.items(), key=lambda kv: (-max(SEVERITY[f.severity] for f in kv[1]), kv[0])):
        lines.append(file)
        for f in sorted(group, key=lambda f: (-SEVERITY[f.severity], f.line or 0)):
            where = f"{f.line}" if f.line else "-"
            scope = "" if f.scope in ("inventory", "any-workload") else f" [{f.scope}]"
            lines.append(f"  {where:>5}  {f.severity:<7}  {f.kind:<21} {f.subject}: {f.message}{scope}")
            for ev in f.evidence:
                at = f"{ev['file']}:{ev['line']}" if ev.get("line") else (ev.get("file") or "")
                lines.append(f"         {'':<7}  {'':<21} - {ev['message']}" + (f" ({at})" if at else ""))
            if f.witness:
                w = f.witness
                port = f"/{w['port']}" if w.get("port") is not None else ""
                lines.append(f"         {'':<7}  {'':<21} - witness: {w['src']} -> {w['dst']} {w['protocol']}{port} "
                             f"is {'allowed' if w.get('allowed') else 'denied'} (see `reasoner can`)")
        lines.append("")
    counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
    lines.append(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes")
    return join_lines(lines)


def to_json(findings: list[Finding]) -> str:
    counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
    return json.dumps({"findings": [f.to_json() for f in findings], "summary": counts}, indent=2)


LEVEL = {"error": "error", "warning": "warning", "info": "note"}

# kind: (what it is in one line, in full, what to do about it), for the rules of a SARIF log
KINDS = {
    "conflicting-rule": ("A rule that the opposite action always overrides",
                         "A rule whose every flow an earlier rule of the opposite action (Allow/Deny) always decides: "
                         "it never takes effect, and the policies contradict what it says.",
                         "Remove the rule, or move it before the rule that decides its flows. The witness flow, "
                         "replayed with `reasoner can`, shows the deciding rule."),
    "vacuous-policy": ("A policy that selects no endpoint",
                       "A policy that no pod could ever select (contradictory selectors, proved with z3), or that "
                       "selects no endpoint of the input.",
                       "Check its selectors and namespace (a typo in a label key or value is the usual cause), or "
                       "delete the policy."),
    "shadowed-rule": ("A rule that never decides a flow",
                      "A rule that matches flows but never decides one: earlier rules, policies or tiers always "
                      "decide first.",
                      "Remove the rule, or order it before the rules named as evidence."),
    "redundant-rule": ("A rule that admits nothing the others do not",
                       "A Kubernetes rule whose every flow another rule of the same policies admits: removing it "
                       "changes no verdict.",
                       "Remove the rule, or keep it knowingly as documentation."),
    "redundant-policy": ("A policy that changes no verdict",
                         "A policy that selects endpoints, isolates none alone, and admits nothing the other "
                         "policies do not: removing it changes no verdict.",
                         "Remove the policy, or keep it knowingly as documentation."),
    "dead-peer": ("A peer that matches nothing",
                  "A from/to peer, or a Calico source/destination, that matches no endpoint, network set or "
                  "address: the rule silently admits less than it says.",
                  "Check the selectors, namespaces and addresses the peer names."),
    "unresolved-named-port": ("A named port that resolves nowhere",
                              "No destination that the rule can reach defines the named port, so the rule admits "
                              "nothing on it.",
                              "Name a port that the destination pods declare, or give the port number."),
    "unresolved-target-port": ("A Service port whose named target port some backends lack",
                               "A Service port targets a named port that some of its backend pods do not define: "
                               "they are never reached on it.",
                               "Define the named port on those pods, or target a port number."),
    "equal-order": ("Two policies of one tier with the same order",
                    "Two Calico policies of one tier with the same order apply to the same endpoints: which rules "
                    "come first depends on the policies' names.",
                    "Give the policies distinct orders."),
    "pass-in-last-tier": ("A Pass in the last tier",
                          "A Pass (or defaultAction Pass) in the last tier hands the flow to the profile.",
                          "Use Allow or Deny, or add the tier that should decide."),
    "missing-default-deny": ("Endpoints that no policy isolates",
                             "Endpoints of a namespace that no policy isolates in a direction: every flow reaches "
                             "them (or leaves them) by default.",
                             "Add a default-deny policy for that direction."),
}


def to_sarif(findings: list[Finding], files: Sequence[str] = ()) -> str:
    """One rule per kind of finding, one result per finding at its file and line, the evidence as related locations.
    `files`: the files read, in order; a finding without a file of its own is placed at the first under the root."""
    root = source_root()
    rules: dict[str, dict] = {}
    results = []
    for f in findings:
        short, full, help_text = KINDS.get(f.kind, (f.kind, f.kind, "See `reasoner lint --help`."))
        rules.setdefault(f.kind, rule(f.kind, short, full, help_text,
                                      defaultConfiguration={"level": LEVEL[f.severity]}))
        result = {"ruleId": f.kind, "level": LEVEL[f.severity], "message": {"text": f"{f.subject}: {f.message}"},
                  "properties": {"scope": f.scope}}
        if (loc := location(f.file, f.line, root)) is not None:
            result["locations"] = [{"physicalLocation": loc}]
        related = [{"id": i, "message": {"text": ev["message"]}, "physicalLocation": loc}
                   for i, ev in enumerate(f.evidence)
                   if (loc := location(ev.get("file") or "", ev.get("line"), root)) is not None]
        if related:
            result["relatedLocations"] = related
        if f.witness:
            result["properties"]["witness"] = f.witness
        results.append(result)
    return sarif_log(list(rules.values()), results, first_location(files, root))
