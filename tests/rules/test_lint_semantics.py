"""rules/lint.dl and reasoner/lint.py on a scenario seeded with one defect of each kind (tests/data/lint-defects.yaml):
every lint relation holds somewhere, each finding has the right kind and location, witnesses replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reasoner import api
from reasoner.cli import main
from reasoner.engine.datalog import columns, derived_relations, rule_clauses, rule_texts
from reasoner.lint import lint
from reasoner.query.can import can

DEFECTS = Path(__file__).resolve().parents[1] / "data" / "lint-defects.yaml"


def line_of(text: str) -> int:
    return next(i for i, line in enumerate(DEFECTS.read_text().splitlines(), 1) if text in line)


@pytest.fixture(scope="module")
def an():
    return api.analyse(api.load([str(DEFECTS)]))


@pytest.fixture(scope="module")
def findings(an):
    return lint(an)


def found(findings, kind):
    return {(f.location.line, f.severity) for f in findings if f.kind == kind}


def test_every_lint_relation_holds_in_the_seeded_scenario(an):
    rels = sorted({head for head, _body, _comment in rule_clauses(rule_texts()["lint.dl"])})
    derived = derived_relations()
    empty = [r for r in rels if not an.engine.ask(r, *([None] * len(columns(derived[r]))))]
    assert not empty, f"lint relations with no tuple: {empty}"


def test_conflicting_rules_are_errors_with_witnesses(an, findings):
    conflicts = {f.location.line: f for f in findings if f.kind == "conflicting-rule"}
    by_deny = line_of("- {action: Allow, protocol: TCP, source: {selector: \"app == 'a'\"}}")
    by_tier = line_of("ingress: [{action: Allow, source: {selector: \"app == 'a'\"}}]")
    assert set(conflicts) == {by_deny, by_tier}
    f = conflicts[by_deny]  # an Allow that an earlier Deny rule always beats
    assert f.severity == "error"
    assert f.evidence[0].ref.line == line_of("- {action: Deny, source: {selector: \"app == 'a'\"}}")
    w = f.witness
    v = can(an, w.src, w.dst, w.protocol, w.port)
    assert not v.allowed and any(st.action == "Deny" and st.rule is not None for st in v.ingress.steps)
    f = conflicts[by_tier]  # an Allow in a tier after one that always ends with its default Deny
    assert "tier sec" in f.evidence[0].message
    w = f.witness
    v = can(an, w.src, w.dst, w.protocol, w.port)
    assert not v.allowed and any(st.tier == "sec" and st.rule is None and st.action == "Deny" for st in v.ingress.steps)


def test_rule_after_a_broader_rule_of_the_same_action_is_shadowed(findings):
    (f,) = [f for f in findings if f.kind == "shadowed-rule"]
    assert f.location.line == line_of("- {action: Allow, source: {selector: \"app == 'a'\"}}")
    assert f.subject == "GlobalNetworkPolicy e-rules ingress[1]"
    assert "e-rules ingress[0]" in f.evidence[0].message


def test_duplicate_rules_are_redundant_given_the_other_and_needed_rules_are_not(findings):
    lines = {f.location.line for f in findings if f.kind == "redundant-rule"}
    text = DEFECTS.read_text().splitlines()
    dup = [i for i, line in enumerate(text, 1) if "from: [{podSelector: {matchLabels: {app: a}}}]" in line]
    assert set(dup) <= lines  # b-from-a, b-from-a-again, c-from-a [0] and [1]
    assert line_of("ingress: [{from: [{podSelector: {matchLabels: {app: b}}}], ports: [{port: http}]}]") not in lines
    assert {f.subject for f in findings if f.kind == "redundant-policy"} == {
        "NetworkPolicy x/b-from-a", "NetworkPolicy x/b-from-a-again"}


def test_vacuous_today_and_vacuous_forever(findings):
    assert found(findings, "vacuous-policy") == {(line_of("name: ghost"), "warning"), (line_of("name: never"), "error")}


def test_dead_peers_and_unresolved_named_ports(findings):
    assert {f.location.line for f in findings if f.kind == "dead-peer"} == {
        line_of("- from: [{podSelector: {matchLabels: {app: nobody}}}]"),
        line_of("- {action: Allow, source: {selector: \"app == 'nobody'\"}}")}
    (f,) = [f for f in findings if f.kind == "unresolved-named-port"]
    assert f.location.line == line_of("- ports: [{port: nohttp}]") and "nohttp" in f.message


def test_order_smells(findings):
    assert {f.subject for f in findings if f.kind == "equal-order"} == {
        "GlobalNetworkPolicy f-rules", "GlobalNetworkPolicy f-pass"}
    (f,) = [f for f in findings if f.kind == "pass-in-last-tier"]
    assert f.location.line == line_of("egress: [{action: Pass, destination: {selector: \"app == 'e'\"}}]")


def test_missing_default_deny_is_information_per_namespace(findings):
    info = [f for f in findings if f.kind == "missing-default-deny"]
    assert info and all(f.severity == "info" for f in info)
    assert any(f.subject == "Namespace y" and "for egress" in f.message for f in info)


def test_cli_outputs_and_fail_on():
    r = CliRunner().invoke(main, ["lint", str(DEFECTS)])
    assert r.exit_code == 1 and "conflicting-rule" in r.stdout  # an error: fails by default
    r = CliRunner().invoke(main, ["lint", "--fail-on", "never", "-o", "json", str(DEFECTS)])
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["summary"]["error"] == 3
    sarif = json.loads(CliRunner().invoke(main, ["lint", "-o", "sarif", str(DEFECTS)]).stdout)
    res = sarif["runs"][0]["results"]
    conflict = next(x for x in res if x["ruleId"] == "conflicting-rule")
    assert conflict["level"] == "error" and conflict["relatedLocations"]
    clean = CliRunner().invoke(main, ["lint", "--fail-on", "warning", "corpus/deny-all/manifests"])
    assert clean.exit_code == 0, clean.output


def test_any_workload_scope_tells_today_only_findings_apart(tmp_path):
    """A peer that matches no pod today matches a pod that could be deployed; a contradictory one never does."""
    (tmp_path / "p.yaml").write_text("""
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: x, labels: {app: db}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: x}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
  - from: [{podSelector: {matchExpressions: [{key: app, operator: In, values: [a]}, {key: app, operator: NotIn, values: [a]}]}}]
