"""Upstream Kubernetes network-policy e2e scenarios, checked against `reasoner connectivity -o json`.

The model (tests/netpol_e2e/model.yaml) is the upstream e2e cluster: namespaces x, y, z with pods
a, b, c, each serving ports 80 and 81 on TCP, UDP and SCTP through container ports named
serve-<port>-<protocol>. Each file in tests/netpol_e2e/cases/ is one upstream scenario (from
kubernetes/kubernetes test/e2e/network/netpol/network_policy.go, or cyclonus' cases in the same
model) with a hand-derived truth table:

    name: <upstream test name>
    policies: [<NetworkPolicy manifest>, ...]
    expect:
      - {port: 80, protocol: TCP, default: true, except: [[src, dst], ...]}
      - {port: 81, protocol: UDP, allowed: [[src, dst], ...]}

`default`/`except`: every ordered pair of distinct pods has verdict `default`, except the listed
pairs, which have the opposite verdict. `allowed`: exactly the listed pairs are allowed. `port` and
`protocol` may also be lists (the entry then applies to each combination). Pods are named `ns/pod`;
self pairs never appear.
"""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reasoner.cli import main

E2E_DIR = Path(__file__).parent / "netpol_e2e"
MODEL = E2E_DIR / "model.yaml"
CASE_FILES = sorted((E2E_DIR / "cases").glob("*.yaml"))


def _model_pods() -> list[str]:
    pods = []
    for doc in yaml.safe_load_all(MODEL.read_text()):
        if doc and doc.get("kind") == "Pod":
            pods.append(f"{doc['metadata']['namespace']}/{doc['metadata']['name']}")
    return pods


PODS = _model_pods()
PAIRS = [(s, d) for s in PODS for d in PODS if s != d]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _pair_set(raw, where: str) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for item in raw or []:
        assert isinstance(item, list) and len(item) == 2, f"{where}: pair {item!r} is not [src, dst]"
        src, dst = item
        assert src in PODS and dst in PODS, f"{where}: unknown pod in {item!r}"
        assert src != dst, f"{where}: self pair {item!r}"
        assert (src, dst) not in pairs, f"{where}: duplicate pair {item!r}"
        pairs.add((src, dst))
    return pairs


def expected_verdicts(case: dict, where: str) -> dict[tuple[int, str], dict[tuple[str, str], bool]]:
    """(port, protocol) -> {(src, dst): allowed} for every pod pair, from the case's `expect`."""
    tables: dict[tuple[int, str], dict[tuple[str, str], bool]] = {}
    assert case.get("expect"), f"{where}: no expectations"
    for i, entry in enumerate(case["expect"]):
        here = f"{where}: expect[{i}]"
        keys = set(entry)
        if "allowed" in keys:
            assert keys == {"port", "protocol", "allowed"}, f"{here}: unexpected keys {sorted(keys)}"
            allowed = _pair_set(entry["allowed"], here)
            table = {pair: pair in allowed for pair in PAIRS}
        else:
            assert keys <= {"port", "protocol", "default", "except"} and {"port", "protocol", "default"} <= keys, (
                f"{here}: expected keys port, protocol and allowed or default[/except], got {sorted(keys)}"
            )
            assert isinstance(entry["default"], bool), f"{here}: default must be true or false"
            flipped = _pair_set(entry.get("except"), here)
            table = {pair: entry["default"] != (pair in flipped) for pair in PAIRS}
        for port, proto in product(_as_list(entry["port"]), _as_list(entry["protocol"])):
            assert isinstance(port, int) and 1 <= port <= 65535, f"{here}: bad port {port!r}"
            assert proto in ("TCP", "UDP", "SCTP"), f"{here}: bad protocol {proto!r}"
            assert (port, proto) not in tables, f"{here}: {proto}/{port} given twice"
            tables[(port, proto)] = table
    return tables


