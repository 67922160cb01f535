"""`connectivity -o dot` and `-o svg`: pictures that read well (namespace clusters, one edge per row with its
ports, fan-ins told on their destination, alike pods one node, lone nodes in rows) and DOT text that holds any
name as data."""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from reasoner.cli import main
from reasoner.model.ports import PROTOCOLS
from reasoner.query.addresses import Addresses
from reasoner.query.map import Connection
from reasoner.report import connectivity as render

CORPUS = "corpus/microservices-demo/manifests"
DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT is None, reason="Graphviz's dot is not installed")


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def valid(dot: str) -> str:
    """`dot` checked: by Graphviz when it is there (its canonical form), else by its outline."""
    if DOT is not None:
        done = subprocess.run([DOT, "-Tcanon"], input=dot.encode(), capture_output=True, check=False)
        assert done.returncode == 0 and not done.stderr, done.stderr.decode()
    lines = dot.splitlines()
    assert lines[0] == "digraph connectivity {" and lines[-1] == "}"
    assert sum(line.count("{") for line in lines) == sum(line.count("}") for line in lines)
    assert all(re.sub(r'\\.', "", line).count('"') % 2 == 0 for line in lines)  # every string closed
    return dot


def clusters(dot: str) -> dict[str, set[str]]:
    """Namespace -> the node ids declared in its cluster."""
    out: dict[str, set[str]] = {}
    current = None
    for line in dot.splitlines():
        if line.startswith("  subgraph cluster_"):
            current = ""
        elif current == "" and line.startswith("    label="):
            current = re.match(r'    label="([^"\\]*)', line).group(1)  # type: ignore[union-attr]
            out[current] = set()
        elif line == "  }":
            current = None
        elif current and (m := re.match(r'    ("(?:[^"\\]|\\.)*") \[', line)):
            out[current].add(json.loads(m.group(1)))
    return out


def edges(dot: str) -> dict[tuple[str, str], str | None]:
    """(source id, destination id) -> label of the drawn edges."""
    out: dict[tuple[str, str], str | None] = {}
    for m in re.finditer(r'^  "([^"]*)" -> "([^"]*)"(?: \[label="([^"]*)"\])?;$', dot, re.M):
        assert (m[1], m[2]) not in out, m[0]  # one edge per pair
        out[(m[1], m[2])] = m[3]
    return out


def manifests(tmp_path, sources: int, owned: bool = True) -> str:
    """`sources` pods in namespace shop (each of a StatefulSet of its own when `owned`, else bare pods alike) that
    may send only DNS (UDP 53) to kube-system/coredns, which takes DNS only; kube-system/metrics sends nothing;
    every other flow is denied."""
    docs = ["apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: kube-system}",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}"
            "\nspec: {containers: [{name: c, image: i}]}\nstatus: {podIP: 10.0.0.2}",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: metrics, namespace: kube-system}\n"
            "spec: {containers: [{name: c, image: i}]}\nstatus: {podIP: 10.0.0.3}"]
    for i in range(sources):
        owner = (f", ownerReferences: [{{apiVersion: apps/v1, kind: StatefulSet, name: p{i}, uid: u{i}}}]"
                 if owned else "")
        docs.append(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: shop{owner}}}\n"
                    f"spec: {{containers: [{{name: c, image: i}}]}}\nstatus: {{podIP: 10.0.1.{i + 1}}}")
    docs.append("""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-only, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{protocol: UDP, port: 53}]""")
    docs.append("""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns, namespace: kube-system}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{protocol: UDP, port: 53}]""")
    path = tmp_path / "cluster.yaml"
    path.write_text("\n---\n".join(docs) + "\n")
    return str(path)


# ---- structure ----------------------------------------------------------------------------------------------------

def test_namespaces_are_clusters_and_each_row_is_one_edge_labelled_as_in_the_table():
    dot = valid(run("connectivity", "-o", "dot", CORPUS).stdout)
    rows = json.loads(run("connectivity", "-o", "json", CORPUS).stdout)["connections"]
    table = run("connectivity", CORPUS).stdout
    ends = {e for c in rows for e in (c["src"], c["dst"])}
    assert clusters(dot) == {"namespace boutique": {e for e in ends if e.startswith("boutique/")},
                             "outside addresses": {"any address (0.0.0.0/0, ::/0)"}}
    assert len(ends) == 14  # 12 workloads, the outside world in IPv4 and IPv6
    drawn = edges(dot)
    pods = [(c["src"], c["dst"]) for c in rows if not c["src"].startswith("cidr:")]
    assert set(drawn) == {*pods, ("any address (0.0.0.0/0, ::/0)", "boutique/frontend")}
    for (src, dst), label in drawn.items():
        assert re.search(rf"{re.escape(dst)}\s+{re.escape(label)}$", table, re.M), (src, dst, label)
    assert drawn[("boutique/frontend", "boutique/cartservice")] == "TCP 7070"


