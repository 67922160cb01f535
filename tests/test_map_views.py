"""The connectivity map at scale: the outside world merged into the fewest prefixes, the workload and namespace
views (a group only where all its members agree), and the focus filters (each keeps exactly the rows of the
unfiltered map that satisfy it)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from reasoner.query.addresses import addresses_text, fewest_prefixes
from support.contracts import validate
from support.helpers import cli as run
from support.helpers import pod
from support.helpers import write_docs as write

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
DEMO = str(CORPUS / "microservices-demo" / "manifests")
IPBLOCK = str(CORPUS / "ipblock-except" / "manifests")


def rows(*args: str) -> list[tuple[str, str, dict]]:
    """`connectivity -o json ARGS` as (src, dst, {protocol: ports})."""
    r = run("connectivity", "-o", "json", *args)
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    return [(c["src"], c["dst"], {a["protocol"]: a["ports"] for a in c["allowed"]}) for c in data["connections"]]


def net(text: str):
    return ipaddress.ip_network(text)


# ---- merging address atoms -----------------------------------------------------------------------------------------

def v4(a: str, b: str) -> tuple[int, int, int]:
    return 4, int(ipaddress.IPv4Address(a)), int(ipaddress.IPv4Address(b))


def test_fewest_prefixes_merge_adjacent_ranges_and_take_in_spare_addresses():
    assert [str(n) for n in fewest_prefixes([v4("10.0.0.0", "10.0.0.127"), v4("10.0.0.128", "10.0.0.255")])] == [
        "10.0.0.0/24"]
    # 10.0.0.0-10.0.0.6 alone is /30, /31, /32; with 10.0.0.7 spare it is one /29
    assert [str(n) for n in fewest_prefixes([v4("10.0.0.0", "10.0.0.6")])] == ["10.0.0.0/30", "10.0.0.4/31",
                                                                                "10.0.0.6/32"]
    spare = {4: [(int(ipaddress.IPv4Address("10.0.0.7")),) * 2]}
    assert [str(n) for n in fewest_prefixes([v4("10.0.0.0", "10.0.0.6")], spare)] == ["10.0.0.0/29"]
    # a range of spare addresses only is left out
    assert fewest_prefixes([v4("10.0.0.7", "10.0.0.7")], spare) == []


def test_addresses_read_as_the_shorter_of_the_list_and_a_span_except_holes():
    assert addresses_text([net("0.0.0.0/0")]) == "any address (0.0.0.0/0)"
    assert addresses_text([net("0.0.0.0/0"), net("::/0")]) == "any address (0.0.0.0/0, ::/0)"
    inside = [net(n) for n in ("10.0.0.0/23", "10.0.3.0/24", "10.0.4.0/22", "10.0.8.0/21", "10.0.16.0/20",
                               "10.0.32.0/19", "10.0.64.0/18", "10.0.128.0/17")]
    assert addresses_text(inside) == "10.0.0.0/16 except 10.0.2.0/24"
    assert addresses_text([net("203.0.113.0/25"), net("203.0.113.129/32")]) == "203.0.113.0/25, 203.0.113.129/32"
    assert addresses_text([net("0.0.0.0/0"), net("2001:db8::/32")]) == "any IPv4 address (0.0.0.0/0); 2001:db8::/32"


def test_the_outside_world_reaches_the_demo_frontend_on_8080():
    assert run("can", "ip:203.0.113.9", "boutique/frontend", "--port", "8080", "-f", DEMO).exit_code == 0
    into = {(s, json.dumps(a)) for s, d, a in rows(DEMO) if d == "boutique/frontend" and s.startswith("cidr:")}
    assert into == {("cidr:0.0.0.0/0", '{"TCP": [[8080, 8080]]}'), ("cidr:::/0", '{"TCP": [[8080, 8080]]}')}
    text = run("connectivity", DEMO).stdout
    assert any(line.split() == ["any", "address", "(0.0.0.0/0,", "::/0)", "boutique/frontend", "TCP", "8080"]
               for line in text.splitlines())


def test_ipblock_except_merges_into_a_handful_of_rows():
    got = rows(IPBLOCK)
    # backend: TCP/8080 from 10.0.0.0/16 less 10.0.2.0/24 (admin's subnet), nothing else from outside
    into_backend = {s for s, d, a in got if d == "edge/backend" and s.startswith("cidr:")}
    assert into_backend == {"cidr:10.0.0.0/23", "cidr:10.0.3.0/24", "cidr:10.0.4.0/22", "cidr:10.0.8.0/21",
                            "cidr:10.0.16.0/20", "cidr:10.0.32.0/19", "cidr:10.0.64.0/18", "cidr:10.0.128.0/17"}
    assert all(a == {"TCP": [[8080, 8080]]} for s, d, a in got if d == "edge/backend" and s.startswith("cidr:"))
    out_of_gateway = {(d, json.dumps(a)) for s, d, a in got if s == "edge/gateway" and d.startswith("cidr:")}
    assert out_of_gateway == {("cidr:203.0.113.0/25", '{"TCP": [[443, 443]]}'),
                              ("cidr:203.0.113.129/32", '{"TCP": [[443, 443]]}')}
    # the pods without policy: everything to and from every address
    every = {p: "all" for p in ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "OTHER")}
    assert ("edge/admin", "cidr:0.0.0.0/0", every) in got and ("cidr:0.0.0.0/0", "ops/bastion", every) in got
    lines = run("connectivity", IPBLOCK).stdout.splitlines()
    assert lines[-1] == "21 connections between 5 endpoints"
    assert any(line.split()[:6] == ["10.0.0.0/16", "except", "10.0.2.0/24", "edge/backend", "TCP", "8080"]
               for line in lines)


def test_an_address_held_by_a_pod_counts_either_way_when_merging(tmp_path):
    policy = """
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: in, namespace: x}
    spec:
      podSelector: {matchLabels: {app: db}}
      ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/24, except: [10.0.0.7/32]}}], ports: [{port: 5432}]}]
    """
    path = write(tmp_path, pod("x", "db", {"app": "db"}, "10.9.0.1"), pod("x", "other", {"app": "o"}, "10.0.0.7"),
                 policy)
    into_db = {(s, json.dumps(a)) for s, d, a in rows(path) if d == "x/db" and not s.startswith("x/")}
    assert into_db == {("cidr:10.0.0.0/24", '{"TCP": [[5432, 5432]]}')}  # 10.0.0.7 is x/other, shown as itself
    assert not any(s == "x/other" and d == "x/db" for s, d, _a in rows(path))


# ---- views --------------------------------------------------------------------------------------------------------

def replica(ns: str, name: str, deployment: str, labels: dict, ip: str) -> str:
    """A pod of Deployment `deployment`, owned by its ReplicaSet DEPLOYMENT-5d7f (as the controller names it)."""
    return pod(ns, name, {**labels, "pod-template-hash": "5d7f"}, ip, owner=("ReplicaSet", f"{deployment}-5d7f"))


DB_POLICY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress, Egress]
  ingress: [{from: [{podSelector: {matchLabels: {track: stable}}}], ports: [{port: 5432}]}]
"""
NS = """
apiVersion: v1
kind: Namespace
metadata: {name: NAME}
"""
DB_SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  selector: {app: db}
  clusterIP: 10.96.0.5
  ports: [{port: 5432}]
