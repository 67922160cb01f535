"""The inventory commands: policies (what applies to an endpoint, in evaluation order), endpoints (what a Calico
selector matches)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reasoner import api
from reasoner.repl.registry import command, plural, usage, words
from reasoner.report.text import table

if TYPE_CHECKING:
    from reasoner.repl.session import Session


@command("policies", "policies ENDPOINT", "the policies that apply to an endpoint, in evaluation order",
         """
For ingress and egress: every policy that selects the endpoint, in the order Calico evaluates them (tiers
by order, policies by order then name), and how that end is decided: by the union of Kubernetes rules, or
by ordered evaluation when a Calico or admin policy applies.

Examples:
  policies boutique/frontend
""", args=("endpoint",))
def _policies(s: Session, arg: str) -> str:
    given = words(arg)
    if len(given) != 1:
        raise usage("policies")
    end = s.target(given[0])
    an = s.an
    cls = end.cls
    if cls.external is not None:
        return f"{end.name} is an address outside the cluster: no policy applies to it"
    lines = []
    if cls.host_network:
        lines.append(f"{end.name} is a host-network pod: NetworkPolicy does not select it")
    for direction in ("ingress", "egress"):
        pols, ordered = api.isolating(an, cls.id, direction)
        pols.sort(key=lambda p: s.rank.get(id(p), 0))
        if not pols:
            lines.append(f"{direction}: no policy applies; not isolated, everything passes")
        elif ordered:
            lines.append(f"{direction}: ordered evaluation: tier by tier, the first Allow or Deny decides")
        else:
            lines.append(f"{direction}: the union of these Kubernetes policies: a flow passes if any rule allows it")
        rows = []
        for i, pol in enumerate(pols, 1):
            rows.append((f"{i}.", getattr(pol, "tier", "default"), _order(pol), f"{pol.kind} {pol.ref}", str(pol.origin)))
        if rows:
            lines.extend("  " + line for line in table(("#", "TIER", "ORDER", "POLICY", "FILE:LINE"), rows))
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _number(value: float | None) -> str:
    if value is None:
        return "none"
    return str(int(value)) if float(value).is_integer() else str(value)


def _order(pol) -> str:
    """Where a policy sits in its tier. A Kubernetes NetworkPolicy has no tier (it is in the default one, at order
    1000); an admin policy has a priority (none: the baseline one); a Calico policy an order (none: last)."""
    if not hasattr(pol, "tier"):
        return "1000"
    if pol.kind in ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy"):
        return f"priority {pol.priority}" if pol.priority is not None else "-"
    return _number(pol.order) if pol.order is not None else "none (last)"


@command("endpoints", "endpoints [SELECTOR]", "the endpoints a Calico selector matches (all without one)",
         """
SELECTOR is in Calico syntax (==, !=, in, not in, has(), !has(), contains, starts with, ends with, &&,
||, !, all()) and sees the labels Calico sees, its automatic ones included
(projectcalico.org/namespace, projectcalico.org/serviceaccount, pcns.<namespace label>, ...).

Examples:
  endpoints
  endpoints app == 'frontend'
  endpoints projectcalico.org/namespace == 'boutique' && has(tier)
""", args=("selector",))
def _endpoints(s: Session, arg: str) -> str:
    selector = api.focus(s.an, selector=arg).selector if arg else None  # a bad one is a UsageError
    fb = s.an.facts
    rows = []
    for cls in fb.classes:
        for ep in cls.members:
            if selector is not None and not selector.matches(api.calico_view(fb, cls, ep)):
                continue
            kind = ep.kind + (" (hostNetwork)" if ep.host_network else "")
            labels = cls.labels if cls.host else ep.labels  # a host endpoint's class: its profiles' labels too
            rows.append((ep.ref, kind, ",".join(ep.ips) or "-", ",".join(f"{k}={v}" for k, v in labels) or "-"))
    rows.sort(key=lambda row: s.sort_key(row[0]))
    tail = plural(len(rows), "endpoint") + (f" {'matches' if len(rows) == 1 else 'match'} {arg}"
                                            if selector is not None else "")
    return "\n".join((table(("ENDPOINT", "KIND", "ADDRESS", "LABELS"), rows) if rows else []) + [tail])
