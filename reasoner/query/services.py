"""Services and DNS names as query endpoints.

Policy is evaluated after the service address is translated (kube-proxy or Calico's eBPF dataplane rewrite
the destination to a backing pod and its target port before the destination's ingress policy sees the
packet), so a question about a service is a question about each of its backends:

- names: `svc:NS/NAME`; the DNS forms `NAME` (in the source's namespace), `NAME.NS`, `NAME.NS.svc`,
  `NAME.NS.svc.<cluster-domain>`; the ClusterIP `ip:A.B.C.D`; pods by `A-B-C-D.NS.pod.<cluster-domain>`;
- backends: the pods of the service's namespace whose labels include its selector (a service without a
  selector has none that the engine can see);
- ports: the service port (by number, or every port when none is given) maps to its `targetPort`, a number,
  or a name resolved on each backend's container ports (a backend without that name is not reached on it).

A service is reachable on a port when every backend it may pick is (a connection can land on any of them).
A pod that backs the service it asks about reaches itself through the service address (hairpin): the packet
leaves the pod and is evaluated as a flow from the pod to itself (SEMANTICS §1.5). A service with no backend
the engine can see gets no verdict: the question is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reasoner.analysis import Analysis
from reasoner.errors import UsageError
from reasoner.model.cluster import Endpoint, Service, ServicePort, backends, target_port
from reasoner.model.ports import admits
from reasoner.query.can import can
from reasoner.query.verdict import Verdict

HAIRPIN = ("hairpin: the source reaches itself through the service address; the packet leaves the pod, so its "
           "egress and ingress policy decide it as for another pod (SEMANTICS §1.5)")


@dataclass
class BackendVerdict:
    backend: str
    service_port: ServicePort | None
    target_port: int | None
    verdict: Verdict | None  # None: the backend does not define the named target port
    note: str = ""


@dataclass
class ServiceVerdict:
    src: str
    service: Service
    protocol: str | None
    port: int | None
    backends: list[BackendVerdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        reached = [b for b in self.backends if b.verdict is not None]
        return bool(reached) and all(b.verdict.allowed for b in reached)

    def to_json(self) -> dict:
        return {"src": self.src, "service": self.service.ref, "protocol": self.protocol, "port": self.port,
                "allowed": self.allowed, "notes": self.notes,
                "backends": [{"backend": b.backend, "servicePort": b.service_port.port if b.service_port else None,
                              "targetPort": b.target_port, "allowed": b.verdict.allowed if b.verdict else False,
                              "note": b.note, "verdict": b.verdict.to_json() if b.verdict else None}
                             for b in self.backends]}


def can_service(an: Analysis, src: str, svc: Service, protocol: str | None = None, port: int | None = None) -> ServiceVerdict:
    """`src` to the service on its port `port` (every port of the service when None)."""
    out = ServiceVerdict(src, svc, protocol, port)
    if svc.type == "ExternalName":
        raise UsageError(f"service {svc.ref} is an ExternalName: it resolves to a DNS name outside the cluster, "
                         f"not to pods (ask about that address with ip:)")
    ports = [sp for sp in svc.ports if (port is None or sp.port == port or sp.node_port == port)
             and (protocol is None or sp.protocol == protocol.upper())]
    if not ports:
        raise UsageError(f"service {svc.ref} has no port {port if port is not None else ''}"
                         f"{'/' + protocol if protocol else ''} (its ports: "
                         f"{', '.join(f'{sp.port}/{sp.protocol}' for sp in svc.ports) or 'none'})")
    eps = backends(an.cluster, svc)
    if not eps:  # no verdict over zero backends: nothing would answer the connection
        raise UsageError(f"service {svc.ref} selects no pod of the input: no backend to ask about"
                         if svc.selector is not None else
                         f"service {svc.ref} has no selector: its endpoints are managed by hand and not modeled "
                         f"(ask about their addresses with ip:)")
    for sp in ports:
        for ep in eps:
            tp = target_port(sp, ep)
            if tp is None:
                out.backends.append(BackendVerdict(ep.ref, sp, None, None,
                                                   f"{ep.ref} defines no {sp.protocol} port named {sp.target_port!r}"))
                continue
            hairpin = ep.ref == src  # through the service address back to itself: policed (SEMANTICS §1.5)
            verdict = can(an, src, ep.ref, sp.protocol, tp, hairpin=hairpin)
            out.backends.append(BackendVerdict(ep.ref, sp, tp, verdict, HAIRPIN if hairpin else ""))
    if not any(b.verdict is not None for b in out.backends):
        raise UsageError(f"service {svc.ref}: no backend defines the target port of "
                         f"{', '.join(f'{sp.port}/{sp.protocol}' for sp in ports)}: no backend to ask about")
    if src.startswith(("ip:", "cidr:")) and svc.type in ("NodePort", "LoadBalancer"):
        if svc.external_traffic_policy == "Cluster":
            out.notes.append("externalTrafficPolicy: Cluster: traffic from outside arriving on another node is "
                             "source-NATed to that node's address; evaluated here with the client's address")
        else:
            out.notes.append("externalTrafficPolicy: Local: the client's address reaches the backend unchanged")
    return out


@dataclass
class ServiceReach:
    """What one source may reach of one service: the service ports every backend admits, and those only some do."""

    src: str
    service: Service
    allowed: list[ServicePort] = field(default_factory=list)
    partial: list[tuple[ServicePort, list[str]]] = field(default_factory=list)  # (port, the backends that admit it)

    def to_json(self) -> dict:
        return {"src": self.src, "service": self.service.ref,
                "allowed": [{"port": sp.port, "protocol": sp.protocol, "targetPort": sp.target_port} for sp in self.allowed],
                "partial": [{"port": sp.port, "protocol": sp.protocol, "targetPort": sp.target_port, "backends": b}
                            for sp, b in self.partial]}


def service_map(an: Analysis) -> list[ServiceReach]:
    """The connectivity map by service: for each source endpoint and service, which service ports reach every
    backend on its target port (or only some backends). From the class-level map, as `connectivity` prints it."""
    from reasoner.query.map import class_connections

    conns = {(c.src.id, c.dst.id): c.allowed for c in class_connections(an)}
    fb = an.facts

    def reaches(src_ref: str, dst: Endpoint, protocol: str, port: int) -> bool:
        return admits(conns.get((fb.class_of[src_ref].id, fb.class_of[dst.ref].id), {}), protocol, port)

    out = []
    for svc in sorted(an.cluster.services, key=lambda v: v.ref):
        eps = backends(an.cluster, svc)
        if not eps or svc.type == "ExternalName":
            continue
        for src in sorted(ep.ref for ep in an.cluster.endpoints):
            reach = ServiceReach(src, svc)
            for sp in svc.ports:
                ok = [b.ref for b in eps if (tp := target_port(sp, b)) is not None and reaches(src, b, sp.protocol, tp)]
                if len(ok) == len(eps):  # a backend that is the source itself: hairpin, policed (SEMANTICS §1.5)
                    reach.allowed.append(sp)
                elif ok:
                    reach.partial.append((sp, ok))
            if reach.allowed or reach.partial:
                out.append(reach)
    return out
