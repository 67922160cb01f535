"""Calico host endpoints (SEMANTICS §3.3, §3.5, §4.5, §4.9, §1.6), one small hand-checked scenario per point.

Addresses: pods 10.0.0.0/24; host endpoints 192.168.0.0/24; "outside" is 203.0.113.7 (office) or 198.51.100.9.
"""

from __future__ import annotations

import pytest

from reasoner.errors import ReasonerError
from support.helpers import allowed, analyse, cnp, gnp, knp, pod, table, tier

PODS = [pod("x", "a", {"app": "a"}, "10.0.0.1", [("http", "TCP", 8080)]),
        pod("x", "b", {"app": "b"}, "10.0.0.2", [("http", "TCP", 8080)]),
        pod("y", "c", {"app": "c"}, "10.0.0.3")]
OUT, OTHER = "ip:203.0.113.7", "ip:198.51.100.9"


def hep(name: str, ip: str | None = "192.168.0.1", labels: dict | None = None, interface: str | None = "eth0",
        profiles: list | None = None, ports: str = "") -> str:
    spec = [f"node: {name}-node"]
    if interface is not None:
        spec.append(f"interfaceName: {interface!r}")
    if ip:
        spec.append(f"expectedIPs: [{ip}]")
    if profiles:
        spec.append(f"profiles: {profiles}")
    if ports:
        spec.append(f"ports: {ports}")
    return (f"apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {{name: {name}, labels: {labels or {}}}}\n"
            f"spec: {{{', '.join(spec)}}}")


def profile(name: str, body: str) -> str:
    return f"apiVersion: projectcalico.org/v3\nkind: Profile\nmetadata: {{name: {name}}}\nspec:\n{body}"


def service(name: str, selector: dict, node_port: int, target, local: bool = False) -> str:
    return ("apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: x}\nspec:\n  type: NodePort\n"
            + ("  externalTrafficPolicy: Local\n" if local else "")
            + f"  selector: {selector}\n  ports: [{{port: 80, targetPort: {target}, nodePort: {node_port}}}]")


NODE = {"role": "node"}
DENY_IN = "  selector: role == 'node'\n  ingress: [{action: Deny}]\n"
ALLOW_IN = "  selector: role == 'node'\n  ingress: [{action: Allow}]\n"
PRE = "  preDNAT: true\n  applyOnForward: true\n"
RAW = "  doNotTrack: true\n  applyOnForward: true\n"


# ---- defaults (§4.5, §4.9) ------------------------------------------------------------------------------------

def test_a_host_endpoint_without_policy_or_profile_denies_both_ways_except_failsafe_ports():
    an = analyse(*PODS, hep("h"))
    assert not allowed(an, OUT, "hep:h", "TCP", 80)
    assert not allowed(an, "hep:h", OUT, "TCP", 443)
    assert not allowed(an, "x/a", "hep:h", "TCP", 80)
    assert allowed(an, OUT, "hep:h", "TCP", 22)  # failsafe inbound
    assert allowed(an, OUT, "hep:h", "UDP", 68)
    assert not allowed(an, OUT, "hep:h", "UDP", 22)  # tcp:22 only
    assert allowed(an, "hep:h", OUT, "UDP", 53)  # failsafe outbound
    assert not allowed(an, "hep:h", OUT, "TCP", 53)


def test_failsafe_ports_come_from_felix_configuration_default_and_can_be_limited_or_disabled():
    felix = ("apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec:\n"
             "  failsafeInboundHostPorts: [{protocol: tcp, port: 2222, net: 203.0.113.0/24}]\n"
             "  failsafeOutboundHostPorts: []\n")
    an = analyse(*PODS, hep("h"), felix)
    assert allowed(an, OUT, "hep:h", "TCP", 2222)
    assert not allowed(an, OTHER, "hep:h", "TCP", 2222)  # outside the entry's net
    assert not allowed(an, OUT, "hep:h", "TCP", 22)  # the defaults are replaced
    assert not allowed(an, "hep:h", OUT, "UDP", 53)  # [] disables


def test_a_per_node_felix_configuration_is_skipped_with_a_note():
    felix = "apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: node.n1}\nspec: {}\n"
    an = analyse(*PODS, hep("h"), felix)
    assert allowed(an, OUT, "hep:h", "TCP", 22)
    assert any("FelixConfiguration node.n1" in s for s in an.cluster.skipped)


def test_failsafe_ports_open_even_where_untracked_policy_denies():
    an = analyse(*PODS, hep("h", labels=NODE), gnp("raw", RAW + DENY_IN))
    assert allowed(an, OUT, "hep:h", "TCP", 22)
    assert not allowed(an, OUT, "hep:h", "TCP", 23)


def test_the_default_allow_profile_allows_what_no_policy_decides():
    an = analyse(*PODS, hep("h", profiles=["projectcalico-default-allow"]))
    assert allowed(an, OUT, "hep:h", "TCP", 80)
    assert allowed(an, "hep:h", OUT, "UDP", 5000)


def test_a_policy_selecting_the_host_endpoint_ends_its_tier_in_deny_before_the_profile():
    an = analyse(*PODS, hep("h", labels=NODE, profiles=["projectcalico-default-allow"]),
                 gnp("web", "  selector: role == 'node'\n  ingress: [{action: Allow, protocol: TCP, "
                            "destination: {ports: [443]}}]\n"))
    assert allowed(an, OUT, "hep:h", "TCP", 443)
    assert not allowed(an, OUT, "hep:h", "TCP", 80)  # end of the default tier
    assert allowed(an, "hep:h", OUT, "TCP", 80)  # the policy has no Egress type: the profile allows


def test_profiles_are_evaluated_in_the_host_endpoints_order_after_the_tiers():
    first = profile("first", "  ingress: [{action: Deny, protocol: TCP, destination: {ports: [23]}}]\n"
                             "  egress: [{action: Pass}]\n")
    second = profile("second", "  ingress: [{action: Allow, protocol: TCP}]\n  egress: [{action: Allow}]\n")
    an = analyse(*PODS, first, second, hep("h", profiles=["first", "second"]),
                 hep("g", ip="192.168.0.2", profiles=["second", "first"]))
    assert not allowed(an, OUT, "hep:h", "TCP", 23)  # first's Deny
    assert allowed(an, OUT, "hep:h", "TCP", 80)  # no rule of first: second allows
    assert not allowed(an, OUT, "hep:h", "UDP", 80)  # neither: Deny
    assert allowed(an, "hep:h", OUT, "UDP", 80)  # first passes (next profile): second allows
    assert allowed(an, OUT, "hep:g", "TCP", 23)  # second comes first for g
    assert not allowed(an, OUT, "hep:g", "UDP", 80)


def test_a_pass_in_the_tiers_reaches_the_profiles():
    an = analyse(*PODS, tier("security", 100), hep("h", labels=NODE, profiles=["projectcalico-default-allow"]),
                 gnp("p", "  selector: role == 'node'\n  ingress: [{action: Pass}]\n", tier="security"))
    assert allowed(an, OUT, "hep:h", "TCP", 80)


# ---- subjects (§3.3) ------------------------------------------------------------------------------------------

def test_a_global_policy_selects_host_endpoints_by_their_labels_and_all_selects_them_too():
    an = analyse(*PODS, hep("h", labels=NODE), hep("g", ip="192.168.0.2"),
                 gnp("p", ALLOW_IN), gnp("q", "  selector: all()\n  egress: [{action: Allow}]\n"))
    assert allowed(an, OUT, "hep:h", "TCP", 80)
    assert not allowed(an, OUT, "hep:g", "TCP", 80)  # not selected: default deny
    assert allowed(an, "hep:g", OUT, "TCP", 80)  # all() selects every host endpoint


def test_labels_come_from_the_profiles_too_and_the_endpoints_own_win():
    prof = "apiVersion: projectcalico.org/v3\nkind: Profile\nmetadata: {name: nodes}\nspec:\n  labelsToApply: {role: node, zone: a}\n"
    an = analyse(*PODS, prof, hep("h", profiles=["nodes"]), hep("g", ip="192.168.0.2", labels={"role": "edge"},
                 profiles=["nodes"]), gnp("p", ALLOW_IN))
    assert allowed(an, OUT, "hep:h", "TCP", 80)  # role=node inherited
    assert not allowed(an, OUT, "hep:g", "TCP", 80)  # its own role=edge wins


@pytest.mark.parametrize("scope", ["  namespaceSelector: all()\n", "  serviceAccountSelector: all()\n"])
def test_a_namespace_or_service_account_selector_limits_a_global_policy_to_pods(scope):
    an = analyse(*PODS, hep("h", labels=NODE, profiles=["projectcalico-default-allow"]),
                 gnp("p", scope + DENY_IN.replace("role == 'node'", "all()")))
    assert allowed(an, OUT, "hep:h", "TCP", 80)  # the Deny does not apply to the host endpoint
    assert not allowed(an, OUT, "x/a", "TCP", 80)


def test_namespaced_policies_never_select_host_endpoints():
    an = analyse(*PODS, hep("h", labels=NODE, profiles=["projectcalico-default-allow"]),
                 cnp("x", "p", "  selector: all()\n  ingress: [{action: Deny}]\n"),
                 knp("x", "k", "  podSelector: {}\n  policyTypes: [Ingress]\n"))
    assert allowed(an, OUT, "hep:h", "TCP", 80)


def test_pre_dnat_and_untracked_policies_apply_to_host_endpoints():
    an = analyse(*PODS, hep("h", labels=NODE, profiles=["projectcalico-default-allow"]),
                 gnp("pre", PRE + "  selector: role == 'node'\n  ingress: [{action: Deny, protocol: TCP, "
                                  "destination: {ports: [80]}}]\n"),
                 gnp("raw", RAW + "  selector: role == 'node'\n  egress: [{action: Deny, protocol: UDP}]\n"))
    assert not allowed(an, OUT, "hep:h", "TCP", 80)
    assert allowed(an, OUT, "hep:h", "TCP", 81)
    assert not allowed(an, "hep:h", OUT, "UDP", 80)
    assert allowed(an, "hep:h", OUT, "TCP", 80)


# ---- hooks and their order (§4.9) -----------------------------------------------------------------------------

def test_a_pre_dnat_allow_accepts_host_traffic_that_normal_policy_would_deny():
    an = analyse(*PODS, hep("h", labels=NODE), gnp("pre", PRE + "  selector: role == 'node'\n  ingress: "
                 "[{action: Allow, source: {nets: [203.0.113.0/24]}}]\n"), gnp("deny", DENY_IN))
    assert allowed(an, OUT, "hep:h", "TCP", 80)
    assert not allowed(an, OTHER, "hep:h", "TCP", 80)  # no preDNAT decision: normal policy denies


def test_a_pre_dnat_deny_beats_a_normal_allow():
    an = analyse(*PODS, hep("h", labels=NODE), gnp("pre", PRE + DENY_IN), gnp("allow", ALLOW_IN))
    assert not allowed(an, OUT, "hep:h", "TCP", 80)


def test_an_untracked_allow_skips_pre_dnat_and_normal_policy():
    an = analyse(*PODS, hep("h", labels=NODE), gnp("raw", RAW + "  selector: role == 'node'\n  ingress: "
                 "[{action: Allow, protocol: TCP, destination: {ports: [80]}}]\n"), gnp("pre", PRE + DENY_IN))
    assert allowed(an, OUT, "hep:h", "TCP", 80)
    assert not allowed(an, OUT, "hep:h", "TCP", 81)


def test_an_untracked_deny_beats_pre_dnat_and_normal_allows():
    an = analyse(*PODS, hep("h", labels=NODE), gnp("raw", RAW + DENY_IN), gnp("pre", PRE + ALLOW_IN),
                 gnp("allow", ALLOW_IN))
    assert not allowed(an, OUT, "hep:h", "TCP", 80)


def test_untracked_policy_is_not_applied_to_a_wildcard_host_endpoint():
    an = analyse(*PODS, hep("h", labels=NODE, interface="*", profiles=["projectcalico-default-allow"]),
                 gnp("raw", RAW + DENY_IN))
    assert allowed(an, OUT, "hep:h", "TCP", 80)


def test_hook_tiers_end_in_pass_so_an_undecided_hook_goes_on():
    an = analyse(*PODS, tier("security", 100), hep("h", labels=NODE),
                 gnp("pre", PRE + "  selector: role == 'node'\n  ingress: [{action: Deny, source: {nets: "
                     "[198.51.100.0/24]}}]\n", tier="security"), gnp("allow", ALLOW_IN))
    assert allowed(an, OUT, "hep:h", "TCP", 80)  # no end-of-tier Deny in the preDNAT hook
    assert not allowed(an, OTHER, "hep:h", "TCP", 80)


# ---- node ports (§1.6, §4.9) ----------------------------------------------------------------------------------

NP = [hep("h", labels=NODE), service("svc", {"app": "a"}, 30080, "http")]


def test_a_node_port_is_forwarded_to_the_backends_and_normal_host_policy_does_not_see_it():
    an = analyse(*PODS, *NP, gnp("deny", DENY_IN))
    assert allowed(an, OUT, "hep:h", "TCP", 30080)  # normal Deny and the host default do not apply
    assert not allowed(an, OUT, "hep:h", "TCP", 30081)  # not a node port: the host endpoint's policy


def test_a_pre_dnat_deny_blocks_a_node_port():
    an = analyse(*PODS, *NP, gnp("pre", PRE + "  selector: role == 'node'\n  ingress: [{action: Deny, protocol: TCP,"
                                          " destination: {ports: [30080]}, source: {nets: [198.51.100.0/24]}}]\n"))
    assert not allowed(an, OTHER, "hep:h", "TCP", 30080)
    assert allowed(an, OUT, "hep:h", "TCP", 30080)


def test_with_external_traffic_policy_cluster_the_backend_sees_the_nodes_address():
    pol = knp("x", "a", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{ipBlock: {cidr: "
                        "192.168.0.0/24}}]}]\n")
    an = analyse(*PODS, *NP, pol)
    assert allowed(an, OUT, "hep:h", "TCP", 30080)
    assert not allowed(an, OUT, "x/a", "TCP", 8080)


def test_with_external_traffic_policy_local_the_backend_sees_the_clients_address():
    pol = knp("x", "a", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{ipBlock: {cidr: "
                        "203.0.113.0/24}}]}]\n")
    an = analyse(*PODS, hep("h", labels=NODE), service("svc", {"app": "a"}, 30080, "http", local=True), pol)
    assert allowed(an, OUT, "hep:h", "TCP", 30080)
    assert not allowed(an, OTHER, "hep:h", "TCP", 30080)


def test_every_backend_must_admit_the_node_port_flow_on_its_target_port():
    pol = knp("x", "b", "  podSelector: {matchLabels: {app: b}}\n  ingress: [{ports: [{port: 9090}]}]\n")
    an = analyse(hep("h", labels=NODE), service("svc", {"team": "t"}, 30080, "http"),
                 PODS[2], *[p.replace("labels: {'app': 'a'}", "labels: {'app': 'a', 'team': 't'}")
                   .replace("labels: {'app': 'b'}", "labels: {'app': 'b', 'team': 't'}") for p in PODS[:2]], pol)
    assert not allowed(an, OUT, "hep:h", "TCP", 30080)  # b admits 9090 only, its target port is 8080


# ---- host endpoints as peers (§3.5) ---------------------------------------------------------------------------

def test_rule_selectors_match_host_endpoints_with_expected_ips_only():
    rule = "  selector: app == 'a'\n  ingress: [{action: Allow, source: {selector: role == 'node'}}]\n"
    an = analyse(*PODS, hep("h", labels=NODE, profiles=["projectcalico-default-allow"]),
                 hep("g", ip=None, labels=NODE, profiles=["projectcalico-default-allow"]), gnp("p", rule))
    assert allowed(an, "hep:h", "x/a", "TCP", 80)
    assert not allowed(an, "hep:g", "x/a", "TCP", 80)  # no expectedIPs: no selector matches it


def test_a_namespaced_rule_selector_never_matches_a_host_endpoint_but_global_scope_does():
    an = analyse(*PODS, hep("h", labels=NODE, profiles=["projectcalico-default-allow"]),
                 cnp("x", "p", "  selector: app == 'a'\n  ingress: [{action: Allow, source: {selector: "
                               "role == 'node'}}]\n"),
                 cnp("x", "q", "  selector: app == 'b'\n  ingress: [{action: Allow, source: {selector: "
                               "role == 'node', namespaceSelector: global()}}]\n"))
    assert not allowed(an, "hep:h", "x/a", "TCP", 80)
    assert allowed(an, "hep:h", "x/b", "TCP", 80)


def test_kubernetes_pod_selectors_never_match_a_host_endpoint_but_ip_blocks_do():
    an = analyse(*PODS, hep("h", labels={"app": "b"}, profiles=["projectcalico-default-allow"]),
                 knp("x", "a", "  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{podSelector: {}}]}]\n"),
                 knp("x", "b", "  podSelector: {matchLabels: {app: b}}\n  ingress: [{from: [{ipBlock: {cidr: "
                               "192.168.0.0/24}}]}]\n"))
    assert not allowed(an, "hep:h", "x/a", "TCP", 80)
    assert allowed(an, "hep:h", "x/b", "TCP", 80)


def test_a_named_port_of_a_host_endpoint_resolves_on_it():
    an = analyse(*PODS, hep("h", labels=NODE, ports="[{name: metrics, port: 9100, protocol: TCP}]"),
                 gnp("p", "  selector: role == 'node'\n  ingress: [{action: Allow, protocol: TCP, destination: "
                          "{ports: [metrics]}}]\n"))
    assert allowed(an, OUT, "hep:h", "TCP", 9100)
    assert not allowed(an, OUT, "hep:h", "TCP", 9101)


# ---- the map and the names ------------------------------------------------------------------------------------

def test_the_map_lists_host_endpoints_by_hep_names_and_agrees_with_can():
    an = analyse(*PODS, *NP, gnp("pre", PRE + "  selector: role == 'node'\n  ingress: [{action: Allow, source: "
                                          "{nets: [10.0.0.1/32]}}]\n"))
    t = table(an)
    assert t[("x/a", "hep:h")]["TCP"] == "all"  # preDNAT accepts it
    ports = t[("y/c", "hep:h")]["TCP"]
    assert ports != "all" and any(lo <= 30080 <= hi for lo, hi in ports) and any(lo <= 22 <= hi for lo, hi in ports)
    for port in (21, 22, 23, 80, 30079, 30080, 30081):
        inside = ports == "all" or any(lo <= port <= hi for lo, hi in ports)
        assert inside == allowed(an, "y/c", "hep:h", "TCP", port), port


# ---- bad input ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("doc,message", [
    (hep("h", ip=None, interface=None), "needs interfaceName or expectedIPs"),
    (hep("h", ip="192.168.0.300"), "is not an IP address"),
    (gnp("p", "  preDNAT: true\n" + DENY_IN), "applyOnForward must be true"),
    (gnp("p", PRE + "  selector: all()\n  egress: [{action: Deny}]\n"), "ingress only"),
    (gnp("p", PRE + RAW.replace("  applyOnForward: true\n", "") + DENY_IN), "cannot both be true"),
    (cnp("x", "p", PRE + DENY_IN), "GlobalNetworkPolicy field"),
])
def test_bad_host_endpoint_input_is_a_clear_error(doc, message):
    with pytest.raises(ReasonerError) as err:
        analyse(*PODS, doc)
    assert message in str(err.value) and "<stdin>:" in str(err.value)


def test_an_unknown_host_endpoint_name_is_a_usage_error():
    an = analyse(*PODS, hep("h"))
    with pytest.raises(ReasonerError, match="unknown endpoint 'hep:nope'"):
        allowed(an, OUT, "hep:nope")


# ---- lint ---------------------------------------------------------------------------------------------------------

def test_lint_reports_a_pre_dnat_policy_that_selects_only_pods_as_vacuous():
    from reasoner.lint import lint

    an = analyse(*PODS, hep("h", labels=NODE), gnp("pre", PRE + "  selector: app == 'a'\n  ingress: [{action: Deny}]\n"),
                 gnp("ok", PRE + DENY_IN))
    found = {(f.kind, f.subject) for f in lint(an)}
    assert ("vacuous-policy", "GlobalNetworkPolicy pre") in found
    assert ("vacuous-policy", "GlobalNetworkPolicy ok") not in found


def test_lint_reports_a_rule_selector_that_only_matches_host_endpoints_without_addresses_as_dead():
    from reasoner.lint import lint

    an = analyse(*PODS, hep("g", ip=None, labels=NODE),
                 gnp("p", "  selector: app == 'a'\n  ingress: [{action: Allow, source: {selector: role == 'node'}}]\n"))
    assert "dead-peer" in {f.kind for f in lint(an)}


# ---- applyOnForward on a node port's forwarded packet (§4.9) -----------------------------------------------------

FWD = "  applyOnForward: true\n"


def test_an_apply_on_forward_policy_runs_on_the_forwarded_node_port_packet_with_the_clients_address():
    pol = gnp("fwd", FWD + "  selector: role == 'node'\n  ingress: [{action: Deny, source: {nets: [198.51.100.0/24]}}, "
                           "{action: Allow}]\n")
    an = analyse(*PODS, *NP, pol)  # externalTrafficPolicy Cluster: the backend sees the node, the host the client
    assert not allowed(an, OTHER, "hep:h", "TCP", 30080)
    assert allowed(an, OUT, "hep:h", "TCP", 30080)


def test_without_apply_on_forward_a_host_policy_does_not_touch_forwarded_traffic():
    pol = gnp("host", "  selector: role == 'node'\n  ingress: [{action: Deny, source: {nets: [198.51.100.0/24]}}]\n")
    an = analyse(*PODS, *NP, pol)
    assert allowed(an, OTHER, "hep:h", "TCP", 30080)


def test_forwarded_rules_match_the_backend_on_its_target_port_and_end_in_the_tiers_deny():
    pol = gnp("fwd", FWD + "  selector: role == 'node'\n  ingress: [{action: Allow, protocol: TCP, destination: "
                           "{selector: app == 'a', ports: [http]}}]\n")
    an = analyse(*PODS, *NP, pol, service("other", {"app": "b"}, 30090, 9090))
    assert allowed(an, OUT, "hep:h", "TCP", 30080)  # to x/a on 8080 (http)
    assert not allowed(an, OUT, "hep:h", "TCP", 30090)  # to x/b: no rule matches, end of the default tier
    assert not allowed(an, OUT, "hep:h", "TCP", 80)  # host-local: the same policy, no rule matches the host


def test_an_untracked_allow_does_not_decide_a_node_port_the_backend_still_does():
    deny_a = knp("x", "deny", "  podSelector: {}\n  policyTypes: [Ingress]\n")
    an = analyse(*PODS, *NP, deny_a, gnp("raw", RAW + ALLOW_IN))
    assert not allowed(an, OUT, "hep:h", "TCP", 30080)  # x/a admits nothing
    assert allowed(an, OUT, "hep:h", "TCP", 80)  # host-local: the untracked Allow accepts


def test_a_pre_dnat_allow_skips_the_apply_on_forward_policies_but_not_the_backend():
    fwd_deny = gnp("fwd", FWD + DENY_IN)
    an = analyse(*PODS, *NP, gnp("pre", PRE + ALLOW_IN), fwd_deny)
    assert allowed(an, OUT, "hep:h", "TCP", 30080)
    an = analyse(*PODS, *NP, fwd_deny)
    assert not allowed(an, OUT, "hep:h", "TCP", 30080)


def test_a_node_port_never_changes_the_address_family():
    an = analyse(*PODS, hep("h", ip="fd00::10", labels=NODE), service("svc", {"app": "a"}, 30080, "http", local=True))
    assert not allowed(an, "ip:2001:db8::7", "hep:h", "TCP", 30080)  # x/a has only an IPv4 address


def test_a_node_port_of_a_service_without_backends_is_rejected():
    an = analyse(*PODS, hep("h", labels=NODE, profiles=["projectcalico-default-allow"]),
                 service("svc", {"app": "nobody"}, 30080, "http"))
    assert not allowed(an, OUT, "hep:h", "TCP", 30080)
    assert allowed(an, OUT, "hep:h", "TCP", 30081)  # the profile allows the host's own ports