"""


@pytest.fixture
def shop(tmp_path) -> str:
    """shop: a Deployment web of 3 alike pods, a Deployment api whose canary pod is refused by the db, the db;
    tools: two alike pods without owners."""
    return write(tmp_path, NS.replace("NAME", "shop"), NS.replace("NAME", "tools"), DB_POLICY, DB_SERVICE,
                 pod("shop", "db", {"app": "db"}, "10.0.1.1"),
                 *(replica("shop", f"web-5d7f-{i}", "web", {"app": "web", "track": "stable"}, f"10.0.2.{i}")
                   for i in range(3)),
                 replica("shop", "api-5d7f-a", "api", {"app": "api", "track": "stable"}, "10.0.3.1"),
                 replica("shop", "api-5d7f-b", "api", {"app": "api", "track": "canary"}, "10.0.3.2"),
                 pod("tools", "t1", {"app": "t"}, "10.0.4.1"), pod("tools", "t2", {"app": "t"}, "10.0.4.2"))


def test_a_deployment_whose_pods_agree_is_one_row_and_one_whose_pods_differ_is_its_pods(shop):
    got = rows(shop)
    to_db = sorted((s, json.dumps(a)) for s, d, a in got if d == "shop/db")
    assert to_db == [("shop/api-5d7f-a", '{"TCP": [[5432, 5432]]}'), ("shop/web[Deployment]", '{"TCP": [[5432, 5432]]}')]
    names = {e for s, d, _a in got for e in (s, d)}
    assert "shop/web[Deployment]" in names and not any(n.startswith("shop/web-") for n in names)
    assert {"shop/api-5d7f-a", "shop/api-5d7f-b"} <= names and "shop/api[Deployment]" not in names
    every = {p: "all" for p in ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "OTHER")}
    assert ("shop/web[Deployment]", "shop/web[Deployment]", every) in got  # its pods, one to another
    # the pod view lists the three pods
    pods = rows("--by", "pod", shop)
    assert {s for s, d, _a in pods if d == "shop/db"} == {"shop/api-5d7f-a", "shop/web-5d7f-0", "shop/web-5d7f-1",
                                                          "shop/web-5d7f-2"}
    assert rows("--by", "endpoint", shop) == pods
    data = json.loads(run("connectivity", "-o", "json", shop).stdout)
    assert data["view"] == "workload"


def test_the_namespace_view_groups_only_namespaces_whose_members_agree(shop):
    got = rows("--by", "namespace", shop)
    names = {e for s, d, _a in got for e in (s, d) if not e.startswith("cidr:")}
    assert "tools/*" in names and "shop/*" not in names  # the db is unlike the rest of shop
    assert {"shop/db", "shop/web[Deployment]", "shop/api-5d7f-a", "shop/api-5d7f-b"} <= names
    every = {p: "all" for p in ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "OTHER")}
    assert ("tools/*", "tools/*", every) in got and ("tools/*", "shop/web[Deployment]", every) in got
    assert ("tools/*", "shop/db", every) not in got


def test_every_view_follows_the_json_contract(shop):
    for view in ("workload", "pod", "namespace"):
        validate(run("connectivity", "--by", view, "-o", "json", shop).stdout, "connectivity")
    validate(run("connectivity", "-o", "json", "--focus", "shop/db", "--port", "5432", shop).stdout, "connectivity")
    validate(run("connectivity", "-o", "json", IPBLOCK).stdout, "connectivity")


def test_the_text_formats_name_address_groups_once_and_csv_per_prefix():
    md = run("connectivity", "-o", "md", IPBLOCK).stdout
    assert "| 10.0.0.0/16 except 10.0.2.0/24 | edge/backend | TCP 8080 |" in md
    dot = run("connectivity", "-o", "dot", IPBLOCK).stdout
    assert '"10.0.0.0/16 except 10.0.2.0/24" [shape=ellipse];' in dot
    csv_rows = run("connectivity", "-o", "csv", IPBLOCK).stdout.splitlines()
    assert "cidr:10.0.128.0/17,edge/backend,TCP,8080" in csv_rows


# ---- filters ------------------------------------------------------------------------------------------------------

def only(allowed: dict, protocol: str | None, port: int | None) -> dict:
    """The part of a row's traffic that --protocol/--port show, worked out from the unfiltered row."""
    out = {}
    for p, v in allowed.items():
        if protocol is not None and p != protocol:
            continue
        if port is not None:
            if p not in ("TCP", "UDP", "SCTP") or not (v == "all" or any(lo <= port <= hi for lo, hi in v)):
                continue
            v = [[port, port]]
        out[p] = v
    return out


