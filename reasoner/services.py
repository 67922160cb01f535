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

import ipaddress
import re
from dataclasses import dataclass, field

from reasoner.api import Analysis
from reasoner.errors import UsageError
from reasoner.explain import Verdict, can, unknown_endpoint
from reasoner.model.cidr import Cidr
from reasoner.model.cluster import Cluster, Endpoint, Service, ServicePort
from reasoner.report.text import join_lines

DOMAIN = "cluster.local"


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


def find_service(cluster: Cluster, text: str, src_ns: str | None, domain: str = DOMAIN) -> Service | None:
    """The service that `text` names, or None when it names no service (it may still name a pod)."""
    services = {(s.namespace, s.name): s for s in cluster.services}
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


def pod_by_dns(cluster: Cluster, text: str, domain: str = DOMAIN) -> str | None:
    """`A-B-C-D.NS.pod.<domain>` -> the pod with that address in NS."""
    parts = text.rstrip(".").split(".")
    if len(parts) < 3 or parts[2] != "pod" or parts[3:] not in ([], domain.split(".")):
        return None
    try:
        ip = str(ipaddress.ip_address(parts[0].replace("-", ".") if parts[0].count("-") == 3
                                      else parts[0].replace("-", ":")))
    except ValueError:
        raise UsageError(f"{text!r}: {parts[0]!r} is not an address written with dashes") from None
    for ep in cluster.endpoints:
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


@dataclass(frozen=True)
class WorkloadPods:
    """A workload named in a question, and the pods it stands for."""

    namespace: str
    name: str
    kind: str
    pods: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}[{self.kind}]"


WORKLOAD_NAME = re.compile(r"(?P<ns>[^/\[\]]+)/(?P<name>[^/\[\]]+)(\[(?P<kind>[A-Za-z]+)\])?")


def owner_chain(cluster: Cluster, pod: Endpoint) -> list[tuple[str, str]]:
    """(kind, name) of everything a pod's ownerReferences lead to: its owners, their owners when they are given,
    and for a ReplicaSet that is not given, the Deployment its name implies: the Deployment controller names its
    ReplicaSets `DEPLOYMENT-HASH` and labels their pods `pod-template-hash: HASH`, so only a name ending in the
    pod's own hash is read so (a ReplicaSet `web-v2` of its own is no part of a Deployment `web`)."""
    given = {(w.endpoint.kind, w.endpoint.name): w for w in cluster.workloads if w.endpoint.namespace == pod.namespace}
    template_hash = dict(pod.labels).get("pod-template-hash")
    out: list[tuple[str, str]] = []
    todo = list(pod.owners)
    while todo:
        owner = todo.pop(0)
        if owner in out:
            continue
        out.append(owner)
        if owner in given:
            todo.extend(given[owner].owned_by)
        elif owner[0] == "ReplicaSet" and template_hash and owner[1].endswith(f"-{template_hash}"):
            todo.append(("Deployment", owner[1][:-len(template_hash) - 1]))
    return out


def workload(cluster: Cluster, text: str) -> WorkloadPods | None:
    """The workload `NAMESPACE/NAME` (or `NAMESPACE/NAME[Kind]`) with the pods of the input that its ownerReferences
    chains lead to; None when no pod belongs to such a workload."""
    m = WORKLOAD_NAME.fullmatch(text)
    if m is None:
        return None
    ns, name, kind = m.group("ns"), m.group("name"), m.group("kind")
    pods: dict[str, list[str]] = {}  # kind -> pods
    for ep in cluster.endpoints:
        if ep.namespace == ns and ep.kind == "Pod":
            found = next((k for k, n in owner_chain(cluster, ep) if n == name and kind in (None, k)), None)
            if found is not None:
                pods.setdefault(found, []).append(ep.ref)
    if len(pods) > 1:
        raise UsageError(f"{text!r} names workloads of several kinds ({', '.join(sorted(pods))}): "
                         f"say which, e.g. {ns}/{name}[{min(pods)}]")
    for found, refs in pods.items():
        return WorkloadPods(ns, name, found, tuple(refs))
    return None


