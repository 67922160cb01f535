"""Facts of rules/calico.dl: Calico NetworkPolicies and GlobalNetworkPolicies (cpol, cpol_ns, cpol_global,
cpol_sel, cpol_nssel, cpol_sasel), host endpoints' profiles as policies (hep_profile), their rules (crule, their
protocols and ports) and EntityRules (ent_*), hash-consed like selectors; service accounts; network sets; and the
labels of pods and namespaces as Calico selectors see them (calico_view, ns_view).
"""

from __future__ import annotations

from reasoner.facts.hosts import hook_direction, hook_tier
from reasoner.facts.peers import cidr
from reasoner.facts.ports import icmp_range
from reasoner.facts.selectors import selector
from reasoner.facts.state import Emitter
from reasoner.facts.tiers import rule_order
from reasoner.model.calico import AUTO, DEFAULT_ALLOW_PROFILE, Action, CalicoPolicy, CalicoRule, EntityRule, Profile
from reasoner.model.calico_selector import parse_selector
from reasoner.model.cluster import Endpoint, HostEndpoint, backends, target_port
from reasoner.model.origin import Origin
from reasoner.model.policy import Direction


def service_account(em: Emitter, ns: str, name: str, labels: dict[str, str]) -> None:
    sid = em.sa_ids[(ns, name)] = next(em.ids)
    em.add("service_account", sid)
    em.add("sa_name", sid, name)
    if len(name) >= 63:
        em.add("sa_long", sid)
    for k, v in {**labels, AUTO + "name": name}.items():
        em.add("label", sid, k, v)


def calico_labels(em: Emitter, ns: str, sa: str, own: dict[str, str], sa_labels: dict) -> dict[str, str]:
    """A pod's labels as Calico selectors see them (SEMANTICS §1.1, §5.2, §5.3): its own labels win over
    the automatic ones and over those inherited from the profiles kns.<ns> and ksa.<ns>.<sa>."""
    out = {f"pcns.{k}": v for k, v in em.fb.cluster.namespaces[ns].labels}
    out["pcns." + AUTO + "name"] = ns
    out.update({f"pcsa.{k}": v for k, v in sa_labels.get((ns, sa), {}).items()})
    out["pcsa." + AUTO + "name"] = sa
    out[AUTO + "namespace"] = ns
    out[AUTO + "orchestrator"] = "k8s"
    if len(sa) < 63:
        out[AUTO + "serviceaccount"] = sa
    out.update(own)
    return out


def network_sets(em: Emitter) -> None:
    """NetworkSets and GlobalNetworkSets: their nets, and their labels (a namespaced one's with its namespace's)."""
    fb = em.fb
    cluster = fb.cluster
    for nset in cluster.network_sets:
        nid = next(em.ids)
        em.add("netset", nid)
        labels = dict(nset.labels)
        if nset.namespace is None:
            em.add("gnetset", nid)
        else:
            em.add("netset_ns", nid, fb.ns_ids[nset.namespace])
            ns_labels = dict(cluster.namespaces[nset.namespace].labels)
            labels = {**{f"pcns.{k}": v for k, v in ns_labels.items()}, "pcns." + AUTO + "name": nset.namespace,
                      AUTO + "namespace": nset.namespace, **labels}
        for k, v in labels.items():
            em.add("label", nid, k, v)
        for net in nset.nets:
            em.add("netset_net", nid, cidr(em, net))


