"""Answers that must not mislead: the map and `can` on protocols named by number, `can` without a port, to a
pod's own Service, over a workload's pods, with misspelt names, and over AdminNetworkPolicies that fail
closed or tie on priority; any-workload representatives that could really run side by side."""

from __future__ import annotations

import json

import pytest

from reasoner import api
from support.helpers import CALICO_DENY_PROTO, pod
from support.helpers import cli as run
from support.helpers import write_docs as write


def two_pods() -> list[str]:
    return [pod("a", "x", {"app": "x"}, "10.0.0.1"), pod("a", "y", {"app": "y"}, "10.0.0.2")]


# ---- protocols named by number ----------------------------------------------------------------------------------

@pytest.mark.parametrize("number, name", [("136", "UDPLite"), ("99", "99")])
def test_map_keeps_a_protocol_a_rule_denies_by_number_out_of_all_traffic(tmp_path, number, name):
    path = write(tmp_path, *two_pods(), CALICO_DENY_PROTO.replace("PROTO", number))
    rows = {tuple(line.split()[:2]): line
            for line in run("connectivity", "--focus", "a/x", "--peer", "a/y", path).stdout.splitlines()[1:3]}
    assert rows[("a/x", "a/y")].endswith(f"all traffic except {name}")
    assert rows[("a/y", "a/x")].endswith("all traffic")
    data = json.loads(run("connectivity", "-o", "json", path).stdout)
    listed = {(c["src"], c["dst"]): [a["protocol"] for a in c["allowed"]] for c in data["connections"]}
    assert name not in listed[("a/x", "a/y")] and name in listed[("a/y", "a/x")]
    assert f"all traffic except {name}" in run("connectivity", "-o", "md", path).stdout
    first = run("can", "a/x", "a/y", "-f", path).stdout.splitlines()[0]
    assert first.split() == ["ALLOWED", "a/x", "->", "a/y", "all", "traffic", "except", name]
    for asked in {number, name.lower()}:  # by number or by Calico's name, shown by that name
        denied = run("can", "a/x", "a/y", "--protocol", asked, "-f", path)
        assert denied.exit_code == 1 and denied.stdout.splitlines()[0].split() == ["DENIED", "a/x", "->", "a/y", name]


def test_other_in_a_row_says_which_numbered_protocols_it_leaves_out(tmp_path):
    policy = """
    apiVersion: projectcalico.org/v3
    kind: NetworkPolicy
    metadata: {name: p, namespace: a}
    spec:
      selector: app == 'y'
      ingress:
      - {action: Deny, protocol: 47}
      - {action: Deny, protocol: TCP}
      - {action: Allow}
    """
    path = write(tmp_path, *two_pods(), policy)
    row = next(line for line in run("connectivity", path).stdout.splitlines() if line.startswith("a/x "))
    assert "TCP" not in row and "OTHER (not 47)" in row


# ---- can without --port -------------------------------------------------------------------------------------------

def test_can_without_a_port_says_on_its_first_line_what_is_allowed(tmp_path):
    policy = """
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: db, namespace: a}
    spec:
      podSelector: {matchLabels: {app: y}}
      ingress:
      - ports: [{port: 5432}]
    """
    path = write(tmp_path, *two_pods(), policy)
    r = run("can", "a/x", "a/y", "-f", path)
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0].split() == ["ALLOWED", "a/x", "->", "a/y", "TCP/5432", "only"]
    data = json.loads(run("can", "a/x", "a/y", "-f", path, "-o", "json").stdout)
    assert data["allowed"] is True and data["allowed_traffic"] == [{"protocol": "TCP", "ports": [[5432, 5432]]}]
    back = run("can", "a/y", "a/x", "-f", path).stdout.splitlines()[0]
    assert back.endswith("all traffic")


# ---- a pod to its own Service (hairpin) -------------------------------------------------------------------------

SHOP = [
    pod("shop", "cart", {"app": "cart"}, "10.0.1.1", [("http", "TCP", 8081)]),
    pod("shop", "web", {"app": "web"}, "10.0.1.2"),
    """
    apiVersion: v1
    kind: Service
    metadata: {name: cart, namespace: shop}
    spec:
      clusterIP: 10.96.0.20
      selector: {app: cart}
      ports: [{port: 80, targetPort: http}]
    """,
]


