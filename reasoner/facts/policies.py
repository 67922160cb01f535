"""Facts of rules/policies.dl: Kubernetes NetworkPolicies (pol_ns, pol_podsel, pol_type) and their rules
(pol_rule, krule), whose peers (peers.py) and ports (rule_port, port_range, port_named: rules/ports.dl) admin.py
shares for the k8s-shaped rules of admin policies.
"""

from __future__ import annotations

from reasoner.facts.peers import peer
from reasoner.facts.selectors import selector
from reasoner.facts.state import Emitter
from reasoner.facts.tiers import rule_order
from reasoner.model.admin import AdminPolicy
from reasoner.model.calico import DEFAULT_TIER, Action
from reasoner.model.policy import Direction, NetworkPolicy, Rule


def network_policy(em: Emitter, pol: NetworkPolicy) -> None:
    """A Kubernetes NetworkPolicy: a policy of the default tier, order 1000, whose rules allow (SEMANTICS §4.6)."""
    pid = next(em.ids)
    em.fb.policy_ids[pid] = pol
    ns = em.fb.ns_ids[pol.namespace]
    em.add("policy", pid)
    em.add("pol_ns", pid, ns)
    em.add("pol_tier", pid, em.fb.tier_ids[DEFAULT_TIER])
    em.add("pol_podsel", pid, selector(em, pol.pod_selector, "podsel"))
    for d in pol.types:
        em.add("pol_type", pid, d.value)
    for d in Direction:
        for rule in pol.rules(d):
            rid = k8s_rule(em, pid, ns, pol, rule)
            em.add("krule", rid)
            rule_order(em, rid, DEFAULT_TIER, Action.ALLOW, d)  # k8s: Allow rules (§4.6)


def k8s_rule(em: Emitter, pid: int, ns: int | None, pol: NetworkPolicy | AdminPolicy, rule: Rule) -> int:
    """A rule with Kubernetes peers and ports (of a NetworkPolicy, or an admin policy: `ns` None)."""
    rid = next(em.ids)
    em.fb.rule_ids[rid] = (pol, rule)
    em.add("pol_rule", pid, rule.direction.value, rid)
    em.add("rule_index", rid, rule.index)
    if rule.peers is None:
        em.add("rule_all_peers", rid)
    for index, p in enumerate(rule.peers or ()):
        peer_id = peer(em, p, ns)
        em.add("rule_peer", rid, peer_id)
        em.fb.peer_indexes.setdefault((rid, peer_id), []).append(index)
    if rule.ports is None:
        em.add("rule_all_ports", rid)
    for spec in rule.ports or ():
        eid = next(em.ids)
        em.add("rule_port", rid, eid)
        if spec.name is not None:
            em.add("port_named", eid, spec.protocol.value, spec.name)
        elif spec.first is None:
            em.add("port_range", eid, spec.protocol.value, 0, 65535)
        else:
            em.add("port_range", eid, spec.protocol.value, spec.first, spec.last)
    return rid
