"""Every corpus scenario: the connectivity map and the `can` spot checks match expected.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reasoner.cli import main
from support.helpers import diff_rows

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SCENARIOS = sorted(p.parent for p in CORPUS.glob("*/expected.yaml"))


def _expected(path: Path) -> dict:
    return yaml.safe_load((path / "expected.yaml").read_text())


def _normalise(allowed) -> dict:
    """{proto: "all" | [[lo, hi], ...]} from either the JSON list form or the expected mapping form."""
    if isinstance(allowed, list):
        allowed = {a["protocol"]: a["ports"] for a in allowed}
    return {p: v if v == "all" else [list(r) for r in v] for p, v in allowed.items()}


def test_corpus_has_the_required_scenarios():
    assert len(SCENARIOS) >= 8


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_connectivity_matches_expected_when_scenario_is_mapped(scenario: Path):
    expected = _expected(scenario)
    if "connectivity" not in expected:
        pytest.skip("no connectivity table for this scenario")
    result = CliRunner().invoke(main, ["connectivity", "-o", "json", str(scenario / "manifests")])
    assert result.exit_code == 0, result.output
    got_all = json.loads(result.stdout)["connections"]
    endpoints = set(expected["connectivity"]["endpoints"])
    got = {(c["src"], c["dst"]): _normalise(c["allowed"]) for c in got_all
           if c["src"] in endpoints and c["dst"] in endpoints}
    want = {(c["src"], c["dst"]): _normalise(c["allowed"]) for c in expected["connectivity"]["connections"] or []}
    missing = {k: v for k, v in want.items() if got.get(k) != v}
    extra = {k: v for k, v in got.items() if k not in want}
    assert not missing and not extra, f"differs: expected-but-not-got {missing}; got-but-not-expected {extra}"


def _can_cases():
    for scenario in SCENARIOS:
        for i, case in enumerate(_expected(scenario).get("can") or []):
            yield pytest.param(scenario, case, id=f"{scenario.name}-{i}")


@pytest.mark.parametrize("scenario,case", list(_can_cases()))
def test_can_answers_as_expected_when_spot_checked(scenario: Path, case: dict):
    args = ["can", case["src"], case["dst"], "-f", str(scenario / "manifests")]
    if case.get("port") is not None:
        args += ["--port", str(case["port"])]
    if case.get("protocol"):
        args += ["--protocol", case["protocol"]]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == (0 if case["allowed"] else 1), result.output
    assert result.stdout.split()[0] == ("ALLOWED" if case["allowed"] else "DENIED")


def _prove_cases():
    for scenario in SCENARIOS:
        for i, case in enumerate(_expected(scenario).get("prove") or []):
            yield pytest.param(scenario, case, id=f"{scenario.name}-{case['spec']}-{case.get('scope', 'spec')}")


def test_corpus_has_the_required_specs():
    cases = [c for _, c in (p.values for p in _prove_cases())]
    assert len({(s, c["spec"]) for s, c in (p.values for p in _prove_cases())}) >= 5
    # one requirement that today's pods satisfy and a pod deployed tomorrow could break
    by_spec: dict = {}
    for case in cases:
        for rid, status in case["results"].items():
            by_spec.setdefault((case["spec"], rid), {})[case.get("scope", "inventory")] = status
    assert any(v.get("inventory") == "proved" and v.get("any-workload") == "violated" for v in by_spec.values())


@pytest.mark.parametrize("scenario,case", list(_prove_cases()))
def test_prove_results_are_as_expected_and_witnesses_replay(scenario: Path, case: dict):
    args = ["prove", "--spec", str(scenario / case["spec"]), str(scenario / "manifests"), "-o", "json"]
    if case.get("scope"):
        args += ["--scope", case["scope"]]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1), result.output
    got = {r["id"]: r for r in json.loads(result.stdout)["results"]}
    assert {k: v["status"] for k, v in got.items()} == case["results"]
    assert result.exit_code == (0 if all(s == "proved" for s in case["results"].values()) else 1)
    for r in got.values():
        w = r.get("witness")
        if r["status"] != "violated" or w is None or w.get("newPods"):
            continue  # a witness with a pod that does not exist was replayed on the widened inventory by prove
        args = ["can", w["src"], w["dst"], "-f", str(scenario / "manifests"), "--protocol", w["protocol"]]
        if w["port"] is not None:
            args += ["--port", str(w["port"])]
        replay = CliRunner().invoke(main, args)
        want_allowed = r["kind"] != "allow"
        assert replay.exit_code == (0 if want_allowed else 1), (r["id"], replay.output)


DIFFS = sorted(p.parent for p in CORPUS.glob("diff-*/expected.yaml"))


def test_corpus_has_the_required_version_pairs():
    assert len(DIFFS) >= 6


@pytest.mark.parametrize("case", [pytest.param((d, c), id=f"{d.name}-{c['scope']}")
                                  for d in DIFFS for c in _expected(d)["diff"]])
def test_diff_matches_expected_and_witnesses_differ(case):
    scenario, expected = case
    result = CliRunner().invoke(main, ["diff", str(scenario / "old"), str(scenario / "new"),
                                       "--scope", expected["scope"], "-o", "json"])
    assert result.exit_code == (0 if expected["equivalent"] else 1), result.output
    data = json.loads(result.stdout)
    assert data["equivalent"] == expected["equivalent"]
    if expected["equivalent"]:
        assert "unsat" in (data["proof"] or "")
    if "rows" in expected:
        pods = {(r["src"], r["dst"], r["protocol"], r["change"], json.dumps(r["ports"])) for r in expected["rows"] or []}
        def named(end: str) -> bool:  # a pod or a host endpoint, not an address range
            return not end.startswith("cidr:")
        internal = {r for r in diff_rows(data) if named(r[0]) and named(r[1])}
        assert internal == pods
    if not data["changes"] or expected["scope"] != "inventory":
        return
    from reasoner import api
    from reasoner.diff.versions import cluster_of, complete, read_version
    from reasoner.query.can import can

    (old_docs, _), (new_docs, _) = read_version(str(scenario / "old")), read_version(str(scenario / "new"))
    old = api.analyse(cluster_of(complete(old_docs, new_docs)))
    new = api.analyse(cluster_of(complete(new_docs, old_docs)))
    for c in data["changes"]:  # each witness, replayed on both versions, really differs
        w = c["witness"]
        port = w.get("port")
        args = (w["protocol"], port, w.get("icmpType"), w.get("icmpCode"))
        before, after = can(old, w["src"], w["dst"], *args), can(new, w["src"], w["dst"], *args)
        assert before.allowed != after.allowed and after.allowed == (c["change"] == "newly-allowed"), w


STAGED = [s for s in SCENARIOS if "diff_staged" in _expected(s)]


@pytest.mark.parametrize("case", [pytest.param((s, c), id=f"{s.name}-staged-{c['scope']}")
                                  for s in STAGED for c in _expected(s)["diff_staged"]])
def test_diff_staged_matches_expected(case):
    """`diff --staged manifests/`: what enforcing the scenario's staged policies changes (witnesses are replayed
    on both versions inside diff)."""
    scenario, expected = case
    result = CliRunner().invoke(main, ["diff", "--staged", str(scenario / "manifests"), "--scope", expected["scope"],
                                       "-o", "json"])
    assert result.exit_code == (0 if expected["equivalent"] else 1), result.output
    data = json.loads(result.stdout)
    assert data["equivalent"] == expected["equivalent"]
    rows = {(r["src"], r["dst"], r["protocol"], r["change"], json.dumps(r["ports"]))
            for r in expected["rows"] or []}
    assert {r for r in diff_rows(data) if not r[0].startswith("cidr:") and not r[1].startswith("cidr:")} == rows


LINTED = sorted(p for p in SCENARIOS if (p / "manifests").is_dir())


def test_every_scenario_has_lint_expectations_and_five_are_seeded():
    assert all("lint" in _expected(s) for s in LINTED), [s.name for s in LINTED if "lint" not in _expected(s)]
    seeded = [s for s in LINTED if s.name.startswith("lint-") and _expected(s)["lint"]]
    assert len(seeded) >= 5
    kinds = {f["kind"] for s in seeded for f in _expected(s)["lint"]}
    assert kinds >= {"shadowed-rule", "conflicting-rule", "redundant-rule", "redundant-policy", "vacuous-policy",
                     "dead-peer", "unresolved-named-port", "equal-order", "pass-in-last-tier"}


@pytest.mark.parametrize("scenario", LINTED, ids=[s.name for s in LINTED])
def test_lint_finds_exactly_the_expected_defects(scenario: Path):
    result = CliRunner().invoke(main, ["lint", "-o", "json", "--fail-on", "never", str(scenario / "manifests")])
    assert result.exit_code == 0, result.output
    got = {(f["kind"], str(Path(f["file"]).relative_to(scenario)) if f["file"] else "", f["line"])
           for f in json.loads(result.stdout)["findings"] if f["severity"] in ("error", "warning")}
    want = {(f["kind"], f["file"], f["line"]) for f in _expected(scenario)["lint"] or []}
    assert got == want, f"missing {want - got}; unexpected {got - want}"
