"""Each rule file on a small fact base written by hand: facts in, the exact tuples of its main relations out.

The facts are the ones facts/emit.py would write for the scenario each test describes, cut down to what the rules
read. Ids: namespaces 1-4, endpoint classes 10-12, policies 40 and 44, rules 41-46, peers and port entries 50-52,
Calico label views 70-72, EntityRules and network sets 80-82, tiers 90-91, service accounts 110; a selector S's one
conjunction is S*10+1 and its one test S*10+2. Addresses and ports are small numbers; IP family 4. (rules/sanity.dl:
tests/rules/test_sanity.py.)
"""

from __future__ import annotations

from reasoner.engine.datalog import EVERY_OTHER_PEER, Engine, columns, derived_relations


def table(engine: Engine, relation: str, arity: int) -> set[tuple]:
    return set(engine.ask(relation, *([None] * arity)))


def one_value(sel: int, key: str, val: str) -> list[tuple]:
    """Selector `sel`: `key == val` (matchLabels {key: val}), looked up by that label."""
    j, req = sel * 10 + 1, sel * 10 + 2
    return [("sel_conj", sel, j), ("conj_pos", j, req), ("req_in", req, key, val), ("conj_gen", j, key, val)]


def everything(sel: int) -> list[tuple]:
    """Selector `sel` without test: every object (the empty selector, Calico all())."""
    return [("sel_conj", sel, sel * 10 + 1), ("conj_nogen", sel * 10 + 1)]


def pod_class(c: int, ns: int, view: int, **labels: str) -> list[tuple]:
    """Pod class `c` of namespace `ns`, on the pod network, with `labels` for Kubernetes and its Calico view."""
    return [("endpoint", c), ("internal", c), ("class_ns", c, ns), ("podnet", c), ("calico_view", c, view),
            ("view_of", view, c), *[("label", c, k, v) for k, v in labels.items()],
            *[("label", view, k, v) for k, v in labels.items()]]


# ---- selectors.dl ------------------------------------------------------------------------------------------------

SELECTORS = [
    # namespaces 1 (team=blue) and 2 (team=red), with their Calico views 3 and 4
    ("namespace", 1), ("label", 1, "team", "blue"), ("ns_view", 1, 3), ("label", 3, "team", "blue"),
    ("namespace", 2), ("label", 2, "team", "red"), ("ns_view", 2, 4), ("label", 4, "team", "red"),
    *pod_class(10, 1, 70, app="web"), *pod_class(11, 1, 71, app="db"), *pod_class(12, 2, 72, app="web"),
    ("netset", 80), ("label", 80, "app", "web"), ("netset", 81), ("service_account", 110),
    # Kubernetes: namespaceSelector 20 {team: blue}; podSelector 30 {app NotIn [db]} of policy 40 in namespace 1
    ("nssel", 20), *one_value(20, "team", "blue"),
    ("podsel", 30), ("sel_conj", 30, 301), ("conj_neg", 301, 302), ("req_in", 302, "app", "db"), ("conj_nogen", 301),
    ("pol_ns", 40, 1), ("pol_podsel", 40, 30),
    # Calico: 60 app == 'web'; 63 app starts with 'd'; namespaceSelector 66 team == 'red';
    # serviceAccountSelector 69 all()
    ("csel", 60), *one_value(60, "app", "web"),
    ("csel", 63), ("sel_conj", 63, 631), ("conj_pos", 631, 632), ("req_starts", 632, "app", "d"), ("conj_nogen", 631),
    ("cnssel", 66), *one_value(66, "team", "red"),
    ("sasel", 69), *everything(69),
]


def test_selectors():
    e = Engine(SELECTORS)
    assert table(e, "ns_selected", 2) == {(20, 1)}
    assert table(e, "sel_scope", 2) == {(30, 1)}  # a podSelector is applied where its policy is
    assert table(e, "sel_in_ns", 3) == {(30, 1, 10)}  # not 11 (app=db), not 12 (another namespace)
    assert e.ask("conj_rejects", 301, 11) == [(301, 11)] and e.ask("conj_rejects", 301, 10) == []
    assert table(e, "sel_pod", 2) == {(60, 10), (60, 12), (63, 11)}  # Calico selectors ignore namespaces
    assert table(e, "sel_netset", 2) == {(60, 80)}
    assert table(e, "sel_ns", 2) == {(66, 2)}
    assert table(e, "sel_sa", 2) == {(69, 110)}


# ---- policies.dl -------------------------------------------------------------------------------------------------

