"""Finding every kind of new pod: each realizable combination of test outcomes (AllSAT), within a time budget.

Kinds are found for namespaces that do not exist yet (`new_namespaces`, each with its labels) and for pods of
one namespace (`pod_kinds`, each with its labels and service account, existing or new); z3 then settles each on
a readable witness (keys absent, "any other value"). More kinds than the caller allows is TooMany; a budget
spent, or a check that z3 cannot decide, is OutOfBudget, since a kind left unfound would make a proof wrong.
Not chosen here: the names and addresses of the representatives (properties/universe.py).
"""

from __future__ import annotations

from time import monotonic
from typing import Callable

import z3

from reasoner.model.calico import AUTO
from reasoner.model.cluster import NAME_LABEL, Cluster, Namespace
from reasoner.model.selector import LabelSelector
from reasoner.properties import DEFAULT_BUDGET
from reasoner.properties.label_tests import Test
from reasoner.properties.values import (
    NSNAME,
    RESERVED,
    SANAME,
    Entry,
    Symbolic,
    Values,
    calico_formula,
    choice,
    fixed,
    ite,
    k8s_formula,
    lit_formula,
    ns_slot,
    pod_slot,
    sa_slot,
)


class TooMany(RuntimeError):
    """More kinds of new pods than the engine is given to analyse: any-workload scope is not analysed."""


class OutOfBudget(TooMany):
    """The time budget ran out (or z3 gave up) before every kind of new pod was found: not analysed either."""


class Budget:
    """The time that finding the kinds of new pods may take: each z3 check gets what is left of it, and a check
    that z3 cannot decide in that time stops the search (a kind left unfound would make a proof wrong)."""

    def __init__(self, seconds: float = DEFAULT_BUDGET):
        self.seconds = seconds
        self.deadline = monotonic() + seconds

    def ms(self) -> int:
        """The milliseconds left; OutOfBudget when none are."""
        left = self.deadline - monotonic()
        if left <= 0:
            raise OutOfBudget(f"any-workload: the time budget of {self.seconds:g} s ran out before every kind of new "
                              f"pod was found; not analysed (a larger --budget, or podCIDRs, may help)")
        return max(1, int(left * 1000))

    def check(self, solver: z3.Solver, *assumptions: z3.BoolRef) -> z3.CheckSatResult:
        """`solver.check(*assumptions)` within the budget: sat or unsat, never unknown."""
        solver.set(timeout=self.ms())
        result = solver.check(*assumptions)
        if result == z3.unknown:
            self.ms()  # raises when the time ran out; else z3 gave up for a reason of its own
            raise OutOfBudget(f"any-workload: z3 gave up ({solver.reason_unknown()}) before every kind of new pod "
                              f"was found; not analysed")
        return result


def _enumerate(solver: z3.Solver, tests: list[z3.BoolRef], limit: int, budget: Budget):
    """Every realizable assignment of `tests` (AllSAT projected on them): yields (model, assumptions)."""
    uniq: dict[int, z3.BoolRef] = {}
    for t in tests:
        t = z3.simplify(t)
        if z3.is_true(t) or z3.is_false(t):
            continue
        uniq.setdefault(t.hash(), t)
    tests = list(uniq.values())
    count = 0
    while budget.check(solver) == z3.sat:
        model = solver.model()
        sig = [t if z3.is_true(model.eval(t, model_completion=True)) else z3.Not(t) for t in tests]
        yield model, sig
        count += 1
        if count > limit:
            raise TooMany(f"any-workload: more than {limit} kinds of new pods (narrow it with podCIDRs)")
        if not tests:
            return
        solver.add(z3.Not(z3.And(sig)))


def _settle(solver: z3.Solver, sig: list, prefs: list[list], budget: Budget) -> z3.ModelRef:
    """A model of `sig` that keeps the first group of `prefs` it can (readable witnesses), else any."""
    sig_term = z3.And(sig) if sig else z3.BoolVal(True)
    for group in prefs:
        if budget.check(solver, sig_term, *group) == z3.sat:
            return solver.model()
    result = budget.check(solver, sig_term)
    assert result == z3.sat  # `sig` is the signature of a model
    return solver.model()


