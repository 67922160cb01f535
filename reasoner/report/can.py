"""Renderers for `can`: text (verdict first, then the chain at each end) and json."""

from __future__ import annotations

import json

from reasoner.query.verdict import Side, Verdict
from reasoner.report.connectivity import allowed_text
from reasoner.report.text import join_lines


def _side_text(side: Side, what: str) -> list[str]:
    head = f"{side.direction} at {side.endpoint}: {'allowed' if side.allowed else 'DENIED'}"
    lines = [head]
    for note in side.notes:
        lines.append(f"  note: {note}")
    if side.isolating:
        lines.append("  policies that apply:")
        for pol in side.isolating:
            tier = f"tier {pol.tier}, " if hasattr(pol, "tier") else "tier default, "
            if getattr(pol, "hook", "normal") != "normal":
                tier = f"{pol.hook}, {tier}"
            lines.append(f"    {pol.kind} {pol.ref} ({tier}{pol.origin})")
        if side.steps:
            lines.append("  evaluation:")
            for st in side.steps:
                where = f"{st.rule} " if st.rule is not None else ""
                note = st.note if st.rule is None else ("matched, evaluation goes on" if st.action == "Log"
                                                        else f"({st.note})" if st.note else "")
                lines.append(f"    tier {st.tier}: {st.action:<5} {where}{note}".rstrip())
        elif side.allowing:
            lines.append(f"  {what} allowed by:")
            for ref in side.allowing:
                lines.append(f"    {ref}")
        else:
            lines.append(f"  no rule of these policies allows {what}")
    return lines


def allowed_summary(ports: dict[str, object], protocols: tuple[str, ...]) -> str:
    """An any-port answer (`ports`, of an analysis with these `protocols`) in a few words: `all traffic`,
    `TCP/5432 only`, `any port: nothing is allowed`."""
    if not ports:
        return "any port: nothing is allowed"
    text = allowed_text(ports, protocols, sep="/")
    return text if text.startswith("all traffic") else f"{text} only"


def flow_text(v: Verdict) -> str:
    """The flow a one-port answer is about: `TCP/5432`, `ICMP`."""
    return v.protocol if v.port is None else f"{v.protocol}/{v.port}"


def to_text(v: Verdict) -> str:
    if v.protocol is None:
        flow = allowed_summary(v.ports, v.protocols)
        what = "traffic"
    else:
        flow = what = flow_text(v)
    lines = [f"{'ALLOWED' if v.allowed else 'DENIED'}  {v.src} -> {v.dst}  {flow}"]
    lines.append("")
    lines.extend(_side_text(v.egress, what))
    lines.append("")
    lines.extend(_side_text(v.ingress, what))
    return join_lines(lines)


def to_json(v: Verdict) -> str:
    return json.dumps(v.to_json(), indent=2)
