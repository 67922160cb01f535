"""Core Kubernetes kinds: Namespace, Pod, the workload controllers, Service, ServiceAccount.

A workload's pod template stands for its pods (endpoint `NAMESPACE/WORKLOAD`) when none of its pods is
in the input, as in a git repository of manifests. Pods that have finished (phase Succeeded/Failed)
hold no address and are not endpoints (SEMANTICS §1.8.1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reasoner.manifests.load import FieldPath
from reasoner.model.cidr import Cidr
from reasoner.model.cluster import ContainerPort, Endpoint, Namespace, Service, ServiceAccount, ServicePort
from reasoner.model.origin import Origin
from reasoner.model.ports import PORTED
from reasoner.sources.fields import Fields, name_problem, show

# kind -> path of the pod template inside the resource
WORKLOAD_TEMPLATES: dict[str, FieldPath] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


def name_and_namespace(f: Fields, namespaced: bool = True, rule: str = "subdomain") -> tuple[str, str]:
    """`metadata.name`, checked against `rule` (see `Fields.name`), and `metadata.namespace` (a DNS-1123 label)."""
    f.get(("metadata",), dict, required=True)
    name = f.name(("metadata", "name"), rule)
    ns = ""
    if namespaced:  # an empty namespace is the default one, as kubectl reads it
        ns = f.get(("metadata", "namespace"), str) and f.name(("metadata", "namespace"), "label") or "default"
    return name, ns


def parse_namespace(f: Fields) -> Namespace:
    name, _ = name_and_namespace(f, namespaced=False, rule="label")
    labels = f.str_map(("metadata", "labels"))
    return Namespace(name, tuple(sorted(labels.items())), Origin(f.doc.file, f.doc.line(("metadata",))))


def _container_ports(f: Fields, spec: FieldPath) -> tuple[ContainerPort, ...]:
    out: list[ContainerPort] = []
    for group in ("initContainers", "containers"):
        containers = f.get(spec + (group,), list, [])
        for i, _ in enumerate(containers):
            ports = f.get(spec + (group, i, "ports"), list, [])
            for j, _ in enumerate(ports):
                at = spec + (group, i, "ports", j)
                number = f.get(at + ("containerPort",), int, required=True)
                if not 1 <= number <= 65535:
                    raise f.fail(at + ("containerPort",), f"port {number} is out of range (want 1-65535)")
                protocol = f.get(at + ("protocol",), str, "TCP")
                if protocol not in PORTED:
                    raise f.fail(at + ("protocol",), f"unknown protocol {protocol!r} (want TCP, UDP or SCTP)")
                name = f.get(at + ("name",), str)
                out.append(ContainerPort(name and f.port_name(at + ("name",), name), protocol, number))
    return tuple(out)


def _pod_endpoint(f: Fields, kind: str, name: str, ns: str, meta: FieldPath, spec: FieldPath,
                  ips: tuple[str, ...]) -> Endpoint:
    labels = f.str_map(meta + ("labels",))
    sa = f.get(spec + ("serviceAccountName",), str) or f.get(spec + ("serviceAccount",), str) or "default"
    host_network = bool(f.get(spec + ("hostNetwork",), bool, False))
    return Endpoint(ns, name, kind, tuple(sorted(labels.items())), sa, _container_ports(f, spec), ips,
                    host_network, Origin(f.doc.file, f.doc.line(("metadata",))))


def parse_pod(f: Fields) -> Endpoint | None:
    name, ns = name_and_namespace(f)
    phase = f.get(("status", "phase"), str)
    if phase in ("Succeeded", "Failed"):
        return None
    ips: list[str] = []
    for i, _ in enumerate(f.get(("status", "podIPs"), list, [])):
        ip = f.get(("status", "podIPs", i, "ip"), str)
        if ip:
            ips.append(ip)
    single = f.get(("status", "podIP"), str)
    if single and single not in ips:
        ips.insert(0, single)
    for i, ip in enumerate(ips):
        try:
            Cidr.of_ip(ip)
        except ValueError:
            raise f.fail(("status", "podIPs", i) if f.has(("status", "podIPs")) else ("status", "podIP"),
                         f"{ip!r} is not an IP address") from None
    pod = _pod_endpoint(f, "Pod", name, ns, ("metadata",), ("spec",), tuple(ips))
    return replace(pod, owners=_owners(f))


@dataclass(frozen=True)
class Workload:
    """A controller's pod template, with what tells its pods apart (selector, owners)."""

    endpoint: Endpoint
    selector: tuple[tuple[str, str], ...]
    owned_by: tuple[tuple[str, str], ...]  # (kind, name) of ownerReferences


