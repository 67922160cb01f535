"""Every semantic point of Kubernetes NetworkPolicy (SEMANTICS §2), each on a small hand-checked scenario."""

from __future__ import annotations

import pytest

from support.helpers import allowed, analyse, pod, table

ALL = "all"


def np(ns: str, name: str, spec: str) -> str:
    return f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}"


PODS = [pod("x", "a", {"app": "a"}), pod("x", "b", {"app": "b"}), pod("y", "c", {"app": "c"})]


# ---- §2.1 defaulting ------------------------------------------------------------------------------------

def test_policy_without_types_and_rules_isolates_ingress_only():
    an = analyse(*PODS, np("x", "deny", "  podSelector: {}"))
    assert not allowed(an, "x/b", "x/a")
    assert allowed(an, "x/a", "y/c")  # egress stays open


def test_egress_rules_without_types_isolate_both_directions():
    # policyTypes absent + egress rules -> [Ingress, Egress]: ingress isolated with no ingress rule
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  egress: [{to: [{podSelector: {matchLabels: {app: b}}}]}]"))
    assert allowed(an, "x/a", "x/b")
    assert not allowed(an, "x/a", "y/c")
    assert not allowed(an, "x/b", "x/a")  # ingress isolated too


def test_empty_egress_list_does_not_add_the_egress_type():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  egress: []"))
    assert allowed(an, "x/a", "y/c")
    assert not allowed(an, "x/b", "x/a")


def test_egress_rules_are_ignored_when_types_is_ingress_only():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  policyTypes: [Ingress]\n"
                                     "  egress: [{to: [{podSelector: {matchLabels: {app: b}}}]}]"))
    assert allowed(an, "x/a", "y/c")  # egress not isolated: the egress rules have no effect


def test_port_without_protocol_means_tcp_only():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{ports: [{port: 53}]}]"))
    assert allowed(an, "x/b", "x/a", "TCP", 53)
    assert not allowed(an, "x/b", "x/a", "UDP", 53)


def test_port_entry_with_nothing_means_every_tcp_port():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{ports: [{}]}]"))
    assert allowed(an, "x/b", "x/a", "TCP", 1)
    assert allowed(an, "x/b", "x/a", "TCP", 65535)
    assert not allowed(an, "x/b", "x/a", "UDP", 80)
    assert not allowed(an, "x/b", "x/a", "ICMP", None)


# ---- §2.2 selection and isolation ---------------------------------------------------------------------

def test_policy_applies_only_in_its_own_namespace():
    an = analyse(*PODS, pod("y", "a2", {"app": "a"}), np("x", "deny", "  podSelector: {matchLabels: {app: a}}"))
    assert not allowed(an, "y/c", "x/a")
    assert allowed(an, "y/c", "y/a2")  # same labels, other namespace: not selected


def test_directions_are_independent():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  policyTypes: [Egress]"))
    assert not allowed(an, "x/a", "x/b")
    assert allowed(an, "x/b", "x/a")


def test_connection_needs_egress_at_source_and_ingress_at_destination():
    egress_ok = np("x", "e", "  podSelector: {matchLabels: {app: a}}\n  policyTypes: [Egress]\n"
                             "  egress: [{to: [{namespaceSelector: {}}]}]")
    ingress_deny = np("y", "i", "  podSelector: {}")
    an = analyse(*PODS, egress_ok, ingress_deny)
    assert not allowed(an, "x/a", "y/c")  # egress allows, ingress denies
    an = analyse(*PODS, egress_ok)
    assert allowed(an, "x/a", "y/c")


# ---- §2.3 rules, peers, ports -------------------------------------------------------------------------

def test_rule_with_nothing_matches_every_source_port_and_protocol():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{}]"))
    assert table(an)[("y/c", "x/a")] == {p: ALL for p in ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "OTHER")}


def test_two_policies_one_denying_one_allowing_everything_allow_everything():
    an = analyse(*PODS, np("x", "deny", "  podSelector: {}\n  ingress: []"),
                 np("x", "open", "  podSelector: {}\n  ingress: [{}]"))
    assert allowed(an, "y/c", "x/a", "UDP", 9)