POLICIES = [
    # namespace 1: pods 10 (app=web) and 11 (app=db); 12 an outside address
    ("namespace", 1), *pod_class(10, 1, 70, app="web"), *pod_class(11, 1, 71, app="db"),
    ("endpoint", 12), ("external", 12),
    # NetworkPolicy 40 in 1, podSelector app=web (30), policyTypes [Ingress, Egress], one ingress rule (41)
    ("policy", 40), ("pol_ns", 40, 1), ("pol_podsel", 40, 30), ("podsel", 30), *one_value(30, "app", "web"),
    ("pol_type", 40, "ingress"), ("pol_type", 40, "egress"), ("pol_rule", 40, "ingress", 41),
]


def test_policies():
    e = Engine(POLICIES)
    assert table(e, "applies", 3) == {(40, 10, "ingress"), (40, 10, "egress")}
    assert table(e, "isolated", 2) == {(10, "ingress"), (10, "egress")}
    assert table(e, "egress_open", 1) == table(e, "ingress_open", 1) == {(11,), (12,)}
    assert table(e, "ingress_rule", 2) == {(10, 41)}
    assert table(e, "egress_rule", 2) == set()  # isolated for egress, with no rule: nothing passes


# ---- peers.dl ----------------------------------------------------------------------------------------------------

PEERS = [
    # address atoms 0..9, 10..19, 20..29; pod 10 at 20..29 (namespace 1), outside addresses 11 (10..19), 12 (0..9)
    ("atom_range", 0, 4, 0, 9), ("atom_range", 1, 4, 10, 19), ("atom_range", 2, 4, 20, 29),
    ("namespace", 1), *pod_class(10, 1, 70), ("class_atom", 10, 2),
    ("endpoint", 11), ("external", 11), ("class_atom", 11, 1),
    ("endpoint", 12), ("external", 12), ("class_atom", 12, 0),
    # CIDRs 5 = 10..29 and 6 = 20..29
    ("cidr_range", 5, 4, 10, 29), ("cidr_range", 6, 4, 20, 29),
    # rule 40 from: [ipBlock 50 {cidr 5, except [6]}, podSelector {} (51: every pod of the policy's namespace 1)]
    ("rule_peer", 40, 50), ("peer_cidr", 50, 5), ("peer_except", 50, 6),
    ("rule_peer", 40, 51), ("peer_same_ns", 51, 1), ("peer_podsel", 51, 30), ("podsel", 30), *everything(30),
    # rule 41 without from
    ("rule_all_peers", 41),
]


def test_peers():
    e = Engine(PEERS)
    assert table(e, "atom_in_cidr", 2) == {(1, 5), (2, 5), (2, 6)}
    assert set(e.ask("atom_in_range", None, 4, 10, 29)) == {(1, 4, 10, 29), (2, 4, 10, 29)}
    assert table(e, "peer_match", 2) == {(50, 11), (51, 10)}  # the pod's address is excepted from the ipBlock
    assert table(e, "rule_peer_ok", 2) == {(40, 10), (40, 11), (41, 10), (41, 11), (41, 12)}


# ---- ports.dl ----------------------------------------------------------------------------------------------------

PORTS = [
    # TCP port atoms cut at 80 and 8080 (0: 0..79, 1: 80, 2: 81..8079, 3: 8080, 4: 8081..65535); UDP one atom (5)
    ("proto", "TCP"), ("proto", "UDP"), ("ported", "TCP"),
    ("port_atom", "TCP", 0, 0, 79), ("port_atom", "TCP", 1, 80, 80), ("port_atom", "TCP", 2, 81, 8079),
    ("port_atom", "TCP", 3, 8080, 8080), ("port_atom", "TCP", 4, 8081, 65535), ("port_atom", "UDP", 5, 0, 65535),
    ("endpoint", 10), ("class_port", 10, "http", "TCP", 8080),  # pod 10 names its port 8080 http
    # Kubernetes rules: 40 ports [80, http]; 41 without ports; 42 ports [{protocol: UDP}]
    ("rule_port", 40, 50), ("port_range", 50, "TCP", 80, 80), ("rule_port", 40, 51), ("port_named", 51, "TCP", "http"),
    ("rule_all_ports", 41),
    ("rule_port", 42, 52), ("port_range", 52, "UDP", 0, 65535),
    # Calico rule 43: protocol TCP, destination ports [80:8080], notPorts [8080]
    ("crule", 43), ("crule_proto", 43, "TCP"), ("crule_static", 43), ("cport_range", 43, 80, 8080),
    ("cnotport_range", 43, 8080, 8080),
]