def _check_ports(ports, where: str):
    if ports == "all":
        return
    assert isinstance(ports, list), f"{where}: ports must be \"all\" or a list of ranges, got {ports!r}"
    previous_hi = None
    for rng in ports:
        assert isinstance(rng, list) and len(rng) == 2 and all(isinstance(v, int) for v in rng), (
            f"{where}: bad port range {rng!r}"
        )
        lo, hi = rng
        assert 0 <= lo <= hi <= 65535, f"{where}: bad port range {rng!r}"
        assert previous_hi is None or lo > previous_hi, f"{where}: ranges not sorted and disjoint: {ports!r}"
        previous_hi = hi


def engine_connections(output: str) -> dict[tuple[str, str], list[dict]]:
    """(src, dst) -> allowed items, for pod pairs only; checks the JSON contract's shape on the way."""
    data = json.loads(output)
    assert isinstance(data, dict) and isinstance(data.get("connections"), list), "no `connections` list in the JSON"
    conns: dict[tuple[str, str], list[dict]] = {}
    for conn in data["connections"]:
        src, dst = conn["src"], conn["dst"]
        if src not in PODS or dst not in PODS:
            continue  # cidr:/ip: peers and anything outside the model
        where = f"connection {src} -> {dst}"
        assert (src, dst) not in conns, f"{where} listed twice"
        assert isinstance(conn.get("allowed"), list), f"{where}: `allowed` is not a list"
        for item in conn["allowed"]:
            assert isinstance(item.get("protocol"), str), f"{where}: item without protocol: {item!r}"
            _check_ports(item.get("ports"), f"{where} {item.get('protocol')}")
        conns[(src, dst)] = conn["allowed"]
    return conns


def engine_allows(conns, src: str, dst: str, port: int, proto: str) -> bool:
    for item in conns.get((src, dst), []):
        if item["protocol"] != proto:
            continue
        if item["ports"] == "all" or any(lo <= port <= hi for lo, hi in item["ports"]):
            return True
    return False


def run_connectivity(tmp_path: Path, policies: list) -> str:
    (tmp_path / "model.yaml").write_text(MODEL.read_text())
    if policies:
        (tmp_path / "policies.yaml").write_text(yaml.safe_dump_all(policies, sort_keys=False))
    result = CliRunner().invoke(main, ["connectivity", "-o", "json", str(tmp_path)])
    stdout = getattr(result, "stdout", result.output)
    assert result.exit_code == 0, (
        f"reasoner connectivity exited {result.exit_code}\n--- output ---\n{result.output}"
        + (f"\n--- exception ---\n{result.exception!r}" if result.exception else "")
    )
    return stdout


def test_case_files_present():
    assert MODEL.is_file(), f"missing {MODEL}"
    assert len(PODS) == 9, f"model should hold the 9 upstream pods, found {PODS}"
    assert len(CASE_FILES) >= 35, f"expected at least 35 scenario files, found {len(CASE_FILES)}"
    names = [yaml.safe_load(f.read_text())["name"] for f in CASE_FILES]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"duplicate case names: {duplicates}"


@pytest.mark.parametrize("case_file", CASE_FILES, ids=[f.stem for f in CASE_FILES])
def test_netpol_e2e_case(case_file: Path, tmp_path: Path):
    case = yaml.safe_load(case_file.read_text())
    where = case_file.name
    assert set(case) == {"name", "policies", "expect"}, f"{where}: keys must be name, policies, expect"
    policies = case["policies"] or []
    expected = expected_verdicts(case, where)

    conns = engine_connections(run_connectivity(tmp_path, policies))

    problems = []
    for (port, proto), table in sorted(expected.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        should_allow = [f"{s} -> {d}" for (s, d), want in table.items() if want and not engine_allows(conns, s, d, port, proto)]
        should_deny = [f"{s} -> {d}" for (s, d), want in table.items() if not want and engine_allows(conns, s, d, port, proto)]
        if should_allow:
            problems.append(f"  {proto}/{port}: expected ALLOWED, engine denies: " + ", ".join(should_allow))
        if should_deny:
            problems.append(f"  {proto}/{port}: expected DENIED, engine allows: " + ", ".join(should_deny))
    assert not problems, f"{where} ({case['name']}): verdicts differ\n" + "\n".join(problems)
