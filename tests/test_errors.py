"""Bad input: one clear line per problem naming file, line, resource and field; exit 2; no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reasoner.cli import main

NP = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: p
  namespace: shop
spec:
  podSelector: {}
  ingress:
  - from:
    - PEER
    ports:
    - PORT
"""


def run(tmp_path: Path, text: str, name: str = "bad.yaml"):
    f = tmp_path / name
    f.write_text(text)
    result = CliRunner().invoke(main, ["connectivity", str(tmp_path)])
    return f, result


def policy(peer: str = "podSelector: {}", port: str = "port: 80") -> str:
    return NP.replace("PEER", peer).replace("PORT", port)


@pytest.mark.parametrize("peer,port,line,field,words", [
    ("podSelector: {}", "port: 70000", 12, "spec.ingress[0].ports[0].port", "out of range"),
    ("podSelector: {}", "{port: 8080, endPort: 80}", 12, "spec.ingress[0].ports[0].endPort", "below port"),
    ("podSelector: {}", "{port: http, endPort: 90}", 12, "spec.ingress[0].ports[0].endPort", "named port"),
    ("podSelector: {}", "{port: 80, protocol: ICMP}", 12, "spec.ingress[0].ports[0].protocol", "unknown protocol"),
    ("podSelector: {}", "{port: Bad_Name}", 12, "spec.ingress[0].ports[0].port", "not a valid port name"),
    ("ipBlock: {cidr: 10.0.0.0/33}", "port: 80", 10, "spec.ingress[0].from[0].ipBlock.cidr", "not a CIDR"),
    ("ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}", "port: 80", 10,
     "spec.ingress[0].from[0].ipBlock.except[0]", "strict subset"),
    ("ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/16]}", "port: 80", 10,
     "spec.ingress[0].from[0].ipBlock.except[0]", "strict subset"),
    ("{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}", "port: 80", 10, "spec.ingress[0].from[0]", "may not be combined"),
    ("{}", "port: 80", 10, "spec.ingress[0].from[0]", "must specify a peer"),
    ("podSelector: {matchExpressions: [{key: a, operator: Equals, values: [b]}]}", "port: 80", 10,
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator", "invalid selector operator"),
    ("podSelector: {matchExpressions: [{key: a, operator: In}]}", "port: 80", 10,
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].values", "at least one value"),
    ("podSelector: {matchExpressions: [{key: a, operator: Exists, values: [b]}]}", "port: 80", 10,
     "spec.ingress[0].from[0].podSelector.matchExpressions[0].values", "takes no values"),
    ("podSelector: {matchLabels: {a: 1}}", "port: 80", 10,
     "spec.ingress[0].from[0].podSelector.matchLabels.a", "expected a string"),
    ("podSelector: []", "port: 80", 10, "spec.ingress[0].from[0].podSelector", "expected a mapping"),
])
def test_policy_error_names_file_line_resource_and_field(tmp_path, peer, port, line, field, words):
    f, result = run(tmp_path, policy(peer, port))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"error: {f}:{line}: NetworkPolicy shop/p: {field}: "), err[0]
    assert words in err[0]


def test_malformed_yaml_names_file_and_line(tmp_path):
    f, result = run(tmp_path, "apiVersion: v1\nkind: Pod\nmetadata: {name: a\n  labels: x\n")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {f}:")
    assert "malformed YAML" in result.stderr


def test_malformed_json_names_file_and_line(tmp_path):
    f, result = run(tmp_path, '{\n\t"apiVersion": "v1",\n\t"kind": "Pod",\n\t"metadata": {"name": "a",}\n}\n', "bad.json")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {f}:4:")
    assert "malformed JSON" in result.stderr


def test_missing_name_is_reported(tmp_path):
    f, result = run(tmp_path, "apiVersion: v1\nkind: Pod\nmetadata:\n  namespace: x\n")
    assert result.exit_code == 2
    assert "metadata.name: missing required field" in result.stderr


def test_directory_with_one_bad_file_names_that_file(tmp_path):
    (tmp_path / "good.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    f, result = run(sub, policy(port="port: 0"))
    result = CliRunner().invoke(main, ["connectivity", str(tmp_path)])
    assert result.exit_code == 2
    assert str(f) in result.stderr and "good.yaml" not in result.stderr


def test_every_error_is_reported_not_only_the_first(tmp_path):
    text = policy(port="port: 0") + "---\n" + policy(port="port: 99999").replace("name: p", "name: q")
    f, result = run(tmp_path, text)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 2


def test_missing_path_is_an_error(tmp_path):
    result = CliRunner().invoke(main, ["connectivity", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such file or directory" in result.stderr


def test_unknown_endpoint_in_can_is_a_usage_error(tmp_path):
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\n")
    result = CliRunner().invoke(main, ["can", "x/a", "x/zzz", "-f", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown endpoint 'x/zzz'" in result.stderr


def test_unknown_kinds_are_listed_and_skipped(tmp_path):
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\n---\n"
                                      "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    result = CliRunner().invoke(main, ["connectivity", str(tmp_path)])
    assert result.exit_code == 0
    assert "Widget (example.com/v1) is not supported; skipped" in result.stderr
    assert f"{tmp_path / 'a.yaml'}:5" in result.stderr


def test_input_files_are_not_modified(tmp_path):
    text = policy()
    f, result = run(tmp_path, text)
    assert f.read_text() == text
