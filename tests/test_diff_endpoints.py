"""`diff`: endpoints that exist in one version only are listed as added or removed, and their flows are never
verdict changes, but the versions are not equivalent; a version of policies only, or `--inventory`, shares the
inventory and adds or removes nothing."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner

from reasoner.cli import main
from support.contracts import validate
from support.helpers import diff_rows, pod


def run(*args: str):
    return CliRunner().invoke(main, list(args))


A, B = pod("x", "a", {"app": "a"}, "10.0.0.1"), pod("x", "b", {"app": "b"}, "10.0.0.2")
C = pod("x", "c", {"app": "c"}, "10.0.0.3")


def b_ingress(apps: str, ports: str = "[{port: 80}]") -> str:
    """b admits TCP `ports` from the pods whose app is one of `apps`."""
    return f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: b-in, namespace: x}}
spec:
  podSelector: {{matchLabels: {{app: b}}}}
  policyTypes: [Ingress]
  ingress:
  - from: [{{podSelector: {{matchExpressions: [{{key: app, operator: In, values: [{apps}]}}]}}}}]
    ports: {ports}
"""


# The new policy admits c too, and a on TCP 81: only a -> b TCP 81 is a change between endpoints of both versions.
OLD_POLICY = b_ingress("a")
NEW_POLICY = b_ingress("a, c", "[{port: 80}, {port: 81}]")


def version(root: Path, name: str, *docs: str) -> Path:
    d = root / name
    d.mkdir()
    for i, doc in enumerate(docs):
        (d / f"{i}.yaml").write_text(doc)
    return d


def diff_json(old: Path, new: Path, *extra: str, want_exit: int = 1) -> dict:
    r = run("diff", str(old), str(new), "-o", "json", *extra)
    assert r.exit_code == want_exit, r.output
    return validate(r.stdout, "diff")


def verdicts(path: Path, ends: list[str], ports: range) -> dict[tuple, bool]:
    out = {}
    for s, d in itertools.permutations(ends, 2):
        for port in ports:
            r = run("can", s, d, "-f", str(path), "--protocol", "TCP", "--port", str(port))
            assert r.exit_code in (0, 1), r.output
            out[(s, d, port)] = r.exit_code == 0
    return out


def test_a_pod_added_is_listed_and_its_flows_are_no_change(tmp_path):
    old = version(tmp_path, "old", A, B, OLD_POLICY)
    new = version(tmp_path, "new", A, B, C, NEW_POLICY)
    data = diff_json(old, new)
    assert (data["endpoints_added"], data["endpoints_removed"]) == (["x/c"], [])
    assert diff_rows(data) == {("x/a", "x/b", "TCP", "newly-allowed", "[[81, 81]]")}  # not x/c -> x/b TCP 80
    # no more, no fewer: exactly the flows between endpoints of both versions whose verdict differs
    before, after = verdicts(old, ["x/a", "x/b"], range(79, 83)), verdicts(new, ["x/a", "x/b"], range(79, 83))
    assert [k for k in before if before[k] != after[k]] == [("x/a", "x/b", 81)]
    text = run("diff", str(old), str(new)).stdout
    assert "endpoints added: x/c" in text and "endpoints removed" not in text
    md = run("diff", str(old), str(new), "-o", "md").stdout
    assert "endpoints added: x/c" in md


def test_a_pod_removed_is_listed_and_its_flows_are_no_change(tmp_path):
    old = version(tmp_path, "old", A, B, C, NEW_POLICY)
    new = version(tmp_path, "new", A, B, OLD_POLICY)
    data = diff_json(old, new)
    assert (data["endpoints_added"], data["endpoints_removed"]) == ([], ["x/c"])
    assert diff_rows(data) == {("x/a", "x/b", "TCP", "newly-denied", "[[81, 81]]")}
    assert "endpoints removed: x/c" in run("diff", str(old), str(new)).stdout


