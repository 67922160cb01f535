"""The connectivity map names only ports a flow can have: no TCP, UDP or SCTP flow has port 0, so a Calico end that
allows every port but some (its port atoms start at 0) is listed from port 1, and 1-65535 is "all" — in every
renderer, in `can`'s listing of what is allowed and in the REPL."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from reasoner.cli import main
from reasoner.model.ports import ALL, port_sets
from support.helpers import pod

PODS = "\n---\n".join([pod("x", "a", {"app": "a"}, "10.0.0.1"), pod("x", "b", {"app": "b"}, "10.0.0.2")])
NOT_PORT_80 = """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: b-in}
spec:
  selector: app == 'b'
  types: [Ingress]
  ingress:
  - {action: Allow, protocol: TCP, destination: {notPorts: [80]}}
"""
DENY_80_ALLOW_REST = """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: b-in}
spec:
  selector: app == 'b'
  types: [Ingress]
  ingress:
  - {action: Deny, protocol: TCP, destination: {ports: [80]}}
  - {action: Allow, protocol: TCP}
"""
K8S_ALLOW_ALL = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-in, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  policyTypes: [Ingress]
  ingress: [{}]
"""
CALICO_ALL_TCP = """
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: b-in}
spec:
  selector: app == 'b'
  types: [Ingress]
  ingress:
  - {action: Allow, protocol: TCP}
"""


def manifests(tmp_path, policy: str) -> str:
    path = tmp_path / "m.yaml"
    path.write_text(PODS + "\n---\n" + policy)
    return str(path)


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), input=stdin)


def tcp_a_to_b(path: str) -> object:
    r = run("connectivity", "-o", "json", path)
    assert r.exit_code == 0, r.output
    (c,) = [c for c in json.loads(r.stdout)["connections"] if (c["src"], c["dst"]) == ("x/a", "x/b")]
    return {a["protocol"]: a["ports"] for a in c["allowed"]}["TCP"]


@pytest.mark.parametrize("policy", [NOT_PORT_80, DENY_80_ALLOW_REST], ids=["notPorts", "deny-then-allow"])
def test_a_calico_end_that_allows_all_but_port_80_starts_at_port_1(tmp_path, policy):
    path = manifests(tmp_path, policy)
    assert tcp_a_to_b(path) == [[1, 79], [81, 65535]]
    for fmt in ("text", "csv", "md", "dot"):
        out = run("connectivity", "-o", fmt, path).stdout
        assert "1-79,81-65535" in out and "0-79" not in out, (fmt, out)
    can = run("can", "x/a", "x/b", "-f", path)
    assert can.exit_code == 0 and can.stdout.startswith("ALLOWED  x/a -> x/b  TCP/1-79,81-65535 only"), can.output
    can_json = json.loads(run("can", "x/a", "x/b", "-f", path, "-o", "json").stdout)
    assert "0-79" not in json.dumps(can_json) and "[0, 79]" not in json.dumps(can_json)
    repl = run("repl", path, stdin="who-can-reach x/b\nreachable-from x/a\n").stdout
    rows = {tuple(line.split(None, 1)) for line in repl.splitlines() if line.startswith("x/")}
    assert {("x/a", "TCP 1-79,81-65535"), ("x/b", "TCP 1-79,81-65535")} <= rows and "0-79" not in repl, repl


@pytest.mark.parametrize("policy", [K8S_ALLOW_ALL, CALICO_ALL_TCP], ids=["k8s-allow-all", "calico-all-tcp"])
def test_every_port_from_1_is_all(tmp_path, policy):
    assert tcp_a_to_b(manifests(tmp_path, policy)) == "all"


def test_port_sets_clip_ported_protocols_to_1_65535():
    assert port_sets([("TCP", 0, 79), ("TCP", 81, 65535)], ("TCP",)) == {"TCP": [(1, 79), (81, 65535)]}
    assert port_sets([("UDP", 0, 65535), ("SCTP", 1, 65535)], ("UDP", "SCTP")) == {"UDP": ALL, "SCTP": ALL}
    assert port_sets([("TCP", 0, 0)], ("TCP",)) == {}  # port 0 alone: no TCP flow at all
    assert port_sets([("ICMP", 0, 255)], ("ICMP",)) == {"ICMP": [(0, 255)]}  # ICMP type 0 is a real type
