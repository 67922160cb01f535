"""Calico `projectcalico.org/v3` policy resources (also read from their `crd.projectcalico.org/v1` form).

Defaulting is applied when the model is built: `types` by Calico's table (SEMANTICS §3.2: only egress
rules give [Egress], unlike Kubernetes), a policy without tier is in `default`, a Tier stored without
order gets 1 000 000 (§4.2). Not modeled yet: host endpoints and the preDNAT/doNotTrack/applyOnForward
hooks (policies with preDNAT or doNotTrack never apply to workloads, §3.1), `services` matches, HTTP
matches (a rule with `http` is treated as its L4 part, §3.6.4).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from reasoner.model.calico_selector import CalicoSelector
from reasoner.model.cidr import Cidr
from reasoner.model.origin import Origin
from reasoner.model.policy import Direction

DEFAULT_TIER = "default"
DEFAULT_TIER_ORDER = 1_000_000.0
K8S_POLICY_ORDER = 1000.0
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58, "SCTP": 132, "UDPLite": 136}


class Action(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    LOG = "Log"
    PASS = "Pass"


@dataclass(frozen=True)
class Tier:
    name: str
    order: float
    default_action: Action  # DENY or PASS
    origin: Origin | None


@dataclass(frozen=True)
class PortMatch:
    """One entry of `ports`/`notPorts`: an inclusive range, or a named port."""

    first: int | None = None
    last: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class ServiceAccountMatch:
    names: tuple[str, ...] = ()
    selector: CalicoSelector | None = None


@dataclass(frozen=True)
class EntityRule:
    """`source` or `destination` of a Calico rule; an absent field is no constraint."""

    nets: tuple[Cidr, ...] = ()
    not_nets: tuple[Cidr, ...] = ()
    selector: CalicoSelector | None = None
    not_selector: CalicoSelector | None = None
    namespace_selector: CalicoSelector | None = None
    service_accounts: ServiceAccountMatch | None = None
    ports: tuple[PortMatch, ...] = ()
    not_ports: tuple[PortMatch, ...] = ()
    service: tuple[str, str] | None = None  # `services: {namespace, name}`: the service's backends (§3.6.3)

    @property
    def is_empty(self) -> bool:
        return self == EntityRule()


@dataclass(frozen=True)
class IcmpMatch:
    type: int
    code: int | None = None


@dataclass(frozen=True)
class CalicoRule:
    direction: Direction
    index: int
    action: Action
    protocol: str | None  # a name from PROTOCOL_NUMBERS or a number as a string
    not_protocol: str | None
    icmp: IcmpMatch | None
    not_icmp: IcmpMatch | None
    ip_version: int | None
    source: EntityRule
    destination: EntityRule
    http: bool
    origin: Origin


@dataclass(frozen=True)
class CalicoPolicy:
    kind: str  # NetworkPolicy or GlobalNetworkPolicy
    namespace: str | None  # None for GlobalNetworkPolicy
    name: str
    tier: str
    order: float | None  # None: +inf
    selector: CalicoSelector
    namespace_selector: CalicoSelector | None  # GlobalNetworkPolicy only
    service_account_selector: CalicoSelector | None
    types: frozenset[Direction]
    ingress: tuple[CalicoRule, ...]
    egress: tuple[CalicoRule, ...]
    workloads: bool  # False for preDNAT / doNotTrack policies: they never apply to workloads (§3.1)
    origin: Origin

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def rules(self, direction: Direction) -> tuple[CalicoRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress


@dataclass(frozen=True)
class NetworkSet:
    namespace: str | None  # None: GlobalNetworkSet
    name: str
    labels: tuple[tuple[str, str], ...]
    nets: tuple[Cidr, ...]
    origin: Origin

    @property
    def ref(self) -> str:
        return f"netset:{self.namespace}/{self.name}" if self.namespace else f"gnetset:{self.name}"


@dataclass(frozen=True)
class Profile:
    name: str
    labels: tuple[tuple[str, str], ...]
    origin: Origin


@dataclass(frozen=True)
class IPPool:
    """Calico IPPool: where pods get addresses, and whether their traffic to outside the pools is NATed."""

    name: str
    cidr: Cidr
    nat_outgoing: bool
    disabled: bool
    origin: Origin