def test_rule_without_ports_allows_icmp_but_rule_with_ports_does_not():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n"
                                     "  ingress: [{from: [{podSelector: {matchLabels: {app: b}}}]}, {ports: [{port: 80}]}]"))
    assert allowed(an, "x/b", "x/a", "ICMP", None)
    assert not allowed(an, "y/c", "x/a", "ICMP", None)
    assert allowed(an, "y/c", "x/a", "TCP", 80)


def test_pod_selector_peer_means_pods_of_the_policy_namespace():
    an = analyse(*PODS, pod("y", "b2", {"app": "b"}),
                 np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: b}}}]}]"))
    assert allowed(an, "x/b", "x/a")
    assert not allowed(an, "y/b2", "x/a")  # same label in another namespace


def test_namespace_selector_peer_means_every_pod_of_matching_namespaces():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n"
                                     "  ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}]}]"))
    assert allowed(an, "y/c", "x/a")
    assert not allowed(an, "x/b", "x/a")


def test_both_selectors_in_one_peer_are_anded():
    an = analyse(*PODS, pod("y", "d", {"app": "d"}),
                 np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{namespaceSelector: "
                              "{matchLabels: {team: blue}}, podSelector: {matchLabels: {app: c}}}]}]"))
    assert allowed(an, "y/c", "x/a")
    assert not allowed(an, "y/d", "x/a")
    assert not allowed(an, "x/b", "x/a")


def test_selectors_as_two_peers_are_ored():
    an = analyse(*PODS, pod("y", "d", {"app": "d"}),
                 np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{namespaceSelector: "
                              "{matchLabels: {team: blue}}}, {podSelector: {matchLabels: {app: b}}}]}]"))
    assert allowed(an, "y/d", "x/a")
    assert allowed(an, "x/b", "x/a")


def test_empty_namespace_selector_matches_all_pods_but_no_external_address():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{namespaceSelector: {}}]}]"))
    assert allowed(an, "y/c", "x/a")
    assert allowed(an, "x/b", "x/a")
    assert not allowed(an, "ip:203.0.113.7", "x/a")


def test_rule_without_from_admits_external_addresses():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{ports: [{port: 80}]}]"))
    assert allowed(an, "ip:203.0.113.7", "x/a")


def test_peers_and_ports_of_one_rule_are_anded():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress:\n"
                                     "  - from: [{podSelector: {matchLabels: {app: b}}}]\n    ports: [{port: 80}, {port: 443}]"))
    assert allowed(an, "x/b", "x/a", "TCP", 443)
    assert not allowed(an, "x/b", "x/a", "TCP", 8080)
    assert not allowed(an, "y/c", "x/a", "TCP", 80)


def test_peer_matching_ignores_the_peer_pods_own_policies():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{podSelector: {}}]}]"),
                 np("x", "q", "  podSelector: {matchLabels: {app: b}}"))
    assert allowed(an, "x/b", "x/a")  # b being ingress-isolated does not change what a accepts


# ---- §2.4 ipBlock -------------------------------------------------------------------------------------

IP_PODS = [pod("x", "a", {"app": "a"}, "10.0.0.1"), pod("x", "b", {"app": "b"}, "10.0.1.5"),
           pod("y", "c", {"app": "c"}, "10.0.2.9")]


def test_ipblock_matches_pod_addresses_and_external_addresses():
    an = analyse(*IP_PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n"
                                        "  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}]}]"))
    assert allowed(an, "y/c", "x/a")
    assert not allowed(an, "x/b", "x/a")  # inside the except
    assert allowed(an, "ip:10.0.200.1", "x/a")
    assert not allowed(an, "ip:10.0.1.77", "x/a")
    assert not allowed(an, "ip:192.0.2.1", "x/a")


def test_address_in_except_of_one_peer_but_allowed_by_another_peer_is_allowed():
    an = analyse(*IP_PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: ["
                                        "{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}, {ipBlock: {cidr: 10.0.1.5/32}}]}]"))
    assert allowed(an, "x/b", "x/a")
    assert not allowed(an, "ip:10.0.1.6", "x/a")


