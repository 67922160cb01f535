"""Facts of rules/admin.dl: AdminNetworkPolicies and the BaselineAdminNetworkPolicy (apol, apol_nssel,
apol_podsel), with Kubernetes-shaped rules (policies.py) that carry actions, in their tiers.
"""

from __future__ import annotations

from reasoner.facts.policies import k8s_rule
from reasoner.facts.selectors import selector
from reasoner.facts.state import Emitter
from reasoner.facts.tiers import rule_order
from reasoner.model.admin import AdminPolicy
from reasoner.model.policy import Direction, Rule


def admin_policy(em: Emitter, pol: AdminPolicy) -> None:
    """An ANP or the BANP: subject by namespace and pod selectors, k8s-style peers and ports, ordered."""
    pid = next(em.ids)
    em.fb.policy_ids[pid] = pol
    em.add("policy", pid)
    em.add("apol", pid)
    em.add("pol_tier", pid, em.fb.tier_ids[pol.tier])
    em.add("apol_nssel", pid, selector(em, pol.namespace_selector, "nssel"))
    em.add("apol_podsel", pid, selector(em, pol.pod_selector, "podsel"))
    for d in pol.types:
        em.add("pol_type", pid, d.value)
    for d in Direction:
        for rule in pol.rules(d):
            shaped = Rule(d, rule.index, () if rule.matches_nothing else rule.peers, rule.ports, rule.origin)
            rid = k8s_rule(em, pid, None, pol, shaped)
            em.fb.rule_ids[rid] = (pol, rule)
            em.add("krule", rid)
            rule_order(em, rid, pol.tier, rule.action, d)
