"""Every bad label and name of an object, and of a file, is reported (each on its own line, exit 2); and the
label-value and DNS-label syntax that manifests are checked against is the one `scope: any-workload` quantifies
over (z3), string for string."""

from __future__ import annotations

from pathlib import Path

import pytest
import z3
from click.testing import CliRunner

from reasoner.cli import main
from reasoner.properties.values import _DNS_LABEL, _LABEL_VALUE, Values
from reasoner.sources.fields import label_value_problem, name_problem


def errors_of(tmp_path: Path, text: str) -> tuple[Path, list[str]]:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    result = CliRunner().invoke(main, ["connectivity", str(f)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return f, result.stderr.strip().splitlines()


THREE_BAD_LABELS = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: p
  namespace: shop
spec:
  podSelector: {matchLabels: {app@b: x}}
  ingress:
  - from:
    - podSelector: {matchLabels: {$web: x}}
    - namespaceSelector: {matchLabels: {team: 'a b'}}
"""


def test_three_bad_labels_of_one_object_are_three_errors(tmp_path):
    f, lines = errors_of(tmp_path, THREE_BAD_LABELS)
    assert lines == [
        f"error: {f}:7: NetworkPolicy shop/p: spec.podSelector.matchLabels.app@b: invalid label key 'app@b': "
        "the name part must consist of alphanumeric characters, '-', '_' or '.', starting and ending with an "
        "alphanumeric character",
        f"error: {f}:10: NetworkPolicy shop/p: spec.ingress[0].from[0].podSelector.matchLabels.$web: invalid label "
        "key '$web': the name part must consist of alphanumeric characters, '-', '_' or '.', starting and ending "
        "with an alphanumeric character",
        f"error: {f}:11: NetworkPolicy shop/p: spec.ingress[0].from[1].namespaceSelector.matchLabels.team: invalid "
        "label value 'a b': must be empty or consist of alphanumeric characters, '-', '_' or '.', starting and "
        "ending with an alphanumeric character",
    ]


def test_every_bad_label_and_name_of_a_file_is_reported(tmp_path):
    text = """apiVersion: v1
kind: Pod
metadata:
  name: Web
  namespace: shop
  labels: {app@b: x, tier: 'two words', 1: x, ok: 2}
spec:
  containers:
  - name: c
    ports: [{name: HTTP, containerPort: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: Shop}
spec:
  selector:
    matchLabels: {app: -api}
  template:
    metadata: {labels: {app: api, a@b: 'x y'}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector:
    matchExpressions: [{key: a@b, operator: In, values: ['x y', 3]}]
"""
    f, lines = errors_of(tmp_path, text)
    fields = [line.split(": ")[3] for line in lines]
    assert fields == [
        "metadata.name", "metadata.labels.app@b", "metadata.labels.tier", "metadata.labels", "metadata.labels.ok",
        "spec.containers[0].ports[0].name",
        "metadata.namespace", "spec.template.metadata.labels.a@b", "spec.template.metadata.labels.a@b",
        "spec.selector.matchLabels.app",
        "spec.podSelector.matchExpressions[0].key", "spec.podSelector.matchExpressions[0].values[0]",
        "spec.podSelector.matchExpressions[0].values[1]",
    ], lines
    assert all(line.startswith(f"error: {f}:") for line in lines)


def test_an_object_with_a_bad_label_is_not_analysed(tmp_path):
    # the error is reported alone: the object is not added (no duplicate or follow-on errors)
    text = THREE_BAD_LABELS.split("spec:")[0] + "spec:\n  podSelector: {matchLabels: {app: 'a b'}}\n"
    f, lines = errors_of(tmp_path, text + "---\n" + text)
    assert len(lines) == 2 and all("spec.podSelector.matchLabels.app: invalid label value 'a b'" in x for x in lines)


# --- one syntax for manifests and for any-workload ----------------------------------------------------------------

SAMPLES = [
    "", "a", "Z", "7", "_", "-", ".", "ab", "a-b", "a_b", "a.b", "A.b-C_9", "a--b", "a..b",
    "-a", "a-", "_a", "a_", ".a", "a.", "Web", "web", "0web", "web0", "w@b", "a b", " a", "a ", "é", "aé", "a\n",
    "a" * 62, "a" * 63, "a" * 64, "a" + "-" * 61 + "b", "a" + "-" * 62 + "b", "A" * 63, "A" * 64, "9" * 63,
    "a" * 63 + "-", "a" * 100,
]


def short(text: str) -> str:
    return repr(text) if len(text) <= 12 else f"{text[:4]!r}..{text[-1]!r}({len(text)})"


def z3_accepts(regex: z3.ReRef, text: str) -> bool:
    verdict = z3.simplify(z3.InRe(z3.StringVal(text), regex))
    assert z3.is_true(verdict) or z3.is_false(verdict), verdict
    return z3.is_true(verdict)


@pytest.mark.parametrize("text", SAMPLES, ids=short)
def test_label_values_are_the_same_for_manifests_and_z3(text):
    assert (label_value_problem(text) is None) == z3_accepts(_LABEL_VALUE, text)


@pytest.mark.parametrize("text", SAMPLES, ids=short)
def test_dns_labels_are_the_same_for_manifests_and_z3(text):
    assert (name_problem(text, "label") is None) == z3_accepts(_DNS_LABEL, text)


@pytest.mark.parametrize("dns", [False, True], ids=["label value", "DNS label"])
def test_a_new_pod_may_have_a_value_of_63_characters_not_64(dns):
    values = Values([])
    values.stringy.add("label:app")
    constraints: list = []
    term = values.var("v", "label:app", constraints, dns)
    for length, verdict in ((63, z3.sat), (64, z3.unsat)):
        solver = z3.Solver()
        solver.add(*constraints, z3.Length(term) == length)
        assert solver.check() == verdict, length
