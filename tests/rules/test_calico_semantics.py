"""Calico semantics (SEMANTICS §3–§5), one small hand-checked scenario per point."""

from __future__ import annotations

import pytest

from support.helpers import allowed, analyse, cnp, gnp, knp, pod, table, tier

PODS = [pod("x", "a", {"app": "a"}, "10.0.0.1", [("http", "TCP", 8080)]),
        pod("x", "b", {"app": "b", "tier": "frontend"}, "10.0.0.2"),
        pod("y", "c", {"app": "c"}, "10.0.1.3")]
DENY_ALL_TO_A = "  selector: app == 'a'\n  ingress: [{action: Deny}]\n"
ALLOW_ALL_TO_A = "  selector: app == 'a'\n  ingress: [{action: Allow}]\n"


# ---- tiers and order (§4.1–§4.3) --------------------------------------------------------------------------

def test_lower_tier_order_is_evaluated_first():
    an = analyse(*PODS, tier("first", 100), tier("second", 200),
                 gnp("first.deny", DENY_ALL_TO_A, "first"), gnp("second.allow", ALLOW_ALL_TO_A, "second"))
    assert not allowed(an, "x/b", "x/a")
    an = analyse(*PODS, tier("first", 100), tier("second", 200),
                 gnp("first.allow", ALLOW_ALL_TO_A, "first"), gnp("second.deny", DENY_ALL_TO_A, "second"))
    assert allowed(an, "x/b", "x/a")


@pytest.mark.parametrize("name,first", [("aaa", True), ("zzz", False)])
def test_tier_without_order_ties_with_default_and_goes_by_name(name, first):
    an = analyse(*PODS, tier(name), gnp(f"{name}.deny", DENY_ALL_TO_A, name), gnp("default.allow", ALLOW_ALL_TO_A))
    assert allowed(an, "x/b", "x/a") is not first  # a deny in a tier before default wins


def test_lower_policy_order_is_evaluated_first_and_no_order_is_last():
    an = analyse(*PODS, gnp("deny", "  order: 10\n" + DENY_ALL_TO_A), gnp("allow", "  order: 20\n" + ALLOW_ALL_TO_A))
    assert not allowed(an, "x/b", "x/a")
    an = analyse(*PODS, gnp("deny", DENY_ALL_TO_A), gnp("allow", "  order: 20\n" + ALLOW_ALL_TO_A))
    assert allowed(an, "x/b", "x/a")


def test_equal_order_is_broken_by_name():
    an = analyse(*PODS, gnp("a-deny", "  order: 5\n" + DENY_ALL_TO_A), gnp("b-allow", "  order: 5\n" + ALLOW_ALL_TO_A))
    assert not allowed(an, "x/b", "x/a")
    an = analyse(*PODS, gnp("b-deny", "  order: 5\n" + DENY_ALL_TO_A), gnp("a-allow", "  order: 5\n" + ALLOW_ALL_TO_A))
    assert allowed(an, "x/b", "x/a")


def test_kubernetes_policies_sit_in_the_default_tier_at_order_1000():
    k = knp("x", "allow-b", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: b}}}]}]")
    before = gnp("deny", "  order: 10\n" + DENY_ALL_TO_A)
    after = gnp("deny", "  order: 2000\n" + DENY_ALL_TO_A)
    assert not allowed(analyse(*PODS, k, before), "x/b", "x/a")
    assert allowed(analyse(*PODS, k, after), "x/b", "x/a")
    assert not allowed(analyse(*PODS, k, after), "y/c", "x/a")  # the k8s policy matches nothing: the deny does


def test_rules_are_evaluated_in_order_and_the_first_match_decides():
    an = analyse(*PODS, gnp("p", "  selector: app == 'a'\n  ingress:\n  - {action: Deny, protocol: TCP, destination: {ports: [80]}}\n"
                                  "  - {action: Allow}\n"))
    assert not allowed(an, "x/b", "x/a", "TCP", 80)
    assert allowed(an, "x/b", "x/a", "TCP", 81)
    assert allowed(an, "x/b", "x/a", "UDP", 80)