def test_a_pod_to_its_own_service_is_evaluated_as_hairpin_traffic(tmp_path):
    open_ = write(tmp_path, *SHOP)
    r = run("can", "shop/cart", "cart", "--port", "80", "-f", open_)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].startswith("ALLOWED  shop/cart -> service shop/cart (80): 1 of 1 backend port")
    assert "hairpin" in r.stdout
    by_service = json.loads(run("connectivity", "--by", "service", "-o", "json", open_).stdout)["services"]
    assert {"src": "shop/cart", "service": "shop/cart", "partial": [],
            "allowed": [{"port": 80, "protocol": "TCP", "targetPort": "http"}]} in by_service
    deny = """
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: only-web, namespace: shop}
    spec:
      podSelector: {matchLabels: {app: cart}}
      ingress:
      - from: [{podSelector: {matchLabels: {app: web}}}]
    """
    closed = write(tmp_path, *SHOP, deny)
    r = run("can", "shop/cart", "cart", "--port", "80", "-f", closed)
    assert r.exit_code == 1
    assert "DENIED  shop/cart -> service shop/cart (80): 0 of 1 backend port allowed" in r.stdout
    assert "ingress at shop/cart: DENIED" in r.stdout
    data = json.loads(run("can", "shop/cart", "cart", "--port", "80", "-f", closed, "-o", "json").stdout)
    (b,) = data["backends"]
    assert b["backend"] == "shop/cart" and b["allowed"] is False and "hairpin" in b["note"]
    by_service = json.loads(run("connectivity", "--by", "service", "-o", "json", closed).stdout)["services"]
    assert not [row for row in by_service if row["src"] == "shop/cart"]


def test_a_service_without_backends_gets_no_verdict(tmp_path):
    lonely = """
    apiVersion: v1
    kind: Service
    metadata: {name: ghost, namespace: shop}
    spec:
      selector: {app: ghost}
      ports: [{port: 80}]
    """
    r = run("can", "shop/web", "ghost", "--port", "80", "-f", write(tmp_path, *SHOP, lonely))
    assert r.exit_code == 2 and r.stdout == ""
    assert "service shop/ghost selects no pod of the input" in r.stderr


# ---- names: checked first, with suggestions; workloads ----------------------------------------------------------

def test_an_unknown_endpoint_is_reported_with_the_nearest_name_before_the_rules_run(tmp_path, monkeypatch):
    path = write(tmp_path, *SHOP)

    def no_rules(cluster):
        raise AssertionError("the rules ran")

    monkeypatch.setattr(api, "analyse", no_rules)
    r = run("can", "shop/crat", "shop/web", "-f", path)
    assert r.exit_code == 2
    assert "unknown endpoint 'shop/crat'; did you mean shop/cart?" in r.stderr
    r = run("can", "shop/web", "shop/cart", "--port", "80", "-f", path)  # the check itself lets good names through
    assert isinstance(r.exception, AssertionError)


def test_the_repl_suggests_the_nearest_name_too(tmp_path):
    path = write(tmp_path, *SHOP)
    r = run("repl", path, "-e", "can shop/crat shop/web", "-e", "who-can-reach shop/wbe")
    assert r.exit_code == 1
    assert "unknown endpoint 'shop/crat'; did you mean shop/cart?" in r.output
    assert "unknown endpoint 'shop/wbe'; did you mean shop/web?" in r.output


def coredns(name: str, owner_kind: str, owner: str, labels: str = "{k8s-app: kube-dns}", ip: str = "10.0.0.10") -> str:
    return f"""
    apiVersion: v1
    kind: Pod
    metadata:
      name: {name}
      namespace: kube-system
      labels: {labels}
      ownerReferences: [{{apiVersion: apps/v1, kind: {owner_kind}, name: {owner}, uid: u}}]
    status: {{podIP: {ip}}}
    """


DNS_POLICY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns, namespace: kube-system}
spec:
  podSelector: {matchLabels: {k8s-app: kube-dns}}
  ingress:
  - ports: [{port: 53, protocol: UDP}]