def test_ipblock_cidr_host_bits_are_normalised():
    an = analyse(*IP_PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n"
                                        "  ingress: [{from: [{ipBlock: {cidr: 10.0.2.77/24}}]}]"))
    assert allowed(an, "y/c", "x/a")


def test_ipv4_ipblock_never_matches_ipv6_addresses():
    an = analyse(*IP_PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n"
                                        "  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]"))
    assert allowed(an, "ip:198.51.100.1", "x/a")
    assert not allowed(an, "ip:2001:db8::1", "x/a")


def test_ipblock_never_matches_an_endpoint_without_a_known_address():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n"
                                     "  ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/0}}]}]"))
    verdict_notes = __import__("reasoner.query.can", fromlist=["can"]).can(an, "x/b", "x/a", "TCP", 80)
    assert not verdict_notes.allowed
    assert any("no known address" in n for n in verdict_notes.ingress.notes)


def test_egress_ipblock_to_external_range():
    an = analyse(*IP_PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  policyTypes: [Egress]\n"
                                        "  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}], ports: [{port: 443}]}]"))
    assert allowed(an, "x/a", "ip:93.184.216.34", "TCP", 443)
    assert not allowed(an, "x/a", "ip:10.9.9.9", "TCP", 443)
    assert not allowed(an, "x/a", "y/c", "TCP", 443)  # pods are in 10/8
    assert not allowed(an, "x/a", "ip:93.184.216.34", "TCP", 80)


# ---- §2.5 ports ---------------------------------------------------------------------------------------

def test_protocol_without_port_admits_every_port_of_that_protocol():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{ports: [{protocol: UDP}]}]"))
    assert allowed(an, "x/b", "x/a", "UDP", 1)
    assert allowed(an, "x/b", "x/a", "UDP", 65535)
    assert not allowed(an, "x/b", "x/a", "TCP", 80)


def test_end_port_range_is_inclusive():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{ports: [{port: 8000, endPort: 8080}]}]"))
    assert not allowed(an, "x/b", "x/a", "TCP", 7999)
    assert allowed(an, "x/b", "x/a", "TCP", 8000)
    assert allowed(an, "x/b", "x/a", "TCP", 8080)
    assert not allowed(an, "x/b", "x/a", "TCP", 8081)
    assert table(an)[("x/b", "x/a")] == {"TCP": [(8000, 8080)]}


def test_sctp_ports():
    an = analyse(*PODS, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{ports: [{protocol: SCTP, port: 9}]}]"))
    assert allowed(an, "x/b", "x/a", "SCTP", 9)
    assert not allowed(an, "x/b", "x/a", "TCP", 9)


NAMED = [pod("x", "a", {"app": "a"}, ports=[("http", "TCP", 8080)]),
         pod("x", "a2", {"app": "a"}, ports=[("http", "TCP", 9090)]),
         pod("x", "d", {"app": "a"}, ports=[("http", "UDP", 8080)]),
         pod("x", "b", {"app": "b"})]


def test_named_port_resolves_on_each_destination_pod():
    an = analyse(*NAMED, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{ports: [{port: http}]}]"))
    assert allowed(an, "x/b", "x/a", "TCP", 8080)
    assert not allowed(an, "x/b", "x/a", "TCP", 9090)
    assert allowed(an, "x/b", "x/a2", "TCP", 9090)
    assert not allowed(an, "x/b", "x/a2", "TCP", 8080)


def test_named_port_with_other_protocol_does_not_match():
    an = analyse(*NAMED, np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{ports: [{port: http}]}]"))
    assert not allowed(an, "x/b", "x/d", "TCP", 8080)
    assert not allowed(an, "x/b", "x/d", "UDP", 8080)


def test_egress_named_port_resolves_on_the_peer_and_never_on_an_address():
    an = analyse(*NAMED, np("x", "p", "  podSelector: {matchLabels: {app: b}}\n  policyTypes: [Egress]\n"
                                      "  egress: [{ports: [{port: http}]}]"))
    assert allowed(an, "x/b", "x/a", "TCP", 8080)
    assert allowed(an, "x/b", "x/a2", "TCP", 9090)
    assert not allowed(an, "x/b", "x/a2", "TCP", 8080)
    assert not allowed(an, "x/b", "ip:203.0.113.1", "TCP", 8080)