def _settle_soft(solver: z3.Solver, model: z3.ModelRef, sig: list, firm: list, soft: list, budget: Budget,
                 tries: int = 2) -> z3.ModelRef:
    """A model of `sig` that keeps `firm` if it can and as many of the preferences `soft` as `tries` checks find
    (readable witnesses): each check that fails gives up the soft preferences of its unsat core. `model` (one of
    `sig`) when it keeps them all already."""
    if all(z3.is_true(model.eval(p, model_completion=True)) for p in firm + soft):
        return model
    sig_term = z3.And(sig) if sig else z3.BoolVal(True)
    for _ in range(tries):
        if budget.check(solver, sig_term, *firm, *soft) == z3.sat:
            return solver.model()
        core = {c.get_id() for c in solver.unsat_core()}
        kept = [p for p in soft if p.get_id() not in core]
        if len(kept) == len(soft):
            break
        soft = kept
    if budget.check(solver, sig_term, *firm) == z3.sat:
        return solver.model()
    return model


def new_namespaces(existing: set[str], tests: list[Test], values: Values, limit: int, budget: Budget):
    """Every realizable labelling of a namespace that does not exist yet: (name, labels) for each."""
    constraints: list = []
    labels = Symbolic("ns", values, ns_slot, constraints)
    name = values.var("ns.name", NSNAME, constraints, dns=True)
    constraints += [name != values.const(NSNAME, n) for n in sorted(existing)]
    name_entry = (z3.BoolVal(True), name, NSNAME)

    def k8s_view(key):
        return name_entry if key == NAME_LABEL else labels(key)

    def calico_view(key):
        return name_entry if key == AUTO + "name" else labels(key)

    def pcns_view(key):  # a pod's Calico labels that come from its namespace
        if key == AUTO + "namespace":
            return name_entry
        if key.startswith("pcns."):
            return calico_view(key[5:]) if key[5:] == AUTO + "name" else k8s_view(key[5:])
        return z3.BoolVal(False), None, pod_slot(key)

    formulas = []
    for t in tests:
        if t.view == "ns":
            formulas.append(k8s_formula(t.what, k8s_view, values))
        elif t.view == "ns-calico":
            formulas.append(calico_formula(t.what, calico_view, values))
        elif t.view == "ns-name":
            formulas.append(z3.Or([name == values.const(NSNAME, n) for n in t.what]))
        elif t.view == "calico":  # the namespace half of a pod selector
            for conj in t.what.dnf:
                for lit in conj:
                    if lit.key.startswith("pcns.") or lit.key == AUTO + "namespace":
                        formulas.append(lit_formula(lit, pcns_view, values))
    solver = z3.Solver()
    solver.add(*constraints)
    made: list[tuple[str, dict]] = []
    for model, sig in _enumerate(solver, formulas, limit, budget):
        fresh = f"new-namespace-{len(made) + 1}"
        pretty = [name == values.other(NSNAME) if NSNAME not in values.stringy else name == z3.StringVal(fresh)]
        pretty += [name != values.const(NSNAME, m) for m, _ in made]
        settled = _settle(solver, sig, [pretty + labels.prefs(), pretty + labels.prefs(absent_only=True), pretty[1:]],
                          budget)
        ns_name = values.decode(NSNAME, settled.eval(name, model_completion=True), fresh)
        if ns_name in existing or any(ns_name == m for m, _ in made):
            continue  # a name pinned by a selector, already materialised with other labels (universe.py, module doc)
        made.append((ns_name, {**labels.concrete(settled), NAME_LABEL: ns_name}))
    return made


def _in_scope(scope: object, ns: Namespace) -> bool:
    if scope is None:
        return True
    if isinstance(scope, str):
        return scope == ns.name
    labels = dict(ns.labels)
    if isinstance(scope, LabelSelector):
        return scope.matches(labels)
    return scope.matches({**labels, AUTO + "name": ns.name})