def calico_policy(em: Emitter, pol: CalicoPolicy, tier: int | None = None) -> int:
    """A Calico policy (or a host endpoint's profile, in the tier `tier`). preDNAT and untracked policies
    run at their own hooks: directions prednat_in, untracked_in, untracked_out (rules/hosts.dl)."""
    pid = next(em.ids)
    fb = em.fb
    fb.policy_ids[pid] = pol
    em.add("policy", pid)
    em.add("cpol", pid)
    if tier is None:
        tier = fb.tier_ids[pol.tier] if pol.hook == "normal" else hook_tier(em, pol.tier, pol.hook)
    em.add("pol_tier", pid, tier)
    if pol.namespace is not None:
        em.add("cpol_ns", pid, fb.ns_ids[pol.namespace])
    else:
        em.add("cpol_global", pid)
        if pol.namespace_selector is not None:
            em.add("cpol_nssel", pid, selector(em, pol.namespace_selector, "cnssel"))
    if pol.service_account_selector is not None:
        em.add("cpol_sasel", pid, selector(em, pol.service_account_selector, "sasel"))
    if pol.kind != "Profile":  # a profile applies to the host endpoints that list it (hep_profile)
        em.add("cpol_sel", pid, selector(em, pol.selector, "csel"))
    hooked = {d: hook_direction(pol.hook, d) for d in Direction if pol.rules(d) or d in pol.types}
    for d in pol.types:
        if pol.workloads:  # preDNAT / doNotTrack policies never apply to workloads (§3.1)
            em.add("pol_type", pid, d.value)
        else:
            em.add("hook_type", pid, hooked[d])
    forward = pol.apply_on_forward and pol.hook == "normal" and bool(fb.cluster.host_endpoints)
    for d in Direction:
        for rule in pol.rules(d):
            rid = next(em.ids)
            fb.rule_ids[rid] = (pol, rule)
            em.add("pol_rule", pid, hooked[d], rid)
            em.add("rule_hook", rid, hooked[d])
            if forward and d is Direction.INGRESS:  # also evaluated on traffic forwarded to a node port's pods
                em.add("pol_rule", pid, "fwd_in", rid)
                em.add("rule_hook", rid, "fwd_in")
            em.add("rule_index", rid, rule.index)
            em.add("crule", rid)
            rule_order(em, rid, tier, rule.action, d)
            calico_rule(em, rid, pol, rule)
    if forward:
        em.add("pol_fwd", pid)
    return pid


def profiles(em: Emitter) -> None:
    """Each host endpoint's profiles, as policies of the profile tier of their position."""
    fb = em.fb
    by_name = {p.name: p for p in fb.cluster.profiles}
    made: dict[tuple[str, int], int] = {}
    for cls in fb.classes:
        if not cls.host:
            continue
        hep = cls.members[0]
        assert isinstance(hep, HostEndpoint)  # a host endpoint's class holds it alone (build_classes)
        for k, name in enumerate(hep.profiles, 1):
            pid = made.get((name, k))
            if pid is None:
                pid = made[(name, k)] = calico_policy(em, profile_policy(by_name.get(name), name, k),
                                                      fb.tier_ids[f"(profile {k})"])
            em.add("hep_profile", cls.id, pid)


def profile_policy(prof: Profile | None, name: str, position: int) -> CalicoPolicy:
    """A host endpoint's profile as a policy of the tier "(profile K)": its rules, both directions. The built-in
    projectcalico-default-allow allows everything; a profile not given has no rules (SEMANTICS §4.5)."""
    if prof is None and name == DEFAULT_ALLOW_PROFILE:
        origin = Origin("(built-in profile)", None)
        allow = {d: (CalicoRule(d, 0, Action.ALLOW, None, None, None, None, None, EntityRule(), EntityRule(), False,
                                origin),) for d in Direction}
        prof = Profile(name, (), origin, allow[Direction.INGRESS], allow[Direction.EGRESS])
    if prof is None:
        prof = Profile(name, (), Origin("(profile not given)", None))
    return CalicoPolicy("Profile", None, name, f"(profile {position})", None, parse_selector(""), None, None,
                        frozenset(Direction), prof.ingress, prof.egress, "normal", prof.origin)


def calico_rule(em: Emitter, rid: int, pol: CalicoPolicy, rule: CalicoRule) -> None:
    em.add("rule_src", rid, entity(em, rule.source, pol, "src"))
    em.add("rule_dst", rid, entity(em, rule.destination, pol, "dst"))
    if rule.ip_version is not None:
        em.add("rule_ipver", rid, rule.ip_version)
    if rule.protocol is not None:
        em.add("crule_proto", rid, rule.protocol)
    elif rule.not_protocol is not None:
        em.add("crule_notproto", rid, rule.not_protocol)
    else:
        em.add("crule_anyproto", rid)
    if rule.source.ports or (rule.protocol and rule.protocol == rule.not_protocol):
        # the flows evaluated have a source port that no rule names (tiers.dl);
        # `protocol: X` with `notProtocol: X` matches nothing
        em.add("crule_repr_miss", rid)
    dst = rule.destination
    ports = [(pm.first, pm.last, pm.name) for pm in dst.ports]
    not_ports = [(pm.first, pm.last, pm.name) for pm in dst.not_ports]
    if rule.icmp is not None:  # ICMP type/code are the "ports" of ICMP and ICMPv6 (icmp needs that protocol)
        ports.append((*icmp_range(rule.icmp), None))
    if rule.not_icmp is not None:
        not_ports.append((*icmp_range(rule.not_icmp), None))
    for lo, hi, name in ports:
        if name is None:
            em.add("cport_range", rid, lo, hi)
        else:
            em.add("cport_named", rid, name)
    for lo, hi, name in not_ports:
        if name is None:
            em.add("cnotport_range", rid, lo, hi)
        else:
            em.add("cnotport_named", rid, name)
    if dst.service is not None:  # the backends' target ports, resolved on each backend (SEMANTICS §3.6.3)
        em.add("crule_dynamic", rid)
        for cls_id, proto, port in service_ports(em, dst.service):
            em.add("svc_port", rid, cls_id, proto, port)
    elif not ports and not not_ports:
        em.add("crule_noports", rid)
    elif not ports:
        em.add("crule_onlynot", rid)
    if dst.service is None and any(name is not None for _lo, _hi, name in ports + not_ports):
        em.add("crule_dynamic", rid)
    elif dst.service is None and (ports or not_ports):
        em.add("crule_static", rid)


