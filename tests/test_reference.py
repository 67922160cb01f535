"""Hand-computed scenarios that check the brute-force oracle in `support/reference.py` itself."""
import textwrap

import pytest
import yaml

from support.reference import allowed, cluster_from_manifests

BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  containers:
  - name: c
    ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db, env: prod}}
spec:
  containers:
  - name: c
    ports: [{name: http, containerPort: 9090}]
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: bare, namespace: shop}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: dev, labels: {app: web}}
spec: {containers: [{name: c, ports: [{name: dns, containerPort: 5353, protocol: UDP}]}]}
status: {podIP: 10.0.0.130}
"""


def cluster(policies: str) -> dict:
    return cluster_from_manifests(yaml.safe_load_all(BASE + "---\n" + textwrap.dedent(policies)))


def test_no_policy_allows_everything():
    c = cluster("")
    assert allowed(c, "shop/web", "shop/db", "TCP", 1)
    assert allowed(c, "dev/web", "shop/db", "ICMP")
    assert allowed(c, "ip:192.0.2.1", "shop/db", "SCTP", 9)


def test_notin_selects_pods_without_the_key():
    c = cluster("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: deny-non-prod, namespace: shop}
        spec:
          podSelector: {matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}
          policyTypes: [Ingress]
        """)
    assert not allowed(c, "shop/db", "shop/bare", "TCP", 80)   # no `env` label: selected, isolated
    assert not allowed(c, "shop/db", "shop/web", "TCP", 80)
    assert allowed(c, "shop/web", "shop/db", "TCP", 80)        # env=prod: not selected


def test_port_without_protocol_is_tcp_only():
    c = cluster("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: dns, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: db}}
          ingress: [{ports: [{port: 53}]}]
        """)
    assert allowed(c, "shop/web", "shop/db", "TCP", 53)
    assert not allowed(c, "shop/web", "shop/db", "UDP", 53)
    assert not allowed(c, "shop/web", "shop/db", "TCP", 54)
    assert not allowed(c, "shop/web", "shop/db", "ICMP")       # a rule with ports is L4-only


def test_egress_rules_ignored_when_policy_types_lack_egress():
    c = cluster("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: odd, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: web}}
          policyTypes: [Ingress]
          egress: [{to: [{podSelector: {matchLabels: {app: db}}}], ports: [{port: 5432}]}]
        """)
    assert allowed(c, "shop/web", "shop/bare", "UDP", 7)      # egress not isolated
    assert not allowed(c, "shop/db", "shop/web", "TCP", 80)   # ingress isolated, no ingress rule


def test_policy_types_default_adds_egress_only_for_nonempty_egress():
    c = cluster("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: egress-only, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: web}}
          egress: [{to: [{podSelector: {matchLabels: {app: db}}}]}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: empty-egress, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: db}}
          ingress: [{}]
          egress: []
        """)
    assert allowed(c, "shop/web", "shop/db", "UDP", 1)        # web egress allows db, db ingress [{}]
    assert not allowed(c, "shop/web", "shop/bare", "TCP", 80)  # web egress isolated
    assert not allowed(c, "shop/bare", "shop/web", "TCP", 80)  # web is ingress-isolated too
    assert allowed(c, "shop/db", "shop/bare", "TCP", 80)       # `egress: []` does not add Egress


def test_ipblock_except_on_pod_and_external_ips():
    c = cluster("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: cidr, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: web}}
          policyTypes: [Egress]
          egress:
          - to: [{ipBlock: {cidr: 10.0.0.0/24, except: [10.0.0.128/25, 10.0.0.2/32]}}]
        """)
    assert allowed(c, "shop/web", "shop/bare", "TCP", 80)      # 10.0.0.3
    assert not allowed(c, "shop/web", "shop/db", "TCP", 80)    # 10.0.0.2 excepted
    assert not allowed(c, "shop/web", "dev/web", "TCP", 80)    # 10.0.0.130 excepted
    assert allowed(c, "shop/web", "ip:10.0.0.99", "ICMP")
    assert not allowed(c, "shop/web", "ip:10.0.0.200", "TCP", 80)
    assert not allowed(c, "shop/web", "10.0.1.1", "TCP", 80)


