"""`prove` cannot pass vacuously: a requirement whose `from`, `to` or selection matches no endpoint is warned
about in every output format, and `--strict` fails on it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from reasoner.cli import main
from support.contracts import validate

DEMO = "corpus/microservices-demo/manifests"
SPEC = "corpus/microservices-demo/spec.yaml"
HEAD = "apiVersion: reasoner/v1\nkind: ComplianceSpec\n"
TYPO = "- id: typo\n  deny: {from: {selector: \"ap == 'frontend'\"}, to: {selector: \"app == 'cartservice'\"}}\n"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def spec(tmp_path, requirements: str, scope: str = "inventory") -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(f"{HEAD}scope: {scope}\nrequirements:\n{requirements}")
    return str(path)


def prove_json(*args: str) -> dict:
    r = run("prove", *args, "-o", "json")
    assert r.exit_code in (0, 1), r.output
    return validate(r.stdout, "prove")


def test_isolation_of_a_namespace_that_does_not_exist_warns_and_fails_under_strict():
    r = run("prove", "--check", "isolation", "--namespace", "nosuch", DEMO)
    assert r.exit_code == 0, r.output
    assert r.stdout.count("warning: from and to (namespace nosuch) match no endpoint of the input") == 2
    assert "2 with warnings" in r.stdout
    strict = run("prove", "--strict", "--check", "isolation", "--namespace", "nosuch", DEMO)
    assert strict.exit_code == 1 and "error: from and to (namespace nosuch)" in strict.stdout


def test_selector_typo_warns_in_text_and_json(tmp_path):
    path = spec(tmp_path, TYPO)
    r = run("prove", "--spec", path, DEMO)
    assert r.exit_code == 0 and r.stdout.startswith("PROVED"), r.output
    assert "warning: from (pods ap == 'frontend') matches no endpoint of the input" in r.stdout
    assert run("prove", "--strict", "--spec", path, DEMO).exit_code == 1
    data = prove_json("--spec", path, DEMO)
    assert data["results"][0]["warnings"] == ["from (pods ap == 'frontend') matches no endpoint of the input"]
    assert data["warnings"] == ["typo: from (pods ap == 'frontend') matches no endpoint of the input"]


def test_selector_typo_warns_in_junit_and_fails_there_under_strict(tmp_path):
    path = spec(tmp_path, TYPO)
    r = run("prove", "--spec", path, DEMO, "-o", "junit")
    case = ET.fromstring(r.stdout).find("testcase")
    assert case.find("failure") is None and "matches no endpoint" in case.find("system-out").text
    assert "warning: typo: from (pods ap == 'frontend')" in r.stderr  # for the CI log
    r = run("prove", "--strict", "--spec", path, DEMO, "-o", "junit")
    suite = ET.fromstring(r.stdout)
    assert r.exit_code == 1 and suite.get("failures") == "1"
    assert "matches no endpoint" in suite.find("testcase/failure").get("message")


def test_selector_typo_warns_in_sarif_at_the_requirement(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the source root: the spec is under it, the manifests are not
    (tmp_path / ".git").mkdir()
    path = spec(tmp_path, TYPO)
    demo = str(Path(__file__).resolve().parents[1] / DEMO)
    for strict, level in ((False, "warning"), (True, "error")):
        r = run("prove", *(["--strict"] if strict else []), "--spec", path, demo, "-o", "sarif")
        [result] = json.loads(r.stdout)["runs"][0]["results"]
        assert result["ruleId"] == "typo" and result["level"] == level
        assert "matches no endpoint" in result["message"]["text"]
        loc = result["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"]["uri"] == "spec.yaml" and loc["region"]["startLine"] == 5


def test_allow_over_pods_that_do_not_exist_warns(tmp_path):
    path = spec(tmp_path, "- id: ghost\n"
                          "  allow: {from: {pods: [boutique/ghost]}, to: {selector: \"app == 'cartservice'\"}}\n")
    [res] = prove_json("--spec", path, DEMO)["results"]
    assert res["status"] == "proved"
    assert res["warnings"] == ["from (boutique/ghost) matches no endpoint of the input"]


def test_isolated_selecting_nothing_warns(tmp_path):
    path = spec(tmp_path, "- id: iso\n  isolated: {namespace: boutique, selector: \"app == 'nosuch'\"}\n")
    [res] = prove_json("--spec", path, DEMO)["results"]
    assert res["status"] == "proved"
    assert res["warnings"] == ["isolated (namespace boutique; pods app == 'nosuch') matches no endpoint of the input"]


def test_peers_that_match_give_no_warning(tmp_path):
    """The demo spec's peers all match; a missing `from` is any endpoint, and a `cidr:` peer denotes addresses."""
    assert all(res["warnings"] == [] for res in prove_json("--spec", SPEC, DEMO)["results"])
    path = spec(tmp_path, "- id: out\n  deny: {to: {cidr: [203.0.113.0/24]}, ports: ['TCP/25']}\n"
                          "- id: v6\n  deny: {from: {cidr: ['2001:db8::/64']}, to: {namespace: boutique}}\n")
    data = prove_json("--spec", path, DEMO)
    assert [res["warnings"] for res in data["results"]] == [[], []] and data["warnings"] == []


def test_any_workload_scope_warns_only_when_no_possible_pod_matches(tmp_path):
    """A selector that no pod of today matches still denotes the pods that could carry its labels; a
    contradictory selector, or a pod that does not exist, denotes nothing in either scope."""
    path = spec(tmp_path, TYPO + "- id: never\n  deny: {to: {selector: \"app == 'a' && app == 'b'\"}}\n"
                                 "- id: ghost\n  deny: {to: {pods: [boutique/ghost]}}\n", scope="any-workload")
    res = {x["id"]: x for x in prove_json("--spec", path, DEMO)["results"]}
    assert res["typo"]["warnings"] == []
    assert res["never"]["warnings"] == ["to (pods app == 'a' && app == 'b') matches no endpoint that exists or "
                                        "could be deployed"]
    assert res["ghost"]["warnings"] == ["to (boutique/ghost) matches no endpoint that exists or could be deployed"]
