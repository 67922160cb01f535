"""Renderers for `prove`: text, json, junit, sarif. Every text path escapes what the input holds (report/text.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence
from xml.sax.saxutils import escape as escape_xml
from xml.sax.saxutils import quoteattr

from reasoner.properties.prove import Result
from reasoner.query.verdict import Side, Verdict
from reasoner.report.sarif import first_location, location, rule, source_root
from reasoner.report.sarif import log as sarif_log
from reasoner.report.text import escape, join_lines
from reasoner.report.witness import witness_json
from reasoner.results import Status


def chain(side: Side) -> list[dict]:
    """The rule chain at one end, as the contract's list of steps."""
    if side.steps:
        return [st.to_json() for st in side.steps]
    if side.allowing:
        return [dict(r.to_json(), action="Allow") for r in side.allowing]
    return [{"action": "Allow" if side.allowed else "Deny", "note": "; ".join(side.notes) or
             ("no rule of the policies that apply allows it" if side.isolating else "")}]


def chain_lines(v: Verdict) -> list[str]:
    """The rule chain at each end, one line per step: `egress at x/a: tier T: Allow ns/pol egress[0] (file:line)`."""
    out = []
    for side in (v.egress, v.ingress):
        for step in chain(side):
            where = ""
            if "policy" in step:
                pol = step["policy"]
                ref = f"{pol['namespace']}/{pol['name']}" if pol["namespace"] else pol["name"]
                at = step["file"] if step["line"] is None else f"{step['file']}:{step['line']}"
                where = f"{ref} {step['rule']['direction']}[{step['rule']['index']}] ({at})"
            tier = f"tier {step['tier']}: " if "tier" in step else ""
            out.append(f"{side.direction} at {side.endpoint}: {tier}{step['action']} {where or step.get('note', '')}".rstrip())
        if side.endpoint.startswith("hep:") and side.steps:  # a node port's backends, a failsafe port
            out.extend(f"{side.direction} at {side.endpoint}: {note}" for note in side.notes)
    return out


def result_json(r: Result) -> dict:
    out: dict = {"id": r.requirement.id, "kind": r.requirement.kind, "status": r.status, "scope": r.scope,
                 "message": r.message, "warnings": r.warnings}
    if r.witness is not None:
        out["witness"] = witness_json(r.witness)
    if r.verdict is not None:
        out["chain"] = {"egress": chain(r.verdict.egress), "ingress": chain(r.verdict.ingress)}
    out.update(r.extra)
    return out


def warnings(results: list[Result]) -> list[str]:
    """Every result's warnings, each as `ID: warning`."""
    return [f"{r.requirement.id}: {w}" for r in results for w in r.warnings]


def to_json(results: list[Result]) -> str:
    return json.dumps({"results": [result_json(r) for r in results], "warnings": warnings(results)}, indent=2)


def to_text(results: list[Result], strict: bool = False) -> str:
    lines = []
    width = max((len(escape(r.requirement.id)) for r in results), default=2)
    for r in results:
        lines.append(f"{r.status.upper():<8}  {escape(r.requirement.id):<{width}}  {r.requirement.kind:<8}  {r.message}")
        lines.extend(f"          {'error' if strict else 'warning'}: {w}" for w in r.warnings)
        new_pods = dict(r.witness.new_pods if r.witness else {})
        if "newPod" in r.extra:
            new_pods[r.extra["endpoint"]] = r.extra["newPod"]
        for name, pod in new_pods.items():
            lines.append(f"          {name} stands for {describe_new_pod(pod)}")
        if r.status == Status.VIOLATED and r.verdict is not None:
            lines.extend("          " + line for line in chain_lines(r.verdict))
    proved = sum(r.status == Status.PROVED for r in results)
    warned = sum(bool(r.warnings) for r in results)
    lines.append("")
    lines.append(f"{proved} of {len(results)} requirements proved (scope: {results[0].scope if results else '-'})"
                 + (f"; {warned} with warnings{' (failed: --strict)' if strict else ''}" if warned else ""))
    return join_lines(lines)


def describe_new_pod(pod: dict) -> str:
    """One line: what a pod that does not exist yet would need to be."""
    labels = ", ".join(f"{k}={v}" for k, v in pod["labels"].items()) or "no labels"
    text = f"a new pod with {labels}"
    if "newNamespaceLabels" in pod:
        ns_labels = ", ".join(f"{k}={v}" for k, v in pod["newNamespaceLabels"].items())
        text += f" in a new namespace {pod['namespace']} ({ns_labels})"
    else:
        text += f" in namespace {pod['namespace']}"
    sa = f"service account {pod['serviceAccount']}"
    if "newServiceAccountLabels" in pod:
        sa_labels = ", ".join(f"{k}={v}" for k, v in pod["newServiceAccountLabels"].items()) or "no labels"
        sa = f"a new {sa} ({sa_labels})"
    return f"{text}, {sa}, address {pod['ip']}"


