"""`diff OLD NEW`: flows newly allowed and newly denied, witnesses that really differ, equivalence proofs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from reasoner.cli import main
from support.helpers import diff_rows

DEMO = Path(__file__).resolve().parents[1] / "corpus" / "microservices-demo" / "manifests"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def versions(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(DEMO, old)
    shutil.copytree(DEMO, new)
    return old, new


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert text.count(old) >= count, old
    path.write_text(text.replace(old, new, count))


def replay(version: Path, w: dict) -> bool:
    args = ["can", w["src"], w["dst"], "-f", str(version), "--protocol", w["protocol"]]
    if w.get("port") is not None:
        args += ["--port", str(w["port"])]
    r = run(*args)
    assert r.exit_code in (0, 1), r.output
    return r.exit_code == 0


def test_identical_versions_are_proved_equivalent(versions):
    old, new = versions
    r = run("diff", str(old), str(new))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("EQUIVALENT") and "unsat" in r.stdout


def test_widened_port_range_is_newly_allowed_on_the_new_ports_only(versions):
    old, new = versions
    pol = new / "network-policies.yaml"
    edit(pol, "    - port: 6379\n", "    - port: 6379\n      endPort: 6390\n", 2)  # cart egress and redis ingress
    r = run("diff", str(old), str(new), "-o", "json")
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert diff_rows(data) == {("boutique/cartservice", "boutique/redis-cart", "TCP", "newly-allowed", "[[6380, 6390]]")}
    w = data["changes"][0]["witness"]
    assert not replay(old, w) and replay(new, w)
    before, after = data["changes"][0]["before"], data["changes"][0]["after"]
    assert not before["allowed"] and after["allowed"]
    assert any(step.get("line") for step in after["ingress"])  # the rule that now admits it, with its line


def test_widening_one_side_only_changes_nothing(versions):
    old, new = versions
    edit(new / "network-policies.yaml", "    - port: 6379\n", "    - port: 6379\n      endPort: 6390\n", 1)
    r = run("diff", str(old), str(new))
    assert r.exit_code == 0, r.output  # the other end still admits 6379 only


def test_removed_policy_is_newly_denied_and_reads_well(versions):
    old, new = versions
    pol = new / "network-policies.yaml"
    docs = pol.read_text().split("\n---\n")
    kept = [d for d in docs if "name: redis-cart\n" not in d]
    assert len(kept) == len(docs) - 1
    pol.write_text("\n---\n".join(kept))
    r = run("diff", str(old), str(new), "-o", "json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert ("boutique/cartservice", "boutique/redis-cart", "TCP", "newly-denied", "[[6379, 6379]]") in diff_rows(data)
    for c in data["changes"]:
        assert replay(old, c["witness"]) != replay(new, c["witness"])
    text = run("diff", str(old), str(new)).stdout
    assert "NEWLY DENIED" in text and "before: allowed" in text and "after: denied" in text
    md = run("diff", str(old), str(new), "-o", "md").stdout
    assert "### Newly denied (1)" in md and "| from | to | traffic | witness | after | before |" in md


def test_namespace_relabel_changes_what_a_namespace_selector_matches(tmp_path):
    base = """
