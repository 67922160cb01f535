"""AdminNetworkPolicy / BaselineAdminNetworkPolicy conformance scenarios of kubernetes-sigs/network-policy-api,
checked through `reasoner connectivity -o json`.

tests/anp_conformance/base.yaml is the upstream conformance cluster (four namespaces, two pods each).
Each tests/anp_conformance/cases/<case>.yaml holds the ANP/BANP (and NetworkPolicy) objects of one step
of an upstream Go test: a test that edits a policy midway (swaps rules, changes an action or a priority,
deletes a NetworkPolicy) gives one case per state. tests/anp_conformance/expected.yaml is the truth table,
transcribed by hand from the upstream `PokeServer(..., shouldConnect)` assertions; it is kept independent
of the engine and says nothing about pairs upstream does not probe.

For every case the CLI runs once, as a user would (`reasoner connectivity -o json base.yaml case.yaml`),
and every row of the case must hold: allowed <=> the pair's entry lists the protocol with a port range
containing the port (or "all"); a pair absent from the JSON allows nothing.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reasoner.cli import main

ANP_DIR = Path(__file__).parent / "anp_conformance"
BASE = ANP_DIR / "base.yaml"
CASES = ANP_DIR / "cases"
EXPECTED = ANP_DIR / "expected.yaml"
CASE_FILES = {p.stem: p for p in sorted(CASES.glob("*.yaml"))}

# Cases the engine is known to get wrong: case -> reason (each is a strict xfail, so a fix shows up).
XFAIL: dict[str, str] = {}


def _pods() -> set[str]:
    return {f"{d['metadata']['namespace']}/{d['metadata']['name']}"
            for d in yaml.safe_load_all(BASE.read_text()) if d and d.get("kind") == "Pod"}


def _rows() -> dict[str, list[dict]]:
    by_case: dict[str, list[dict]] = defaultdict(list)
    for row in yaml.safe_load(EXPECTED.read_text())["rows"]:
        by_case[row["case"]].append(row)
    return dict(by_case)


PODS = _pods()
ROWS = _rows()


def _params():
    for case in sorted(CASE_FILES):
        marks = [pytest.mark.xfail(strict=True, reason=XFAIL[case])] if case in XFAIL else []
        yield pytest.param(case, id=case, marks=marks)


def run_connectivity(case_file: Path) -> dict[tuple[str, str], list[dict]]:
    result = CliRunner().invoke(main, ["connectivity", "-o", "json", str(BASE), str(case_file)])
    assert result.exit_code == 0, (
        f"reasoner connectivity exited {result.exit_code}\n--- output ---\n{result.output}"
        + (f"\n--- exception ---\n{result.exception!r}" if result.exception else "")
    )
    data = json.loads(getattr(result, "stdout", result.output))
    assert isinstance(data, dict) and isinstance(data.get("connections"), list), "no `connections` list in the JSON"
    conns: dict[tuple[str, str], list[dict]] = {}
    for conn in data["connections"]:
        key = (conn["src"], conn["dst"])
        assert key not in conns, f"connection {key[0]} -> {key[1]} listed twice"
        assert isinstance(conn.get("allowed"), list), f"connection {key[0]} -> {key[1]}: `allowed` is not a list"
        conns[key] = conn["allowed"]
    return conns


def engine_allows(conns: dict[tuple[str, str], list[dict]], src: str, dst: str, protocol: str, port: int) -> bool:
    for item in conns.get((src, dst), []):
        if item["protocol"] != protocol:
            continue
        ports = item["ports"]
        if ports == "all" or any(lo <= port <= hi for lo, hi in ports):
            return True
    return False


def test_truth_table_is_well_formed():
    assert len(PODS) == 8, f"base.yaml should hold the 8 upstream pods, found {sorted(PODS)}"
    assert set(ROWS) == set(CASE_FILES), (
        f"cases without rows: {sorted(set(CASE_FILES) - set(ROWS))}; "
        f"rows without a case file: {sorted(set(ROWS) - set(CASE_FILES))}"
    )
    assert set(XFAIL) <= set(CASE_FILES), f"XFAIL names unknown cases: {sorted(set(XFAIL) - set(CASE_FILES))}"
    keys = Counter()
    for case, rows in ROWS.items():
        for row in rows:
            assert set(row) == {"case", "src", "dst", "protocol", "port", "allowed"}, f"{case}: bad row {row}"
            assert row["src"] in PODS and row["dst"] in PODS, f"{case}: unknown pod in {row}"
            assert row["src"] != row["dst"], f"{case}: self pair {row}"
            assert row["protocol"] in ("TCP", "UDP", "SCTP"), f"{case}: bad protocol in {row}"
            assert isinstance(row["port"], int) and 1 <= row["port"] <= 65535, f"{case}: bad port in {row}"
            assert isinstance(row["allowed"], bool), f"{case}: `allowed` must be true or false in {row}"
            keys[(case, row["src"], row["dst"], row["protocol"], row["port"])] += 1
    duplicates = [k for k, n in keys.items() if n > 1]
    assert not duplicates, f"rows given twice: {duplicates}"


@pytest.mark.parametrize("case", list(_params()))
def test_anp_conformance_case(case: str):
    conns = run_connectivity(CASE_FILES[case])
    wrong = []
    for row in ROWS[case]:
        got = engine_allows(conns, row["src"], row["dst"], row["protocol"], row["port"])
        if got != row["allowed"]:
            want = "ALLOWED" if row["allowed"] else "DENIED"
            wrong.append(f"  {row['src']} -> {row['dst']} {row['protocol']}/{row['port']}: upstream expects {want}, "
                         f"engine {'allows' if got else 'denies'}")
    assert not wrong, f"{case}: {len(wrong)} of {len(ROWS[case])} upstream assertions differ\n" + "\n".join(wrong)
