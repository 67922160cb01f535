"""Every `-o json` output of every corpus scenario validates against the JSON Schemas shipped in reasoner/contracts:
the connectivity map and lint of each scenario, prove of each spec (in its own scope), diff of each version pair in each scope."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import yaml
from jsonschema import ValidationError

from reasoner import api
from reasoner.diff.compare import diff
from reasoner.lint import lint
from reasoner.properties.prove import prove
from reasoner.properties.spec import load_spec
from reasoner.report import connectivity as connectivity_report
from reasoner.report import diff as diff_report
from reasoner.report import lint as lint_report
from reasoner.report import prove as prove_report
from support.contracts import SCHEMAS, SHIPPED, validate
from support.helpers import connections

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared" / "contracts"  # the contracts' source, beside the checkout where there is one

SCENARIOS = sorted(p.parent for p in CORPUS.glob("*/manifests"))
SPECS = sorted(p for s in SCENARIOS for p in s.glob("*.yaml")
               if p.name != "expected.yaml" and yaml.safe_load(p.read_text()).get("kind") == "ComplianceSpec")
PAIRS = [(d, case["scope"]) for d in sorted(CORPUS.glob("diff-*"))
         for case in yaml.safe_load((d / "expected.yaml").read_text())["diff"]]


@functools.cache
def analysis(scenario: Path) -> api.Analysis:
    return api.analyse(api.load([scenario / "manifests"]))


def test_the_shipped_contracts_are_the_six_schemas_and_their_readme():
    names = {p.name for p in SHIPPED.iterdir()}
    assert {"README.md", "common.schema.json", "connectivity.schema.json", "prove.schema.json", "diff.schema.json",
            "lint.schema.json", "exposure.schema.json"} <= names
    assert len(SCHEMAS) == 6


@pytest.mark.skipif(not SHARED.is_dir(), reason="no contracts directory beside the checkout")
def test_the_shipped_contracts_are_a_copy_of_the_shared_ones():
    """Every shared schema is shipped as it is; the package adds the schemas of its newer outputs, and its
    README lists them beside every line of the shared one."""
    shared = {p.name: p.read_bytes() for p in SHARED.glob("*.schema.json")}
    shipped = {name: SHIPPED.joinpath(name).read_bytes() for name in shared}
    assert shipped == shared
    readme = SHIPPED.joinpath("README.md").read_text(encoding="utf-8").splitlines()
    assert [line for line in SHARED.joinpath("README.md").read_text(encoding="utf-8").splitlines()
            if line not in readme] == []
    for extra in sorted({p.name for p in SHIPPED.glob("*.schema.json")} - set(shared)):
        assert any(f"`{extra}`" in line for line in readme), extra


def test_the_schemas_reject_an_output_that_breaks_the_contract():
    finding = {"kind": "shadowed-rule", "severity": "warning", "file": "p.yaml", "line": 3, "message": "m",
               "subject": "GlobalNetworkPolicy p ingress[1]", "evidence": []}
    with pytest.raises(ValidationError):
        validate(json.dumps({"findings": [finding]}), "lint")
    change = {"change": "allowed", "src": {"description": "x/a"}, "dst": "x/b", "src_endpoints": ["x/a"],
              "dst_endpoints": ["x/b"], "protocol": "TCP", "ports": [[80, 80]],
              "witness": {"src": "x/a", "dst": "x/b", "protocol": "TCP", "port": 80},
              "before": {"egress": [], "ingress": []}, "after": {"egress": [], "ingress": []}}
    with pytest.raises(ValidationError):
        validate(json.dumps({"equivalent": False, "scope": "inventory", "changes": [change]}), "diff")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_connectivity_and_lint_json_follow_the_contracts(scenario: Path):
    an = analysis(scenario)
    validate(connectivity_report.to_json(connections(an)), "connectivity")
    findings = validate(lint_report.to_json(lint(an)), "lint")["findings"]
    for f in findings:  # a rule is only ever named within its policy; every evidence reference names its policy
        assert f["rule"] is None or f["policy"] is not None, f
        refs = [ref for key, refs in f["evidence"].items() if key != "witness" for ref in refs]
        assert all(set(ref["policy"]) == {"kind", "namespace", "name"} for ref in refs), f


@pytest.mark.parametrize("scenario", ["calico-services", "services-dns", "microservices-demo"])
def test_the_service_view_follows_the_connectivity_contract(scenario: str):
    """`connectivity --by service -o json`: the contract's connections (a service as `svc:NS/NAME`, with the
    service ports that reach every backend), beside the rows in detail."""
    from reasoner.query.services import service_map
    from reasoner.report.connectivity import service_json

    rows = service_map(analysis(CORPUS / scenario))
    out = validate(json.dumps(service_json(rows)), "connectivity")
    assert out["connections"] and len(out["services"]) == len(rows)
    for conn, row in zip([c for c in out["connections"]], [r for r in rows if r.allowed]):
        assert conn["dst"] == f"svc:{row.service.ref}" and conn["src"] == row.src
        assert {(a["protocol"], p) for a in conn["allowed"] for lo, hi in a["ports"] for p in range(lo, hi + 1)} == \
            {(sp.protocol, sp.port) for sp in row.allowed}


@pytest.mark.parametrize("spec", SPECS, ids=[f"{s.parent.name}-{s.stem}" for s in SPECS])
def test_prove_json_follows_the_contract(spec: Path):
    validate(prove_report.to_json(prove(analysis(spec.parent), load_spec(spec))), "prove")


@pytest.mark.parametrize("pair,scope", PAIRS, ids=[f"{d.name}-{scope}" for d, scope in PAIRS])
def test_diff_json_follows_the_contract(pair: Path, scope: str):
    data = validate(diff_report.to_json(diff(str(pair / "old"), str(pair / "new"), scope=scope)), "diff")
    for c in data["changes"]:  # the witness is one of the flows the change stands for
        assert c["witness"]["src"] in c["src_endpoints"] or c["witness"]["src"].startswith("ip:")
        assert c["witness"]["dst"] in c["dst_endpoints"] or c["witness"]["dst"].startswith("ip:")