def test_ports_of_several_protocols_make_one_label():
    conns = [Connection("x/a", "x/b", {"TCP": [(53, 53)], "UDP": [(53, 53), (5353, 5353)]})]
    dot = valid(render.to_dot(conns, ["x/a", "x/b"], PROTOCOLS))
    assert edges(dot) == {("x/a", "x/b"): "TCP 53; UDP 53,5353"}


def test_outside_addresses_are_a_group_of_their_own():
    conns = [Connection("x/a", "y/b", {"TCP": [(80, 80)]})]
    out = Addresses([ipaddress.ip_network("0.0.0.0/0")])
    dot = valid(render.to_dot([*conns, Connection("x/a", out, {"TCP": [(443, 443)]})], ["x/a", "y/b"], PROTOCOLS))
    groups = clusters(dot)
    assert groups["outside addresses"] == {"any address (0.0.0.0/0)"}
    assert groups["namespace x"] == {"x/a"} and groups["namespace y"] == {"y/b"}
    assert edges(dot)[("x/a", "any address (0.0.0.0/0)")] == "TCP 443"


# ---- what notes tell instead of edges -----------------------------------------------------------------------------

def test_dns_fan_in_is_a_note_on_the_destination(tmp_path):
    dot = valid(run("connectivity", "-o", "dot", manifests(tmp_path, 6)).stdout)
    assert not [e for e in edges(dot) if e[1] == "kube-system/coredns"]
    assert '"kube-system/coredns" [label="coredns\\nDNS (UDP 53) from 6 workloads"' in dot
    assert clusters(dot)["namespace shop"] == {f"shop/p{i}[StatefulSet]" for i in range(6)}
    assert clusters(dot)["namespace kube-system"] == {"kube-system/coredns", "kube-system/metrics"}


def test_a_fan_in_of_fewer_sources_is_drawn(tmp_path):
    dot = valid(run("connectivity", "-o", "dot", manifests(tmp_path, 4)).stdout)
    drawn = edges(dot)
    assert all(drawn[(f"shop/p{i}[StatefulSet]", "kube-system/coredns")] == "UDP 53" for i in range(4))
    assert "DNS" not in dot


def test_a_destination_every_other_unit_reaches_alike_is_a_note():
    names = [f"x/w{i}" for i in range(6)]
    conns = [Connection(s, "x/w0", {"TCP": [(8080, 8080)]}) for s in names[1:]]
    conns.append(Connection("x/w1", "x/w2", {"TCP": [(80, 80)]}))
    dot = valid(render.to_dot(conns, names, PROTOCOLS))
    assert '"x/w0" [label="w0\\nTCP 8080 from every other pod"' in dot
    assert edges(dot) == {("x/w1", "x/w2"): "TCP 80"}
    dot = valid(render.to_dot(conns[1:], names, PROTOCOLS))  # not every other one: drawn
    assert ("x/w2", "x/w0") in edges(dot) and "every" not in dot


def test_a_note_counts_the_ends_by_what_they_are():
    sources = ["a/*", *(f"b/w{i}[Deployment]" for i in range(4)), "c/p"]
    conns = [Connection(src, "kube-system/coredns", {"UDP": [(53, 53)]}) for src in sources]
    dot = valid(render.to_dot(conns, [*sources, "kube-system/coredns", "d/idle"], PROTOCOLS))
    assert "DNS (UDP 53) from 1 namespace and 1 pod and 4 workloads" in dot  # not every other end: d/idle
    dot = valid(render.to_dot(conns, [*sources, "kube-system/coredns"], PROTOCOLS))
    assert "DNS (UDP 53) from every other end" in dot
    assert '"a/*" [label="the whole namespace"];' in dot


def test_a_namespace_whose_units_all_reach_each_other_says_so():
    names = ["m/a", "m/b", "m/c"]
    conns = [Connection(s, d, {"TCP": "all", "UDP": "all"}) for s in names for d in names if s != d]
    dot = valid(render.to_dot([*conns, Connection("m/a", "z/q", {"TCP": [(9100, 9100)]})], [*names, "z/q"],
                              ("TCP", "UDP")))
    assert 'label="namespace m\\nall traffic between any two of its 3 pods";' in dot
    assert edges(dot) == {("m/a", "z/q"): "TCP 9100"}
    dot = valid(render.to_dot(conns[1:], names, ("TCP", "UDP")))  # one pair missing: drawn
    assert len(edges(dot)) == 5 and "between" not in dot


