"""The benchmark's label-set profile, its Calico part, its timing of a child process and its table."""

from __future__ import annotations

import json
import re
import sys

from reasoner import api
from reasoner import benchmark as b
from reasoner.facts.classes import build_classes
from reasoner.properties.spec import load_spec


def calico_docs(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["apiVersion"] == "projectcalico.org/v3"]


def selectors(value) -> list[str]:
    """Every Calico selector string (selector, namespaceSelector, notSelector) anywhere in `value`."""
    if isinstance(value, dict):
        return [v for k, v in value.items() if k in ("selector", "namespaceSelector", "notSelector")
                and isinstance(v, str)] + [s for v in value.values() for s in selectors(v)]
    if isinstance(value, list):
        return [s for v in value for s in selectors(v)]
    return []


def rules(docs: list[dict]) -> list[dict]:
    return [r for d in docs for r in d["spec"].get("ingress", []) + d["spec"].get("egress", [])]


def test_a_tiny_label_set_cluster_with_calico_loads(tmp_path):
    docs = b.generate_labelsets(20, 6, seed=1, calico=b.calico_count("labelsets", 20, 6, None))
    b.write(docs, tmp_path / "c")
    cluster = api.load([tmp_path / "c"])
    assert len(cluster.endpoints) == 20
    assert len(cluster.policies) == 6
    assert len(cluster.calico_policies) == 10
    assert {"security", "platform"} <= set(cluster.tiers)


def test_the_label_set_profile_puts_about_two_pods_in_each_class(tmp_path):
    for seed in (1, 2):
        b.write(b.generate_labelsets(200, 60, seed=seed), tmp_path / str(seed))
        cluster = api.load([tmp_path / str(seed)])
        classes, _atoms = build_classes(cluster)
        pods = [c for c in classes if c.external is None and not c.host]
        assert len(cluster.endpoints) == 200
        assert 1.6 <= 200 / len(pods) <= 2.5, len(pods)
        per_pod = [c for c in pods if any("statefulset.kubernetes.io/pod-name" == k for k, _v in c.labels)]
        canaries = [c for c in pods if ("track", "canary") in c.labels]
        assert per_pod and canaries and all(len(c.members) == 1 for c in per_pod + canaries)


def test_the_replicas_profile_stays_many_pods_per_class(tmp_path):
    b.write(b.generate_replicas(200, 60), tmp_path / "r")
    classes, _atoms = build_classes(api.load([tmp_path / "r"]))
    assert 200 / sum(1 for c in classes if c.external is None) > 10


def test_the_calico_part_has_two_tiers_pass_rules_and_rich_selectors():
    docs = calico_docs(b.generate_labelsets(20, 6, seed=1, calico=b.calico_count("labelsets", 20, 6, None)))
    assert sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Tier") == ["platform", "security"]
    policies = [d for d in docs if d["kind"] in ("GlobalNetworkPolicy", "NetworkPolicy")]
    assert {d["spec"].get("tier") for d in policies} >= {"security", "platform", None}
    actions = {r["action"] for r in rules(policies)}
    assert actions >= {"Allow", "Deny", "Log", "Pass"}
    texts = selectors(policies)
    assert any("||" in s for s in texts)
    assert any(re.search(r"(?<!!)has\(", s) for s in texts)
    assert any("!has(" in s for s in texts)
    assert any(" in {" in s for s in texts)
    ends = [r.get(side, {}) for r in rules(policies) for side in ("source", "destination")]
    assert any("nets" in e for e in ends) and any("notNets" in e for e in ends)
    assert any(d["kind"] == "GlobalNetworkSet" for d in docs)


def test_larger_clusters_get_namespaced_calico_policies_in_proportion():
    assert b.calico_count("labelsets", 500, 150, None) == 36
    assert b.calico_count("replicas", 1000, 300, None) == 30
    assert b.calico_count("labelsets", 500, 150, 0.0) == 0
    docs = calico_docs(b.generate_labelsets(500, 150, seed=1, calico=36))
    kinds = [d["kind"] for d in docs]
    assert kinds.count("GlobalNetworkPolicy") + kinds.count("NetworkPolicy") == 36
    assert kinds.count("NetworkPolicy") > 10


def test_the_cluster_is_a_function_of_the_seed():
    assert b.generate_labelsets(60, 20, seed=5, calico=10) == b.generate_labelsets(60, 20, seed=5, calico=10)
    assert b.generate_labelsets(60, 20, seed=5) != b.generate_labelsets(60, 20, seed=6)


def test_the_changed_copy_and_the_spec_are_usable(tmp_path):
    docs = b.generate_labelsets(100, 40, seed=1)
    def ranges(version: list[dict]) -> int:
        return sum("endPort" in item for r in rules([d for d in version if d["kind"] == "NetworkPolicy"])
                   for item in r.get("ports", []))

    assert ranges(b.mutate(docs, 5)) == ranges(docs) + 5
    (tmp_path / "spec.yaml").write_text(json.dumps(b.compliance_spec(docs, 4)))
    assert [r.kind for r in load_spec(tmp_path / "spec.yaml").requirements] == ["deny", "allow", "only", "isolated"]
    src, dst, port = b.can_query(docs)
    assert src.split("/")[0] == dst.split("/")[0] and isinstance(port, int)


def test_measure_reports_a_child_and_kills_it_at_the_limit():
    run = b.measure([sys.executable, "-c", "import sys; sys.exit(3)"], 60)
    assert run["exit"] == 3 and run["seconds"] is not None and run["peak_mib"] > 1
    killed = b.measure([sys.executable, "-c", "import time; time.sleep(60)"], 0.3)
    assert killed["seconds"] is None


def test_a_row_of_the_table():
    row = {"pods": 500, "policies": 150, "calico": 36, "classes": 251, "command": "connectivity",
           "argv": ["python", "-m", "reasoner", "connectivity"], "peer_argv": ["nca", "--connectivity"],
           "run": {"seconds": 12.345, "peak_mib": 301.4, "exit": 0, "stderr": ""},
           "peer": {"seconds": 30.0, "peak_mib": 200.0, "exit": 0, "stderr": ""}}
    line = b.format_row(row, 600)
    assert line.split() == ["500", "150", "36", "251", "connectivity", "12.35", "301", "0", "30.00", "2.4"]
    assert len(line) == len(b.header())
    slow = {**row, "run": {**row["run"], "seconds": None, "exit": -9}, "peer": None}
    assert "> 600 s" in b.format_row(slow, 600)
    assert b.figures(row)["ratio"] == 30.0 / 12.345 and b.figures(slow)["ratio"] is None


def test_the_command_times_a_real_can_and_writes_the_figures(tmp_path, capsys):
    b.main(["--sizes", "20x6", "--calico", "--commands", "can", "--no-nca", "--json", str(tmp_path / "f.json")])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == b.header() and out[1].split()[:5] == ["20", "6", "10", "9", "can"]
    (row,) = json.loads((tmp_path / "f.json").read_text())["rows"]
    assert row["argv"][:4] == ["python", "-m", "reasoner", "can"] and row["reasoner"]["exit"] in (0, 1)
    assert row["reasoner"]["seconds"] is not None and row["nca"] is None