def parse_workload(f: Fields, kind: str) -> Workload:
    name, ns = name_and_namespace(f)
    template = WORKLOAD_TEMPLATES[kind]
    f.get(template, dict, required=True)
    endpoint = _pod_endpoint(f, kind, name, ns, template + ("metadata",), template + ("spec",), ())
    if kind == "ReplicationController":
        selector = f.str_map(("spec", "selector"))
    else:
        selector = f.str_map(("spec", "selector", "matchLabels"))
    return Workload(endpoint, tuple(sorted((selector or dict(endpoint.labels)).items())), _owners(f))


def _owners(f: Fields) -> tuple[tuple[str, str], ...]:
    """(kind, name) of each of `metadata.ownerReferences`."""
    return tuple((f.get(("metadata", "ownerReferences", i, "kind"), str, ""),
                  f.get(("metadata", "ownerReferences", i, "name"), str, ""))
                 for i, _ in enumerate(f.get(("metadata", "ownerReferences"), list, [])))


def parse_service(f: Fields) -> Service:
    name, ns = name_and_namespace(f, rule="dns1035")
    selector = f.str_map(("spec", "selector")) if f.has(("spec", "selector")) else None
    ports: list[ServicePort] = []
    for i, _ in enumerate(f.get(("spec", "ports"), list, [])):
        at = ("spec", "ports", i)
        port = f.get(at + ("port",), int, required=True)
        if not 1 <= port <= 65535:
            raise f.fail(at + ("port",), f"port {port} is out of range (want 1-65535)")
        protocol = f.get(at + ("protocol",), str, "TCP")
        if protocol not in PORTED:
            raise f.fail(at + ("protocol",), f"unknown protocol {protocol!r} (want TCP, UDP or SCTP)")
        target = f.raw(at + ("targetPort",)) if f.has(at + ("targetPort",)) else port
        if isinstance(target, bool) or not isinstance(target, (int, str)):
            raise f.fail(at + ("targetPort",), "expected a port number or a port name")
        if isinstance(target, int) and not 1 <= target <= 65535:
            raise f.fail(at + ("targetPort",), f"targetPort {target} is out of range (want 1-65535)")
        if isinstance(target, str):
            f.port_name(at + ("targetPort",), target)
        node_port = f.get(at + ("nodePort",), int)
        if node_port is not None and not 1 <= node_port <= 65535:
            raise f.fail(at + ("nodePort",), f"nodePort {node_port} is out of range")
        port_name = f.get(at + ("name",), str)
        problem = port_name and name_problem(port_name, "label")
        if problem:  # a Service port name is a DNS-1123 label, not an IANA service name
            f.report(at + ("name",), f"invalid port name {show(port_name)}: {problem}")
        ports.append(ServicePort(port_name, protocol, port, target, node_port))
    kind = f.get(("spec", "type"), str, "ClusterIP")
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        raise f.fail(("spec", "type"), f"unknown type {kind!r} (want ClusterIP, NodePort, LoadBalancer, ExternalName)")
    policy = f.get(("spec", "externalTrafficPolicy"), str, "Cluster")
    if policy not in ("Cluster", "Local"):
        raise f.fail(("spec", "externalTrafficPolicy"), f"unknown externalTrafficPolicy {policy!r} (want Cluster or Local)")
    cluster_ip = f.get(("spec", "clusterIP"), str)
    if cluster_ip not in (None, "", "None"):
        try:
            Cidr.of_ip(cluster_ip)
        except ValueError:
            raise f.fail(("spec", "clusterIP"), f"{show(cluster_ip)} is not an IP address, None or empty") from None
    return Service(ns, name, tuple(sorted(selector.items())) if selector is not None else None, tuple(ports),
                   kind, cluster_ip, Origin(f.doc.file, f.doc.line(("metadata",))), policy)


def parse_service_account(f: Fields) -> ServiceAccount:
    name, ns = name_and_namespace(f)
    return ServiceAccount(ns, name, tuple(sorted(f.str_map(("metadata", "labels")).items())),
                          Origin(f.doc.file, f.doc.line(("metadata",))))
