"""Facts of rules/tiers.dl: the order in which policies are evaluated, which the rules take as given.

The rank facts are computed here, never in rules/ (rules/tiers.dl states them as its input contract):
- tier_rank(T, N): N is tier T's position in Calico's tier order: the tiers of the input (the built-in ones
  included) sorted by order, then by name (SEMANTICS §4.2), ranked 0, 1, 2, ... (`tier_ranks`). For host endpoints,
  hosts.py ranks after them one tier per profile position, then the host endpoint default; a tier as it runs at a
  preDNAT or untracked hook shares its tier's rank (its hook is an evaluation of its own).
- rule_rank(R, N): N is rule R's position in one global evaluation order, distinct for every rule: the policies
  in `evaluation_order` (tiers as above; in a tier, policy order ascending, none last, a Kubernetes
  NetworkPolicy 1000, an ANP its priority, the BANP 1000; equal orders by `sort_name`, Calico <=3.31's policy
  key: the name tie-break of SEMANTICS §4.3), each policy's ingress rules then its egress rules in list order;
  then the rules of host endpoints' profiles (calico.py). The rules compare ranks of rules of one tier only.
- with them, by `rule_order`: rule_tier(R, T), rule_action(R, A), rule_dir(R, Dir), decisive(R) (not Log); and
  tier_default(T, A), each tier's defaultAction.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from reasoner.facts.state import Emitter
from reasoner.model.admin import AdminPolicy
from reasoner.model.calico import DEFAULT_TIER, K8S_POLICY_ORDER, Action, Tier
from reasoner.model.cluster import Cluster
from reasoner.model.policy import Direction, NetworkPolicy

if TYPE_CHECKING:
    from reasoner.facts.emit import Policy


def sort_name(pol: Policy) -> str:
    """The name that breaks order ties inside a tier: Calico <=3.31's policy key (SEMANTICS §4.3):
    `<namespace>/<tier-prefixed name>`, Kubernetes policies as `<namespace>/knp.default.<name>`."""
    if isinstance(pol, NetworkPolicy):
        return f"{pol.namespace}/knp.default.{pol.name}"
    if isinstance(pol, AdminPolicy):  # Calico's names for them (SEMANTICS §4.7)
        return f"kanp.{pol.tier}.{pol.name}" if pol.priority is not None else f"kbanp.{pol.tier}.{pol.name}"
    prefixed = pol.name if pol.name.startswith(pol.tier + ".") else f"{pol.tier}.{pol.name}"
    return f"{pol.namespace}/{prefixed}" if pol.namespace else prefixed


def ordered_tiers(cluster: Cluster) -> list[Tier]:
    """The tiers of the input in Calico's order: by order, then name (SEMANTICS §4.2)."""
    return sorted(cluster.tiers.values(), key=lambda t: (t.order, t.name))


def evaluation_order(cluster: Cluster) -> list[Policy]:
    """Every policy in Calico's evaluation order (SEMANTICS §4.2, §4.3): tiers in `ordered_tiers` order; in a
    tier, policies by order (none: last) then `sort_name`. Kubernetes policies: default tier, order 1000."""
    tiers = {t.name: i for i, t in enumerate(ordered_tiers(cluster))}

    def key(pol: Policy) -> tuple[int, float, str]:
        tier = DEFAULT_TIER if isinstance(pol, NetworkPolicy) else pol.tier
        if isinstance(pol, NetworkPolicy):
            order = K8S_POLICY_ORDER
        elif isinstance(pol, AdminPolicy):  # ANP: priority; the BANP: 1000 (its tier holds it alone)
            order = float(pol.priority) if pol.priority is not None else K8S_POLICY_ORDER
        else:
            order = math.inf if pol.order is None else pol.order
        return (tiers[tier], order, sort_name(pol))

    return sorted([*cluster.policies, *cluster.calico_policies, *cluster.admin_policies], key=key)


def tier_ranks(em: Emitter) -> None:
    """The tiers of the input, ranked by order then name, with their defaultAction."""
    for i, tier in enumerate(ordered_tiers(em.fb.cluster)):
        name = tier.name
        tid = em.fb.tier_ids[name] = next(em.ids)
        em.tier_rank[name] = i
        em.add("tier_rank", tid, i)
        em.add("tier_default", tid, tier.default_action.value)


def rule_order(em: Emitter, rid: int, tier: str | int, action: Action, direction: Direction) -> None:
    """Rule `rid`, the next in evaluation order, of `tier` (a name, or a tier id)."""
    em.add("rule_rank", rid, next(em.ranks))
    em.add("rule_tier", rid, em.fb.tier_ids[tier] if isinstance(tier, str) else tier)
    em.add("rule_action", rid, action.value)
    em.add("rule_dir", rid, direction.value)
    if action is not Action.LOG:
        em.add("decisive", rid)
