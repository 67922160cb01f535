"""The bulk plan (reasoner/plan.py) against its specification, the per-flow relation `flow_allowed` of
rules/verdict.dl: for every ordered pair of endpoint classes (address atoms included, as sources and destinations)
and every port atom of every engine protocol, the plan's ranges hold the atom's port iff `flow_allowed` holds.

Port atoms cut every engine protocol at every bound a rule mentions, so one port stands for its atom: its first
real one (port 0 is no flow port of TCP, UDP or SCTP, and the plan's ranges may hold it). The exhaustive check
probes every atom, at its first real port and at its last. The sampled check probes, for each pair and protocol,
the first atom with a real port and the atoms on either side of each place where the plan's ranges or the ports
that a rule of the source's egress end or the destination's ingress end covers towards the destination (`rule_atom`,
`rule_atom_to`) change: a run of atoms that the plan gets wrong starts at the first atom or at such a place, so the
sampled check finds it whenever the verdict of a pair changes only where the ports of its rules do. On the corpus
it also probes a rotating subset of the other atoms.

Checked:
- every scenario of corpus/ (the `manifests` folders and both versions of each diff scenario) but those with
  host endpoints, whose ends reasoner/query/hosts.py composes (tests/test_calico_crosscheck.py checks them): sampled by default,
  exhaustively under `-m slow`;
- random small clusters (hypothesis, derandomized) mixing Kubernetes NetworkPolicies, Calico policies in up to
  two extra tiers, network sets and admin policies: sampled by default, exhaustively and more of them under
  `-m slow` (`REASONER_PLAN_EXAMPLES`, default 100);
- that the comparison notices a perturbed plan.
"""

from __future__ import annotations

import copy
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from reasoner import api
from reasoner.plan import Plan
from support.mixed_clusters import clusters

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SCENARIOS = sorted([p for p in CORPUS.glob("*/manifests") if p.is_dir()]
                   + [p for p in CORPUS.glob("diff-*/*") if p.is_dir()])
PORTED = ("TCP", "UDP", "SCTP")  # port 0 is no flow port of these
EVERY_ATOM = None  # `stride` of the exhaustive check
CORPUS_STRIDE = 16  # the sampled corpus check also probes every 16th atom of each pair (rotating)


# ---- the comparison ---------------------------------------------------------------------------------------------

def atoms_by_protocol(an) -> dict[str, list[tuple[int, int]]]:
    """Every engine protocol's port atoms, (lo, hi) by lo."""
    out: dict[str, list[tuple[int, int]]] = {p: [] for p in an.facts.proto_members}
    for p, lo, hi in an.facts.port_atoms.values():
        out[p].append((lo, hi))
    for atoms in out.values():
        atoms.sort()
    return out


def atom_probes(proto: str, lo: int, hi: int, both: bool) -> list[int]:
    """The ports that stand for atom lo..hi: its first real port, and with `both` its last."""
    first = max(lo, 1) if proto in PORTED else lo
    if first > hi:
        return []
    return sorted({first, hi}) if both else [first]


def inside(ranges, port: int) -> bool:
    return any(lo <= port <= hi for lo, hi in ranges)


