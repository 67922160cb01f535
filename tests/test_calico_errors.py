"""Bad Calico input: one clear line naming file, line, resource and field (exit 2), never a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from reasoner.cli import main

GNP = """apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: p
spec:
  selector: all()
  ingress:
  - RULE
"""


@pytest.mark.parametrize("rule,line,field,words", [
    ("action: Accept", 8, "spec.ingress[0].action", "unknown action 'Accept'"),
    ("{action: Allow, protocol: TCP, destination: {ports: ['90:80']}}", 8, "spec.ingress[0].destination.ports[0]",
     "is not a range"),
    ("{action: Allow, protocol: TCP, destination: {ports: [70000]}}", 8, "spec.ingress[0].destination.ports[0]",
     "out of range"),
    ("{action: Allow, destination: {notPorts: [22]}}", 8, "spec.ingress[0].destination.notPorts",
     "need protocol TCP, UDP or SCTP"),
    ("{action: Allow, protocol: ICMP, destination: {ports: [22]}}", 8, "spec.ingress[0].destination.ports",
     "need protocol TCP, UDP or SCTP"),
    ("{action: Allow, source: {selector: 'app = \"x\"'}}", 8, "spec.ingress[0].source.selector", "column 5"),
    ("{action: Allow, protocol: TCP, icmp: {type: 8}}", 8, "spec.ingress[0].icmp", "need protocol ICMP"),
    ("{action: Allow, protocol: FOO}", 8, "spec.ingress[0].protocol", "unknown protocol 'FOO'"),
    ("{action: Allow, source: {nets: [10.0.0.0/40]}}", 8, "spec.ingress[0].source.nets[0]", "not a CIDR"),
])
def test_bad_rule_is_reported_with_its_location(tmp_path, rule, line, field, words):
    f = tmp_path / "p.yaml"
    f.write_text(GNP.replace("RULE", rule))
    result = CliRunner().invoke(main, ["connectivity", str(tmp_path)])
    assert result.exit_code == 2, result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"error: {f}:{line}: GlobalNetworkPolicy p: {field}: "), err[0]
    assert words in err[0]
    assert "Traceback" not in result.output


def test_bad_policy_selector_names_the_column(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(GNP.replace("  selector: all()", "  selector: \"app == 'a' &&\"").replace("RULE", "action: Allow"))
    result = CliRunner().invoke(main, ["connectivity", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{f}:6: GlobalNetworkPolicy p: spec.selector: bad selector" in result.stderr
    assert "column 14" in result.stderr  # the end of the 13-character selector


def test_policy_in_a_tier_that_does_not_exist(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(GNP.replace("spec:\n", "spec:\n  tier: security\n").replace("RULE", "action: Allow"))
    result = CliRunner().invoke(main, ["connectivity", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{f}:6: GlobalNetworkPolicy p: spec.tier: tier 'security' does not exist" in result.stderr


def test_tier_with_unknown_default_action(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec: {defaultAction: Allow}\n")
    result = CliRunner().invoke(main, ["connectivity", str(tmp_path)])
    assert result.exit_code == 2
    assert "spec.defaultAction: unknown defaultAction 'Allow'" in result.stderr


def test_crd_form_is_read_like_the_v3_form(tmp_path):
    (tmp_path / "p.yaml").write_text(GNP.replace("projectcalico.org/v3", "crd.projectcalico.org/v1")
                                     .replace("RULE", "action: Deny").replace("all()", "app == 'a'")
                                     + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, labels: {app: a}}\n"
                                       "---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: x}\n")
    result = CliRunner().invoke(main, ["can", "x/b", "x/a", "--port", "80", "-f", str(tmp_path)])
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("entity,needle", [
    ("destination: {services: {name: web}, selector: \"app == 'x'\"}", "`selector` cannot be combined with `services`"),
    ("destination: {services: {name: web}, ports: [80]}", "`ports` cannot be combined with it"),
    ("destination: {services: {namespace: shop}}", "services.name"),
])
def test_services_matches_are_validated(tmp_path, entity, needle):
    from click.testing import CliRunner

    from reasoner.cli import main

    (tmp_path / "p.yaml").write_text(f"""apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {{name: p, namespace: shop}}
spec:
  selector: all()
  egress:
  - action: Allow
    {entity}
""")
    r = CliRunner().invoke(main, ["connectivity", str(tmp_path)])
    assert r.exit_code == 2 and needle in r.stderr and (":8:" in r.stderr or ":9:" in r.stderr), r.stderr


def test_a_global_policy_must_name_the_service_namespace(tmp_path):
    from click.testing import CliRunner

    from reasoner.cli import main

    (tmp_path / "p.yaml").write_text("""apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: p}
spec:
  selector: all()
  egress: [{action: Allow, destination: {services: {name: web}}}]
""")
    r = CliRunner().invoke(main, ["connectivity", str(tmp_path)])
    assert r.exit_code == 2 and "namespace" in r.stderr