def test_named_port_resolves_on_the_destination_pod():
    c = cluster("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: named, namespace: shop}
        spec:
          podSelector: {}
          policyTypes: [Ingress, Egress]
          ingress: [{ports: [{port: http}]}]
          egress: [{ports: [{port: http}, {port: dns, protocol: UDP}]}]
        """)
    # ingress: `http` on the selected destination pod (web 8080, db 9090)
    assert allowed(c, "shop/db", "shop/web", "TCP", 8080)
    assert not allowed(c, "shop/db", "shop/web", "TCP", 9090)
    assert allowed(c, "shop/web", "shop/db", "TCP", 9090)
    assert not allowed(c, "shop/web", "shop/db", "TCP", 8080)
    assert not allowed(c, "shop/web", "shop/db", "UDP", 9090)  # protocol must match too
    # egress: `dns` resolves on the peer pod; db has no `dns` port; external never resolves
    assert allowed(c, "shop/db", "dev/web", "UDP", 5353)        # dev/web names 5353 `dns`
    assert not allowed(c, "shop/db", "dev/web", "UDP", 53)
    assert not allowed(c, "shop/web", "shop/db", "UDP", 53)     # db has no `dns` port
    assert not allowed(c, "shop/db", "ip:10.0.0.200", "TCP", 8080)
    assert not allowed(c, "shop/web", "ip:10.0.0.200", "UDP", 53)
    assert allowed(c, "ip:10.0.0.200", "shop/web", "TCP", 8080)  # external source: no egress check


def test_pod_selector_peer_is_namespace_scoped_and_both_fields_are_anded():
    c = cluster("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: db-in, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: db}}
          ingress:
          - from: [{podSelector: {matchLabels: {app: web}}}]
            ports: [{protocol: UDP}]
          - from:
            - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: dev}}
              podSelector: {matchExpressions: [{key: app, operator: Exists}]}
            ports: [{port: 100, endPort: 200, protocol: SCTP}]
        """)
    assert allowed(c, "shop/web", "shop/db", "UDP", 65535)
    assert not allowed(c, "dev/web", "shop/db", "UDP", 1)       # podSelector-only: same ns only
    assert not allowed(c, "shop/bare", "shop/db", "UDP", 1)
    assert allowed(c, "dev/web", "shop/db", "SCTP", 100)
    assert allowed(c, "dev/web", "shop/db", "SCTP", 200)
    assert not allowed(c, "dev/web", "shop/db", "SCTP", 201)
    assert not allowed(c, "shop/web", "shop/db", "SCTP", 150)   # shop is not dev
    assert allowed(c, "ip:10.0.0.130", "shop/db", "SCTP", 150)  # an IP owned by a pod is that pod
    assert not allowed(c, "ip:10.0.0.131", "shop/db", "SCTP", 150)


def test_both_ends_must_allow():
    c = cluster("""
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: web-out, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: web}}
          policyTypes: [Egress]
          egress: [{to: [{namespaceSelector: {matchLabels: {env: prod}}}]}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: db-in, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: db}}
          ingress: [{from: [{namespaceSelector: {}}], ports: [{port: 80}]}]
        """)
    assert allowed(c, "shop/web", "shop/db", "TCP", 80)
    assert not allowed(c, "shop/web", "shop/db", "TCP", 81)     # ingress at db denies
    assert not allowed(c, "shop/web", "dev/web", "TCP", 80)     # egress at web denies
    assert not allowed(c, "ip:192.0.2.1", "shop/db", "TCP", 80)  # namespaceSelector: {} is pods only
    assert allowed(c, "shop/bare", "ip:192.0.2.1", "TCP", 80)


def test_unknown_endpoint_is_an_error():
    with pytest.raises(ValueError):
        allowed(cluster(""), "shop/nope", "shop/db", "TCP", 80)
