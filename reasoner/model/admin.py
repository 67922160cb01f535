"""AdminNetworkPolicy and BaselineAdminNetworkPolicy (`policy.networking.k8s.io/v1alpha1`).

They are evaluated in two tiers around the NetworkPolicy layer (SEMANTICS §6.4, §6.5): ANPs in
`adminnetworkpolicy` (order 1000, defaultAction Pass) by priority, BANP in `baselineadminnetworkpolicy`
(order 10 000 000, defaultAction Pass). A rule with a peer the engine does not know (`nodes`, `domainNames`)
fails closed (§6.2): an Allow rule matches nothing, a Deny or Pass rule becomes a Deny of everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from reasoner.model.calico import Action
from reasoner.model.origin import Origin
from reasoner.model.policy import Direction, Peer, PortSpec
from reasoner.model.selector import LabelSelector

ANP_TIER, ANP_TIER_ORDER = "adminnetworkpolicy", 1000.0
BANP_TIER, BANP_TIER_ORDER = "baselineadminnetworkpolicy", 10_000_000.0


@dataclass(frozen=True)
class AdminRule:
    direction: Direction
    index: int
    name: str | None
    action: Action
    peers: tuple[Peer, ...] | None  # None: every peer (a fail-closed Deny/Pass)
    ports: tuple[PortSpec, ...] | None  # None: every port and protocol
    matches_nothing: bool  # a fail-closed Allow
    origin: Origin
    unevaluated: str | None = None  # the peer field that makes the rule fail closed (`nodes`, `domainNames`)
    written_action: Action | None = None  # the action in the manifest (a fail-closed Pass is evaluated as Deny)

    @property
    def fail_closed(self) -> str:
        """Why the rule is evaluated as it is, when it fails closed; empty otherwise."""
        if self.unevaluated is None:
            return ""
        if self.matches_nothing:
            return f"fails closed: peer {self.unevaluated} is not evaluated, so this Allow matches nothing"
        return (f"fails closed: peer {self.unevaluated} is not evaluated, so it denies every flow; "
                f"the manifest says {(self.written_action or self.action).value}")


@dataclass(frozen=True)
class AdminPolicy:
    kind: str  # AdminNetworkPolicy or BaselineAdminNetworkPolicy
    name: str
    priority: int | None  # None for the BANP
    namespace_selector: LabelSelector
    pod_selector: LabelSelector  # the empty selector for a `namespaces` subject
    ingress: tuple[AdminRule, ...]
    egress: tuple[AdminRule, ...]
    origin: Origin
    namespace: None = None

    @property
    def ref(self) -> str:
        return self.name

    @property
    def tier(self) -> str:
        return ANP_TIER if self.kind == "AdminNetworkPolicy" else BANP_TIER

    @property
    def types(self) -> frozenset[Direction]:
        return frozenset(d for d, rules in ((Direction.INGRESS, self.ingress), (Direction.EGRESS, self.egress)) if rules)

    def rules(self, direction: Direction) -> tuple[AdminRule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    def warnings(self) -> list[str]:
        """A line for each rule that fails closed (shown when the input is loaded)."""
        return [f"{r.origin}: {self.kind} {self.name} {r.direction.value}[{r.index}]: {r.fail_closed}"
                for r in self.ingress + self.egress if r.fail_closed]