def test_ports():
    e = Engine(PORTS)
    assert table(e, "rule_range", 4) == {(40, "TCP", 80, 80), (41, "*", 0, 65535), (42, "UDP", 0, 65535)}
    assert table(e, "rule_named", 3) == {(40, "TCP", "http")}
    assert table(e, "rfull", 2) == {(41, "TCP"), (41, "UDP"), (42, "UDP")}
    assert table(e, "rule_atom", 3) == {(40, "TCP", 1), (43, "TCP", 1), (43, "TCP", 2)}  # 8080: a notPort
    assert set(e.ask("rule_atom_to", None, 10, None, None)) == {(40, 10, "TCP", 3)}  # http, resolved on pod 10


# ---- calico.dl ---------------------------------------------------------------------------------------------------

CALICO = [
    # namespace 1: pods 10 (app=web) and 11 (app=db), service account 110; 12 an outside address in 20..29
    ("namespace", 1), *pod_class(10, 1, 70, app="web"), *pod_class(11, 1, 71, app="db"), ("service_account", 110),
    ("class_sa", 10, 110), ("class_sa", 11, 110),
    ("endpoint", 12), ("external", 12), ("class_atom", 12, 2), ("atom_range", 2, 4, 20, 29),
    # Calico NetworkPolicy 40 in 1, selector app == 'web' (60), both directions
    ("policy", 40), ("cpol", 40), ("cpol_ns", 40, 1), ("cpol_sel", 40, 60), ("csel", 60), *one_value(60, "app", "web"),
    ("pol_type", 40, "ingress"), ("pol_type", 40, "egress"),
    # ingress rule 41: source {selector: app == 'db'} (80, scoped to the policy's namespace), destination {} (81)
    ("crule", 41), ("pol_rule", 40, "ingress", 41), ("rule_dir", 41, "ingress"), ("rule_hook", 41, "ingress"),
    ("rule_src", 41, 80), ("rule_dst", 41, 81),
    ("ent_pos", 80), ("ent_nonets", 80), ("ent_scope_ns", 80, 1), ("ent_sel", 80, 63), ("csel", 63),
    *one_value(63, "app", "db"), ("ent_any", 81),
    # egress rule 42: source {}, destination {nets: [CIDR 5 = 20..29]} (82)
    ("crule", 42), ("pol_rule", 40, "egress", 42), ("rule_dir", 42, "egress"), ("rule_hook", 42, "egress"),
    ("rule_src", 42, 81), ("rule_dst", 42, 82),
    ("ent_net", 82, 5), ("ent_has_nets", 82), ("ent_nopos", 82), ("cidr_range", 5, 4, 20, 29),
]


def test_calico():
    e = Engine(CALICO)
    assert table(e, "applies", 3) == {(40, 10, "ingress"), (40, 10, "egress")}
    assert table(e, "ent_match", 2) == {(80, 11), (82, 12)}  # 81 has no address condition: ent_ok, every endpoint
    assert table(e, "crule_ok", 3) == {(41, 10, 11), (42, 10, 12)}


# ---- admin.dl ----------------------------------------------------------------------------------------------------

ADMIN = [
    ("namespace", 1), ("label", 1, "team", "blue"), ("namespace", 2), ("label", 2, "team", "red"),
    *pod_class(10, 1, 70), *pod_class(11, 2, 71),
    ("endpoint", 12), ("internal", 12), ("class_ns", 12, 1),  # a host-network pod of 1: never a subject
    # AdminNetworkPolicy 40, subject: namespaces {team: blue} (20), pods {} (30); ingress rules
    ("policy", 40), ("apol", 40), ("apol_nssel", 40, 20), ("apol_podsel", 40, 30), ("pol_type", 40, "ingress"),
    ("nssel", 20), *one_value(20, "team", "blue"), ("podsel", 30), *everything(30),
]


def test_admin():
    e = Engine(ADMIN)
    assert table(e, "sel_scope", 2) == {(30, 1)}
    assert table(e, "applies", 3) == {(40, 10, "ingress")}
    assert table(e, "ordered", 2) == {(10, "ingress")}


# ---- hosts.dl ----------------------------------------------------------------------------------------------------

