"""The renderers of `connectivity` and `can`: text, json, csv, md, dot."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from reasoner.cli import main

CORPUS = "corpus/microservices-demo/manifests"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_text_map_is_a_grouped_table_with_a_summary():
    out = run("connectivity", CORPUS).stdout.splitlines()
    assert out[0].split() == ["SOURCE", "DESTINATION", "ALLOWED"]
    assert any(line.startswith("boutique/frontend ") for line in out)  # a group starts with its source
    assert any(line.split()[:3] == ["boutique/cartservice", "TCP", "7070"] for line in out)  # continuation row
    assert out[-1].startswith("17 connections between 12 endpoints")  # with the outside world to the frontend


def test_json_map_follows_the_contract():
    data = json.loads(run("connectivity", "-o", "json", CORPUS).stdout)
    assert set(data) == {"view", "connections"} and data["view"] == "workload"
    for c in data["connections"]:
        assert set(c) == {"src", "dst", "allowed"}
        for a in c["allowed"]:
            assert set(a) == {"protocol", "ports"}
            assert a["ports"] == "all" or all(lo <= hi for lo, hi in a["ports"])
    edge = next(c for c in data["connections"] if (c["src"], c["dst"]) == ("boutique/frontend", "boutique/cartservice"))
    assert edge["allowed"] == [{"protocol": "TCP", "ports": [[7070, 7070]]}]


def test_csv_has_one_row_per_protocol():
    rows = list(csv.reader(io.StringIO(run("connectivity", "-o", "csv", CORPUS).stdout)))
    assert rows[0] == ["src", "dst", "protocol", "ports"]
    assert ["boutique/frontend", "boutique/cartservice", "TCP", "7070"] in rows
    assert len(rows) == 19  # the header, 16 rows between pods, the outside world to the frontend (IPv4, IPv6)


def test_markdown_is_a_table():
    out = run("connectivity", "-o", "md", CORPUS).stdout.splitlines()
    assert out[:2] == ["| source | destination | allowed |", "|---|---|---|"]
    assert "| boutique/cartservice | boutique/redis-cart | TCP 6379 |" in out


def test_dot_groups_namespaces_and_labels_edges():
    out = run("connectivity", "-o", "dot", CORPUS).stdout
    assert out.startswith("digraph connectivity {") and out.rstrip().endswith("}")
    assert 'subgraph cluster_0 {' in out and 'label="namespace boutique";' in out
    assert '"boutique/frontend" -> "boutique/cartservice" [label="TCP 7070"];' in out


def test_can_text_starts_with_the_verdict_and_shows_both_chains():
    r = run("can", "boutique/frontend", "boutique/cartservice", "--port", "7070", "-f", CORPUS)
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0].split()[0] == "ALLOWED"
    assert any(line.startswith("egress at boutique/frontend: allowed") for line in lines)
    assert any(line.startswith("ingress at boutique/cartservice: allowed") for line in lines)
    assert any("NetworkPolicy boutique/" in line and "manifests/" in line for line in lines)


def test_can_denied_says_no_rule_allows_and_exits_1():
    r = run("can", "boutique/cartservice", "boutique/frontend", "--port", "8080", "-f", CORPUS)
    assert r.exit_code == 1
    assert r.stdout.split()[0] == "DENIED"
    assert "no rule of these policies allows TCP/8080" in r.stdout


def test_can_json_carries_chains_with_file_and_line():
    r = run("can", "boutique/frontend", "boutique/cartservice", "--port", "7070", "-f", CORPUS, "-o", "json")
    data = json.loads(r.stdout)
    assert data["allowed"] is True and data["protocol"] == "TCP" and data["port"] == 7070
    rule = data["chain"]["ingress"]["allowed_by"][0]
    assert rule["policy"]["namespace"] == "boutique" and rule["rule"]["direction"] == "ingress"
    assert rule["file"].endswith(".yaml") and isinstance(rule["line"], int)


def test_can_without_port_lists_what_is_allowed():
    r = run("can", "boutique/checkoutservice", "boutique/paymentservice", "-f", CORPUS)
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0].endswith("boutique/paymentservice  TCP/50051 only")