apiVersion: v1
kind: Namespace
metadata: {name: web, labels: {team: shop}}
---
apiVersion: v1
kind: Namespace
metadata: {name: db}
---
apiVersion: v1
kind: Pod
metadata: {name: front, namespace: web, labels: {app: front}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: pg, namespace: db, labels: {app: pg}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: pg-from-shop, namespace: db}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: shop}}}], ports: [{port: 5432}]}]
"""
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "all.yaml").write_text(base)
    (tmp_path / "new" / "all.yaml").write_text(base.replace("labels: {team: shop}", "labels: {team: ads}"))
    r = run("diff", str(tmp_path / "old"), str(tmp_path / "new"), "-o", "json")
    assert r.exit_code == 1, r.output
    assert diff_rows(json.loads(r.stdout)) == {("web/front", "db/pg", "TCP", "newly-denied", "[[5432, 5432]]")}


def test_a_change_only_new_pods_would_see_needs_any_workload_scope(tmp_path):
    policy = """
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchExpressions: [{key: app, operator: In, values: [api]}]}}]}]
"""
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "all.yaml").write_text(policy)
    (tmp_path / "new" / "all.yaml").write_text(policy.replace("values: [api]", "values: [api, api-canary]"))
    r = run("diff", str(tmp_path / "old"), str(tmp_path / "new"))
    assert r.exit_code == 0, r.output  # today's pods: nothing changes
    r = run("diff", str(tmp_path / "old"), str(tmp_path / "new"), "--scope", "any-workload", "-o", "json")
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert data["scope"] == "any-workload"
    kinds = [c for c in data["changes"] if c["change"] == "newly-allowed"]
    assert kinds and all("shop/db" in c["dst_endpoints"] for c in kinds)
    new_pods = [p for c in kinds for p in c["witness"].get("newPods", {}).values()]
    assert new_pods and all(p["labels"].get("app") == "api-canary" for p in new_pods)


def test_git_revisions_are_read_from_the_repository(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    shutil.copytree(DEMO, repo / "deploy")
    monkeypatch.chdir(repo)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-qm", "v1"], check=True)
    edit(repo / "deploy" / "network-policies.yaml", "    - port: 6379\n", "    - port: 6379\n      endPort: 6390\n", 2)
    r = run("diff", "git:HEAD:deploy/", "deploy/", "-o", "json")
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert diff_rows(data) == {("boutique/cartservice", "boutique/redis-cart", "TCP", "newly-allowed", "[[6380, 6390]]")}
    assert any("git:HEAD:" not in step.get("file", "git:HEAD:") for step in data["changes"][0]["after"]["ingress"])
    r = run("diff", "git:HEAD:deploy/", "git:HEAD:deploy/")
    assert r.exit_code == 0
    # in a review, the rules of the version read from git link to that revision, the others to the checkout
    r = run("diff", "git:HEAD:deploy/", "deploy/", "-o", "md", "--link-base", "https://x/blob/pr/",
            "--link-base-git", "https://x/blob/base/")
    assert r.exit_code == 1, r.output
    (row,) = [line for line in r.stdout.splitlines() if line.startswith("| boutique/cartservice |")]
    assert "allowed by [" in row and "](https://x/blob/pr/deploy/network-policies.yaml#L" in row
    assert "denied by [" in row and "](https://x/blob/base/deploy/network-policies.yaml#L" in row
    r = run("diff", "git:HEAD:deploy/", "deploy/", "-o", "md", "--link-base", "https://x/blob/pr/")
    (row,) = [line for line in r.stdout.splitlines() if line.startswith("| boutique/cartservice |")]
    assert "https://x/blob/base/" not in row and "(git:HEAD:deploy/network-policies.yaml:" in row


@pytest.mark.parametrize("args,needle", [
    (["git:no-such-rev:deploy/", "."], "no-such-rev"),
    (["/no/such/dir", "."], "no such file"),
    (["git:HEAD"], "git:REV:PATH"),
])
def test_bad_versions_are_clear_errors(tmp_path, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    if len(args) == 1:
        args = args + [str(DEMO)]
    r = run("diff", *args)
    assert r.exit_code == 2, r.output
    assert needle in r.stderr and "Traceback" not in r.output


def test_inventory_option_supplies_the_pods(tmp_path):
    """Versions that hold only policies are compared on the inventory given."""
    old, new, inv = tmp_path / "old", tmp_path / "new", tmp_path / "inv"
    for d in (old, new, inv):
        d.mkdir()
    text = (DEMO / "network-policies.yaml").read_text()
    (old / "p.yaml").write_text(text)
    (new / "p.yaml").write_text(text.replace("    - port: 6379\n", "    - port: 6379\n      endPort: 6390\n", 2))
    for f in DEMO.iterdir():
        if f.name != "network-policies.yaml":
            shutil.copy(f, inv / f.name)
    r = run("diff", str(old), str(new), "--inventory", str(inv), "-o", "json")
    assert r.exit_code == 1, r.output
    assert diff_rows(json.loads(r.stdout)) == {("boutique/cartservice", "boutique/redis-cart", "TCP", "newly-allowed", "[[6380, 6390]]")}


PODS_A_B = """
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {app: b}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.2}
"""


def test_ports_that_start_at_zero_in_an_ordered_end_are_never_a_change(tmp_path):
    """An ordered end that denies TCP 80 and allows the rest allows port atoms from 0; the open end allows TCP 1-65535.
    Port 0 is no TCP flow: the only change is TCP 80, and every witness replays."""
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "pods.yaml").write_text(PODS_A_B)
    (tmp_path / "new" / "pods.yaml").write_text(PODS_A_B)
    (tmp_path / "new" / "policy.yaml").write_text("""
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: b-in}
spec:
  selector: app == 'b'
  types: [Ingress]
  ingress:
  - {action: Deny, protocol: TCP, destination: {ports: [80]}}
  - {action: Allow}
""")
    r = run("diff", str(tmp_path / "old"), str(tmp_path / "new"), "-o", "json")
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert [(c["change"], c["protocol"], c["ports"]) for c in data["changes"]] == [("newly-denied", "TCP", [[80, 80]])]
    (c,) = data["changes"]
    assert c["witness"]["port"] == 80 and replay(tmp_path / "old", c["witness"]) and not replay(tmp_path / "new", c["witness"])
    # the groups, described for a reader and listed as endpoints (addresses as cidr: prefixes)
    assert (c["src"], c["dst"]) == ("x/a; any address (0.0.0.0/0)", "x/b")
    assert (c["src_endpoints"], c["dst_endpoints"]) == (["x/a", "cidr:0.0.0.0/0"], ["x/b"])


def test_a_witness_that_does_not_replay_is_our_defect_not_a_usage_error(monkeypatch):
    from reasoner.diff import compare as module
    from reasoner.errors import UsageError

    def refuse(*args):
        raise UsageError("port 0 is out of range (want 1-65535)")
    monkeypatch.setattr(module, "can", refuse)
    change = module.Change("newly-denied", [module.Joint(0, 0, 0, ["x/a"])], [module.Joint(1, 1, 1, ["x/b"])], "TCP",
                           [(80, 80)])
    with pytest.raises(module.DiffMismatch, match="does not replay"):
        module._witness(None, None, change)


@pytest.mark.parametrize("bad", ["old", "new", "inventory"])
def test_an_invalid_object_on_either_side_is_the_located_error_connectivity_gives(tmp_path, bad):
    """Each version (and the inventory) is checked on its own before inventory objects are shared between them: a
    namespace that is a list is the error `connectivity` reports, not a failure to compare the two versions."""
    good = PODS_A_B + "---\napiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: x}\nspec: {selector: {app: b}}\n"
    paths = {side: tmp_path / f"{side}.yaml" for side in ("old", "new", "inventory")}
    for side, path in paths.items():
        path.write_text(good.replace("namespace: x}\nspec: {selector", "namespace: [x]}\nspec: {selector")
                        if side == bad else good)
    expected = run("connectivity", str(paths[bad]))
    assert expected.exit_code == 2 and "metadata.namespace: expected a string" in expected.stderr
    args = ["--inventory", str(paths["inventory"])] if bad == "inventory" else []
    r = run("diff", str(paths["old"]), str(paths["new"]), *args)
    assert r.exit_code == 2, r.output
    assert r.stderr == expected.stderr