HOSTS = [
    # host endpoint 10 (role=node); 11 an outside address
    ("endpoint", 10), ("internal", 10), ("hep", 10), ("class_family", 10, 4), ("calico_view", 10, 70),
    ("view_of", 70, 10), ("label", 70, "role", "node"),
    ("endpoint", 11), ("external", 11), ("class_family", 11, 4),
    ("proto", "TCP"), ("ported", "TCP"),
    ("port_atom", "TCP", 0, 0, 21), ("port_atom", "TCP", 1, 22, 22), ("port_atom", "TCP", 2, 23, 65535),
    # tier 91 (rank 0, default Deny), then the host endpoint default 90 (rank 1, Deny)
    ("tier_rank", 91, 0), ("tier_default", 91, "Deny"), ("tier_rank", 90, 1), ("tier_default", 90, "Deny"),
    ("hep_end", 90),
    # GlobalNetworkPolicy 40 in tier 91, selector role == 'node' (60), ingress: rule 41 allows TCP 22 from anywhere
    ("policy", 40), ("cpol", 40), ("cpol_global", 40), ("cpol_sel", 40, 60), ("csel", 60),
    *one_value(60, "role", "node"), ("pol_type", 40, "ingress"), ("pol_tier", 40, 91),
    ("crule", 41), ("pol_rule", 40, "ingress", 41), ("rule_dir", 41, "ingress"), ("rule_hook", 41, "ingress"),
    ("rule_src", 41, 80), ("rule_dst", 41, 80), ("ent_any", 80),
    ("crule_proto", 41, "TCP"), ("crule_static", 41), ("cport_range", 41, 22, 22),
    ("rule_rank", 41, 0), ("rule_tier", 41, 91), ("rule_action", 41, "Allow"), ("decisive", 41),
    # a failsafe port: outbound TCP 443, to any address; node port TCP 30080 of a Service without pods
    ("failsafe_port", 95, "egress", "TCP", 443), ("fs_anynet", 95), ("np_empty", "TCP", 30080),
]


def test_hosts():
    e = Engine(HOSTS)
    assert table(e, "applies", 3) == {(40, 10, "ingress")}
    assert table(e, "ordered", 2) == table(e, "isolated", 2) == {(10, "ingress"), (10, "egress")}
    assert table(e, "tier_applies", 3) == {(10, "ingress", 91), (10, "ingress", 90), (10, "egress", 90)}
    assert table(e, "nodeport_at", 2) == {("TCP", 30080)}
    assert e.holds("hep_in_ok", 10, 11, "TCP", 22)  # rule 41
    assert not e.holds("hep_in_ok", 10, 11, "TCP", 23)  # tier 91 ends in Deny
    assert e.holds("np_blocked", 10, 11, "TCP", 30080) and not e.holds("hep_in_ok", 10, 11, "TCP", 30080)
    assert e.holds("fs_ok", 10, "egress", 11, "TCP", 443) and e.holds("hep_out_ok", 10, 11, "TCP", 443)
    assert not e.holds("hep_out_ok", 10, 11, "TCP", 80)  # no policy for egress: the default denies
    assert e.holds("flow_allowed", 11, 10, "TCP", 22) and not e.holds("flow_allowed", 11, 10, "TCP", 23)


# ---- tiers.dl, regions.dl, lint.dl: one ordered end --------------------------------------------------------------

def calico_rule(rule: int, pol: int, tier: int, rank: int, action: str, src: int, dst: int) -> list[tuple]:
    """Ingress rule `rule` of Calico policy `pol` (in `tier`, at `rank`), from EntityRule `src` to `dst`."""
    return [("crule", rule), ("pol_rule", pol, "ingress", rule), ("rule_dir", rule, "ingress"),
            ("rule_hook", rule, "ingress"), ("rule_src", rule, src), ("rule_dst", rule, dst),
            ("rule_rank", rule, rank), ("rule_tier", rule, tier), ("rule_action", rule, action),
            *([("decisive", rule)] if action != "Log" else [])]


def any_traffic(rule: int) -> list[tuple]:
    return [("crule_anyproto", rule), ("crule_noports", rule)]


def tcp_port(rule: int, port: int) -> list[tuple]:
    return [("crule_proto", rule, "TCP"), ("crule_static", rule), ("cport_range", rule, port, port)]


