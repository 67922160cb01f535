"""Endpoint names as a user writes them, resolved once for every question: to the analysis' classes (`resolve`:
pods, host endpoints, addresses), and in the cluster to Services (by `svc:NS/NAME`, DNS name or ClusterIP), pods
by DNS name, and workloads (by ownerReferences). The labels Calico sees on an endpoint (`calico_view`)."""

from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass
from typing import Iterable

from reasoner.analysis import Analysis
from reasoner.errors import UsageError
from reasoner.model.cidr import Cidr, ip_text
from reasoner.model.cluster import Cluster, Endpoint, Service, backends
from reasoner.query.verdict import Target


def resolve(an: Analysis, text: str) -> Target:
    """`NS/POD`, `ip:ADDRESS` or `cidr:PREFIX` (a prefix must lie in one address atom)."""
    fb = an.facts
    if text.startswith(("ip:", "cidr:")):
        value = text.split(":", 1)[1]
        try:
            net = Cidr.parse(value) if text.startswith("cidr:") else Cidr.of_ip(value)
        except ValueError:
            raise UsageError(f"{text!r}: not an IP address or CIDR") from None
        if net.lo == net.hi:
            for cls in fb.classes:  # an address that belongs to a pod is that pod
                for ep in cls.members:
                    if any(Cidr.of_ip(ip) == net for ip in ep.ips):
                        return Target(ep.ref, cls)
        lo_atom = fb.atoms.of_ip(ip_text(net.family, net.lo))
        hi_atom = fb.atoms.of_ip(ip_text(net.family, net.hi))
        if lo_atom.id != hi_atom.id:
            raise UsageError(f"{text!r} spans address ranges that policies treat differently; "
                             f"ask about a narrower prefix (e.g. cidr:{Cidr(lo_atom.family, lo_atom.lo, lo_atom.hi)})")
        return Target(text, next(c for c in fb.classes if c.external is not None and c.external.id == lo_atom.id))
    cls = fb.class_of.get(text)
    if cls is None:
        raise unknown_endpoint(text, fb.class_of)
    return Target(text, cls)


def unknown_endpoint(text: str, known: Iterable[str]) -> UsageError:
    """The error for a name that names no endpoint, with the nearest known names."""
    close = difflib.get_close_matches(text, list(known), n=3)
    if close:
        return UsageError(f"unknown endpoint {text!r}; did you mean {' or '.join(close)}?")
    return UsageError(f"unknown endpoint {text!r} (want NAMESPACE/POD, a workload NAMESPACE/NAME, hep:NAME, "
                      f"ip:ADDRESS, cidr:PREFIX, or a service as the destination)")


DOMAIN = "cluster.local"


def calico_view(fb, cls, ep) -> dict[str, str]:
    """The labels Calico selectors see on one endpoint of `cls`: the class's view (its tested labels and the
    automatic ones) with all of the endpoint's own labels, which win there too."""
    return {**fb.calico_labels[cls.id], **dict(ep.labels)}


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
