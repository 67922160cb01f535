"""Renderers for `lint`: text (grouped by file, most severe first), json, sarif (code scanning)."""

from __future__ import annotations

import json

from reasoner.lint import SEVERITY, Finding


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
    return "\n".join(lines)


def to_json(findings: list[Finding]) -> str:
    counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
    return json.dumps({"findings": [f.to_json() for f in findings], "summary": counts}, indent=2)


LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def to_sarif(findings: list[Finding]) -> str:
    rules, seen, results = [], set(), []
    for f in findings:
        if f.kind not in seen:
            seen.add(f.kind)
            rules.append({"id": f.kind, "shortDescription": {"text": f.kind.replace("-", " ")},
                          "defaultConfiguration": {"level": LEVEL[f.severity]}})
        result = {"ruleId": f.kind, "level": LEVEL[f.severity], "message": {"text": f"{f.subject}: {f.message}"},
                  "locations": [{"physicalLocation": {"artifactLocation": {"uri": f.file or "."},
                                                      "region": {"startLine": f.line or 1}}}],
                  "properties": {"scope": f.scope}}
        related = [{"id": i, "message": {"text": ev["message"]},
                    "physicalLocation": {"artifactLocation": {"uri": ev["file"] or "."},
                                         "region": {"startLine": ev.get("line") or 1}}}
                   for i, ev in enumerate(f.evidence) if ev.get("file")]
        if related:
            result["relatedLocations"] = related
        if f.witness:
            result["properties"]["witness"] = f.witness
        results.append(result)
    return json.dumps({"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
                       "runs": [{"tool": {"driver": {"name": "reasoner lint", "rules": rules}},
                                 "results": results}]}, indent=2)