ORDERED = [
    # pod 10, the subject; outside addresses 11 (address 10) and 12 (address 11)
    *pod_class(10, 1, 70),
    ("endpoint", 11), ("external", 11), ("class_atom", 11, 1), ("atom_range", 1, 4, 10, 10),
    ("endpoint", 12), ("external", 12), ("class_atom", 12, 2), ("atom_range", 2, 4, 11, 11),
    ("proto", "TCP"), ("proto", "UDP"), ("ported", "TCP"),
    ("port_atom", "TCP", 0, 0, 79), ("port_atom", "TCP", 1, 80, 80), ("port_atom", "TCP", 2, 81, 65535),
    ("port_atom", "UDP", 3, 0, 65535),
    # tier 90 (rank 0, default Pass), then tier 91 (rank 1, default Deny)
    ("tier_rank", 90, 0), ("tier_default", 90, "Pass"), ("tier_rank", 91, 1), ("tier_default", 91, "Deny"),
    # GlobalNetworkPolicies 40 (tier 90) and 44 (tier 91), selector all() (60), ingress
    ("csel", 60), *everything(60),
    ("policy", 40), ("cpol", 40), ("cpol_global", 40), ("cpol_sel", 40, 60), ("pol_type", 40, "ingress"),
    ("pol_tier", 40, 90),
    ("policy", 44), ("cpol", 44), ("cpol_global", 44), ("cpol_sel", 44, 60), ("pol_type", 44, "ingress"),
    ("pol_tier", 44, 91),
    # EntityRules: 80 {}; 81 {nets: [CIDR 5 = address 10, i.e. peer 11]}
    ("ent_any", 80), ("ent_net", 81, 5), ("ent_has_nets", 81), ("ent_nopos", 81), ("cidr_range", 5, 4, 10, 10),
    # tier 90: 41 Log; 42 Deny from 11; 43 Pass TCP 80. tier 91: 45 Allow TCP 80; 46 Allow from 11
    *calico_rule(41, 40, 90, 0, "Log", 80, 80), *any_traffic(41),
    *calico_rule(42, 40, 90, 1, "Deny", 81, 80), *any_traffic(42),
    *calico_rule(43, 40, 90, 2, "Pass", 80, 80), *tcp_port(43, 80),
    *calico_rule(45, 44, 91, 3, "Allow", 80, 80), *tcp_port(45, 80),
    *calico_rule(46, 44, 91, 4, "Allow", 81, 80), *any_traffic(46),
]


def test_tiers():
    e = Engine(ORDERED)
    assert table(e, "subject_rule", 3) == {(10, "ingress", r) for r in (41, 42, 43, 45, 46)}
    assert table(e, "ordered", 2) == {(10, "ingress")}
    assert table(e, "tier_applies", 3) == {(10, "ingress", 90), (10, "ingress", 91)}
    assert table(e, "universal", 1) == {(41,), (43,), (45,)}

    def flow(relation: str, q: int, p: str, port: int) -> set[tuple]:
        """The columns after the flow's (S, Dir, Q, P, Port) of the tuples of `relation` for one flow into 10."""
        rest = len(columns(derived_relations()[relation])) - 5
        return {r[5:] for r in e.ask(relation, 10, "ingress", q, p, port, *([None] * rest))}

    # from 11, TCP 80: tier 90's first decisive rule is 42 (Deny), which ends the evaluation
    assert flow("flow_match", 11, "TCP", 80) == {(41,), (42,), (43,), (45,), (46,)}
    assert flow("first_rule", 11, "TCP", 80) == {(90, 42), (91, 45)}
    assert flow("tier_does", 11, "TCP", 80) == {(90, "Deny"), (91, "Allow")}
    assert flow("flow_decision", 11, "TCP", 80) == {("Deny",)} and not flow("ord_ok", 11, "TCP", 80)
    # from 12, TCP 80: 43 passes it on, 45 allows it
    assert flow("first_rule", 12, "TCP", 80) == {(90, 43), (91, 45)}
    assert flow("tier_does", 12, "TCP", 80) == {(90, "Pass"), (91, "Allow")}
    assert flow("flow_decision", 12, "TCP", 80) == {("Allow",)} and flow("ord_ok", 12, "TCP", 80) == {()}
    # from 12, TCP 81: only the Log rule matches; tier 90's default passes, tier 91's denies
    assert flow("flow_match", 12, "TCP", 81) == {(41,)}
    assert flow("tier_does", 12, "TCP", 81) == {(90, "Pass"), (91, "Deny")}
    assert flow("flow_decision", 12, "TCP", 81) == {("Deny",)}


