"""A protocol the user writes (`can --protocol`, a REPL flow, a spec's ports) is read one way everywhere: a name in
any case or a number 0-255 in ASCII digits, a number with a name being that name (`17` is UDP, `047` is 47). And
what a map row allows is said only with the protocols of its analysis: no renderer guesses them."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from reasoner.model.calico import parse_protocol
from reasoner.query.verdict import Side, Verdict
from reasoner.repl.parse import _protocol
from reasoner.report import can as can_report
from reasoner.report import connectivity as connectivity_report
from support.helpers import CALICO_DENY_PROTO as DENY
from support.helpers import cli as run
from support.helpers import pod
from support.helpers import write_docs as write

PODS = [pod("a", "x", {"app": "x"}, "10.0.0.1"), pod("a", "y", {"app": "y"}, "10.0.0.2")]


@pytest.mark.parametrize("text, want", [
    ("tcp", "TCP"), ("ICMPV6", "ICMPv6"), ("udplite", "UDPLite"), ("17", "UDP"), ("136", "UDPLite"), ("6", "TCP"),
    ("47", "47"), ("047", "47"), ("0", "0"), ("255", "255"),
    ("256", None), ("-1", None), ("OTHER", None), ("", None), ("١٧", None), ("６", None), ("²", None),
    ("GRE", None)])
def test_parse_protocol(text, want):
    assert parse_protocol(text) == want


def test_the_repl_reads_a_number_with_a_name_as_that_name():
    assert _protocol("136") == _protocol("udplite") == "UDPLite"
    assert _protocol("047") == "47"


def test_can_reads_a_protocol_number_with_leading_zeros_as_that_number(tmp_path):
    path = write(tmp_path, *PODS, DENY.replace("PROTO", "47"))
    for asked in ("47", "047"):
        r = run("can", "a/x", "a/y", "--protocol", asked, "-f", path)
        assert r.exit_code == 1, (asked, r.output)
        assert r.stdout.splitlines()[0].split() == ["DENIED", "a/x", "->", "a/y", "47"]
    assert run("can", "a/x", "a/y", "--protocol", "48", "-f", path).exit_code == 0  # the control


def spec(tmp_path: Path, *ports: str) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text("apiVersion: reasoner/v1\nkind: ComplianceSpec\nrequirements:\n  - id: r\n"
                    f"    deny: {{from: {{pods: [a/x]}}, to: {{pods: [a/y]}}, ports: [{', '.join(ports)}]}}\n")
    return str(path)


@pytest.mark.parametrize("port", ["'17'", "'udp'", "'17/53'", "'UDP/53'"])
def test_a_spec_port_by_number_is_that_protocol(tmp_path, port):
    inputs = write(tmp_path, *PODS, DENY.replace("PROTO", "UDP"))
    r = run("prove", "--spec", spec(tmp_path, port), inputs)
    assert r.exit_code == 0, r.output  # UDP is denied: proved
    r = run("prove", "--spec", spec(tmp_path, "'TCP/53'"), inputs)
    assert r.exit_code == 1, r.output  # the control: TCP is not


def test_a_spec_port_takes_udplite_and_refuses_an_unknown_protocol(tmp_path):
    inputs = write(tmp_path, *PODS, DENY.replace("PROTO", "UDPLite"))
    assert run("prove", "--spec", spec(tmp_path, "UDPLite"), inputs).exit_code == 0
    r = run("prove", "--spec", spec(tmp_path, "'256'"), inputs)
    assert r.exit_code == 2 and "spec.yaml:5" in r.output and "unknown protocol '256'" in r.output, r.output


def test_the_protocols_of_the_analysis_are_always_given():
    for fn in (connectivity_report.allowed_text, connectivity_report.to_text, connectivity_report.to_md,
               connectivity_report.to_dot):
        assert inspect.signature(fn).parameters["protocols"].default is inspect.Parameter.empty, fn.__name__
    side = Side("egress", "a/x")
    with pytest.raises(TypeError):
        Verdict("a/x", "a/y", None, None, True, side, side, {"TCP": "all"})  # type: ignore[call-arg]
    v = Verdict("a/x", "a/y", None, None, True, side, side, {"TCP": "all", "UDP": "all", "SCTP": "all",
                                                            "ICMP": "all", "ICMPv6": "all", "OTHER": "all"},
                ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "47", "OTHER"))
    assert can_report.allowed_summary(v.ports, v.protocols) == "all traffic except 47"