def test_a_fan_out_on_the_same_ports_is_drawn_without_labels():
    targets = [f"y/t{i}" for i in range(5)]
    conns = [Connection("x/prom", t, {"TCP": [(9100, 9100)]}) for t in targets]
    conns.append(Connection("x/prom", "y/db", {"TCP": [(9187, 9187)]}))
    dot = valid(render.to_dot(conns, ["x/prom", "y/db", *targets], PROTOCOLS))
    assert "unlabelled edges out: TCP 9100 (5)" in dot and "concentrate=true;" in dot
    drawn = edges(dot)
    assert all(drawn[("x/prom", t)] is None for t in targets) and drawn[("x/prom", "y/db")] == "TCP 9187"
    dot = valid(render.to_dot(conns[1:], ["x/prom", "y/db", *targets], PROTOCOLS))  # four: labelled
    assert all(label is not None for label in edges(dot).values()) and "concentrate" not in dot


def test_pods_alike_are_one_node(tmp_path):
    dot = valid(run("connectivity", "-o", "dot", manifests(tmp_path, 12, owned=False)).stdout)
    assert clusters(dot)["namespace shop"] == {"shop/p0"}
    assert '"shop/p0" [label="p0 … p11\\n(12 alike)"' in dot  # in the order of their numbers
    assert "DNS (UDP 53) from 12 pods" in dot
    assert "alike" not in run("connectivity", "-o", "dot", manifests(tmp_path, 12)).stdout  # workloads stay apart


def test_nodes_without_an_edge_are_set_in_rows():
    names = [f"x/n{i}" for i in range(9)]
    dot = valid(render.to_dot([], names, PROTOCOLS))
    rows = [line for line in dot.splitlines() if line.endswith("[style=invis];")]
    assert rows == ['    "x/n0" -> "x/n1" -> "x/n2" [style=invis];', '    "x/n3" -> "x/n4" -> "x/n5" [style=invis];',
                    '    "x/n6" -> "x/n7" -> "x/n8" [style=invis];']


# ---- names are data -----------------------------------------------------------------------------------------------

EVIL = ['x/a"b\\c', "x/p\\N", 'y/"];evil[label="x']


def test_names_with_quotes_and_backslashes_are_escaped():
    conns = [Connection(EVIL[0], EVIL[2], {"TCP": [(80, 80)]}), Connection(EVIL[1], EVIL[2], {"TCP": [(81, 81)]})]
    dot = valid(render.to_dot(conns, EVIL, PROTOCOLS))
    assert '"x/a\\"b\\\\c" [label="a\\"b\\\\c"];' in dot
    assert '"x/p\\\\N" [label="p\\\\N"];' in dot  # not the \N escape (the node's name)
    assert '"x/a\\"b\\\\c" -> "y/\\"];evil[label=\\"x" [label="TCP 80"];' in dot


def test_names_in_any_script_are_written_as_they_are():
    dot = valid(render.to_dot([Connection("café/crème", "東京/ウェブ", {"TCP": [(80, 80)]})],
                              ["café/crème", "東京/ウェブ"], PROTOCOLS))
    assert '"café/crème" [label="crème"];' in dot and 'label="namespace 東京";' in dot


@needs_dot
def test_escaped_names_are_drawn_as_they_are():
    conns = [Connection(EVIL[0], EVIL[2], {"TCP": [(80, 80)]}), Connection(EVIL[1], EVIL[2], {"TCP": [(81, 81)]})]
    svg = render.to_svg(render.to_dot(conns, EVIL, PROTOCOLS))
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert {"a&quot;b\\c", "p\\N", "&quot;];evil[label=&quot;x"} <= set(texts), texts


# ---- svg ----------------------------------------------------------------------------------------------------------

@needs_dot
def test_svg_is_the_dot_drawn():
    r = run("connectivity", "-o", "svg", CORPUS)
    assert r.exit_code == 0, r.output
    assert r.stdout.lstrip().startswith("<?xml") and "</svg>" in r.stdout and ">frontend</text>" in r.stdout


def test_svg_without_graphviz_is_a_one_line_error():
    r = run("connectivity", "-o", "svg", CORPUS, env={"PATH": ""})
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("error: -o svg needs Graphviz's dot on the PATH (") and len(r.stderr.splitlines()) == 1
