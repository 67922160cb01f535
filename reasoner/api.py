"""The facade: every question the CLI and the REPL ask goes through here, and what they print comes from
reasoner/report/. Below it: reading and analysing (analysis.py), the questions (query/), lint, diff and prove.

    cluster = api.load(["deploy/"])              # read, check, settle (ManifestErrors on bad input)
    an = api.analyse(cluster)                    # its facts in an engine
    api.can(an, "shop/web", "shop/db", "TCP", 5432)
    api.connections(an, view="workload")         # the map; .rows(focus) its connections
    api.lint(an); api.prove(an, spec); api.diff("old/", "new/")

Reading and analysing (pyDatalog) are imported with the facade; the modules behind each question are imported
when it is first asked, so that a command starts without the solver (z3) and the parts it does not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reasoner.analysis import Analysis, analyse, distinguishing, load, read_inputs, settle
from reasoner.facts.emit import CLASS_COLUMNS, ID_COLUMNS
from reasoner.manifests.load import ReadOptions
from reasoner.model.ports import PORTED
from reasoner.properties import DEFAULT_BUDGET, SCOPES

if TYPE_CHECKING:
    from reasoner.diff.compare import DiffResult
    from reasoner.model.cluster import Cluster
    from reasoner.properties.prove import Result
    from reasoner.properties.spec import Spec
    from reasoner.query.exposure import Exposures
    from reasoner.query.map import ClassConnection, Focus, Map
    from reasoner.query.services import ServiceReach
    from reasoner.query.verdict import Target, Verdict
    from reasoner.results import Finding

__all__ = ["CLASS_COLUMNS", "DEFAULT_BUDGET", "ID_COLUMNS", "PORTED", "SCOPES", "Analysis", "ReadOptions", "admits",
           "analyse", "ask", "calico_view", "can", "can_in", "check_endpoints", "class_connections", "connections",
           "diff", "diff_focus", "diff_staged", "distinguishing", "evaluation_order", "exposure", "exposures",
           "focus", "isolating", "lint", "load", "parse_protocol", "prove", "read_inputs", "relation_rows",
           "relation_sizes", "relations", "resolve", "service_map", "settle", "severity_rank", "snapshot", "spec",
           "use_cluster", "verdict", "whole_number"]


def can(an: Analysis, src: str, dst: str, protocol: str | None = None, port: int | None = None,
        icmp_type: int | None = None, icmp_code: int | None = None):
    """The verdict for SRC to DST, for any names: pods (also by DNS name), workloads (each of their pods), host
    endpoints, addresses, and a Service as the destination: a `Verdict`, `ServiceVerdict` or `WorkloadVerdict`."""
    from reasoner.query.answer import answer

    return answer(an, src, dst, protocol, port, icmp_type, icmp_code)


def check_endpoints(cluster: Cluster, src: str, dst: str) -> None:
    """A UsageError (with the nearest names) for an end that names nothing in `cluster`."""
    from reasoner.query.endpoints import check_endpoints as check

    check(cluster, src, dst)


def can_in(cluster: Cluster, src: str, dst: str, protocol: str | None = None, port: int | None = None,
           icmp_type: int | None = None, icmp_code: int | None = None):
    """`can` on a cluster not analysed yet: the names are checked first, and only the pods the question is about
    are analysed (the rules then need nothing else)."""
    import dataclasses

    from reasoner.query.answer import answer
    from reasoner.query.endpoints import involved

    check_endpoints(cluster, src, dst)
    pods = involved(cluster, src, dst)
    if pods is not None:
        cluster = dataclasses.replace(cluster, endpoints=[ep for ep in cluster.endpoints if ep.ref in pods])
    return answer(analyse(cluster), src, dst, protocol, port, icmp_type, icmp_code, checked=True)


def verdict(an: Analysis, src: str, dst: str, protocol: str | None = None, port: int | None = None) -> Verdict:
    """The verdict between two ends named as `resolve` takes them, without the readings of `can` (a workload's
    pods, a Service's backends, a DNS name) and without checking the names first."""
    from reasoner.query.can import can as pair

    return pair(an, src, dst, protocol, port)


def resolve(an: Analysis, name: str) -> Target:
    """An endpoint name as `can` takes it for one end (NS/POD, ip:ADDRESS, cidr:PREFIX): its name and class."""
    from reasoner.query.endpoints import resolve as target

    return target(an, name)


def class_connections(an: Analysis) -> list[ClassConnection]:
    """The connectivity map between endpoint classes: every pair with some allowed traffic, as port sets per
    protocol."""
    from reasoner.query.map import class_connections as pairs

    return pairs(an)


def evaluation_order(cluster: Cluster) -> list:
    """Every policy of `cluster` in Calico's evaluation order: tiers by order, then policies by order and name."""
    from reasoner.facts.tiers import evaluation_order as order

    return order(cluster)


def connections(an: Analysis, view: str = "workload", among: frozenset[str] | None = None) -> Map:
    """The connectivity map in `view` (`pod`, `workload`, `namespace`); its `rows(focus)` are the connections."""
    from reasoner.query.map import Map

    return Map(an, view, among)


def focus(an: Analysis, namespace: str | None = None, selector: str | None = None, ends: str | None = None,
          peers: str | None = None, direction: str | None = None, protocol: str | None = None,
          port: int | None = None) -> Focus:
    """A focus for the map from what a user wrote, each part checked (a UsageError names the one that is wrong)."""
    from reasoner.query.map import make_focus

    return make_focus(an, namespace, selector, ends, peers, direction, protocol, port)


def exposure(an: Analysis, view: str = "workload", focus: Focus | None = None, outward: bool = False) -> list:
    """What could reach each endpoint (`outward`: be reached from it) beyond the input's endpoints."""
    from reasoner.query.exposure import EGRESS, INGRESS
    from reasoner.query.exposure import exposure as rows

    return rows(an, view, focus, EGRESS if outward else INGRESS)


def exposures(an: Analysis, view: str = "workload") -> Exposures:
    """`exposure` for many questions: the any-workload universe of `an`, analysed once, and its map in `view`;
    `rows(focus, direction)` answers each."""
    from reasoner.query.exposure import Exposures

    return Exposures(an, view)


def service_map(an: Analysis) -> list[ServiceReach]:
    """The map by Service: which service ports each source reaches on every backend, or on some."""
    from reasoner.query.services import service_map as rows

    return rows(an)


def relations() -> tuple[dict[str, tuple[tuple[str, ...], str]], dict[str, tuple[tuple[str, ...], str]], frozenset[str]]:
    """The relations a user may ask about: the base ones and the derived ones (rules/*.dl), each by name with its
    columns and meaning, and the derived ones that are asked only with arguments bound."""
    from reasoner.engine.datalog import BOUND_ONLY, columns, derived_relations
    from reasoner.facts.schema import RELATIONS

    return ({name: (tuple(rel.columns), rel.doc) for name, rel in RELATIONS.items()},
            {name: (columns(comment), comment.split(": ", 1)[-1]) for name, comment in derived_relations().items()},
            BOUND_ONLY)


def relation_sizes(an: Analysis) -> list[tuple[str, str, int | str, str]]:
    """Every relation with its kind (`fact`, `derived`), its number of tuples in `an` (`bound` for one asked only
    with arguments bound), and its meaning."""
    from reasoner.errors import QueryError
    from reasoner.progress import counted

    base, derived, bound_only = relations()
    rows: list[tuple[str, str, int | str, str]] = []
    for name, (_cols, doc) in sorted(base.items()):
        rows.append((name, "fact", len([f for f in an.facts.facts if f[0] == name]), doc))
    for name, (cols, doc) in counted("sizing the relations", sorted(derived.items())):
        size: int | str = "bound"  # asked per flow, with arguments bound
        if name not in bound_only:
            try:
                size = len(an.engine.ask(name, *([None] * len(cols))))
            except QueryError:
                pass
        rows.append((name, "derived", size, doc))
    return rows


def relation_rows(an: Analysis, relation: str, raw: bool = False) -> tuple[tuple[str, ...], list[tuple]]:
    """A relation's columns and its tuples in `an`, sorted; object ids as names unless `raw`."""
    from reasoner.errors import UsageError

    base, derived, _bound = relations()
    if relation not in base and relation not in derived:
        raise UsageError(f"unknown relation {relation!r} (see `reasoner facts PATH` for the list)")
    names = (base.get(relation) or derived[relation])[0]
    tuples = sorted(an.engine.ask(relation, *([None] * len(names))), key=repr)
    return names, [tuple(v if raw else an.facts.show(relation, col, v) for col, v in zip(names, t)) for t in tuples]


def ask(an: Analysis, relation: str, *args: Any) -> list[tuple]:
    """The tuples of a relation (base, or derived by rules/*.dl) matching `args` (None: free), as pyDatalog
    answers a question with those arguments bound; a QueryError for an unknown relation or one that needs more
    arguments bound."""
    return an.engine.ask(relation, *args)


def isolating(an: Analysis, cls_id: int, direction: str) -> tuple[list, bool]:
    """The policies that apply to an endpoint class in `direction` (ingress or egress), and whether that end is
    decided by ordered evaluation (some Calico or admin policy applies) rather than by the union of rules."""
    policies = [an.facts.policy_ids[p] for p, _c, _d in an.engine.ask("applies", None, cls_id, direction)]
    return policies, an.engine.holds("ordered", cls_id, direction)


def lint(an: Analysis, scope: str = "inventory", budget: float | None = None) -> list[Finding]:
    """The findings of lint, with their evidence."""
    from reasoner.lint import lint as run

    return run(an, scope, DEFAULT_BUDGET if budget is None else budget)


def severity_rank(severity: str) -> int:
    """A finding severity's rank (`never` above every one)."""
    from reasoner.results import SEVERITY

    return SEVERITY[severity]


def diff(old: str, new: str | None, inventory: list[str] | tuple[str, ...] = (), scope: str = "inventory",
         budget: float | None = None, options: Any = None, staged: bool = False) -> DiffResult:
    """What changes from OLD to NEW (or, `staged`, from OLD to OLD with its staged policies enforced)."""
    from reasoner.diff import compare as diffing

    budget = DEFAULT_BUDGET if budget is None else budget
    options = options or ReadOptions()
    if staged:
        return diffing.diff_staged(old, list(inventory), scope, budget, options)
    return diffing.diff(old, new, list(inventory), scope, budget, options)


def diff_staged(source: str, inventory: list[str] | tuple[str, ...] = (), scope: str = "inventory",
                budget: float | None = None, options: Any = None) -> DiffResult:
    return diff(source, None, inventory, scope, budget, options, staged=True)


def diff_focus(result: DiffResult, **filters) -> DiffResult:
    """A diff's changes kept to a focus written as for the map (namespace, selector, ends, peers, direction,
    protocol, port)."""
    from reasoner.diff.focus import focus as keep
    from reasoner.diff.focus import make_diff_focus

    return keep(result, make_diff_focus(result, **filters))


def spec(path: str | None = None, scope: str | None = None, checks: tuple[str, ...] = (),
         namespaces: tuple[str, ...] = ()) -> Spec:
    """A compliance spec: the file at `path` (or an empty one), with the built-in checks added (`default-deny`;
    `isolation` of each of `namespaces`) and `scope` in place of its own when given."""
    from reasoner.errors import UsageError
    from reasoner.properties.spec import Peer, Requirement, Spec, default_deny, load_spec

    out = load_spec(path) if path else Spec("inventory")
    if scope is not None:
        out.scope = scope
    for check in checks:
        if check == "default-deny":
            out.requirements.append(default_deny())
            continue
        if not namespaces:
            raise UsageError("--check isolation needs --namespace NAME (repeatable)")
        for ns in namespaces:
            if any(r.kind == "allow" for r in out.requirements):
                raise UsageError("--check isolation with a spec that has allow requirements is not supported yet")
            out.requirements.append(Requirement(f"isolation-in-{ns}", "only", Peer(namespace=ns),
                                                Peer(namespace=ns), None, file="--check"))
            out.requirements.append(Requirement(f"isolation-out-{ns}", "only-out", Peer(namespace=ns),
                                                Peer(namespace=ns), None, file="--check"))
    return out


def prove(an: Analysis, spec: Spec, timeout_ms: int = 10_000, budget: float | None = None) -> list[Result]:
    """Each requirement of `spec` proved, violated (with a witness flow) or unknown."""
    from reasoner.properties.prove import prove as run

    return run(an, spec, timeout_ms, DEFAULT_BUDGET if budget is None else budget)


def parse_protocol(text: str) -> str | None:
    """A protocol as a user writes it, a name in any case or a number 0-255: its name (`17` is UDP), else its
    number as a string; None when it is neither."""
    from reasoner.model.calico import parse_protocol as parse

    return parse(text)


def admits(allowed: dict[str, object], protocol: str, port: int | None, protocols: tuple[str, ...]) -> bool:
    """Whether a port set per protocol (as the map gives it, for an analysis of these `protocols`) holds a flow of
    `protocol` (as `parse_protocol` gives it) on `port` (None: any port of it). A protocol no rule names is one of
    the rest (OTHER)."""
    from reasoner.model.calico import PROTOCOL_NUMBERS
    from reasoner.model.ports import admits as holds

    by_number = {str(n): name for name, n in PROTOCOL_NUMBERS.items()}
    same = (protocol, str(PROTOCOL_NUMBERS.get(protocol)), by_number.get(protocol))
    return holds(allowed, next((p for p in same if p in protocols), "OTHER"), port)


def whole_number(text: str) -> int | None:
    """A whole number written with the digits 0-9 only, else None (as the input's fields are read)."""
    from reasoner.model.numbers import ascii_int

    return ascii_int(text)


def use_cluster(**settings: str | None) -> None:
    """Set `kubeconfig` and/or `context`, which `cluster:` inputs are read with (None: the default one)."""
    from reasoner import live

    live.SETTINGS.update(settings)


def snapshot(directory: str):
    """Read the running cluster (read-only) and write what was read to `directory`, one YAML file per kind: the
    reading (its `source`, `objects`, `skipped`) and the files written."""
    from pathlib import Path

    from reasoner import live

    reading = live.read_cluster(live.SETTINGS["kubeconfig"], live.SETTINGS["context"])
    return reading, live.write_snapshot(reading, Path(directory))


def calico_view(fb, cls, ep) -> dict[str, str]:
    """The labels Calico selectors see on one endpoint `ep` of class `cls`."""
    from reasoner.query.endpoints import calico_view as view

    return view(fb, cls, ep)