def test_log_does_not_end_evaluation():
    an = analyse(*PODS, gnp("p", "  selector: app == 'a'\n  ingress: [{action: Log}, {action: Allow, protocol: TCP}]\n"))
    assert allowed(an, "x/b", "x/a", "TCP", 1)
    assert not allowed(an, "x/b", "x/a", "UDP", 1)  # end of tier: the Log rule did not decide


def test_policy_that_matches_nothing_falls_through_to_the_next_policy_of_the_tier():
    an = analyse(*PODS, gnp("first", "  order: 1\n  selector: app == 'a'\n  ingress: [{action: Deny, source: {selector: app == 'zzz'}}]\n"),
                 gnp("second", "  order: 2\n" + ALLOW_ALL_TO_A))
    assert allowed(an, "x/b", "x/a")


def test_end_of_tier_denies_when_a_policy_applies_but_no_rule_matches():
    an = analyse(*PODS, tier("sec", 100), gnp("sec.p", "  selector: app == 'a'\n  ingress: [{action: Allow, protocol: UDP}]\n", "sec"))
    assert not allowed(an, "x/b", "x/a", "TCP", 80)
    assert allowed(an, "x/b", "x/a", "UDP", 80)
    assert allowed(an, "x/a", "x/b", "TCP", 80)  # b is not selected: the tier does not apply to it


def test_tier_default_action_pass_goes_on_to_the_next_tier():
    an = analyse(*PODS, tier("sec", 100, "Pass"),
                 gnp("sec.p", "  selector: app == 'a'\n  ingress: [{action: Deny, protocol: UDP}]\n", "sec"))
    assert allowed(an, "x/b", "x/a", "TCP", 80)  # passed, no later tier applies: profile allows
    assert not allowed(an, "x/b", "x/a", "UDP", 80)