def to_junit(results: list[Result], strict: bool = False) -> str:
    """One test case per requirement; a warning is in its system-out, and under `strict` also its failure.
    Strings from the input are escaped (XML 1.0 cannot hold most control characters at all)."""
    failures = sum(r.status != Status.UNKNOWN and not r.passed(strict) for r in results)
    errors = sum(r.status == Status.UNKNOWN for r in results)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuite name="reasoner prove" tests="{len(results)}" failures="{failures}" errors="{errors}">']
    for r in results:
        out.append(f'  <testcase classname={quoteattr(r.requirement.kind)} name={quoteattr(escape(r.requirement.id))}>')
        if r.status == Status.VIOLATED:
            detail = json.dumps(result_json(r), indent=2)
            out.append(f'    <failure message={quoteattr(escape(r.message))}>{escape_xml(detail)}</failure>')
        elif r.status == Status.UNKNOWN:
            out.append(f'    <error message={quoteattr(escape(r.message))}/>')
        elif not r.passed(strict):
            out.append(f'    <failure message={quoteattr(escape("; ".join(r.warnings)))}/>')
        if r.warnings:
            out.append(f'    <system-out>{escape_xml(join_lines("warning: " + w for w in r.warnings))}</system-out>')
        out.append("  </testcase>")
    out.append("</testsuite>")
    return "\n".join(out)


HELP = {
    "deny": "A violation is a flow the requirement forbids that the policies allow. Its witness flow and the rule "
            "chain at each end (replay it with `reasoner can SRC DST --port PORT`) show which rules let it through.",
    "allow": "A violation is a flow the requirement needs that the policies deny. Its witness flow and the rule chain "
             "at each end (replay it with `reasoner can SRC DST --port PORT`) show what denies it.",
    "only": "A violation is an allowed flow to the protected endpoints from a source outside the permitted ones. Its "
            "witness flow and the rule chain show which rules let it in.",
    "only-out": "A violation is an allowed flow from the endpoints to a destination outside the permitted ones. Its "
                "witness flow and the rule chain show which rules let it out.",
    "isolated": "A violation names an endpoint that no policy selects in a direction, so everything reaches it (or "
                "leaves it) by default. Select it with a policy of that direction, e.g. a default-deny.",
}


def _location(r: Result, root: Path) -> dict | None:
    """Where a violation is: the policy rule that let the flow through (ingress first), else the requirement in
    the spec; None when neither is a file under the source root."""
    candidates = []
    v: Verdict | None = r.verdict
    if v is not None:
        for side in (v.ingress, v.egress):
            candidates.extend(st.rule for st in side.steps if st.rule is not None and st.action == "Allow")
            candidates.extend(side.allowing)
    where = [(ref.file, ref.line) for ref in candidates] + [(r.requirement.file, r.requirement.line)]
    return next((loc for file, line in where if (loc := location(file, line, root)) is not None), None)


def to_sarif(results: list[Result], strict: bool = False, files: Sequence[str] = ()) -> str:
    """One rule per requirement (its id), one result per violation, unknown and warning. `files`: the spec and the
    files read, in order; a result with no place of its own (a `--check` requirement's) is placed at the first
    under the root."""
    root = source_root()
    rules: dict[str, dict] = {}
    out = []
    for r in results:
        req = r.requirement
        rules.setdefault(req.id, rule(req.id, f"{req.kind} requirement {req.id}", req.claim(), HELP[req.kind],
                                      properties={"kind": req.kind}))
        found = [] if r.status == Status.PROVED else [
            ("error" if r.status == Status.VIOLATED else "warning", r.message, _location(r, root))]
        spec_at = location(req.file, req.line, root)
        found += [("error" if strict else "warning", w, spec_at) for w in r.warnings]
        for level, message, loc in found:
            res = {"ruleId": req.id, "level": level, "message": {"text": f"{req.id}: {message}"},
                   "properties": result_json(r)}
            if loc is not None:
                res["locations"] = [{"physicalLocation": loc}]
            out.append(res)
    return sarif_log(list(rules.values()), out, first_location(files, root))


__all__ = ["to_json", "to_text", "to_junit", "to_sarif"]
