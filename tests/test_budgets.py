"""Limits: seconds options take finite numbers in range, integer options ASCII digits, and any-workload scope
finds the pods that could be deployed within a time budget (a clock that jumps stands in for a slow search)."""

from __future__ import annotations

import itertools
import json

import pytest
import z3
from click.testing import CliRunner

from reasoner.cli import main
from reasoner.properties import kinds
from reasoner.properties.kinds import Budget, OutOfBudget, _enumerate

DEMO = "corpus/microservices-demo/manifests"
SPEC = "corpus/microservices-demo/spec.yaml"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def usage_error(r, option: str) -> str:
    """The one-line complaint about `option`, checked to be a usage error and not a traceback."""
    assert r.exit_code == 2, r.output
    assert isinstance(r.exception, SystemExit), r.exception  # not a crash
    lines = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and f"'{option}'" in lines[0], r.output
    return lines[0]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308", "1e400", "0", "-1", "0.0001", "86401", "abc",
                                   "1_0", "٣", " 3"])
def test_timeout_takes_only_finite_seconds_in_range(value):
    line = usage_error(run("prove", "--check", "default-deny", "--timeout", value, DEMO), "--timeout")
    assert "not a number of seconds (want 0.001 to 86400)" in line


@pytest.mark.parametrize("value", ["0.001", "2.5", "1e2", "86400"])
def test_timeout_takes_plain_seconds(value):
    r = run("prove", "--check", "default-deny", "--timeout", value, DEMO)
    assert r.exit_code in (0, 1), r.output


@pytest.mark.parametrize("command", [["prove", "--check", "default-deny", DEMO], ["lint", DEMO], ["diff", DEMO, DEMO]])
@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "0"])
def test_budget_takes_only_finite_seconds_in_range(command, value):
    line = usage_error(run(*command, "--scope", "any-workload", "--budget", value), "--budget")
    assert "not a number of seconds" in line


@pytest.mark.parametrize("option,value", [("--port", "٨٠"), ("--port", "８０"), ("--port", "²"), ("--port", "-80"),
                                          ("--icmp-type", "٣"), ("--icmp-code", "٠")])
def test_integer_options_take_ascii_digits_only(option, value):
    args = ["can", "boutique/cartservice", "boutique/redis-cart", "-f", DEMO, option, value]
    if option.startswith("--icmp"):
        args += ["--protocol", "ICMP"] + (["--icmp-type", "3"] if option == "--icmp-code" else [])
    line = usage_error(run(*args), option)
    assert "written with the digits 0-9" in line


@pytest.fixture
def jumpy_clock(monkeypatch):
    """A clock that moves `step` seconds each time it is read."""

    def install(step: float):
        ticks = itertools.count(0, step)
        monkeypatch.setattr(kinds, "monotonic", lambda: next(ticks))
    return install


def test_prove_any_workload_out_of_budget_is_unknown(jumpy_clock):
    jumpy_clock(1000)
    r = run("prove", "--spec", SPEC, "--scope", "any-workload", "--budget", "5", DEMO, "-o", "json")
    assert r.exit_code == 1, r.output
    results = json.loads(r.stdout)["results"]
    assert results and all(x["status"] == "unknown" for x in results)
    assert all("the time budget of 5 s ran out" in x["message"] for x in results)


def test_budget_running_out_part_way_never_gives_a_proof(jumpy_clock):
    """Some kinds are found, then the time is up: still no proof over the kinds found so far."""
    jumpy_clock(0.5)
    r = run("prove", "--check", "default-deny", "--scope", "any-workload", "--budget", "3", DEMO)
    assert r.exit_code == 1, r.output
    assert r.stdout.startswith("UNKNOWN") and "time budget of 3 s ran out" in r.stdout, r.stdout


def test_prove_any_workload_within_budget_is_decided():
    r = run("prove", "--check", "default-deny", "--scope", "any-workload", "--budget", "600", DEMO, "-o", "json")
    statuses = [x["status"] for x in json.loads(r.stdout)["results"]]
    assert statuses and all(s != "unknown" for s in statuses), r.output


def test_lint_any_workload_out_of_budget_says_so(jumpy_clock):
    jumpy_clock(1000)
    r = run("lint", "--scope", "any-workload", "--budget", "5", DEMO, "-o", "json")
    findings = json.loads(r.stdout)["findings"]
    scope = [f for f in findings if f["kind"] == "scope"]
    assert len(scope) == 1 and "time budget of 5 s ran out" in scope[0]["message"], r.output
    assert all(f["scope"] == "inventory" for f in findings if f["kind"] != "scope")


def test_diff_any_workload_out_of_budget_is_an_error(jumpy_clock):
    jumpy_clock(1000)
    r = run("diff", DEMO, DEMO, "--scope", "any-workload", "--budget", "5")
    assert r.exit_code == 2, r.output
    assert "error: any-workload: the time budget of 5 s ran out" in r.output


class _Undecided:
    """A solver that cannot decide (as z3 at its timeout): records the timeouts it was given."""

    def __init__(self):
        self.timeouts: list[int] = []

    def set(self, timeout: int) -> None:
        self.timeouts.append(timeout)

    def check(self, *assumptions):
        return z3.unknown

    def reason_unknown(self) -> str:
        return "canceled"


def test_enumeration_stops_with_an_error_when_z3_gives_up():
    """An undecided check must not end the enumeration quietly, as if every kind had been found."""
    solver = _Undecided()
    with pytest.raises(OutOfBudget, match=r"z3 gave up \(canceled\)"):
        list(_enumerate(solver, [z3.Bool("t")], 10, Budget(30)))
    assert solver.timeouts and all(0 < t <= 30_000 for t in solver.timeouts)