def endpoint_names(cluster: Cluster, services: bool = True) -> list[str]:
    """Every name a question may use for an endpoint, a workload or (`services`) a service, for suggestions."""
    out = [ep.ref for ep in [*cluster.endpoints, *cluster.host_endpoints]]
    out += sorted({f"{ep.namespace}/{n}" for ep in cluster.endpoints if ep.kind == "Pod"
                   for _k, n in owner_chain(cluster, ep)})
    if services:
        out += [f"svc:{v.ref}" for v in cluster.services] + [f"{v.name}.{v.namespace}" for v in cluster.services]
    return out


def template(cluster: Cluster, text: str) -> str | None:
    """`NAMESPACE/NAME[Kind]` for a workload given without pods: the endpoint that stands for them."""
    m = WORKLOAD_NAME.fullmatch(text)
    if m is None or m.group("kind") is None:
        return None
    ep = cluster.endpoint(f"{m.group('ns')}/{m.group('name')}")
    return ep.ref if ep is not None and ep.kind == m.group("kind") else None


def check_endpoint(cluster: Cluster, text: str, src_ns: str | None = None, source: bool = False) -> None:
    """Raise a UsageError, with the nearest names, when `text` names no endpoint, workload or service (a service
    is no `source`). Cheap: asks only the inventory, so a question with a misspelt name fails before the rules
    run."""
    if text.startswith(("ip:", "cidr:")):
        try:
            Cidr.parse(text[5:]) if text.startswith("cidr:") else Cidr.of_ip(text[3:])
        except ValueError:
            raise UsageError(f"{text!r}: not an IP address or CIDR") from None
        return
    if (cluster.endpoint(text) is not None or template(cluster, text) or pod_by_dns(cluster, text)
            or find_service(cluster, text, src_ns) or workload(cluster, text)):
        return
    raise unknown_endpoint(text, endpoint_names(cluster, services=not source))


def involved(cluster: Cluster, src: str, dst: str) -> set[str] | None:
    """The pods a question about `src` and `dst` can involve, under every reading of the names: the pods named (also
    by DNS name or address), a workload's pods, a service's backends. The verdict of a flow between two pods depends
    on those pods, the namespaces and the policies only, so `can` analyses just them. None when other pods can
    matter: with host endpoints (a node port forwards to backends that no name here mentions)."""
    if cluster.host_endpoints:
        return None
    out: set[str] = set()
    src_ns = src.split("/", 1)[0] if "/" in src and not src.startswith("svc:") else None
    for text, ns in ((src, None), (dst, src_ns)):
        text = template(cluster, text) or text
        if text.startswith(("ip:", "cidr:")):
            net = Cidr.parse(text[5:]) if text.startswith("cidr:") else Cidr.of_ip(text[3:])
            out.update(ep.ref for ep in cluster.endpoints if any(Cidr.of_ip(ip) == net for ip in ep.ips))
        elif cluster.endpoint(text) is not None:
            out.add(text)
        else:
            for reading in (lambda: {pod_by_dns(cluster, text)}, lambda: set(getattr(workload(cluster, text), "pods", ()))):
                try:
                    out.update(r for r in reading() if r is not None)
                except UsageError:
                    pass
        try:
            svc = find_service(cluster, text, ns)
        except UsageError:
            svc = None
        if svc is not None:
            out.update(ep.ref for ep in backends(cluster, svc))
    return out


def check_endpoints(cluster: Cluster, src: str, dst: str) -> None:
    """`check_endpoint` for both ends of a question."""
    check_endpoint(cluster, src, source=True)
    check_endpoint(cluster, dst, src.split("/", 1)[0] if "/" in src and not src.startswith("svc:") else None)