def service_backends(em: Emitter, service: tuple[str, str]) -> list[tuple[int, Endpoint]]:
    """(class, pod) for each pod backing the Service (namespace, name); none when there is no such Service
    or it has no selector."""
    svc = em.fb.cluster.service(*service)
    if svc is None:
        return []
    return [(em.fb.class_of[ep.ref].id, ep) for ep in backends(em.fb.cluster, svc) if ep.ref in em.fb.class_of]


def service_ports(em: Emitter, service: tuple[str, str]) -> list[tuple[int, str, int]]:
    """(backend class, protocol, target port) for every port of the Service and every backend."""
    svc = em.fb.cluster.service(*service)
    if svc is None:  # no such Service: no backends (service_backends)
        return []
    return sorted({(cls_id, sp.protocol, tp) for cls_id, ep in service_backends(em, service)
                   for sp in svc.ports if (tp := target_port(sp, ep)) is not None})


def entity(em: Emitter, ent: EntityRule, pol: CalicoPolicy, side: str) -> int:
    """The id of an EntityRule on the `side` of a rule: alike EntityRules of one side share their facts and id
    (hash-consing, as for selectors), so what they match is derived once."""
    facts: list[tuple] = []
    _entity_facts(em, ent, pol, facts)
    key = (side, tuple(facts))
    eid = em.entities.get(key)
    if eid is None:
        eid = em.entities[key] = next(em.ids)
        for relation, *values in facts:
            em.add(relation, eid, *values)
    return eid


def _entity_facts(em: Emitter, ent: EntityRule, pol: CalicoPolicy, facts: list[tuple]) -> None:
    """Facts for one EntityRule (without its id), scoped as Calico scopes it (SEMANTICS §3.5, rules.go
    getEndpointSelector)."""
    def add(relation: str, *values) -> None:
        facts.append((relation, *values))
    sa = ent.service_accounts
    has_sa = sa is not None and (bool(sa.names) or sa.selector is not None)
    if ent.service is not None:  # the service's backend pods, whatever their port (ports: the rule's)
        add("ent_pos")
        add("ent_nonets")
        add("ent_svc")
        for cls_id in sorted({c for c, _ep in service_backends(em, ent.service)}):
            add("ent_svc_member", cls_id)
        return
    if not (ent.nets or ent.not_nets or ent.selector or ent.not_selector or ent.namespace_selector or has_sa):
        add("ent_any")
        return
    for net in ent.nets:
        add("ent_net", cidr(em, net))
    add("ent_has_nets" if ent.nets else "ent_nonets")
    for net in ent.not_nets:
        add("ent_notnet", cidr(em, net))
    if ent.not_selector is not None:
        add("ent_notsel", selector(em, ent.not_selector, "csel"))
    core = ent.selector is not None or has_sa
    ns_scope = ent.namespace_selector is not None or pol.namespace is not None
    if ns_scope and (core or ent.not_selector is not None or ent.namespace_selector is not None) or core:
        add("ent_pos")
        if ns_scope:
            nsel = ent.namespace_selector
            if nsel is not None and nsel.canonical == "global()":
                add("ent_scope_global")
            elif nsel is not None:
                add("ent_scope_nssel", selector(em, nsel, "cnssel"))
            else:
                assert pol.namespace is not None  # ns_scope without a namespace selector: the policy's namespace
                add("ent_scope_ns", em.fb.ns_ids[pol.namespace])
        if ent.selector is not None:
            add("ent_sel", selector(em, ent.selector, "csel"))
        else:
            add("ent_nosel")
        if sa is not None and sa.names:
            add("ent_sa_names")
            for n in sa.names:
                add("ent_sa_name", n)
        if sa is not None and sa.selector is not None:
            add("ent_sa_sel", selector(em, sa.selector, "sasel"))
    else:
        add("ent_nopos")
