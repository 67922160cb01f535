"""Renderers for Services and workloads: a verdict over a workload's pods or a Service's backends, and the map
by Service."""

from __future__ import annotations

import json

from reasoner.query.answer import WorkloadVerdict
from reasoner.query.services import ServiceReach, ServiceVerdict
from reasoner.query.verdict import Verdict
from reasoner.report import can as render
from reasoner.report.text import join_lines

Answer = Verdict | ServiceVerdict | WorkloadVerdict  # what `api.can` answers


def answer_text(v: Answer) -> str:
    """The text of any answer of `api.can`."""
    if isinstance(v, WorkloadVerdict):
        return workload_text(v)
    if isinstance(v, ServiceVerdict):
        return service_text(v)
    return render.to_text(v)


def answer_json(v: Answer) -> str:
    """The JSON of any answer of `api.can`."""
    return render.to_json(v) if isinstance(v, Verdict) else json.dumps(v.to_json(), indent=2)


def answer_summary(v: Answer) -> str:
    """The verdict lines of an answer, without the chains: for a workload, the verdict over the pods and each pod's
    first line; for a Service, each backend's line; else the verdict's first block."""
    if isinstance(v, WorkloadVerdict):
        return "\n".join([workload_text(v).split("\n", 1)[0]] + [
            "  " + answer_text(a).split("\n", 1)[0] for a in v.answers])
    if isinstance(v, ServiceVerdict):
        return "\n".join(line for line in service_text(v).splitlines() if not line.startswith("    "))
    return render.to_text(v).split("\n\n", 1)[0]


def workload_text(v: WorkloadVerdict) -> str:
    """The verdict over the pods, then each pod's answer; one answer when every pod's is the same."""
    def answer(a: Verdict | ServiceVerdict) -> tuple:
        if isinstance(a, Verdict):
            return a.allowed, repr(a.ports)
        return a.allowed, tuple((b.service_port, b.target_port, b.verdict and b.verdict.allowed) for b in a.backends)

    answers = v.answers
    alike = len({answer(a) for a in answers}) == 1
    first = answers[0]
    what = ""  # the flow asked about, or what every answer allows
    common = v.common_traffic
    if isinstance(first, Verdict) and first.protocol is not None:
        what = f"{render.flow_text(first)}: "
    elif common is not None:
        summary = render.allowed_summary(common, first.protocols)
        what = f"{summary}: " if alike else f"what every {v.per} allows: {summary if common else 'nothing'}; "
    counted = "allow some traffic" if common is not None and not alike else "allowed"  # each on its own
    lines = [f"{'ALLOWED' if v.allowed else 'DENIED'}  {v.src} -> {v.dst}  {what}"
             f"{sum(a.allowed for a in answers)} of {len(answers)} {v.per}{'s' if len(answers) != 1 else ''} {counted}"]
    if len(answers) > 1 and alike:
        lines.append(f"  note: every {v.per} gets the same answer; the first one's:")
        answers = answers[:1]
    for a in answers:
        lines += ["", *(render.to_text(a) if isinstance(a, Verdict) else service_text(a)).splitlines()]
    return join_lines(lines)


def service_text(v: ServiceVerdict) -> str:
    reached = [b for b in v.backends if b.verdict is not None]
    n_ok = sum(b.verdict.allowed for b in reached)
    head = "ALLOWED" if v.allowed else ("PARTIAL" if n_ok else "DENIED")
    what = f"{v.protocol or ''}{'/' if v.protocol and v.port else ''}{v.port or ''}" or "every port"
    lines = [f"{head}  {v.src} -> service {v.service.ref} ({what}): {n_ok} of {len(v.backends)} backend "
             f"port{'s' if len(v.backends) != 1 else ''} allowed"]
    lines += [f"  note: {n}" for n in v.notes]
    for b in v.backends:
        sp = b.service_port
        arrow = f"{sp.port}/{sp.protocol} -> {b.backend}:{b.target_port if b.target_port is not None else sp.target_port}"
        if b.verdict is None:
            lines.append(f"  NOT REACHED  {arrow}: {b.note}")
            continue
        lines.append(f"  {'ALLOWED' if b.verdict.allowed else 'DENIED':<11}  {arrow}")
        if b.note:
            lines.append(f"    note: {b.note}")
        lines.extend("    " + line for line in render.to_text(b.verdict).splitlines()[1:])
    return join_lines(lines)


def service_map_text(rows: list[ServiceReach]) -> str:
    if not rows:
        return "no endpoint reaches any service"
    body = []
    for r in rows:
        ports = ", ".join(f"{sp.port}/{sp.protocol}" for sp in r.allowed)
        part = "; ".join(f"{sp.port}/{sp.protocol} only to {', '.join(b)}" for sp, b in r.partial)
        body.append((r.src, f"svc:{r.service.ref}", "; ".join(x for x in (ports, part and f"partly: {part}") if x)))
    w1, w2 = max(len(b[0]) for b in body), max(len(b[1]) for b in body)
    lines = [f"{'SOURCE':<{w1}}  {'SERVICE':<{w2}}  PORTS (service ports; every backend on its target port)"]
    lines += [f"{a:<{w1}}  {b:<{w2}}  {c}" for a, b, c in body]
    return join_lines(lines)
