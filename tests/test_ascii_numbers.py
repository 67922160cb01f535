"""Numbers the user types are ASCII digits only: `int()`, `str.isdigit()` and regex `\\d` also accept other
scripts (`٨٠` is 80 to Python, `²` is a digit to isdigit), which no Kubernetes or Calico tool reads as a number."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from reasoner.cli import main
from reasoner.errors import UsageError
from reasoner.repl.parse import _protocol, parse_flow

DEMO = "corpus/microservices-demo/manifests"


@pytest.mark.parametrize("text", ["٨٠", "８０/TCP", "TCP/٨٠", "80/UDP", "²"])
def test_the_repl_reads_ports_in_ascii_digits_only(text):
    if text == "80/UDP":  # the control: ASCII digits are read
        assert parse_flow(text).port == 80
        return
    with pytest.raises(UsageError):
        parse_flow(text)


@pytest.mark.parametrize("text", ["١٧", "６"])
def test_the_repl_reads_protocol_numbers_in_ascii_digits_only(text):
    with pytest.raises(UsageError):
        _protocol(text)
    assert _protocol("99") == "99"


def test_can_refuses_a_protocol_number_in_other_digits():
    r = CliRunner().invoke(main, ["can", "boutique/frontend", "boutique/cartservice", "--protocol", "١٧", "-f", DEMO])
    assert r.exit_code == 2, r.output
    assert "unknown protocol" in r.output


@pytest.mark.parametrize("port", ["TCP/٨٠", "TCP/８０-９０"])
def test_a_spec_port_in_other_digits_is_an_error_at_its_line(tmp_path, port):
    spec = tmp_path / "spec.yaml"
    spec.write_text("apiVersion: reasoner/v1\nkind: ComplianceSpec\nrequirements:\n"
                    "  - id: r\n    deny: {from: {namespace: boutique}, to: {namespace: boutique}, ports: ['"
                    + port + "']}\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["prove", "--spec", str(spec), DEMO])
    assert r.exit_code == 2, r.output
    assert "spec.yaml:5" in r.output and "is not a port" in r.output
