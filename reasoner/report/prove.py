"""Renderers for `prove`: text, json, junit, sarif."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape, quoteattr

from reasoner.explain import RuleRef, Side, Verdict
from reasoner.properties.prove import Result


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
                 "message": r.message}
    if r.witness is not None:
        out["witness"] = r.witness
    if r.verdict is not None:
        out["chain"] = {"egress": chain(r.verdict.egress), "ingress": chain(r.verdict.ingress)}
    out.update(r.extra)
    return out


def to_json(results: list[Result]) -> str:
    return json.dumps({"results": [result_json(r) for r in results]}, indent=2)


def _location(r: Result) -> tuple[str, int | None]:
    """Where a violation is: the policy rule that let the flow through (ingress first), else the spec."""
    v: Verdict | None = r.verdict
    if v is not None:
        for side in (v.ingress, v.egress):
            for st in side.steps:
                if st.rule is not None and st.action == "Allow":
                    return st.rule.rule.origin.file, st.rule.rule.origin.line
            for ref in side.allowing:
                return ref.rule.origin.file, ref.rule.origin.line
    return r.requirement.file, r.requirement.line


def to_text(results: list[Result]) -> str:
    lines = []
    width = max((len(r.requirement.id) for r in results), default=2)
    for r in results:
        lines.append(f"{r.status.upper():<8}  {r.requirement.id:<{width}}  {r.requirement.kind:<8}  {r.message}")
        new_pods = dict((r.witness or {}).get("newPods", {}))
        if "newPod" in r.extra:
            new_pods[r.extra["endpoint"]] = r.extra["newPod"]
        for name, pod in new_pods.items():
            lines.append(f"          {name} stands for {describe_new_pod(pod)}")
        if r.status == "violated" and r.verdict is not None:
            lines.extend("          " + line for line in chain_lines(r.verdict))
    proved = sum(r.status == "proved" for r in results)
    lines.append("")
    lines.append(f"{proved} of {len(results)} requirements proved (scope: {results[0].scope if results else '-'})")
    return "\n".join(lines)


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


def to_junit(results: list[Result]) -> str:
    failures = sum(r.status == "violated" for r in results)
    errors = sum(r.status == "unknown" for r in results)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<testsuite name="reasoner prove" tests="{len(results)}" failures="{failures}" errors="{errors}">']
    for r in results:
        out.append(f'  <testcase classname={quoteattr(r.requirement.kind)} name={quoteattr(r.requirement.id)}>')
        if r.status == "violated":
            detail = json.dumps(result_json(r), indent=2)
            out.append(f'    <failure message={quoteattr(r.message)}>{escape(detail)}</failure>')
        elif r.status == "unknown":
            out.append(f'    <error message={quoteattr(r.message)}/>')
        out.append("  </testcase>")
    out.append("</testsuite>")
    return "\n".join(out)


def to_sarif(results: list[Result]) -> str:
    rules, seen, sarif_results = [], set(), []
    for r in results:
        if r.requirement.kind not in seen:
            seen.add(r.requirement.kind)
            rules.append({"id": r.requirement.kind, "shortDescription": {"text": f"compliance requirement: {r.requirement.kind}"}})
        if r.status == "proved":
            continue
        file, line = _location(r)
        sarif_results.append({
            "ruleId": r.requirement.kind, "level": "error" if r.status == "violated" else "warning",
            "message": {"text": f"{r.requirement.id}: {r.message}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": file},
                                                "region": {"startLine": line or 1}}}],
            "properties": result_json(r)})
    return json.dumps({"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
                       "runs": [{"tool": {"driver": {"name": "reasoner", "rules": rules}},
                                 "results": sarif_results}]}, indent=2)


__all__ = ["to_json", "to_text", "to_junit", "to_sarif", "RuleRef"]