def test_regions():
    e = Engine(ORDERED)
    assert table(e, "hit", 4) == ({(10, "ingress", 11, r) for r in (41, 42, 43, 45, 46)}
                                  | {(10, "ingress", EVERY_OTHER_PEER, r) for r in (41, 43, 45)})
    peer = {g: q for _s, _d, q, g in e.ask("unit", None, None, None, None)}  # the units: one per peer here
    assert sorted(peer.values()) == [EVERY_OTHER_PEER, 11]
    rest = -1  # the region of a protocol's ports that no rule of the unit covers partly
    assert {(peer[g], p, x) for g, p, x in table(e, "region", 3)} == {
        (q, p, x) for q in (11, EVERY_OTHER_PEER) for p, x in (("TCP", rest), ("TCP", 1), ("UDP", rest))}
    assert {(peer[g], p, x, t, r) for g, p, x, t, r in table(e, "tier_first", 5)} == {
        (11, "TCP", rest, 90, 42), (11, "TCP", rest, 91, 46), (11, "TCP", 1, 90, 42), (11, "TCP", 1, 91, 45),
        (11, "UDP", rest, 90, 42), (11, "UDP", rest, 91, 46),
        (EVERY_OTHER_PEER, "TCP", 1, 90, 43), (EVERY_OTHER_PEER, "TCP", 1, 91, 45)}
    assert {(peer[g], p, x, a) for g, p, x, a in table(e, "verdict_ord", 4)} == {
        (11, "TCP", rest, "Deny"), (11, "TCP", 1, "Deny"), (11, "UDP", rest, "Deny"),
        (EVERY_OTHER_PEER, "TCP", rest, "Deny"), (EVERY_OTHER_PEER, "TCP", 1, "Allow"),
        (EVERY_OTHER_PEER, "UDP", rest, "Deny")}
    assert table(e, "nohit_verdict", 3) == {(10, "ingress", "Deny")}


def test_lint():
    e = Engine(ORDERED)
    assert table(e, "matched", 1) == {(41,), (42,), (43,), (45,), (46,)}
    assert table(e, "effective", 1) == {(42,), (43,), (45,)}
    assert table(e, "shadowed", 1) == {(46,)}  # from 11, 42 always denies first
    assert table(e, "shadowed_by", 2) == table(e, "conflicts", 2) == {(46, 42)}
    assert table(e, "shadowed_by_default", 2) == set()
    assert table(e, "vacuous", 1) == table(e, "dead_ent", 2) == set()
    assert table(e, "not_isolated", 2) == {(10, "egress")}


# ---- verdict.dl --------------------------------------------------------------------------------------------------

VERDICT = [
    # namespace 1: pods 10 (app=web) and 11 (app=db); 12 an outside address
    ("namespace", 1), *pod_class(10, 1, 70, app="web"), *pod_class(11, 1, 71, app="db"),
    ("endpoint", 12), ("external", 12), *[("class_family", c, 4) for c in (10, 11, 12)],
    ("proto", "TCP"), ("proto", "UDP"), ("proto_meet", "*", "*", "*"),
    *[f for p in ("TCP", "UDP")
      for f in (("proto_meet", p, p, p), ("proto_meet", "*", p, p), ("proto_meet", p, "*", p))],
    # NetworkPolicy 40 in 1, podSelector app=db (31): ingress rule 41 from pods app=web (peer 50) to TCP 5432
    ("policy", 40), ("pol_ns", 40, 1), ("pol_podsel", 40, 31), ("podsel", 31), *one_value(31, "app", "db"),
    ("pol_type", 40, "ingress"), ("pol_rule", 40, "ingress", 41),
    ("rule_peer", 41, 50), ("peer_same_ns", 50, 1), ("peer_podsel", 50, 30),
    ("podsel", 30), *one_value(30, "app", "web"),
    ("rule_port", 41, 51), ("port_range", 51, "TCP", 5432, 5432),
]


def test_verdict():
    e = Engine(VERDICT)
    assert table(e, "ingress_grant", 6) == {(11, 10, "TCP", 5432, 5432, 41)}
    assert table(e, "egress_grant", 6) == set()
    every = ("*", 0, 65535)
    assert table(e, "allowed", 5) == {(10, 10, *every), (10, 12, *every), (11, 10, *every), (11, 12, *every),
                                      (12, 10, *every), (10, 11, "TCP", 5432, 5432)}
    assert set(e.ask("ingress_allows", 11, 10, "TCP", 5432, None)) == {(11, 10, "TCP", 5432, 41)}
    assert e.holds("flow_allowed", 10, 11, "TCP", 5432)
    assert not e.holds("flow_allowed", 10, 11, "TCP", 5433) and not e.holds("flow_allowed", 12, 11, "TCP", 5432)
    assert e.holds("flow_allowed", 11, 10, "UDP", 53)  # 10 is not isolated