def test_named_ports_of_init_containers_count():
    doc = """
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
spec:
  initContainers: [{name: i, image: i, ports: [{name: boot, containerPort: 7000}]}]
  containers: [{name: c, image: i}]
"""
    an = analyse(doc, pod("x", "b"), np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{ports: [{port: boot}]}]"))
    assert allowed(an, "x/b", "x/a", "TCP", 7000)


# ---- §2.6 label selectors -----------------------------------------------------------------------------

SEL_PODS = [pod("x", "prod", {"env": "prod"}), pod("x", "dev", {"env": "dev"}), pod("x", "none", {}),
            pod("x", "src", {"role": "client"})]


@pytest.mark.parametrize("expr,selected", [
    ("{key: env, operator: In, values: [prod, dev]}", {"prod", "dev"}),
    ("{key: env, operator: NotIn, values: [prod]}", {"dev", "none", "src"}),  # absent key: NotIn holds
    ("{key: env, operator: Exists}", {"prod", "dev"}),
    ("{key: env, operator: DoesNotExist}", {"none", "src"}),
])
def test_match_expression_operators(expr, selected):
    an = analyse(*SEL_PODS, np("x", "p", f"  podSelector: {{matchExpressions: [{expr}]}}"))
    for name in ("prod", "dev", "none"):
        assert allowed(an, "x/src", f"x/{name}") == (name not in selected), name


def test_match_labels_and_expressions_are_anded():
    an = analyse(pod("x", "t", {"env": "prod", "tier": "web"}), pod("x", "u", {"env": "prod"}), pod("x", "src"),
                 np("x", "p", "  podSelector: {matchLabels: {env: prod}, matchExpressions: [{key: tier, operator: Exists}]}"))
    assert not allowed(an, "x/src", "x/t")
    assert allowed(an, "x/src", "x/u")


def test_label_values_are_case_sensitive():
    an = analyse(pod("x", "t", {"env": "Prod"}), pod("x", "src"), np("x", "p", "  podSelector: {matchLabels: {env: prod}}"))
    assert allowed(an, "x/src", "x/t")


def test_contradictory_selector_selects_nothing():
    an = analyse(*SEL_PODS, np("x", "p", "  podSelector: {matchExpressions: [{key: env, operator: In, values: [prod]},"
                                         " {key: env, operator: DoesNotExist}]}"))
    assert an.engine.ask("applies", None, None, None) == []


# ---- §2.7 namespace labels ----------------------------------------------------------------------------

def test_namespace_name_label_is_set_for_given_and_referenced_namespaces():
    an = analyse(*PODS, pod("z", "e", {"app": "e"}),
                 np("x", "p", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{namespaceSelector: "
                              "{matchLabels: {kubernetes.io/metadata.name: z}}}]}]"))
    assert allowed(an, "z/e", "x/a")
    assert not allowed(an, "y/c", "x/a")


# ---- host-network pods --------------------------------------------------------------------------------

def test_host_network_pod_is_never_selected_as_subject_or_pod_peer():
    an = analyse(*PODS, pod("x", "h", {"app": "a"}, host_network=True),
                 np("x", "deny", "  podSelector: {}"),
                 np("x", "p", "  podSelector: {matchLabels: {app: b}}\n  ingress: [{from: [{podSelector: {matchLabels: {app: a}}}]}]"))
    assert allowed(an, "y/c", "x/h")  # not a subject of the namespace default deny
    assert allowed(an, "x/a", "x/b")
    assert not allowed(an, "x/h", "x/b")  # not matched by the pod peer


def test_self_pairs_are_not_listed_but_replicas_are():
    an = analyse(pod("x", "a1", {"app": "a"}), pod("x", "a2", {"app": "a"}))
    t = table(an)
    assert ("x/a1", "x/a2") in t and ("x/a2", "x/a1") in t
    assert ("x/a1", "x/a1") not in t
