"""Kubernetes NetworkPolicy (`networking.k8s.io/v1`) after API-server defaulting.

Defaulting is applied when the model is built (SEMANTICS §2.1): `policyTypes` absent or empty becomes
`[Ingress]` plus `Egress` iff `spec.egress` is non-empty; a port without `protocol` is TCP.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from reasoner.model.cidr import Cidr
from reasoner.model.origin import Origin
from reasoner.model.selector import LabelSelector


class Direction(enum.Enum):
    INGRESS = "ingress"
    EGRESS = "egress"


class Protocol(enum.Enum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


@dataclass(frozen=True)
class PodPeer:
    """A peer with podSelector and/or namespaceSelector.

    k8s: namespace_selector None means the policy's own namespace; pod_selector None means every pod
    of the selected namespaces.
    """

    namespace_selector: LabelSelector | None
    pod_selector: LabelSelector | None


@dataclass(frozen=True)
class IPBlockPeer:
    """`ipBlock`: addresses in `cidr` and in none of `excepts`."""

    cidr: Cidr
    excepts: tuple[Cidr, ...]


Peer = PodPeer | IPBlockPeer


@dataclass(frozen=True)
class PortSpec:
    """One entry of a rule's `ports`: a protocol and a numeric range, all ports, or a named port."""

    protocol: Protocol
    first: int | None = None  # None: every port of the protocol
    last: int | None = None
    name: str | None = None  # a named port, resolved on the destination pod

    def __str__(self) -> str:
        if self.name is not None:
            return f"{self.protocol.value}/{self.name}"
        if self.first is None:
            return f"{self.protocol.value}/*"
        if self.first == self.last:
            return f"{self.protocol.value}/{self.first}"
        return f"{self.protocol.value}/{self.first}-{self.last}"


@dataclass(frozen=True)
class Rule:
    """One item of `spec.ingress` or `spec.egress`. `peers`/`ports` None means "all"."""

    direction: Direction
    index: int
    peers: tuple[Peer, ...] | None
    ports: tuple[PortSpec, ...] | None
    origin: Origin


@dataclass(frozen=True)
class NetworkPolicy:
    namespace: str
    name: str
    pod_selector: LabelSelector
    types: frozenset[Direction]
    ingress: tuple[Rule, ...]
    egress: tuple[Rule, ...]
    origin: Origin
    kind: str = "NetworkPolicy"

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: Direction) -> tuple[Rule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress
