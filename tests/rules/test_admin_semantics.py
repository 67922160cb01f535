"""AdminNetworkPolicy and BaselineAdminNetworkPolicy (SEMANTICS §6): the worked example of §6.7 and the
layering ANP -> NetworkPolicy -> BANP -> allow."""

from __future__ import annotations

from support.helpers import allowed, analyse, pod

NAMESPACES = """
apiVersion: v1
kind: Namespace
metadata: {name: t1, labels: {tenant: one}}
---
apiVersion: v1
kind: Namespace
metadata: {name: t2, labels: {tenant: two}}
---
apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
"""
PODS = [pod("t1", "app", {"app": "web"}), pod("t2", "app", {"app": "web"}), pod("monitoring", "prom", {"app": "prom"})]
ANP = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: platform}
spec:
  priority: 10
  subject: {namespaces: {matchExpressions: [{key: tenant, operator: Exists}]}}
  ingress:
  - {name: monitoring, action: Allow, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}],
     ports: [{portNumber: {protocol: TCP, port: 9090}}]}
  - {name: same-tenant, action: Pass, from: [{namespaces: {matchExpressions: [{key: tenant, operator: Exists}]}}]}
  - {name: rest, action: Deny, from: [{namespaces: {}}]}
"""
BANP = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  ingress:
  - {action: Deny, from: [{namespaces: {}}]}
"""
NP_T1_ALLOWS_T2 = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-t2, namespace: t1}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {tenant: two}}}]}]
"""


def test_anp_allow_wins_over_everything_below():
    an = analyse(NAMESPACES, *PODS, ANP, BANP, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
                 "metadata: {name: deny, namespace: t1}\nspec: {podSelector: {}}", base=False)
    assert allowed(an, "monitoring/prom", "t1/app", "TCP", 9090)


def test_anp_deny_decides():
    an = analyse(NAMESPACES, *PODS, ANP, BANP, base=False)
    assert not allowed(an, "monitoring/prom", "t1/app", "TCP", 80)


def test_pass_goes_to_the_banp_when_no_networkpolicy_isolates():
    an = analyse(NAMESPACES, *PODS, ANP, BANP, base=False)
    assert not allowed(an, "t2/app", "t1/app", "TCP", 80)


def test_pass_goes_to_the_networkpolicy_layer_when_it_isolates():
    an = analyse(NAMESPACES, *PODS, ANP, BANP, NP_T1_ALLOWS_T2, base=False)
    assert allowed(an, "t2/app", "t1/app", "TCP", 80)


def test_external_addresses_match_no_pod_peer_and_get_the_default_allow():
    an = analyse(NAMESPACES, *PODS, ANP, BANP, base=False)
    assert allowed(an, "ip:203.0.113.5", "t1/app", "TCP", 80)


def test_no_implicit_isolation_by_an_anp():
    anp = ANP.replace("  - {name: rest, action: Deny, from: [{namespaces: {}}]}\n", "")
    an = analyse(NAMESPACES, *PODS, anp, base=False)
    assert allowed(an, "monitoring/prom", "t1/app", "TCP", 80)  # no rule matches: as if no ANP


def test_egress_networks_peer_matches_pod_addresses_too():
    anp = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-private}
spec:
  priority: 5
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}
  egress:
  - {action: Deny, to: [{networks: [10.0.0.0/8]}]}
"""
    an = analyse(NAMESPACES, pod("t1", "w", {"app": "web"}, "10.1.0.1"), pod("t2", "x", {}, "10.1.0.2"), anp, base=False)
    assert not allowed(an, "t1/w", "t2/x", "TCP", 80)
    assert not allowed(an, "t1/w", "ip:10.9.9.9", "TCP", 80)
    assert allowed(an, "t1/w", "ip:192.0.2.1", "TCP", 80)
    assert allowed(an, "t2/x", "t1/w", "TCP", 80)


def test_lower_priority_number_goes_first_and_unknown_peers_fail_closed():
    low = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: a}
spec:
  priority: 1
  subject: {namespaces: {}}
  ingress:
  - {action: Allow, from: [{nodes: {}}]}
  - {action: Allow, from: [{namespaces: {matchLabels: {tenant: two}}}]}
"""
    high = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: b}
spec:
  priority: 2
  subject: {namespaces: {}}
  ingress:
  - {action: Deny, from: [{domainNames: ["example.com"]}]}
"""
    an = analyse(NAMESPACES, *PODS, low, high, base=False)
    assert allowed(an, "t2/app", "t1/app", "TCP", 80)  # priority 1 allows before priority 2's fail-closed deny
    assert not allowed(an, "monitoring/prom", "t1/app", "TCP", 80)  # the nodes Allow matches nothing; deny-all


def test_named_port_and_port_range():
    anp = """
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: ports}
spec:
  priority: 1
  subject: {namespaces: {matchLabels: {tenant: one}}}
  ingress:
  - {action: Allow, from: [{namespaces: {}}], ports: [{namedPort: dns}, {portRange: {protocol: TCP, start: 8000, end: 8080}}]}
  - {action: Deny, from: [{namespaces: {}}]}
"""
    an = analyse(NAMESPACES, pod("t1", "d", {}, ports=[("dns", "UDP", 5353)]), pod("t2", "c", {}), anp, base=False)
    assert allowed(an, "t2/c", "t1/d", "UDP", 5353)
    assert allowed(an, "t2/c", "t1/d", "TCP", 8080)
    assert not allowed(an, "t2/c", "t1/d", "TCP", 8081)
    assert not allowed(an, "t2/c", "t1/d", "TCP", 5353)


def test_bad_admin_policies_are_clear_errors(tmp_path):
    from click.testing import CliRunner

    from reasoner.cli import main

    f = tmp_path / "a.yaml"
    f.write_text("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\n"
                 "spec:\n  priority: 1001\n  subject: {namespaces: {}}\n")
    r = CliRunner().invoke(main, ["connectivity", str(tmp_path)])
    assert r.exit_code == 2 and f"{f}:5: AdminNetworkPolicy a: spec.priority: priority 1001 is out of range" in r.stderr
    f.write_text("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: x}\n"
                 "spec:\n  subject: {namespaces: {}}\n")
    r = CliRunner().invoke(main, ["connectivity", str(tmp_path)])
    assert r.exit_code == 2 and "must be named default" in r.stderr


def test_a_pass_rule_with_an_unknown_peer_fails_closed_as_a_deny_of_everything():
    anp = ("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: a}\n"
           "spec: {priority: 1, subject: {namespaces: {}}, ingress: [\n"
           "  {action: Pass, from: [{nodes: {}}], ports: [{portNumber: {protocol: UDP, port: 5353}}]},\n"
           "  {action: Allow, from: [{namespaces: {}}]}]}\n")
    an = analyse(NAMESPACES, *PODS, anp, base=False)
    assert not allowed(an, "t2/app", "t1/app", "TCP", 80)  # not a Pass of UDP/5353: a Deny of every flow
    assert not allowed(an, "t2/app", "t1/app", "UDP", 5353)
