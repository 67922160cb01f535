"""The inventory: namespaces, endpoints (pods, or workload pod templates), services, and the policies."""

from __future__ import annotations

from dataclasses import dataclass, field

from reasoner.model.admin import AdminPolicy
from reasoner.model.calico import FAILSAFE_INBOUND, FAILSAFE_OUTBOUND, CalicoPolicy, NetworkSet, Profile, Tier
from reasoner.model.origin import Origin
from reasoner.model.policy import NetworkPolicy

NAME_LABEL = "kubernetes.io/metadata.name"  # set by the control plane on every namespace (SEMANTICS §2.7)


@dataclass(frozen=True)
class Namespace:
    name: str
    labels: tuple[tuple[str, str], ...]
    origin: Origin | None  # None: referenced but not given


@dataclass(frozen=True)
class ContainerPort:
    name: str | None
    protocol: str  # TCP, UDP, SCTP
    port: int


@dataclass(frozen=True)
class Endpoint:
    """A pod, or the pod template of a workload when no pod of it is given (kind says which)."""

    namespace: str
    name: str
    kind: str  # Pod, Deployment, StatefulSet, ...
    labels: tuple[tuple[str, str], ...]
    service_account: str
    ports: tuple[ContainerPort, ...]
    ips: tuple[str, ...]  # empty: address not known
    host_network: bool
    origin: Origin
    owners: tuple[tuple[str, str], ...] = ()  # (kind, name) of a pod's ownerReferences

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class HostEndpoint:
    """A Calico HostEndpoint: one interface of a node (`interface` "*": all of them), known to policy by its
    labels and profiles, and to rule selectors by its expected IPs only (SEMANTICS §3.5, §4.9)."""

    name: str
    node: str
    interface: str | None  # None: identified by its expectedIPs
    ips: tuple[str, ...]  # expectedIPs
    labels: tuple[tuple[str, str], ...]
    profiles: tuple[str, ...]
    ports: tuple[ContainerPort, ...]  # named ports (spec.ports)
    origin: Origin
    namespace = None
    kind = "HostEndpoint"
    host_network = False
    service_account = None

    @property
    def ref(self) -> str:
        return f"hep:{self.name}"

    @property
    def wildcard(self) -> bool:
        return self.interface == "*"


@dataclass(frozen=True)
class ServicePort:
    name: str | None
    protocol: str
    port: int
    target_port: int | str | None
    node_port: int | None = None


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    selector: tuple[tuple[str, str], ...] | None
    ports: tuple[ServicePort, ...]
    type: str
    cluster_ip: str | None
    origin: Origin
    external_traffic_policy: str = "Cluster"

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def selects(self, namespace: str, labels: dict[str, str]) -> bool:
        """Whether a pod of `namespace` with `labels` backs this Service (no selector: none does)."""
        return (self.selector is not None and namespace == self.namespace
                and all(labels.get(k) == v for k, v in self.selector))


@dataclass(frozen=True)
class ServiceAccount:
    namespace: str
    name: str
    labels: tuple[tuple[str, str], ...]
    origin: Origin


@dataclass
class Cluster:
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    endpoints: list[Endpoint] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    service_accounts: list[ServiceAccount] = field(default_factory=list)
    policies: list[NetworkPolicy] = field(default_factory=list)
    calico_policies: list[CalicoPolicy] = field(default_factory=list)
    admin_policies: list[AdminPolicy] = field(default_factory=list)
    staged: list = field(default_factory=list)  # staged policies (model.calico.StagedPolicy): read, never enforced
    tiers: dict[str, Tier] = field(default_factory=dict)
    network_sets: list[NetworkSet] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    ip_pools: list = field(default_factory=list)  # Calico IPPools (model.calico.IPPool)
    host_endpoints: list[HostEndpoint] = field(default_factory=list)
    failsafe_inbound: tuple | None = None  # FelixConfiguration failsafe ports; None: Felix's defaults
    failsafe_outbound: tuple | None = None
    skipped: list[str] = field(default_factory=list)  # "file:line: kind apiVersion (not supported)"
    files: list[str] = field(default_factory=list)  # the files the objects were read from, in the order read
    workloads: list = field(default_factory=list)  # every workload given (sources.k8s_core.Workload), pods or not

    def service(self, namespace: str, name: str) -> Service | None:
        return next((v for v in self.services if v.namespace == namespace and v.name == name), None)

    def endpoint(self, ref: str) -> Endpoint | HostEndpoint | None:
        ends: list[Endpoint | HostEndpoint] = [*self.endpoints, *self.host_endpoints]
        for ep in ends:
            if ep.ref == ref:
                return ep
        return None

    def rule_lists(self) -> list:
        """Every holder of Calico rules: the policies, and the profiles (their rules run for host endpoints)."""
        return [*self.calico_policies, *self.profiles]

    def failsafe(self, inbound: bool) -> tuple:
        """The failsafe ports in force (FelixConfiguration `default`, else Felix's defaults)."""
        given = self.failsafe_inbound if inbound else self.failsafe_outbound
        if given is not None:
            return given
        return FAILSAFE_INBOUND if inbound else FAILSAFE_OUTBOUND


def backends(cluster: Cluster, svc: Service) -> list[Endpoint]:
    """The pods (or workload templates) backing the Service: those its selector picks (none without a selector)."""
    return [ep for ep in cluster.endpoints if svc.selects(ep.namespace, dict(ep.labels))]


def target_port(sp: ServicePort, backend: Endpoint) -> int | None:
    """The port of `backend` that Service port `sp` forwards to: its targetPort number, the service port when
    targetPort is not given, or the container port the targetPort name resolves to (None: the backend has no
    container port of that name and protocol)."""
    if isinstance(sp.target_port, int):
        return sp.target_port
    if sp.target_port is None:
        return sp.port
    for cp in backend.ports:
        if cp.name == sp.target_port and cp.protocol == sp.protocol:
            return cp.port
    return None
