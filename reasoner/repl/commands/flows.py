"""The flow commands: can, why, who-can-reach, reachable-from, exposure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reasoner import api
from reasoner.errors import UsageError
from reasoner.repl.parse import FlowSpec, parse_flow
from reasoner.repl.registry import command, plural, usage, words
from reasoner.report import exposure as render_exposure
from reasoner.report.connectivity import allowed_text
from reasoner.report.services import answer_summary, answer_text
from reasoner.report.text import table

if TYPE_CHECKING:
    from reasoner.repl.session import Session


def _verdict(s: Session, arg: str, name: str) -> tuple[str, str]:
    """(the answer of `reasoner can`, its verdict lines). SRC, DST and PORT/PROTO are read as `reasoner can`
    reads SRC DST --port --protocol: a service (svc:NS/NAME, a DNS name, a ClusterIP) as the destination is
    asked about on each backend; a pod may be named by its DNS name (`api.can` is what `reasoner can` asks)."""
    given = words(arg)
    if len(given) not in (2, 3):
        raise usage(name)
    flow = parse_flow(given[2] if len(given) == 3 else None)
    if flow.protocol in api.PORTED and flow.port is None:
        raise UsageError(f"{flow.protocol} needs a port, e.g. 80/{flow.protocol} (or leave it out: every port)")
    protocol = flow.protocol if flow.explicit else None
    verdict = api.can(s.an, given[0], given[1], protocol, flow.port)
    return answer_text(verdict), answer_summary(verdict)


@command("can", "can SRC DST [PORT/PROTO]", "the verdict for a flow, or what SRC may send DST on any port",
         """
SRC and DST are NAMESPACE/POD, a workload NAMESPACE/WORKLOAD (answered for each of its pods), ip:ADDRESS
or cidr:PREFIX; DST may be a service (svc:NS/NAME, its DNS name or ClusterIP), asked about on each backend.
PORT/PROTO is 80/TCP, 53/UDP, 8080 (as --port 8080: TCP, or the service port), or a protocol without
ports (ICMP); without it, the answer is for every port and lists what is allowed. The verdict lines of
`reasoner can`; `why` adds the rule chains.

Examples:
  can boutique/frontend boutique/cartservice 7070/TCP
  can boutique/cartservice boutique/frontend
  can ip:203.0.113.9 shop/web 443
  can shop/web db.shop.svc.cluster.local 5432
""", args=("endpoint", "endpoint", "flow"))
def _can(s: Session, arg: str) -> str:
    return _verdict(s, arg, "can")[1]


@command("why", "why SRC DST [PORT/PROTO]", "the verdict and the deciding rule chain at each end",
         """
The same answer as `reasoner can SRC DST [--port P --protocol PROTO]`: the verdict, then for egress at
the source and ingress at the destination the policies that apply and the rules that decide (tier,
policy, rule, file:line), with the Log rules, Passes and end-of-tier drops of an ordered evaluation.

Examples:
  why boutique/frontend boutique/paymentservice 50051/TCP
  why boutique/checkoutservice boutique/paymentservice
""", args=("endpoint", "endpoint", "flow"))
def _why(s: Session, arg: str) -> str:
    return _verdict(s, arg, "why")[0]


def _reach(s: Session, arg: str, name: str, into: bool) -> str:
    given = words(arg)
    if len(given) not in (1, 2):
        raise usage(name)
    end = s.target(given[0])
    flow = parse_flow(given[1] if len(given) == 2 else None)
    classes = s.an.facts.classes
    rows = s.classes_into(end.cls.id) if into else s.classes_from(end.cls.id)
    listed: list[tuple[str, str]] = []
    protocols = s.an.facts.protocols
    for cid, allowed in rows.items():
        cls = classes[cid]
        if cls.external is None and _admits(allowed, flow, protocols):
            text = allowed_text(allowed, protocols)
            listed.extend((ep.ref, text) for ep in cls.members if ep.ref != end.name)
    listed.sort(key=lambda row: s.sort_key(row[0]))
    if end.cls.external is None:  # outside addresses, merged as the map shows them, after the endpoints
        listed += [(str(addresses), allowed_text(allowed, protocols))
                   for addresses, allowed in s.outside(end.cls.id, into) if _admits(allowed, flow, protocols)]
    on = "" if flow.protocol is None else f" on {flow}"
    lines = table(("SOURCE" if into else "DESTINATION", "ALLOWED"), listed) if listed else []
    if into:
        lines.append(f"{plural(len(listed), 'source')} can reach {end.name}{on}" if listed
                     else f"nothing can reach {end.name}{on}")
    else:
        lines.append(f"{end.name} can reach {plural(len(listed), 'destination')}{on}" if listed
                     else f"{end.name} can reach nothing{on}")
    return "\n".join(lines)


def _admits(allowed: dict, flow: FlowSpec, protocols: tuple[str, ...]) -> bool:
    """Whether a port set per protocol (as the connectivity map gives it) holds the flow."""
    return flow.protocol is None or api.admits(allowed, flow.protocol, flow.port, protocols)


@command("who-can-reach", "who-can-reach DST [PORT/PROTO]", "every endpoint that may send to DST",
         """
One row per source endpoint (and per cidr: range a policy names), with what it may send to DST; the
rows of the connectivity map whose destination is DST. With PORT/PROTO, only the sources allowed that
flow.

Examples:
  who-can-reach boutique/cartservice
  who-can-reach boutique/frontend 8080/TCP
""", args=("endpoint", "flow"))
def _who_can_reach(s: Session, arg: str) -> str:
    return _reach(s, arg, "who-can-reach", into=True)


@command("reachable-from", "reachable-from SRC [PORT/PROTO]", "every endpoint SRC may send to",
         """
One row per destination endpoint (and per cidr: range a policy names), with what SRC may send it: the
rows of the connectivity map whose source is SRC.

Examples:
  reachable-from boutique/frontend
  reachable-from boutique/checkoutservice 50051/TCP
""", args=("endpoint", "flow"))
def _reachable_from(s: Session, arg: str) -> str:
    return _reach(s, arg, "reachable-from", into=False)


@command("exposure", "exposure [ENDPOINT] [in|out]",
         "what could reach each endpoint, or ENDPOINT, beyond the loaded ones (out: what it could reach)",
         """
As `reasoner connectivity --exposure`: for each endpoint (workloads whose pods are alike, else pods), the
pods that could be deployed (new pods in an existing namespace, with the labels they would need; pods in
new namespaces, with the namespace labels needed) and the outside addresses that can reach it, with the
ports allowed. The first answer finds the kinds of pods that could be deployed (any-workload scope); the
next ones reuse them.

Examples:
  exposure
  exposure shop/db
  exposure shop/db out
""", args=("endpoint", "direction"))
def _exposure(s: Session, arg: str) -> str:
    given = words(arg)
    way = "ingress"
    if given and given[-1] in ("in", "out"):
        way = "egress" if given.pop() == "out" else "ingress"
    if len(given) > 1:
        raise usage("exposure")
    focus = api.focus(s.an, ends=given[0]) if given else None
    return render_exposure.to_text(s.exposures().rows(focus, way), s.an.facts.protocols, way)