WEB = {"shop/web-5d7f-0", "shop/web-5d7f-1", "shop/web-5d7f-2"}


@pytest.mark.parametrize("args, keep", [
    (["-n", "tools"], lambda s, d: s.startswith("tools/") or d.startswith("tools/")),
    (["-l", "track == 'stable'"], lambda s, d: bool({s, d} & (WEB | {"shop/api-5d7f-a"}))),
    (["-l", "projectcalico.org/namespace == 'tools'"], lambda s, d: s.startswith("tools/") or d.startswith("tools/")),
    (["--focus", "shop/db"], lambda s, d: "shop/db" in (s, d)),
    (["--focus", "shop/web"], lambda s, d: bool({s, d} & WEB)),  # a workload stands for its pods
    (["--focus", "db.shop"], lambda s, d: "shop/db" in (s, d)),  # a service for its backends
    (["--focus", "ip:10.96.0.5"], lambda s, d: "shop/db" in (s, d)),  # its ClusterIP too, as for `can`
    (["--focus", "shop/db", "--direction", "in"], lambda s, d: d == "shop/db"),
    (["--focus", "tools/t1", "--direction", "out"], lambda s, d: s == "tools/t1"),
    (["--focus", "shop/db", "--peer", "shop/web-5d7f-1"], lambda s, d: {s, d} == {"shop/db", "shop/web-5d7f-1"}),
    (["--focus", "tools/t1", "--peer", "ip:192.0.2.1"],
     lambda s, d: "tools/t1" in (s, d) and "cidr:0.0.0.0/0" in (s, d)),
])
def test_a_filter_keeps_the_unfiltered_rows_that_satisfy_it(shop, args, keep):
    every = rows("--by", "pod", shop)
    want = [r for r in every if keep(r[0], r[1])]
    assert want and len(want) < len(every)  # the filter matters here
    assert rows("--by", "pod", *args, shop) == want


