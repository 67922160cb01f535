"""One result model: lint makes its findings from the table of their kinds (`results.FINDINGS`), and the renderers
(json, sarif, `lint --help`, the README's table) describe the kinds from it; policies, rules and witness flows are
the same values in lint, prove and diff."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reasoner import api
from reasoner.results import FINDINGS, ChangeKind, PolicyRef, RuleRef, Severity, Status, Witness
from support.helpers import BASE, cli, pod
from test_layers import imports, under

ROOT = Path(__file__).resolve().parents[1]
DEFECTS = ROOT / "tests/data/lint-defects.yaml"


@pytest.fixture(scope="module")
def findings():
    return api.lint(api.analyse(api.load([str(DEFECTS)])))


def test_every_finding_has_a_kind_of_the_table_and_a_severity_that_kind_takes(findings):
    assert {f.kind for f in findings} >= {"conflicting-rule", "vacuous-policy", "shadowed-rule", "equal-order"}
    for f in findings:
        assert f.severity in FINDINGS[f.kind].severities, (f.kind, f.severity)
        assert (f.witness is not None) <= FINDINGS[f.kind].witness, f.kind
    vacuous = {f.severity for f in findings if f.kind == "vacuous-policy"}
    assert vacuous == {Severity.WARNING, Severity.ERROR}  # the usual one, and the one for "never"


def test_json_lists_the_evidence_of_each_kind_under_its_key():
    data = json.loads(cli("lint", "--fail-on", "never", "-o", "json", str(DEFECTS)).stdout)
    keys = {}
    for f in data["findings"]:
        for key in set(f["evidence"]) - {"witness"}:
            keys.setdefault(f["kind"], set()).add(key)
    assert keys["equal-order"] == {"same_order"} and keys["shadowed-rule"] == {"covered_by"}
    assert all(found == {FINDINGS[kind].evidence} for kind, found in keys.items())


def test_sarif_describes_each_kind_as_the_table_does():
    log = json.loads(cli("lint", "--fail-on", "never", "-o", "sarif", str(DEFECTS)).stdout)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert len(rules) >= 5
    for r in rules:
        kind = FINDINGS[r["id"]]
        assert (r["shortDescription"]["text"], r["fullDescription"]["text"], r["help"]["text"]) == (
            kind.short, kind.full, kind.help)


def test_lint_help_lists_every_kind_with_its_severities():
    text = cli("lint", "--help").stdout
    for name, kind in FINDINGS.items():
        assert re.search(rf"^ +{re.escape(name)} \({'/'.join(kind.severities)}\) +{re.escape(kind.short)}$", text,
                         re.M), name


def test_the_readme_table_has_every_kind_with_its_severities():
    section = (ROOT / "README.md").read_text().split("### `lint`", 1)[1].split("\n### ", 1)[0]
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| ([^|]+) \|", section, re.M))
    assert set(rows) == set(FINDINGS)
    for name, kind in FINDINGS.items():
        assert all(severity in rows[name] for severity in kind.severities), name


POLICY = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
"""


def test_a_rule_is_named_and_written_as_the_chains_of_can_show_it(tmp_path):
    path = tmp_path / "in.yaml"
    path.write_text("\n---\n".join([BASE, pod("x", "a", {"app": "a"}), pod("x", "b", {"app": "b"}), POLICY]))
    an = api.analyse(api.load([str(path)]))
    ((pol, rule),) = an.facts.rule_ids.values()
    line = path.read_text().splitlines().index("  - from: [{podSelector: {matchLabels: {app: a}}}]") + 1
    ref = RuleRef.of(pol, rule)
    assert ref == RuleRef(PolicyRef("NetworkPolicy", "x", "p", str(path), ref.policy.line), "ingress", 0, str(path),
                          line)
    assert str(ref) == f"NetworkPolicy x/p ingress[0] ({path}:{line})"
    assert ref.to_json() == {"policy": {"kind": "NetworkPolicy", "namespace": "x", "name": "p"},
                             "rule": {"direction": "ingress", "index": 0}, "file": str(path), "line": line}
    v = api.can(an, "x/a", "x/b", "TCP", 80)
    assert v.ingress.allowing == [ref]
    assert f"    {ref}" in cli("can", "x/a", "x/b", "--port", "80", "-f", str(path)).stdout.splitlines()


def test_a_witness_reads_as_a_flow():
    assert str(Witness("x/a", "x/b", "TCP", 80)) == "x/a -> x/b TCP/80"
    assert str(Witness("x/a", "ip:10.0.0.1", "ICMP", None, 8, 0)) == "x/a -> ip:10.0.0.1 ICMP"


def test_prove_and_diff_report_the_same_values():
    spec = api.spec(str(ROOT / "corpus/microservices-demo/spec.yaml"))
    results = api.prove(api.analyse(api.load([str(ROOT / "corpus/microservices-demo/manifests")])), spec)
    assert {r.status for r in results} == {Status.PROVED, Status.VIOLATED}
    assert all(isinstance(r.witness, Witness) for r in results if r.status == Status.VIOLATED and r.witness)
    case = ROOT / "corpus/diff-removed-policy"
    changes = api.diff(str(case / "old"), str(case / "new")).changes
    assert changes and all(c.kind in ChangeKind and isinstance(c.witness, Witness) for c in changes)


def test_the_result_values_import_only_the_model_and_the_errors():
    deps = imports()["reasoner.results"]
    assert deps and all(under(d, "reasoner.model", "reasoner.errors") for d in deps), deps