""")
    r = CliRunner().invoke(main, ["lint", "--scope", "any-workload", "--fail-on", "never", "-o", "json", str(tmp_path)])
    assert r.exit_code == 0, r.output
    dead = {f["line"]: f["scope"] for f in json.loads(r.stdout)["findings"] if f["kind"] == "dead-peer"}
    assert dead == {14: "inventory-only", 15: "any-workload"}


def test_json_findings_name_policy_and_rule_and_list_covering_rules_and_witness():
    r = CliRunner().invoke(main, ["lint", "--fail-on", "never", "-o", "json", str(DEFECTS)])
    findings = json.loads(r.stdout)["findings"]
    line = line_of("- {action: Allow, protocol: TCP, source: {selector: \"app == 'a'\"}}")
    (f,) = [f for f in findings if f["kind"] == "conflicting-rule" and f["line"] == line]
    assert f["policy"] == {"kind": "GlobalNetworkPolicy", "namespace": None, "name": "f-rules"}
    assert f["rule"] == {"direction": "ingress", "index": 1}
    (by,) = f["evidence"]["covered_by"]
    assert (by["policy"]["name"], by["rule"], by["line"]) == (
        "f-rules", {"direction": "ingress", "index": 0}, line_of("- {action: Deny, source: {selector: \"app == 'a'\"}}"))
    assert {"src", "dst", "protocol", "port"} <= set(f["evidence"]["witness"])
    tier = next(f for f in findings if f["kind"] == "conflicting-rule" and f["line"] != line)
    assert [ref["policy"] for ref in tier["evidence"]["covered_by"]] == [{"kind": "Tier", "namespace": None, "name": "sec"}]
    vacuous = next(f for f in findings if f["kind"] == "vacuous-policy")
    assert vacuous["policy"]["kind"] and vacuous["rule"] is None  # a policy-level finding
    missing = next(f for f in findings if f["kind"] == "missing-default-deny")
    assert missing["policy"] is None and missing["rule"] is None  # a finding about no policy


ANPS = """
apiVersion: v1
kind: Namespace
metadata: {name: x}
---
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
---
# priority 10: allow-a and deny-all both apply to b's ingress, one Allows, the other Denies: a tie
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-a}
spec:
  priority: 10
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress: [{name: from-a, action: Allow, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-all}
spec:
  priority: 10
  subject: {namespaces: {}}
  ingress: [{name: all, action: Deny, from: [{namespaces: {}}]}]
---
# priority 20: two Allow-only policies on b commute: no tie
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-a-again}
spec:
  priority: 20
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress: [{name: from-a, action: Allow, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: allow-all}
spec:
  priority: 20
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress: [{name: all, action: Allow, from: [{namespaces: {}}]}]
---
# priority 30: an Allow on a and a Deny on b never apply to one endpoint: no tie
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: a-in}
spec:
  priority: 30
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}
  ingress: [{name: all, action: Allow, from: [{namespaces: {}}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: b-in}
spec:
  priority: 30
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: b}}}}
  ingress: [{name: all, action: Deny, from: [{namespaces: {}}]}]
"""


def test_admin_policies_of_equal_priority_that_can_decide_alike_flows_differently_are_a_tie(tmp_path):
    (tmp_path / "anps.yaml").write_text(ANPS)
    r = CliRunner().invoke(main, ["lint", "--fail-on", "never", "-o", "json", str(tmp_path)])
    assert r.exit_code == 0, r.output
    ties = {f["policy"]["name"]: f for f in json.loads(r.stdout)["findings"] if f["kind"] == "equal-order"}
    assert set(ties) == {"allow-a", "deny-all"}
    f = ties["allow-a"]
    assert f["severity"] == "warning" and f["rule"] is None and "same priority (10)" in f["message"]
    assert [ref["policy"] for ref in f["evidence"]["same_order"]] == [
        {"kind": "AdminNetworkPolicy", "namespace": None, "name": "deny-all"}]
