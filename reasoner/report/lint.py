"""Renderers for `lint`: text (grouped by file, most severe first), json, sarif (code scanning), and the list of the
kinds of finding for `lint --help`. What each kind is comes from the table `results.FINDINGS`."""

from __future__ import annotations

import json
from typing import Sequence

from reasoner.report.sarif import first_location, location, rule, source_root
from reasoner.report.sarif import log as sarif_log
from reasoner.report.text import join_lines
from reasoner.report.witness import witness_json
from reasoner.results import FINDINGS, SEVERITY, Evidence, Finding, Severity


def to_text(findings: list[Finding]) -> str:
    if not findings:
        return "no findings"
    lines: list[str] = []
    by_file: dict[str, list[Finding]] = {}
    for f in findings:
        by_file.setdefault(f.location.file or "(no file)", []).append(f)
    for file, group in sorted(by_file.items(), key=lambda kv: (-max(SEVERITY[f.severity] for f in kv[1]), kv[0])):
        lines.append(file)
        for f in sorted(group, key=lambda f: (-SEVERITY[f.severity], f.location.line or 0)):
            where = f"{f.location.line}" if f.location.line else "-"
            scope = "" if f.scope in ("inventory", "any-workload") else f" [{f.scope}]"
            lines.append(f"  {where:>5}  {f.severity:<7}  {f.kind:<21} {f.subject}: {f.message}{scope}")
            for ev in f.evidence:
                at = f"{ev.ref.file}:{ev.ref.line}" if ev.ref.line else (ev.ref.file or "")
                lines.append(f"         {'':<7}  {'':<21} - {ev.message}" + (f" ({at})" if at else ""))
            if f.witness:
                lines.append(f"         {'':<7}  {'':<21} - witness: {f.witness} is "
                             f"{'allowed' if f.witness.allowed else 'denied'} (see `reasoner can`)")
        lines.append("")
    counts = _counts(findings)
    lines.append(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes")
    return join_lines(lines)


def _counts(findings: list[Finding]) -> dict[str, int]:
    return {s.value: sum(f.severity == s for f in findings) for s in Severity}


def evidence_json(e: Evidence) -> dict:
    """A rule or policy that backs a finding: its policyRef, ruleRef (None for a whole policy), file, line, and what
    it is to the finding."""
    return {"policy": e.policy.to_json(), "rule": e.rule.to_json()["rule"] if e.rule else None, "file": e.ref.file,
            "line": e.ref.line, "message": e.message}


def finding_json(f: Finding) -> dict:
    evidence: dict = {FINDINGS[f.kind].evidence: [evidence_json(e) for e in f.evidence]} if f.evidence else {}
    if f.witness is not None:
        evidence["witness"] = witness_json(f.witness)
    return {"kind": f.kind, "severity": f.severity, "policy": f.policy.to_json() if f.policy else None,
            "rule": f.rule.to_json()["rule"] if f.rule else None, "file": f.location.file or None,
            "line": f.location.line, "message": f.message, "evidence": evidence, "subject": f.subject,
            "scope": f.scope}


def to_json(findings: list[Finding]) -> str:
    return json.dumps({"findings": [finding_json(f) for f in findings], "summary": _counts(findings)}, indent=2)


def kinds_text() -> str:
    """The kinds of finding, one a line: `kind (severities)  what it is`."""
    heads = {kind: f"{kind} ({'/'.join(spec.severities)})" for kind, spec in FINDINGS.items()}
    width = max(map(len, heads.values()))
    return "\n".join(f"{heads[kind]:<{width}}  {spec.short}" for kind, spec in FINDINGS.items())


LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def to_sarif(findings: list[Finding], files: Sequence[str] = ()) -> str:
    """One rule per kind of finding, one result per finding at its file and line, the evidence as related locations.
    `files`: the files read, in order; a finding without a file of its own is placed at the first under the root."""
    root = source_root()
    rules: dict[str, dict] = {}
    results = []
    for f in findings:
        if f.kind not in rules:  # the scope note is no kind of finding: it has no description of its own
            kind = FINDINGS.get(f.kind)
            short, full, help_text = ((kind.short, kind.full, kind.help) if kind else
                                      (f.kind, f.kind, "See `reasoner lint --help`."))
            rules[f.kind] = rule(f.kind, short, full, help_text, defaultConfiguration={"level": LEVEL[f.severity]})
        result = {"ruleId": f.kind, "level": LEVEL[f.severity], "message": {"text": f"{f.subject}: {f.message}"},
                  "properties": {"scope": f.scope}}
        if (loc := location(f.location.file, f.location.line, root)) is not None:
            result["locations"] = [{"physicalLocation": loc}]
        related = [{"id": i, "message": {"text": ev.message}, "physicalLocation": loc}
                   for i, ev in enumerate(f.evidence)
                   if (loc := location(ev.ref.file or "", ev.ref.line, root)) is not None]
        if related:
            result["relatedLocations"] = related
        if f.witness:
            result["properties"]["witness"] = witness_json(f.witness)
        results.append(result)
    return sarif_log(list(rules.values()), results, first_location(files, root))