def test_pass_skips_the_rest_of_the_tier():
    an = analyse(*PODS, tier("sec", 100),
                 gnp("sec.a", "  order: 1\n  selector: app == 'a'\n  ingress: [{action: Pass, source: {selector: app == 'b'}}]\n", "sec"),
                 gnp("sec.b", "  order: 2\n  selector: app == 'a'\n  ingress: [{action: Deny}]\n", "sec"),
                 knp("x", "k", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{ports: [{port: 8080}]}]"))
    assert allowed(an, "x/b", "x/a", "TCP", 8080)  # Pass -> default tier: the k8s policy allows
    assert not allowed(an, "x/b", "x/a", "TCP", 9090)  # default tier applies, nothing matches: end of tier
    assert not allowed(an, "y/c", "x/a", "TCP", 8080)  # not passed: sec.b denies


def test_pass_in_the_last_tier_reaches_the_profile():
    an = analyse(*PODS, gnp("p", "  selector: app == 'a'\n  ingress: [{action: Pass}]\n"))
    assert allowed(an, "x/b", "x/a", "TCP", 1)


def test_policy_selecting_nothing_changes_nothing():
    an = analyse(*PODS, gnp("p", "  selector: app == 'nobody'\n  ingress: [{action: Deny}]\n"))
    assert allowed(an, "x/b", "x/a")


def test_pre_dnat_and_do_not_track_policies_never_apply_to_workloads():
    an = analyse(*PODS, gnp("p", "  preDNAT: true\n  applyOnForward: true\n" + DENY_ALL_TO_A),
                 gnp("q", "  doNotTrack: true\n  applyOnForward: true\n" + DENY_ALL_TO_A))
    assert allowed(an, "x/b", "x/a")


# ---- types defaulting (§3.2) ------------------------------------------------------------------------------

def test_egress_rules_alone_default_types_to_egress_only():
    an = analyse(*PODS, gnp("p", "  selector: app == 'a'\n  egress: [{action: Deny}]\n"))
    assert not allowed(an, "x/a", "x/b")
    assert allowed(an, "x/b", "x/a")  # not ingress-isolating, unlike a Kubernetes policy


# ---- selectors (§3.8) -------------------------------------------------------------------------------------

SEL = [pod("s", "prod", {"env": "prod", "team": "payments"}), pod("s", "dev", {"env": "dev"}), pod("s", "none", {}),
       pod("s", "client", {"role": "client"})]


@pytest.mark.parametrize("selector,selected", [
    ("env == 'prod'", {"prod"}),
    ("env != 'prod'", {"dev", "none"}),  # absent key: != holds
    ("env in {'prod', 'dev'}", {"prod", "dev"}),
    ("env not in {'prod'}", {"dev", "none"}),
    ("has(env)", {"prod", "dev"}),
    ("!has(env)", {"none"}),
    ("env contains 'ro'", {"prod"}),
    ("env starts with 'd'", {"dev"}),
    ("env ends with 'd'", {"prod"}),
    ("env == 'dev' || team == 'payments' && env == 'prod'", {"dev", "prod"}),
    ("(env == 'dev' || team == 'payments') && has(team)", {"prod"}),
    ("!env == 'prod'", {"dev", "none"}),
    ("!(has(env) && env != 'dev')", {"dev", "none"}),
    ("all()", {"prod", "dev", "none"}),
    ("!all()", set()),
    ("env in {}", set()),
])
def test_selector_operators_including_absent_keys(selector, selected):
    pol = gnp("p", f"  selector: \"{selector} && !has(role)\"\n  ingress: [{{action: Deny}}]\n")
    an = analyse(*SEL, pol)
    for name in ("prod", "dev", "none"):
        assert allowed(an, "s/client", f"s/{name}") == (name not in selected), name


def test_automatic_labels_namespace_and_service_account():
    an = analyse(*PODS, gnp("p", "  selector: projectcalico.org/namespace == 'y' && projectcalico.org/serviceaccount == 'default'\n"
                                 "  ingress: [{action: Deny}]\n"))
    assert not allowed(an, "x/a", "y/c")
    assert allowed(an, "y/c", "x/a")


# ---- EntityRule scoping (§3.5) -----------------------------------------------------------------------------

def test_namespaced_rule_selector_means_the_policy_namespace():
    an = analyse(*PODS, pod("y", "b2", {"app": "b"}),
                 cnp("x", "p", "  selector: app == 'a'\n  ingress: [{action: Allow, source: {selector: app == 'b'}}]\n"))
    assert allowed(an, "x/b", "x/a")
    assert not allowed(an, "y/b2", "x/a")


def test_namespace_selector_widens_the_rule_selector():
    an = analyse(*PODS, pod("y", "b2", {"app": "b"}),
                 cnp("x", "p", "  selector: app == 'a'\n  ingress: [{action: Allow, source: {selector: app == 'b', namespaceSelector: all()}}]\n"))
    assert allowed(an, "y/b2", "x/a")
    assert not allowed(an, "ip:203.0.113.9", "x/a")


def test_global_rule_selector_is_cluster_wide():
    an = analyse(*PODS, pod("y", "b2", {"app": "b"}),
                 gnp("p", "  selector: app == 'a'\n  ingress: [{action: Allow, source: {selector: app == 'b'}}]\n"))
    assert allowed(an, "y/b2", "x/a") and allowed(an, "x/b", "x/a")


def test_selector_all_does_not_match_external_addresses_but_no_selector_does():
    with_all = analyse(*PODS, gnp("p", "  selector: app == 'a'\n  ingress: [{action: Allow, source: {selector: all()}}]\n"))
    assert allowed(with_all, "x/b", "x/a") and not allowed(with_all, "ip:203.0.113.9", "x/a")
    without = analyse(*PODS, gnp("p", "  selector: app == 'a'\n  ingress: [{action: Allow}]\n"))
    assert allowed(without, "ip:203.0.113.9", "x/a")


def test_not_selector_is_namespace_scoped_in_a_network_policy_but_not_in_a_global_one():
    ns_pol = analyse(*PODS, cnp("x", "p", "  selector: app == 'a'\n  ingress: [{action: Allow, source: {notSelector: app == 'zzz'}}]\n"))
    assert allowed(ns_pol, "x/b", "x/a")
    assert not allowed(ns_pol, "y/c", "x/a")
    assert not allowed(ns_pol, "ip:203.0.113.9", "x/a")
    glob = analyse(*PODS, gnp("p", "  selector: app == 'a'\n  ingress: [{action: Allow, source: {notSelector: app == 'c'}}]\n"))
    assert allowed(glob, "ip:203.0.113.9", "x/a") and allowed(glob, "x/b", "x/a")
    assert not allowed(glob, "y/c", "x/a")


def test_nets_and_not_nets():
    an = analyse(*PODS, gnp("p", "  selector: app == 'a'\n  ingress: [{action: Allow, source: {nets: [10.0.0.0/16], notNets: [10.0.1.0/24]}}]\n"))
    assert allowed(an, "x/b", "x/a")
    assert not allowed(an, "y/c", "x/a")  # 10.0.1.3 is in notNets
    assert allowed(an, "ip:10.0.200.1", "x/a")
    assert not allowed(an, "ip:192.0.2.1", "x/a")


NETSETS = """
apiVersion: projectcalico.org/v3
kind: NetworkSet
metadata: {name: partner, namespace: x, labels: {peer: partner}}
spec: {nets: [198.51.100.0/28]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: feeds, labels: {peer: feeds}}
spec: {nets: [203.0.113.0/24]}
"""


def test_network_sets_are_matched_through_rule_selectors():
    an = analyse(*PODS, NETSETS, cnp("x", "p", "  selector: app == 'a'\n  types: [Egress]\n  egress:\n"
                                              "  - {action: Allow, destination: {selector: peer == 'partner'}}\n"
                                              "  - {action: Allow, destination: {selector: peer == 'feeds'}}\n"
                                              "  - {action: Allow, protocol: TCP, destination: {ports: [443], selector: peer == 'feeds', namespaceSelector: global()}}\n"))
    assert allowed(an, "x/a", "ip:198.51.100.7", "TCP", 1)
    assert not allowed(an, "x/a", "ip:198.51.100.17", "TCP", 1)  # outside the set
    assert allowed(an, "x/a", "ip:203.0.113.5", "TCP", 443)  # global set, through global()
    assert not allowed(an, "x/a", "ip:203.0.113.5", "TCP", 80)  # a plain selector never reaches a global set


def test_network_set_of_another_namespace_is_not_matched_by_a_plain_selector():
    an = analyse(*PODS, NETSETS, cnp("y", "p", "  selector: app == 'c'\n  types: [Egress]\n  egress: [{action: Allow, destination: {selector: peer == 'partner'}}]\n"))
    assert not allowed(an, "y/c", "ip:198.51.100.7", "TCP", 1)


SAS = [pod("z", "web", {"app": "web"}).replace("spec:", "spec:\n  serviceAccountName: web-sa"),
       pod("z", "job", {"app": "job"}).replace("spec:", "spec:\n  serviceAccountName: batch"),
       pod("z", "db", {"app": "db"}),
       "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web-sa, namespace: z, labels: {role: frontend}}"]


def test_service_account_names_and_selector_in_rules():
    by_name = analyse(*SAS, cnp("z", "p", "  selector: app == 'db'\n  ingress: [{action: Allow, source: {serviceAccounts: {names: [batch]}}}]\n"))
    assert allowed(by_name, "z/job", "z/db") and not allowed(by_name, "z/web", "z/db")
    by_sel = analyse(*SAS, cnp("z", "p", "  selector: app == 'db'\n  ingress: [{action: Allow, source: {serviceAccounts: {selector: role == 'frontend'}}}]\n"))
    assert allowed(by_sel, "z/web", "z/db") and not allowed(by_sel, "z/job", "z/db")


def test_service_account_selector_restricts_the_policy_subjects():
    an = analyse(*SAS, cnp("z", "p", "  serviceAccountSelector: role == 'frontend'\n  ingress: [{action: Deny}]\n"))
    assert not allowed(an, "z/db", "z/web")
    assert allowed(an, "z/web", "z/db")


# ---- ports and protocols (§3.4, §3.6.1) ------------------------------------------------------------------

def test_port_ranges_not_ports_and_named_ports():
    an = analyse(*PODS, gnp("p", "  selector: app == 'a'\n  ingress:\n"
                                 "  - {action: Deny, protocol: TCP, destination: {notPorts: ['8000:9000']}}\n"
                                 "  - {action: Allow, protocol: TCP, destination: {ports: [http]}}\n"
                                 "  - {action: Allow, protocol: TCP, destination: {ports: ['8500:8600']}}\n"))
    assert not allowed(an, "x/b", "x/a", "TCP", 7999)
    assert allowed(an, "x/b", "x/a", "TCP", 8080)  # the named port http on x/a
    assert not allowed(an, "x/b", "x/a", "TCP", 8081)
    assert allowed(an, "x/b", "x/a", "TCP", 8600)
    assert table(an)[("x/b", "x/a")]["TCP"] == [(8080, 8080), (8500, 8600)]


def test_protocol_numbers_and_not_protocol():
    an = analyse(*PODS, gnp("p", "  selector: app == 'a'\n  ingress:\n  - {action: Allow, protocol: 17}\n"
                                 "  - {action: Deny, notProtocol: TCP}\n  - {action: Allow}\n"))
    assert allowed(an, "x/b", "x/a", "UDP", 53)
    assert not allowed(an, "x/b", "x/a", "SCTP", 53)
    assert not allowed(an, "x/b", "x/a", "ICMP", None)
    assert allowed(an, "x/b", "x/a", "TCP", 53)


def test_numbered_protocol_is_its_own_protocol_in_the_map():
    an = analyse(*PODS, gnp("p", "  selector: app == 'a'\n  ingress: [{action: Allow, protocol: 47}]\n"))
    assert table(an)[("x/b", "x/a")] == {"47": "all"}
    assert allowed(an, "x/b", "x/a", "47", None)
    assert not allowed(an, "x/b", "x/a", "50", None)


def test_both_ends_must_allow_with_calico_too():
    an = analyse(*PODS, gnp("p", "  selector: app == 'b'\n  egress: [{action: Deny, destination: {selector: app == 'a'}}, {action: Allow}]\n"))
    assert not allowed(an, "x/b", "x/a")
    assert allowed(an, "x/b", "y/c")


def test_icmp_type_and_code_and_their_not_forms():
    from reasoner.query.can import can

    an = analyse(*PODS, gnp("p", "  selector: app == 'a'\n  ingress:\n"
                                 "  - {action: Deny, protocol: ICMP, icmp: {type: 8, code: 1}}\n"
                                 "  - {action: Allow, protocol: ICMP, icmp: {type: 8}}\n"
                                 "  - {action: Allow, protocol: ICMPv6, notICMP: {type: 128}}\n"))
    assert can(an, "x/b", "x/a", "ICMP", None, icmp_type=8, icmp_code=0).allowed
    assert not can(an, "x/b", "x/a", "ICMP", None, icmp_type=8, icmp_code=1).allowed
    assert not can(an, "x/b", "x/a", "ICMP", None, icmp_type=0).allowed
    assert not can(an, "x/b", "x/a", "ICMP", None).allowed  # a type no rule names
    assert can(an, "x/b", "x/a", "ICMPv6", None, icmp_type=129).allowed
    assert not can(an, "x/b", "x/a", "ICMPv6", None, icmp_type=128).allowed
    assert table(an)[("x/b", "x/a")]["ICMP"] == [(2048, 2048), (2050, 2303)]  # type*256+code