"""


def test_a_deployment_name_stands_for_its_pods_through_the_replicaset_name(tmp_path):
    labels = "{k8s-app: kube-dns, pod-template-hash: 5d78c9869d}"  # as the Deployment controller labels them
    path = write(tmp_path, pod("shop", "web", {"app": "web"}, "10.0.1.2"), DNS_POLICY,
                 coredns("coredns-5d78c9869d-abcde", "ReplicaSet", "coredns-5d78c9869d", labels),
                 coredns("coredns-5d78c9869d-fghij", "ReplicaSet", "coredns-5d78c9869d", labels, "10.0.0.11"))
    r = run("can", "shop/web", "kube-system/coredns", "-f", path)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "ALLOWED  shop/web -> kube-system/coredns[Deployment]  UDP/53 only: 2 of 2 pods allowed"
    assert "every pod gets the same answer" in lines[1]
    data = json.loads(run("can", "shop/web", "kube-system/coredns", "--port", "80", "-f", path, "-o", "json").stdout)
    assert data["allowed"] is False
    repl = run("repl", path, "-e", "can shop/web kube-system/coredns 53/UDP").stdout.splitlines()
    assert repl[:2] == ["ALLOWED  shop/web -> kube-system/coredns[Deployment]  UDP/53: 2 of 2 pods allowed",
                        "  ALLOWED  shop/web -> kube-system/coredns-5d78c9869d-abcde  UDP/53"]
    assert sorted(p["dst"] for p in data["pods"]) == ["kube-system/coredns-5d78c9869d-abcde",
                                                      "kube-system/coredns-5d78c9869d-fghij"]


def test_a_workload_whose_pods_differ_is_answered_per_pod(tmp_path):
    replica_set = """
    apiVersion: apps/v1
    kind: ReplicaSet
    metadata:
      name: dns-rs
      namespace: kube-system
      ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: coredns, uid: d}]
    spec:
      selector: {matchLabels: {k8s-app: kube-dns}}
      template: {metadata: {labels: {k8s-app: kube-dns}}, spec: {containers: [{name: c, image: i}]}}
    """
    path = write(tmp_path, pod("shop", "web", {"app": "web"}, "10.0.1.2"), DNS_POLICY, replica_set,
                 coredns("dns-rs-aaaaa", "ReplicaSet", "dns-rs"),
                 coredns("dns-rs-bbbbb", "ReplicaSet", "dns-rs", "{other: one}", "10.0.0.11"))
    r = run("can", "shop/web", "kube-system/coredns", "--port", "53", "--protocol", "UDP", "-f", path)
    assert r.exit_code == 0
    r = run("can", "shop/web", "kube-system/coredns", "--port", "80", "-f", path)
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[0] == "DENIED  shop/web -> kube-system/coredns[Deployment]  TCP/80: 1 of 2 pods allowed"
    assert "DENIED  shop/web -> kube-system/dns-rs-aaaaa  TCP/80" in lines
    assert "ALLOWED  shop/web -> kube-system/dns-rs-bbbbb  TCP/80" in lines


# ---- AdminNetworkPolicy: fail-closed rules, priority ties ------------------------------------------------------

ANPS = [
    pod("a", "x", {"app": "x"}, "10.0.0.1"),
    pod("b", "y", {"app": "y"}, "10.0.0.2"),
    """
    apiVersion: policy.networking.k8s.io/v1alpha1
    kind: AdminNetworkPolicy
    metadata: {name: nodes-pass}
    spec:
      priority: 5
      subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: a}}}
      egress:
      - {action: Pass, to: [{nodes: {matchLabels: {}}}]}
      - {action: Allow, to: [{nodes: {matchLabels: {}}}]}
    """,
    """
    apiVersion: policy.networking.k8s.io/v1alpha1
    kind: AdminNetworkPolicy
    metadata: {name: alpha}
    spec:
      priority: 10
      subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: b}}}
      ingress:
      - {action: Allow, from: [{namespaces: {}}]}
    """,
    """
    apiVersion: policy.networking.k8s.io/v1alpha1
    kind: AdminNetworkPolicy
    metadata: {name: beta}
    spec:
      priority: 10
      subject: {namespaces: {}}
      ingress:
      - {action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: a}}}]}
    """,
]


def test_a_rule_that_fails_closed_is_warned_about_and_explained(tmp_path):
    r = run("can", "a/x", "b/y", "--port", "80", "-f", write(tmp_path, *ANPS))
    assert r.exit_code == 1
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert any("nodes-pass egress[0]: fails closed" in w and "the manifest says Pass" in w for w in warnings)
    assert any("nodes-pass egress[1]: fails closed" in w and "this Allow matches nothing" in w for w in warnings)
    step = next(line for line in r.stdout.splitlines() if "nodes-pass egress[0]" in line)
    assert step.split()[2] == "Deny"
    assert "(fails closed: peer nodes is not evaluated, so it denies every flow; the manifest says Pass)" in step
    assert any("nodes-pass egress[1]" in line and "matches nothing" in line for line in r.stdout.splitlines())


def test_can_notes_an_admin_policy_of_equal_priority_that_would_decide_otherwise(tmp_path):
    path = write(tmp_path, *ANPS)
    out = run("can", "a/x", "b/y", "--port", "80", "-f", path).stdout
    step = next(line for line in out.splitlines() if "alpha ingress[0]" in line)
    assert "priority tie: beta has the same priority (10) and would decide otherwise" in step
    agree = run("can", "b/y", "b/y", "--port", "80", "-f", path)  # no ANP denies b to b: no tie
    assert "priority tie" not in agree.stdout


# ---- any-workload representatives -------------------------------------------------------------------------------

def test_any_workload_representatives_get_addresses_of_their_own(tmp_path):
    from reasoner.properties.universe import build_universe

    policy = """
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: p, namespace: a}
    spec:
      podSelector: {matchLabels: {app: y}}
      ingress:
      - from: [{podSelector: {matchLabels: {app: x}}}, {ipBlock: {cidr: 10.0.0.0/24}}]
    """
    cluster = api.load([write(tmp_path, *two_pods(), policy)])
    universe = build_universe(cluster)
    new = [ep for ep in universe.cluster.endpoints if ep.ref in universe.new_pods]
    addresses = [ip for ep in new for ip in ep.ips]
    assert len(new) > 4 and len(addresses) == len(new)
    assert len(set(addresses)) == len(addresses)
    assert not set(addresses) & {ip for ep in cluster.endpoints for ip in ep.ips}
    assert all(universe.new_pods[ep.ref].ip == ep.ips[0] for ep in new)