class RuleEdges:
    """Where the rules of a pair's ends change: for pair (s, d), per protocol, the atoms on either side of each edge
    of the port set that a rule of s's egress end or of d's ingress end covers towards destination d (`rule_atom`, and
    `rule_atom_to` for named ports and Calico port lists that depend on the destination)."""

    def __init__(self, an):
        self.atoms = atoms_by_protocol(an)
        self.of = an.facts.port_atoms
        self.rules: dict[tuple[int, str], list[int]] = {}
        for c, d, r in an.engine.ask("subject_rule", None, None, None):
            self.rules.setdefault((c, d), []).append(r)
        self.static: dict[int, set[int]] = {}
        for r, _p, a in an.engine.ask("rule_atom", None, None, None):
            self.static.setdefault(r, set()).add(a)
        self.dynamic: dict[tuple[int, int], set[int]] = {}  # (rule, destination) -> atoms
        for r in {r for rules in self.rules.values() for r in rules}:
            for _r, dest, _p, a in an.engine.ask("rule_atom_to", r, None, None, None):
                self.dynamic.setdefault((r, dest), set()).add(a)
        self.cache: dict[tuple[int, str, int], dict[str, set[tuple[int, int]]]] = {}

    def end(self, c: int, direction: str, dest: int) -> dict[str, set[tuple[int, int]]]:
        key = (c, direction, dest)
        if key not in self.cache:
            out: dict[str, set[tuple[int, int]]] = {}
            for r in self.rules.get((c, direction), ()):
                covered = self.static.get(r, set()) | self.dynamic.get((r, dest), set())
                mine = {self.of[a][1:] for a in covered}
                for p in {self.of[a][0] for a in covered}:
                    row = self.atoms[p]
                    for i, atom in enumerate(row):
                        if any((atom in mine) != (row[j] in mine) for j in (i - 1, i + 1) if 0 <= j < len(row)):
                            out.setdefault(p, set()).add(atom)
            self.cache[key] = out
        return self.cache[key]

    def pair(self, s: int, d: int, proto: str) -> set[tuple[int, int]]:
        return self.end(s, "egress", d).get(proto, set()) | self.end(d, "ingress", d).get(proto, set())


def chosen_atoms(proto: str, atoms: list[tuple[int, int]], ranges, edges: set, stride: int | None,
                 salt: int) -> list:
    """The atoms to probe for one pair and protocol: every atom (stride None); or the first with a real port, the
    rules' `edges`, the atoms on either side of each bound of the plan's `ranges`, and (stride > 0) every
    stride-th."""
    if stride is EVERY_ATOM:
        return atoms
    bounds = {b for lo, hi in ranges for b in (lo - 1, lo, hi, hi + 1)}
    first = next((i for i, (lo, hi) in enumerate(atoms) if atom_probes(proto, lo, hi, False)), 0)
    return [(lo, hi) for i, (lo, hi) in enumerate(atoms)
            if i == first or (lo, hi) in edges or (stride and (i + salt) % stride == 0)
            or any(lo <= b <= hi for b in bounds)]


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    pairs: int = 0
    probes: int = 0
    plan: dict = field(default_factory=dict)  # the map checked


def compare(an, plan: dict, stride: int | None = EVERY_ATOM, verdicts: dict | None = None) -> Report:
    """Where `plan` ({(src, dst): {protocol: ranges}}) and `flow_allowed` disagree, for every ordered pair of
    classes and the chosen atoms (see `chosen_atoms`); and every malformed entry of `plan`. `verdicts` keeps the
    answers of `flow_allowed` from one call to the next."""
    report = Report()
    verdicts = {} if verdicts is None else verdicts
    engine, classes = an.engine, an.facts.classes
    atoms = atoms_by_protocol(an)
    edges = None if stride is EVERY_ATOM else RuleEdges(an)
    name = {c.id: c.name for c in classes}
    for (s, d), ports in plan.items():
        where = f"{name.get(s, s)} -> {name.get(d, d)}"
        if not ports:
            report.problems.append(f"{where}: listed with nothing allowed")
        if not engine.holds("pair_ok", s, d):
            report.problems.append(f"{where}: listed, but no flow can go from one to the other")
        for proto, ranges in ports.items():
            if proto not in atoms:
                report.problems.append(f"{where}: unknown protocol {proto!r}")
            if (not ranges or any(not 0 <= lo <= hi <= 65535 for lo, hi in ranges)
                    or any(a[1] >= b[0] for a, b in zip(ranges, ranges[1:]))):
                report.problems.append(f"{where}: {proto} ranges not sorted and disjoint: {ranges}")
    for s in range(len(classes)):
        for d in range(len(classes)):
            report.pairs += 1
            ports = plan.get((s, d), {})
            for proto, proto_atoms in atoms.items():
                ranges = ports.get(proto, ())
                near = set() if edges is None else edges.pair(s, d, proto)
                for lo, hi in chosen_atoms(proto, proto_atoms, ranges, near, stride, s * 3 + d):
                    for port in atom_probes(proto, lo, hi, both=stride is EVERY_ATOM):
                        report.probes += 1
                        want = verdicts.get((s, d, proto, port))
                        if want is None:
                            want = verdicts[(s, d, proto, port)] = engine.holds("flow_allowed", s, d, proto, port)
                        if want != inside(ranges, port):
                            report.problems.append(
                                f"{name[s]} -> {name[d]} {proto}/{port} (atom {lo}-{hi}): flow_allowed "
                                f"{'ALLOWS' if want else 'DENIES'}, the plan has {proto} {list(ranges)}")
    return report