@dataclass
class WorkloadVerdict:
    """A question about a workload: the answer for each of its pods. Allowed when every pod's answer is, and, for a
    question about any port, when some traffic is allowed to (or from) every pod alike."""

    src: str
    dst: str
    answers: list[Verdict | ServiceVerdict]
    per: str = "pod"  # what one answer is for: a pod, or a pair of pods when both ends are workloads

    @property
    def allowed(self) -> bool:
        common = self.common_traffic
        return all(v.allowed for v in self.answers) and (common is None or bool(common))

    @property
    def common_traffic(self) -> dict[str, object] | None:
        """For a question about any port: what every answer allows (the intersection of their port sets, as
        `Verdict.ports`); None for a question about one flow, or about a service."""
        from reasoner.connectivity import ALL, minus, port_sets, span

        if not all(isinstance(a, Verdict) and a.protocol is None for a in self.answers):
            return None
        protocols = self.answers[0].protocols
        tuples = []
        for p in protocols:
            common = [span(p)]
            for a in self.answers:
                v = a.ports.get(p)
                mine = [] if v is None else [span(p)] if v == ALL else list(v)
                common = minus(common, minus(common, mine))
            tuples += [(p, lo, hi) for lo, hi in common]
        return port_sets(tuples, protocols)

    def to_json(self) -> dict:
        out = {"allowed": self.allowed, "src": self.src, "dst": self.dst, "pods": [v.to_json() for v in self.answers]}
        common = self.common_traffic
        if common is not None:
            from reasoner.report.connectivity import allowed_json

            out["allowed_traffic"] = allowed_json(common)  # what every pod allows
        return out


def decide(an: Analysis, src: str, dst: str, protocol: str | None = None, port: int | None = None,
           icmp_type: int | None = None, icmp_code: int | None = None,
           checked: bool = False) -> Verdict | ServiceVerdict | WorkloadVerdict:
    """`can` for any names: pods (also by DNS name), workloads (for each of their pods), addresses, and a service
    as the destination. `checked`: `check_endpoints` has passed the names already (before the rules ran)."""
    cluster = an.cluster
    if not checked:
        check_endpoints(cluster, src, dst)
    src, dst = template(cluster, src) or src, template(cluster, dst) or dst
    src_w = workload(cluster, src) if cluster.endpoint(src) is None else None
    dst_w = workload(cluster, dst) if cluster.endpoint(dst) is None else None
    if src_w is not None or dst_w is not None:
        pairs = [(s, d) for s in (src_w.pods if src_w else (src,)) for d in (dst_w.pods if dst_w else (dst,)) if s != d]
        if not pairs:
            raise UsageError(f"{src} to {dst}: only a pod to itself, which is never policed (SEMANTICS §1.5)")
        return WorkloadVerdict(src_w.ref if src_w else src, dst_w.ref if dst_w else dst,
                               [decide(an, s, d, protocol, port, icmp_type, icmp_code, checked=True)
                                for s, d in pairs],
                               "pod pair" if src_w and dst_w else "pod")
    src = pod_by_dns(cluster, src) or src
    if not src.startswith("ip:") and find_service(cluster, src, None) is not None:
        raise UsageError(f"{src}: a service does not send traffic; name a pod (NAMESPACE/POD) as the source")
    dst_pod = pod_by_dns(cluster, dst)
    if dst_pod is None and dst not in an.facts.class_of:
        svc = find_service(cluster, dst, src.split("/", 1)[0] if "/" in src else None)
        if svc is not None:
            return can_service(an, src, svc, protocol, port)
    return can(an, src, dst_pod or dst, protocol, port, icmp_type, icmp_code)


def workload_text(v: WorkloadVerdict) -> str:
    """The verdict over the pods, then each pod's answer; one answer when every pod's is the same."""
    from reasoner.report import can as render

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
        lines += ["", *(render.to_text(a) if isinstance(a, Verdict) else to_text(a)).splitlines()]
    return join_lines(lines)


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
        if b.note:
            lines.append(f"    note: {b.note}")
        lines.extend("    " + line for line in render.to_text(b.verdict).splitlines()[1:])
    return join_lines(lines)


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
                ok = [b.ref for b in eps if (tp := target_port(sp, b)) is not None and admits(src, b, sp.protocol, tp)]
                if len(ok) == len(eps):  # a backend that is the source itself: hairpin, policed (SEMANTICS §1.5)
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
    return join_lines(lines)