@pytest.mark.parametrize("protocol, port", [("UDP", None), (None, 5432), ("TCP", 5432), ("ICMP", None)])
def test_port_and_protocol_keep_the_rows_that_allow_them_showing_only_that(shop, protocol, port):
    every = rows("--by", "pod", shop)
    want = [(s, d, only(a, protocol, port)) for s, d, a in every if only(a, protocol, port)]
    args = [*(["--protocol", protocol] if protocol else []), *(["--port", str(port)] if port else [])]
    got = rows("--by", "pod", *args, shop)
    assert got == want and any(a != a2 for (_s, _d, a), (_s2, _d2, a2) in zip(got, every))


def test_a_pod_folded_into_its_workload_is_focused_through_the_workload(shop):
    every = rows(shop)
    assert rows("--focus", "shop/web-5d7f-2", shop) == [r for r in every if "shop/web[Deployment]" in r[:2]]
    text = run("connectivity", "--focus", "shop/web", "--direction", "out", "--port", "5432", shop).stdout
    assert [line.split() for line in text.splitlines()][1:3] == [
        ["shop/web[Deployment]", "shop/api-5d7f-a", "TCP", "5432;", "UDP", "5432;", "SCTP", "5432"],
        ["shop/api-5d7f-b", "TCP", "5432;", "UDP", "5432;", "SCTP", "5432"]]
    lines = [line.split() for line in text.splitlines()]
    assert ["shop/db", "TCP", "5432"] in lines
    assert lines[-1] == ["7", "connections", "between", "6", "endpoints", "kept", "by", "the", "filters"]


@pytest.mark.parametrize("args, message", [
    (["--focus", "shop/dbb"], "unknown endpoint 'shop/dbb'; did you mean shop/db "),
    (["--focus", "shop/db", "--peer", "shop/wbe"], "unknown endpoint 'shop/wbe'; did you mean shop/web "),
    (["-n", "shopp"], "unknown namespace 'shopp'; did you mean shop?"),
    (["-l", "app =="], "bad selector 'app =='"),
    (["--peer", "shop/db"], "--peer needs --focus ENDPOINT"),
    (["--direction", "in"], "--direction needs --focus ENDPOINT"),
    (["--protocol", "TCPP"], "unknown protocol 'TCPP'"),
    (["--port", "0"], "port 0 is out of range"),
    (["--port", "53", "--protocol", "ICMP"], "ICMP has no ports"),
    (["--by", "service", "-n", "shop"], "--by service takes none of the filters"),
])
def test_a_bad_filter_is_a_one_line_error(shop, args, message):
    r = run("connectivity", *args, shop)
    assert r.exit_code == 2
    errors = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and message in errors[0], r.stderr
