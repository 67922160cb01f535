"""Calico `projectcalico.org/v3` policy resources (also read from their `crd.projectcalico.org/v1` form).

Defaulting is applied when the model is built: `types` by Calico's table (SEMANTICS §3.2: only egress
rules give [Egress], unlike Kubernetes), a policy without tier is in `default`, a Tier stored without
order gets 1 000 000 (§4.2). A policy's `hook` says where Felix applies it: "normal" policies apply to
workloads and host endpoints; "preDNAT" and "untracked" (doNotTrack) ones only to host endpoints (§3.1,
§4.9). HTTP matches are not modeled (a rule with `http` is treated as its L4 part, §3.6.4).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from reasoner.model.calico_selector import CalicoSelector
from reasoner.model.cidr import Cidr
from reasoner.model.numbers import ascii_int
from reasoner.model.origin import Origin
from reasoner.model.policy import Direction, NetworkPolicy

DEFAULT_TIER = "default"
DEFAULT_TIER_ORDER = 1_000_000.0
K8S_POLICY_ORDER = 1000.0
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58, "SCTP": 132, "UDPLite": 136}

AUTO = "projectcalico.org/"  # the prefix of the labels Calico adds to every endpoint (namespace, name, ...)


def parse_protocol(text: str) -> str | None:
    """A protocol as a user writes it, a name in any case or a number 0-255 in ASCII digits: its name from
    PROTOCOL_NUMBERS (for its number too: `17` is UDP), else the number as a string (`047` is `47`); None when
    `text` is neither."""
    number = ascii_int(text)
    if number is None:
        return next((name for name in PROTOCOL_NUMBERS if name.upper() == text.upper()), None)
    if number > 255:
        return None
    return next((name for name, n in PROTOCOL_NUMBERS.items() if n == number), str(number))


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
    hook: str  # "normal", "preDNAT" or "untracked" (doNotTrack)
    origin: Origin
    apply_on_forward: bool = False

    @property
    def workloads(self) -> bool:
        """preDNAT and doNotTrack policies never apply to workloads (SEMANTICS §3.1)."""
        return self.hook == "normal"

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
    """A Calico Profile: labels its member endpoints inherit, and rules evaluated after every tier (§4.5)."""

    name: str
    labels: tuple[tuple[str, str], ...]
    origin: Origin
    ingress: tuple[CalicoRule, ...] = ()
    egress: tuple[CalicoRule, ...] = ()


@dataclass(frozen=True)
class StagedPolicy:
    """A StagedNetworkPolicy, StagedGlobalNetworkPolicy or StagedKubernetesNetworkPolicy: never enforced
    (SEMANTICS §4.1). `action` (stagedAction): Set creates or replaces the enforced policy of the same name,
    Delete removes it; Learn and Ignore mark policy recommendations, which are not promoted. `policy` is the
    enforced policy that Set would give (None for Delete); `tier` is None for the Kubernetes kind."""

    kind: str
    namespace: str | None
    name: str
    action: str
    tier: str | None
    policy: CalicoPolicy | NetworkPolicy | None
    origin: Origin


DEFAULT_ALLOW_PROFILE = "projectcalico-default-allow"  # built in: allows everything both ways (§4.5)


@dataclass(frozen=True)
class FailsafePort:
    """A Felix failsafe port: always open on every host endpoint, whatever the policy (SEMANTICS §4.9).
    `net` restricts the remote address (the source inbound, the destination outbound)."""

    protocol: str  # TCP or UDP
    port: int
    net: Cidr | None = None


FAILSAFE_INBOUND = tuple(FailsafePort(p, n) for p, n in (
    ("TCP", 22), ("UDP", 68), ("TCP", 179), ("TCP", 2379), ("TCP", 2380), ("TCP", 5473), ("TCP", 6443),
    ("TCP", 6666), ("TCP", 6667)))
FAILSAFE_OUTBOUND = tuple(FailsafePort(p, n) for p, n in (
    ("UDP", 53), ("UDP", 67), ("TCP", 179), ("TCP", 2379), ("TCP", 2380), ("TCP", 5473), ("TCP", 6443),
    ("TCP", 6666), ("TCP", 6667)))


@dataclass(frozen=True)
class IPPool:
    """Calico IPPool: where pods get addresses, and whether their traffic to outside the pools is NATed."""

    name: str
    cidr: Cidr
    nat_outgoing: bool
    disabled: bool
    origin: Origin
