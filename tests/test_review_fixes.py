"""Fixes from reviewing the maps, pictures and reviews: each test fails without its fix."""

from __future__ import annotations

import json

from support.helpers import cli, pod, write_docs

# shop/open has no policy. A new pod of shop labelled app=gw may send only to app=db pods, so it cannot reach
# shop/open; a new pod labelled app=db (a value the db policy names) or without labels can.
SHOP = ["""
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {kubernetes.io/metadata.name: shop}}
""", """
apiVersion: v1
kind: Pod
metadata: {name: open, namespace: shop, labels: {app: open}}
spec: {containers: [{name: c, image: i}]}
""", """
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: i}]}
""", """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: gw-out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: gw}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
""", """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: gw}}}]
"""]


def test_exposure_does_not_let_fewer_labels_stand_for_a_kind_that_is_kept_out(tmp_path):
    """`new pods in shop without labels` must not stand for the app=db kind when the app=gw kind, whose labels
    hold none either, cannot reach shop/open: each kind that gets through is its own row."""
    result = cli("connectivity", "--exposure", "-o", "json", "--focus", "shop/open", write_docs(tmp_path, *SHOP))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["exposure"]
    kinds = [r["from"].get("labels") for r in rows if r["from"]["kind"] == "new-pod"]
    assert sorted(kinds, key=len) == [{}, {"app": "db"}]


def tiered(port: int) -> list[str]:
    """shop/cache behind the platform tier (which passes everything on) and, in the default tier, a policy that
    lets shop/mongo in on `port` only."""
    return ["""
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {kubernetes.io/metadata.name: shop}}
""", """
apiVersion: v1
kind: Pod
metadata: {name: mongo, namespace: shop, labels: {app: mongo}}
spec: {containers: [{name: c, image: i}]}
""", """
apiVersion: v1
kind: Pod
metadata: {name: cache, namespace: shop, labels: {app: cache}}
spec: {containers: [{name: c, image: i}]}
""", """
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: platform}
spec: {order: 100}
""", """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: platform.pass-all}
spec:
  tier: platform
  selector: all()
  types: [Ingress]
  ingress:
  - action: Pass
""", f"""
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: cache-in, namespace: shop}}
spec:
  selector: app == 'cache'
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    source: {{selector: app == 'mongo'}}
    destination: {{ports: [{port}]}}
"""]


def test_diff_md_blames_a_policy_of_the_tier_whose_end_denies(tmp_path):
    """Before the change, mongo -> cache on TCP 6380 is denied at the end of the default tier (cache-in allows only
    6379); the platform tier's policy passed it on, so it is not what denies it."""
    old, new = write_docs(tmp_path / "old", *tiered(6379)), write_docs(tmp_path / "new", *tiered(6380))
    result = cli("diff", "-o", "md", old, new)
    assert result.exit_code == 1, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("| shop/mongo | shop/cache"))
    assert "shop/cache-in (no rule allows it)" in row and "platform.pass-all" not in row


def test_two_pods_alike_are_named_both(tmp_path):
    """Of a Deployment's three pods, the canary gets one more port: the two others are one node, named both (not
    `api-a … api-c`, a range that reads as holding the canary, api-b, too)."""
    docs = [SHOP[0], *(f"""
apiVersion: v1
kind: Pod
metadata:
  name: api-{x}
  namespace: shop
  labels: {{app: api{", canary: 'true'" if x == "b" else ""}}}
  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: api-7f9c, uid: u1, controller: true}}]
spec: {{containers: [{{name: c, image: i}}]}}
""" for x in "abc"), SHOP[1], """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: canary-in, namespace: shop}
spec:
  podSelector: {matchLabels: {canary: 'true'}}
  policyTypes: [Ingress]
  ingress:
  - ports: [{port: 9090}]
  - from: [{podSelector: {matchLabels: {app: open}}}]
"""]
    result = cli("connectivity", "-o", "dot", write_docs(tmp_path, *docs))
    assert result.exit_code == 0, result.output
    assert '"shop/api-a" [label="api-a, api-c\\n(2 alike)"' in result.output
    assert '"shop/api-b" [label="api-b"' in result.output


def test_a_service_map_in_another_format_is_a_one_line_error(tmp_path):
    result = cli("connectivity", "--by", "service", "-o", "csv", write_docs(tmp_path, *SHOP))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: --by service prints text or json"]


def test_a_workload_sorts_by_its_name_before_its_kind(tmp_path):
    path = write_docs(tmp_path, pod("shop", "auth-v2-0", {"app": "b"}, "10.0.0.2", owner=("StatefulSet", "auth-v2")),
                      pod("shop", "auth-0", {"app": "a"}, "10.0.0.1", owner=("StatefulSet", "auth")))
    rows = json.loads(cli("connectivity", "-o", "json", path).stdout)["connections"]
    sources = list(dict.fromkeys(r["src"] for r in rows))
    assert sources[:2] == ["shop/auth[StatefulSet]", "shop/auth-v2[StatefulSet]"]


def test_a_witness_address_is_an_ordinary_one_when_the_range_holds_one():
    from reasoner.model.cidr import sample_ip

    assert sample_ip(4, 0, 2**32 - 1) == "1.0.0.10"  # not 0.0.0.10 ("this network")
    assert sample_ip(4, 0x7F000000, 0x80FFFFFF) == "128.0.0.10"  # past loopback
    assert sample_ip(4, 0x0A000000, 0x0AFFFFFF) == "10.0.0.10"  # an ordinary range: as before
    assert sample_ip(4, 0, 0xFF) == "0.0.0.10"  # nothing else in the range: its own address
    assert sample_ip(6, 0, 2**128 - 1) == "2000::a"
    assert sample_ip(4, 0xE0000000, 0xFFFFFFFF) == "224.0.0.10"