def pod_kinds(worlds: list[Cluster], ns_name: str, tests: list[list[Test]], values: Values, limit: int,
               budget: Budget, member: Callable | None = None):
    """Every realizable kind of new pod in namespace `ns_name`, over every version at once:
    (labels, service account, its labels if new). `member(pod, calico_view, sa_name)` gives a formula that every
    kind must satisfy (in the first version)."""
    constraints: list = []
    pod = Symbolic("pod", values, pod_slot, constraints)
    new_sa = Symbolic("sa", values, sa_slot, constraints)
    sa_name_new = values.var("sa.name", SANAME, constraints, dns=True)
    existing: list[dict[str, dict]] = []
    for cluster in worlds:
        accounts = {sa.name: dict(sa.labels) for sa in cluster.service_accounts if sa.namespace == ns_name}
        for ep in cluster.endpoints:
            if ep.namespace == ns_name:
                accounts.setdefault(ep.service_account, {})
        accounts.setdefault("default", {})
        existing.append(accounts)
    names = sorted({n for accounts in existing for n in accounts})
    sa_index = z3.Int("sa.index")
    constraints += [sa_index >= 0, sa_index <= len(names)]
    constraints += [sa_name_new != values.const(SANAME, n) for n in names]
    sa_name = sa_name_new
    for i in range(len(names) - 1, -1, -1):
        sa_name = z3.If(sa_index == i, values.const(SANAME, names[i]), sa_name)
    sa_name_entry = (z3.BoolVal(True), sa_name, SANAME)
    formulas = []
    for cluster, accounts, world_tests in zip(worlds, existing, tests):
        formulas += _world_formulas(cluster.namespaces[ns_name], pod, new_sa, sa_index, sa_name_entry, names,
                                    accounts, world_tests, values)
    if member is not None:
        ns = worlds[0].namespaces[ns_name]
        calico_view, _ = _views(ns, pod, new_sa, sa_index, sa_name_entry, names, existing[0], values)
        constraints.append(member(pod, calico_view, sa_name))
    solver = z3.Solver()
    solver.add(*constraints)
    fresh, made = 0, set(names)
    others = pod.prefs() + new_sa.prefs()  # every variable exists by now
    for model, sig in _enumerate(solver, formulas, limit, budget):
        prefs = [sa_index == names.index("default"), sa_name_new == values.other(SANAME)]
        prefs += [sa_name_new != values.const(SANAME, n) for n in sorted(made - set(names))]
        settled = _settle_soft(solver, model, sig, prefs[1:], prefs[:1] + others, budget)
        idx = settled.eval(sa_index, model_completion=True).as_long()
        labels = pod.concrete(settled)
        if idx < len(names):
            yield labels, names[idx], None
            continue
        fresh += 1  # each new service account of a namespace is its own (labels are per account)
        name = values.decode(SANAME, settled.eval(sa_name_new, model_completion=True), f"new-service-account-{fresh}")
        if name in made:
            continue  # a name pinned by a test, already made with other labels (universe.py, module doc)
        made.add(name)
        yield labels, name, new_sa.concrete(settled)


def _world_formulas(ns: Namespace, pod: Symbolic, new_sa: Symbolic, sa_index, sa_name_entry: Entry,
                    names: list[str], accounts: dict[str, dict], tests: list[Test], values: Values) -> list:
    """The tests of one version, on a new pod of namespace `ns` (as that version labels it)."""
    calico_view, sa_calico = _views(ns, pod, new_sa, sa_index, sa_name_entry, names, accounts, values)
    formulas = []
    for t in tests:
        if not _in_scope(t.scope, ns):
            continue
        if t.view == "pod":
            formulas.append(k8s_formula(t.what, pod, values))
        elif t.view == "calico":
            formulas.append(calico_formula(t.what, calico_view, values))
        elif t.view == "sa-calico":
            formulas.append(calico_formula(t.what, sa_calico, values))
        elif t.view == "sa-name":
            formulas.append(z3.Or([sa_name_entry[1] == values.const(SANAME, n) for n in t.what]))
    return formulas


def _views(ns: Namespace, pod: Symbolic, new_sa: Symbolic, sa_index, sa_name_entry: Entry, names: list[str],
           accounts: dict[str, dict], values: Values):
    """A new pod of namespace `ns` as Calico sees it (its labels, then its namespace's and service account's),
    and its service account as Calico sees it."""
    ns_name, ns_labels = ns.name, dict(ns.labels)
    sa_labels = choice(sa_index, [fixed(values, accounts.get(n, {}), sa_slot) for n in names] + [new_sa])

    def sa_calico(key):
        return sa_name_entry if key == AUTO + "name" else sa_labels(key)

    def auto(key: str) -> Entry:
        if key == "pcns." + AUTO + "name" or key == AUTO + "namespace":
            return z3.BoolVal(True), values.const(NSNAME, ns_name), NSNAME
        if key.startswith("pcns."):
            return fixed(values, ns_labels, ns_slot)(key[5:])
        if key == "pcsa." + AUTO + "name" or key == AUTO + "serviceaccount":
            return sa_name_entry
        if key.startswith("pcsa."):
            return sa_labels(key[5:])
        if key == AUTO + "orchestrator":
            return z3.BoolVal(True), values.const(pod_slot(key), "k8s"), pod_slot(key)
        return z3.BoolVal(False), None, pod_slot(key)

    def calico_view(key: str) -> Entry:  # its own labels win over the automatic ones
        if key.startswith(RESERVED):
            return auto(key)
        own = pod(key)
        return ite(own[0], own, auto(key))

    return calico_view, sa_calico