def test_a_pod_renamed_is_removed_and_added_and_nothing_else_changes(tmp_path):
    old = version(tmp_path, "old", A, B, C, OLD_POLICY)
    new = version(tmp_path, "new", A, B, pod("x", "c2", {"app": "c"}, "10.0.0.3"), b_ingress("a, c"))
    data = diff_json(old, new)  # c2 -> b is allowed, c -> b was not: neither is a verdict change
    assert not data["equivalent"] and data["changes"] == []  # yet the versions differ: c went, c2 came
    assert (data["endpoints_added"], data["endpoints_removed"]) == (["x/c2"], ["x/c"])
    text = run("diff", str(old), str(new)).stdout
    assert text.startswith("DIFFERENT (scope: inventory): verdicts agree on the 2 endpoints of both versions; "
                           "endpoints added: x/c2; endpoints removed: x/c.\nz3: "), text
    md = run("diff", str(old), str(new), "-o", "md").stdout
    assert md.startswith("**Different**") and "endpoints added: x/c2" in md and "endpoints removed: x/c" in md


def test_host_endpoints_and_network_sets_of_one_version_are_listed(tmp_path):
    hep = """apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: node1-eth0, labels: {role: node}}
spec: {node: node1, interfaceName: eth0, expectedIPs: [10.1.0.1]}
"""
    netset = """apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: partners, labels: {peer: partner}}
spec: {nets: [198.51.100.0/24]}
"""
    old = version(tmp_path, "old", A, B, netset)
    new = version(tmp_path, "new", A, B, hep)
    data = diff_json(old, new)
    assert (data["endpoints_added"], data["endpoints_removed"]) == (["hep:node1-eth0"], ["gnetset:partners"])
    assert not data["equivalent"] and data["changes"] == []


def test_a_wide_open_pod_added_is_no_equivalence(tmp_path):
    """A pull request that adds a pod no policy isolates, and changes no verdict between the pods of both
    versions, is not equivalent: a gate on the exit status must not pass it."""
    old = version(tmp_path, "old", A, B)
    new = version(tmp_path, "new", A, B, C)
    r = run("diff", str(old), str(new))
    assert r.exit_code == 1, r.output
    assert r.stdout.splitlines()[0] == ("DIFFERENT (scope: inventory): verdicts agree on the 2 endpoints of both "
                                        "versions; endpoints added: x/c.")
    assert "between endpoints of both versions or addresses" in r.stdout  # what the z3 proof covers
    data = diff_json(old, new)
    assert not data["equivalent"] and data["changes"] == [] and data["endpoints_added"] == ["x/c"]
    assert diff_json(old, version(tmp_path, "same", A, B), want_exit=0)["equivalent"]  # the control


@pytest.mark.parametrize("shared", ["policies-only", "inventory"])
def test_a_shared_inventory_adds_and_removes_nothing(tmp_path, shared):
    """A version of policies only takes its endpoints from the other; `--inventory` is shared by both. Then c is
    in both versions, and its newly admitted flow is a verdict change."""
    if shared == "policies-only":
        old, new, extra = version(tmp_path, "old", A, B, C, OLD_POLICY), version(tmp_path, "new", NEW_POLICY), ()
    else:
        old = version(tmp_path, "old", A, B, OLD_POLICY)
        new = version(tmp_path, "new", A, B, C, NEW_POLICY)
        extra = ("--inventory", str(version(tmp_path, "inv", A, B)))
    data = diff_json(old, new, *extra)
    assert (data["endpoints_added"], data["endpoints_removed"]) == ([], [])
    assert diff_rows(data) == {("x/a", "x/b", "TCP", "newly-allowed", "[[81, 81]]"),
                               ("x/c", "x/b", "TCP", "newly-allowed", "[[80, 81]]")}
    text = run("diff", str(old), str(new), *extra).stdout
    assert "endpoints added" not in text and "endpoints removed" not in text