def check_plan(an, stride: int | None) -> Report:
    """The plan's map against `flow_allowed`, and each pair asked alone (`Plan.pair`) against the map."""
    plan = Plan(an)
    whole = plan.pairs()
    report = compare(an, whole, stride)
    report.plan = whole
    n = len(an.facts.classes)
    for s in range(n):
        for d in range(n):
            alone = plan.pair(s, d)
            if alone != whole.get((s, d), {}):
                report.problems.append(f"Plan.pair({s}, {d}) = {alone}, but Plan.pairs() has {whole.get((s, d), {})}")
    return report


def has_hosts(an) -> bool:
    return any(c.host for c in an.facts.classes)


def explain(report: Report, limit: int = 20) -> str:
    return f"{len(report.problems)} disagreements:\n" + "\n".join(report.problems[:limit])


# ---- the corpus -------------------------------------------------------------------------------------------------

def corpus_check(scenario: Path, stride: int | None) -> None:
    an = api.analyse(api.load([scenario]))
    if has_hosts(an):
        pytest.skip("host endpoints: the cluster is not planned")
    report = check_plan(an, stride)
    assert not report.problems, explain(report)
    assert report.probes >= report.pairs


IDS = [str(p.relative_to(CORPUS)) for p in SCENARIOS]


def test_the_corpus_is_found():
    assert len(SCENARIOS) >= 40
    assert sum(p.parent.name.startswith("diff-") for p in SCENARIOS) >= 20  # both versions of each diff scenario


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_plan_agrees_with_flow_allowed_on_the_corpus(scenario):
    corpus_check(scenario, CORPUS_STRIDE)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_the_plans_rule_peers_are_rule_peer_ok(scenario):
    """The plan composes each rule's peers from peer_match (rules naming equal peers share one); the relation
    rule_peer_ok of rules/peers.dl, evaluated whole, gives the same classes for every rule."""
    an = api.analyse(api.load([scenario]))
    spec: dict[int, int] = {}
    for r, c in an.engine.ask("rule_peer_ok", None, None):
        spec[r] = spec.get(r, 0) | 1 << c
    plan = {r: bits for r, bits in Plan(an).peer_ok.items() if bits}
    assert plan == spec


@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_the_plans_destination_ports_are_rule_atom_to(scenario):
    """The plan composes the ports that depend on the destination from class_port, svc_port, cneg and cneg_d;
    rules/ports.dl's rule_named_atom_to (with rule_numeric_atom and cneg_d, as rule_atom_to reads them) gives the same classes per atom."""
    an = api.analyse(api.load([scenario]))
    e = an.engine
    plan = Plan(an)
    endpoints = sum(1 << c for (c,) in e.ask("endpoint", None) if c < len(an.facts.classes))
    calico = {r for (r,) in e.ask("crule_dynamic", None)}
    for r, by_atom in plan.rule_atom_to.items():
        spec: dict[int, int] = {}
        for _r, d, _p, a in e.ask("rule_named_atom_to", r, None, None, None):
            spec[a] = spec.get(a, 0) | 1 << d
        if r in calico:
            excluded: dict[int, int] = {}
            for _r, d, _p, a in e.ask("cneg_d", r, None, None, None):
                excluded[a] = excluded.get(a, 0) | 1 << d
            for _r, _p, a in e.ask("rule_numeric_atom", r, None, None):
                spec[a] = spec.get(a, 0) | (endpoints & ~excluded.get(a, 0))
        assert {a: b for a, b in by_atom.items() if b} == {a: b for a, b in spec.items() if b}, r


