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
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from reasoner.api import Analysis
from reasoner.errors import UsageError
from reasoner.explain import Verdict, can
from reasoner.model.cluster import Cluster, Endpoint, Service, ServicePort

DOMAIN = "cluster.local"


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


def find_service(an: Analysis, text: str, src_ns: str | None, domain: str = DOMAIN) -> Service | None:
    """The service that `text` names, or None when it names no service (it may still name a pod)."""
    services = {(s.namespace, s.name): s for s in an.cluster.services}
    if text.startswith("svc:"):
        ns, _, name = text[4:].partition("/")
        svc = services.get((ns, name))
        if svc is None:
            raise UsageError(f"unknown service {text[4:]!r} (known: {', '.join(sorted(s.ref for s in services.values())) or 'none'})")
        return svc
    if text.startswith("ip:"):
        for svc in services.values():
            if svc.cluster_ip and svc.cluster_ip not in ("None", "") and svc.cluster_ip == text[3:]:
                return svc
        return None
    if "/" in text or ":" in text:
        return None
    parts = text.rstrip(".").split(".")
    suffix = domain.split(".")
    if len(parts) == 1 and src_ns is not None:
        return services.get((src_ns, parts[0]))
    if len(parts) == 2 or (len(parts) == 3 and parts[2] == "svc") or (
            len(parts) == 3 + len(suffix) and parts[2] == "svc" and parts[3:] == suffix):
        svc = services.get((parts[1], parts[0]))
        if svc is None:
            raise UsageError(f"{text!r}: no service {parts[1]}/{parts[0]}")
        return svc
    return None


def pod_by_dns(an: Analysis, text: str, domain: str = DOMAIN) -> str | None:
    """`A-B-C-D.NS.pod.<domain>` -> the pod with that address in NS."""
    parts = text.rstrip(".").split(".")
    if len(parts) < 3 or parts[2] != "pod" or parts[3:] not in ([], domain.split(".")):
        return None
    try:
        ip = str(ipaddress.ip_address(parts[0].replace("-", ".") if parts[0].count("-") == 3
                                      else parts[0].replace("-", ":")))
    except ValueError:
        raise UsageError(f"{text!r}: {parts[0]!r} is not an address written with dashes") from None
    for ep in an.cluster.endpoints:
        if ep.namespace == parts[1] and any(str(ipaddress.ip_address(x)) == ip for x in ep.ips):
            return ep.ref
    raise UsageError(f"{text!r}: no pod with address {ip} in namespace {parts[1]}")


def backends(cluster: Cluster, svc: Service) -> list[Endpoint]:
    return [ep for ep in cluster.endpoints if svc.selects(ep.namespace, dict(ep.labels))]


def target_port(sp: ServicePort, backend: Endpoint) -> int | None:
    if isinstance(sp.target_port, int):
        return sp.target_port
    if sp.target_port is None:
        return sp.port
    for cp in backend.ports:
        if cp.name == sp.target_port and cp.protocol == sp.protocol:
            return cp.port
    return None


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
    if not eps:
        out.notes.append(f"service {svc.ref} selects no pod of the input" if svc.selector is not None
                         else f"service {svc.ref} has no selector: its endpoints are managed by hand and not modeled")
    for sp in ports:
        for ep in eps:
            if ep.ref == src:
                out.notes.append(f"{src} is itself a backend of {svc.ref}: its own traffic to itself is never policed")
                continue
            tp = target_port(sp, ep)
            if tp is None:
                out.backends.append(BackendVerdict(ep.ref, sp, None, None,
                                                   f"{ep.ref} defines no {sp.protocol} port named {sp.target_port!r}"))
                continue
            out.backends.append(BackendVerdict(ep.ref, sp, tp, can(an, src, ep.ref, sp.protocol, tp)))
    if src.startswith(("ip:", "cidr:")) and svc.type in ("NodePort", "LoadBalancer"):
        if svc.external_traffic_policy == "Cluster":
            out.notes.append("externalTrafficPolicy: Cluster: traffic from outside arriving on another node is "
                             "source-NATed to that node's address; evaluated here with the client's address")
        else:
            out.notes.append("externalTrafficPolicy: Local: the client's address reaches the backend unchanged")
    return out


def decide(an: Analysis, src: str, dst: str, protocol: str | None = None, port: int | None = None,
           icmp_type: int | None = None, icmp_code: int | None = None) -> Verdict | ServiceVerdict:
    """`can` for any names: pods (also by DNS name), addresses, and a service as the destination."""
    src = pod_by_dns(an, src) or src
    if not src.startswith("ip:") and find_service(an, src, None) is not None:
        raise UsageError(f"{src}: a service does not send traffic; name a pod (NAMESPACE/POD) as the source")
    dst_pod = pod_by_dns(an, dst)
    if dst_pod is None and dst not in an.facts.class_of:
        svc = find_service(an, dst, src.split("/", 1)[0] if "/" in src else None)
        if svc is not None:
            return can_service(an, src, svc, protocol, port)
    return can(an, src, dst_pod or dst, protocol, port, icmp_type, icmp_code)


def to_text(v: ServiceVerdict) -> str:
    from reasoner.report import can as render

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
        lines.extend("    " + line for line in render.to_text(b.verdict).splitlines()[1:])
    return "\n".join(lines)


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
    from reasoner.connectivity import ALL, class_connections

    conns = {(c.src.id, c.dst.id): c.allowed for c in class_connections(an)}
    fb = an.facts

    def admits(src_ref: str, dst: Endpoint, protocol: str, port: int) -> bool:
        allowed = conns.get((fb.class_of[src_ref].id, fb.class_of[dst.ref].id), {})
        ranges = allowed.get(protocol)
        return ranges == ALL or any(lo <= port <= hi for lo, hi in ranges or ())

    out = []
    for svc in sorted(an.cluster.services, key=lambda v: v.ref):
        eps = backends(an.cluster, svc)
        if not eps or svc.type == "ExternalName":
            continue
        for src in sorted(ep.ref for ep in an.cluster.endpoints):
            reach = ServiceReach(src, svc)
            for sp in svc.ports:
                ok = [b.ref for b in eps if b.ref != src and (tp := target_port(sp, b)) is not None
                      and admits(src, b, sp.protocol, tp)]
                others = [b for b in eps if b.ref != src]
                if others and len(ok) == len(others):
                    reach.allowed.append(sp)
                elif ok:
                    reach.partial.append((sp, ok))
            if reach.allowed or reach.partial:
                out.append(reach)
    return out


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
    return "\n".join(lines)
