"""A question about any names, answered: pods (also by DNS name), workloads (for each of their pods), host
endpoints, addresses, and a Service as the destination (`answer`: a `Verdict`, a `ServiceVerdict` or a
`WorkloadVerdict`)."""

from __future__ import annotations

from dataclasses import dataclass

from reasoner.analysis import Analysis
from reasoner.errors import UsageError
from reasoner.model.ports import ports_json
from reasoner.query.can import can
from reasoner.query.endpoints import check_endpoints, find_service, pod_by_dns, template, workload
from reasoner.query.services import ServiceVerdict, can_service
from reasoner.query.verdict import Verdict


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
        from reasoner.model.ports import ALL, minus, port_sets, span

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
            out["allowed_traffic"] = ports_json(common)  # what every pod allows
        return out


def answer(an: Analysis, src: str, dst: str, protocol: str | None = None, port: int | None = None,
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
                               [answer(an, s, d, protocol, port, icmp_type, icmp_code, checked=True)
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