def test_equal_peers_share_one_id_and_each_entry_is_reported():
    """Two policies allowing from the same peers share the peer ids (one peer_match); a dead peer listed twice in
    one rule is two dead-peer findings, at its two indexes."""
    from reasoner.lint import lint

    docs = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}, {podSelector: {matchLabels: {app: gone}}},
           {podSelector: {matchLabels: {app: gone}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b, namespace: x}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: x, labels: {app: web}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: x, labels: {app: db}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.0.0.2}
"""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.yaml"
        path.write_text(docs)
        an = api.analyse(api.load([path]))
        peers = an.engine.ask("rule_peer", None, None)
        assert len(peers) == 3 and len({p for _r, p in peers}) == 2  # web (twice) and gone: two ids
        dead = [f for f in lint(an) if f.kind == "dead-peer"]
    assert sorted(f.message for f in dead) == ["from[1] matches no endpoint and no address",
                                               "from[2] matches no endpoint and no address"]


@pytest.mark.slow  # every atom's first and last port, for every pair
@pytest.mark.parametrize("scenario", SCENARIOS, ids=IDS)
def test_plan_agrees_with_flow_allowed_on_the_corpus_exhaustively(scenario):
    corpus_check(scenario, EVERY_ATOM)


# ---- the comparison can fail ------------------------------------------------------------------------------------

def flipped(ranges, port: int) -> tuple:
    """`ranges` with `port` taken out if it is in, put in if not."""
    if inside(ranges, port):
        out = []
        for lo, hi in ranges:
            if lo <= port <= hi:
                out += [r for r in ((lo, port - 1), (port + 1, hi)) if r[0] <= r[1]]
            else:
                out.append((lo, hi))
        return tuple(out)
    return tuple(sorted([*ranges, (port, port)]))


@pytest.mark.parametrize("stride", [EVERY_ATOM, CORPUS_STRIDE, 0], ids=["every-atom", "corpus", "random"])
def test_the_comparison_notices_a_perturbed_plan(stride):
    an = api.analyse(api.load([CORPUS / "calico-pass-to-lower-tier" / "manifests"]))
    whole = Plan(an).pairs()
    verdicts: dict = {}
    assert not compare(an, whole, stride, verdicts).problems
    classes = {c.name: c.id for c in an.facts.classes}
    gateway, ledger = classes["payments/gateway"], classes["payments/ledger"]
    assert whole[(gateway, ledger)] == {"TCP": ((7000, 7000),)}  # the one port the app tier allows

    # one port, allowed or not, of one pair (a pair left with nothing is left out)
    for port in (7000, 7001, 8080, 1):
        plan = copy.deepcopy(whole)
        ranges = flipped(plan[(gateway, ledger)]["TCP"], port)
        if ranges:
            plan[(gateway, ledger)]["TCP"] = ranges
        else:
            del plan[(gateway, ledger)]
        problems = compare(an, plan, stride, verdicts).problems
        assert len(problems) == 1 and f"TCP/{port} " in problems[0], problems

    # the pair left out: its first atom agrees (denied), so with stride 0 only the rules' edges find port 7000
    plan = copy.deepcopy(whole)
    del plan[(gateway, ledger)]
    problems = compare(an, plan, stride, verdicts).problems
    assert len(problems) == 1 and "TCP/7000 " in problems[0], problems

    # entries that are wrong whatever the ports: a pair that cannot exist (two addresses outside), a protocol the
    # engine does not have, ranges that overlap
    outside = [c.id for c in an.facts.classes if c.external is not None]
    for change, message in (("outside", "no flow can go"), ("protocol", "unknown protocol"),
                            ("overlap", "not sorted and disjoint")):
        plan = copy.deepcopy(whole)
        if change == "outside":
            plan[(outside[0], outside[1])] = {"TCP": ((0, 0),)}
        elif change == "protocol":
            plan[(gateway, ledger)]["GRE"] = ((0, 65535),)
        else:
            plan[(gateway, ledger)]["TCP"] = ((7000, 7000), (7000, 7000))
        problems = compare(an, plan, stride, verdicts).problems
        assert len(problems) == 1 and message in problems[0], (change, problems)


# ---- random clusters --------------------------------------------------------------------------------------------

def allow_all(an) -> dict:
    """The map of a cluster without policy: every pair that can exist, every port of every protocol."""
    n = len(an.facts.classes)
    full = {p: ((0, 65535),) for p in an.facts.proto_members}
    return {(s, d): full for s in range(n) for d in range(n) if an.engine.holds("pair_ok", s, d)}


def deciding(an) -> set[str]:
    """Which of Deny and Pass some rule of an ordered end has, that matches some peer on everything but ports."""
    e = an.engine
    ordered = set(e.ask("ordered", None, None))
    action = dict(e.ask("rule_action", None, None))
    krules = {r for (r,) in e.ask("krule", None)}
    universal = {r for (r,) in e.ask("universal", None)}
    out: set[str] = set()
    for c, d, r in e.ask("subject_rule", None, None, None):
        if (c, d) not in ordered or action.get(r) not in ("Deny", "Pass") or action[r] in out:
            continue
        if r in universal:
            hit = r in krules or e.holds("local_ok", r, c)
        elif r in krules:
            hit = bool(e.ask("rule_peer_ok", r, None))
        else:
            hit = bool(e.ask("crule_ok", r, c, None))
        if hit:
            out.add(action[r])
    return out


def random_check(examples: int, stride: int | None) -> dict:
    """Check `examples` random clusters; return what they exercised."""
    seen = {"examples": 0, "ordered": 0, "restricted": 0, "Deny": 0, "Pass": 0, "pairs": 0, "probes": 0}

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(clusters())
    def check(docs):
        text = yaml.safe_dump_all(docs, sort_keys=False)
        with tempfile.TemporaryDirectory(prefix="reasoner-plan-") as tmp:
            path = Path(tmp) / "cluster.yaml"
            path.write_text(text)
            an = api.analyse(api.load([path]))
        assert not has_hosts(an)
        report = check_plan(an, stride)
        assert not report.problems, explain(report) + "\n--- manifests ---\n" + text
        seen["examples"] += 1
        seen["pairs"] += report.pairs
        seen["probes"] += report.probes
        seen["ordered"] += bool(an.engine.ask("ordered", None, None))
        seen["restricted"] += report.plan != allow_all(an)
        for action in deciding(an):
            seen[action] += 1

    check()
    n = seen["examples"]
    # not vacuous: most clusters have ends that Calico decides, whose Deny and Pass rules match peers, and a map
    # that is not allow-all
    wanted = {"examples": examples, "ordered": 0.8 * n, "restricted": 0.6 * n, "Deny": 0.3 * n, "Pass": 0.3 * n}
    assert all(seen[k] >= v for k, v in wanted.items()), f"{seen}, wanted at least {wanted}"
    return seen


def test_plan_agrees_with_flow_allowed_on_random_clusters():
    print(random_check(25, stride=0))  # (more, every atom: -m slow)


@pytest.mark.slow  # every atom of every pair, more clusters
def test_plan_agrees_with_flow_allowed_on_many_random_clusters():
    print(random_check(int(os.environ.get("REASONER_PLAN_EXAMPLES", "100")), EVERY_ATOM))
