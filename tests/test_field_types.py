"""Fields of the wrong type or out of the API's limits: a located error (exit 2), never read as absent.

Covers a `spec`, `status` or container of the wrong type, policy types that are not strings, a Service's
`clusterIP` and port names, `global()` outside a rule's namespaceSelector, and AdminNetworkPolicy limits.
"""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from reasoner.cli import main

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}]},
       "status": {"podIP": "10.0.0.10"}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.20",
                    "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
CNP = {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "shop"},
       "spec": {"selector": "app == 'web'", "ingress": [{"action": "Allow", "source": {"selector": "all()"}}]}}
GNP = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": "p"},
       "spec": {"selector": "all()", "types": ["Ingress"]}}
NETSET = {"apiVersion": "projectcalico.org/v3", "kind": "NetworkSet", "metadata": {"name": "s", "namespace": "shop"},
          "spec": {"nets": ["192.0.2.0/24"]}}
NP = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": "shop"},
      "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}
ANP = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy", "metadata": {"name": "a"},
       "spec": {"priority": 10, "subject": {"namespaces": {}},
                "ingress": [{"name": "r", "action": "Deny", "from": [{"namespaces": {}}]}]}}


def edited(doc: dict, path: tuple, value) -> dict:
    out = yaml.safe_load(yaml.safe_dump(doc))
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


def run(tmp_path, doc: dict):
    """connectivity over the namespace, the pod and `doc` (which replaces the pod when it is one)."""
    docs = [NS, doc] if doc["kind"] == "Pod" else [NS, POD, doc]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False, width=1 << 20))
    return CliRunner().invoke(main, ["connectivity", str(tmp_path)])


def refused(result, field: str, words: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors, result.stderr
    assert any(f": {field}: " in line and words in line and "c.yaml:" in line for line in errors), errors


@pytest.mark.parametrize("doc,path,value,field,words", [
    (GNP, ("spec",), -1, "spec", "expected a mapping, got -1"),
    (POD, ("spec",), -1, "spec", "expected a mapping, got -1"),
    (POD, ("status",), True, "status", "expected a mapping, got true"),
    (POD, ("spec", "containers", 0), -1, "spec.containers[0]", "expected a mapping, got -1"),
    (SERVICE, ("spec",), 0, "spec", "expected a mapping, got 0"),
    (NETSET, ("spec",), ["junk"], "spec", "expected a mapping, got a list"),
    (CNP, ("spec",), True, "spec", "expected a mapping, got true"),
    (CNP, ("spec", "ingress", 0, "source"), "x", "spec.ingress[0].source", "expected a mapping"),
])
def test_a_field_of_the_wrong_type_is_refused_not_read_as_absent(tmp_path, doc, path, value, field, words):
    refused(run(tmp_path, edited(doc, path, value)), field, words)


@pytest.mark.parametrize("doc,key", [(NP, "policyTypes"), (GNP, "types")])
@pytest.mark.parametrize("value", [["x"], {"a": "b"}, 7])
def test_a_policy_type_that_is_not_a_string_is_refused(tmp_path, doc, key, value):
    refused(run(tmp_path, edited(doc, ("spec", key), [value])), f"spec.{key}[0]", "unknown policy type")


@pytest.mark.parametrize("ip", ["10.96.0.300", "x" * 100_000, "10.96.0.0/24", "web"])
def test_an_invalid_cluster_ip_is_refused(tmp_path, ip):
    refused(run(tmp_path, edited(SERVICE, ("spec", "clusterIP"), ip)), "spec.clusterIP", "is not an IP address")


@pytest.mark.parametrize("ip", ["None", "", "10.96.0.21", "fd00::20"])
def test_a_valid_cluster_ip_is_read(tmp_path, ip):
    result = run(tmp_path, edited(SERVICE, ("spec", "clusterIP"), ip))
    assert result.exit_code in (0, 1), result.output


@pytest.mark.parametrize("name", ["a\x00\x07b", "HTTP", "-http", "a" * 64])
def test_a_bad_service_port_name_is_refused(tmp_path, name):
    refused(run(tmp_path, edited(SERVICE, ("spec", "ports", 0, "name"), name)), "spec.ports[0].name",
            "invalid port name")


def test_a_service_port_name_is_a_dns_label_not_an_iana_name(tmp_path):
    """Longer than an IANA service name's 15 characters, and all digits: both valid DNS-1123 labels."""
    svc = edited(SERVICE, ("spec", "ports"), [{"name": "metrics-and-health", "port": 80, "targetPort": "http"},
                                              {"name": "8080", "port": 8080, "targetPort": 8080}])
    result = run(tmp_path, svc)
    assert result.exit_code in (0, 1), result.output


@pytest.mark.parametrize("doc,path,field", [
    (CNP, ("spec", "selector"), "spec.selector"), (GNP, ("spec", "selector"), "spec.selector"),
    (GNP, ("spec", "namespaceSelector"), "spec.namespaceSelector"),
    (GNP, ("spec", "serviceAccountSelector"), "spec.serviceAccountSelector"),
    (CNP, ("spec", "ingress", 0, "source", "selector"), "spec.ingress[0].source.selector"),
])
@pytest.mark.parametrize("text", ["global()", "global() || app == 'web'"])
def test_global_outside_a_rule_namespace_selector_is_refused(tmp_path, doc, path, field, text):
    refused(run(tmp_path, edited(doc, path, text)), field, "global() is only valid in a rule's namespaceSelector")


def test_global_in_a_rule_namespace_selector_is_read(tmp_path):
    result = run(tmp_path, edited(CNP, ("spec", "ingress", 0, "source"), {"namespaceSelector": "global()"}))
    assert result.exit_code in (0, 1), result.output


@pytest.mark.parametrize("path,value,field,words", [
    (("spec", "ingress", 0, "name"), "r" * 101, "spec.ingress[0].name", "at most 100 characters (has 101)"),
    (("spec", "ingress"), [{"action": "Deny", "from": [{"namespaces": {}}]}] * 101, "spec.ingress",
     "has 101 rules; at most 100"),
    (("spec", "egress"), [{"action": "Deny", "to": [{"namespaces": {}}]}] * 101, "spec.egress",
     "has 101 rules; at most 100"),
    (("spec", "ingress", 0, "from"), [{"namespaces": {}}] * 101, "spec.ingress[0].from", "needs 1 to 100 peers"),
    (("spec", "ingress", 0, "ports"), [], "spec.ingress[0].ports", "needs 1 to 100 ports"),
    (("spec", "ingress", 0, "ports"), [{"portNumber": {"port": 80}}] * 101, "spec.ingress[0].ports",
     "needs 1 to 100 ports"),
    (("spec", "egress"), [{"action": "Deny", "to": [{"networks": [f"10.0.{i}.0/24" for i in range(26)]}]}],
     "spec.egress[0].to[0].networks", "needs 1 to 25 CIDRs"),
    (("spec", "priority"), 1001, "spec.priority", "out of range"),
])
def test_admin_network_policy_limits_are_enforced(tmp_path, path, value, field, words):
    refused(run(tmp_path, edited(ANP, path, value)), field, words)


def test_admin_network_policy_at_its_limits_is_read(tmp_path):
    anp = edited(ANP, ("spec", "ingress", 0, "name"), "r" * 100)
    anp = edited(anp, ("spec", "egress"), [{"action": "Deny", "to": [{"networks": [f"10.0.{i}.0/24"
                                                                                    for i in range(25)]}]}])
    result = run(tmp_path, anp)
    assert result.exit_code in (0, 1), result.output
