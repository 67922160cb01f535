"""The z3 reading of label values and selectors, for pods, namespaces and service accounts that z3 chooses.

Tests compare a value only with constants, so a value is the number of the constant it equals (or any other
number), and a z3 string with Kubernetes' label-value syntax only where a test uses `contains`, `starts with`
or `ends with` (`Values`). A label map is one that z3 chooses (`Symbolic`) or a fixed one; Kubernetes and
Calico selectors become formulas over them. `policy_selectable` asks whether a policy's selectors can select
any pod at all. Not encoded: label keys that no test reads (absent from every representative).
"""

from __future__ import annotations

from typing import Callable

import z3

from reasoner.model.calico import AUTO
from reasoner.model.calico_selector import CalicoSelector, Lit
from reasoner.model.cluster import NAME_LABEL
from reasoner.model.selector import LabelSelector, Op
from reasoner.properties.label_tests import Test
from reasoner.sources.fields import DNS_LABEL, QUALIFIED_NAME, Word


def _word(word: Word) -> z3.ReRef:
    """`word` (Kubernetes name syntax, lengths included) as a z3 regular expression."""
    def chars(items: tuple[str, ...]) -> z3.ReRef:
        return z3.Union(*(z3.Re(c) if len(c) == 1 else z3.Range(c[0], c[2]) for c in items))
    return z3.Concat(chars(word.first), z3.Option(z3.Concat(z3.Loop(chars(word.inner), 0, word.longest - 2),
                                                            chars(word.last))))


# Kubernetes syntax, as manifests are checked: a label value is empty or a qualified name; a namespace or service
# account name is a DNS label.
_LABEL_VALUE = z3.Option(_word(QUALIFIED_NAME))
_DNS_LABEL = _word(DNS_LABEL)


NSNAME, SANAME = "name:namespace", "name:serviceaccount"
RESERVED = ("pcns.", "pcsa.", AUTO)  # label prefixes of Calico's own labels: new pods do not carry them
STRING_OPS = frozenset({"contains", "notcontains", "starts", "notstarts", "ends", "notends"})


def ns_slot(key: str) -> str:
    return NSNAME if key in (NAME_LABEL, AUTO + "name") else "label:" + key


def sa_slot(key: str) -> str:
    return SANAME if key == AUTO + "name" else "label:" + key


def pod_slot(key: str) -> str:
    """Where the value of a pod's Calico label `key` can come from (own labels share it, since they win)."""
    if key.startswith("pcns."):
        return ns_slot(key[5:])
    if key.startswith("pcsa."):
        return sa_slot(key[5:])
    if key == AUTO + "namespace":
        return NSNAME
    if key == AUTO + "serviceaccount":
        return SANAME
    return "label:" + key


class Values:
    """Label values as z3 terms. Tests compare a value only with constants, so a value is exactly known by
    which constant it equals, if any: an integer (the constant's number, or any other integer for a value
    that no test names). Only where a test uses `contains`, `starts with` or `ends with` is a value a z3
    string (with Kubernetes' syntax for label values)."""

    def __init__(self, tests: list[Test]):
        self.ids: dict[str, int] = {}
        self.names: list[str] = []  # the constant of each number
        self.stringy: set[str] = set()
        for t in tests:  # every constant gets its number up front, so "other" never names one
            if isinstance(t.what, CalicoSelector):
                for conj in t.what.dnf:
                    for lit in conj:
                        for v in lit.values:
                            self.number(v)
                        if lit.op in STRING_OPS:
                            self.stringy.update({pod_slot(lit.key), ns_slot(lit.key), sa_slot(lit.key)})
            elif isinstance(t.what, LabelSelector):
                for r in t.what.requirements:
                    for v in sorted(r.values):
                        self.number(v)
            else:
                for v in t.what:
                    self.number(v)

    def number(self, value: str) -> int:
        if value not in self.ids:
            self.ids[value] = len(self.names)
            self.names.append(value)
        return self.ids[value]

    def const(self, slot: str, value: str) -> z3.ExprRef:
        if slot in self.stringy:
            return z3.StringVal(value)
        return z3.IntVal(self.number(value))

    def var(self, name: str, slot: str, constraints: list, dns: bool = False) -> z3.ExprRef:
        if slot not in self.stringy:
            return z3.Int(name)
        v = z3.String(name)
        constraints.append(z3.InRe(v, _DNS_LABEL if dns else _LABEL_VALUE))
        return v

    def other(self, slot: str) -> z3.ExprRef:
        """A value that no test names (preferred in witnesses: it says "any other value")."""
        return z3.StringVal("other") if slot in self.stringy else z3.IntVal(-1)

    def decode(self, slot: str, term: z3.ExprRef, fresh: str = "other") -> str:
        if slot in self.stringy:
            return term.as_string()
        value = term.as_long()
        if 0 <= value < len(self.names):
            return self.names[value]
        name, n = fresh, 1
        while name in self.ids:
            n += 1
            name = f"{fresh}-{n}"
        return name


Entry = tuple[z3.BoolRef, z3.ExprRef | None, str]  # (has the key, its value, its slot)


class Symbolic:
    """A label map whose keys and values z3 chooses (only the keys that tests read are materialised)."""

    def __init__(self, prefix: str, values: Values, slot: Callable[[str], str], constraints: list):
        self.prefix = prefix
        self.values = values
        self.slot = slot
        self.vars: dict[str, Entry] = {}
        self.constraints = constraints

    def __call__(self, key: str) -> Entry:
        if key not in self.vars:
            n = len(self.vars)
            slot = self.slot(key)
            self.vars[key] = (z3.Bool(f"{self.prefix}.has.{n}"),
                              self.values.var(f"{self.prefix}.val.{n}", slot, self.constraints), slot)
        return self.vars[key]

    def prefs(self, absent_only: bool = False) -> list:
        """What a readable witness prefers: a key absent, or else "any other value"."""
        if absent_only:
            return [z3.Not(has) for has, _, _ in self.vars.values()]
        return [z3.Or(z3.Not(has), val == self.values.other(slot)) for has, val, slot in self.vars.values()]

    def concrete(self, model: z3.ModelRef) -> dict[str, str]:
        out = {}
        for key, (has, val, slot) in self.vars.items():
            if z3.is_true(model.eval(has, model_completion=True)):
                out[key] = self.values.decode(slot, model.eval(val, model_completion=True))
        return out


def fixed(values: Values, labels: dict[str, str], slot: Callable[[str], str]) -> Callable[[str], Entry]:
    def view(key: str) -> Entry:
        s = slot(key)
        return (z3.BoolVal(True), values.const(s, labels[key]), s) if key in labels else (z3.BoolVal(False), None, s)
    return view


def ite(cond: z3.BoolRef, a: Entry, b: Entry) -> Entry:
    has = z3.If(cond, a[0], b[0])
    if a[1] is None:
        return has, b[1], b[2]
    if b[1] is None:
        return has, a[1], a[2]
    return has, z3.If(cond, a[1], b[1]), a[2]


def choice(index: z3.ArithRef, options: list[Callable[[str], Entry]]) -> Callable[[str], Entry]:
    """The label map `options[index]`."""

    def view(key: str) -> Entry:
        out = options[-1](key)
        for i in range(len(options) - 2, -1, -1):
            out = ite(index == i, options[i](key), out)
        return out

    return view


def lit_formula(lit: Lit, view: Callable[[str], Entry], values: Values) -> z3.BoolRef:
    if lit.negated:
        return z3.Not(lit_formula(lit.complement(), view, values))
    has, val, slot = view(lit.key)
    op = lit.op
    if op == "has" or val is None:
        return has if op == "has" else z3.BoolVal(False)
    if op == "in":
        return z3.And(has, z3.Or([val == values.const(slot, v) for v in lit.values]))
    if op == "eq":
        return z3.And(has, val == values.const(slot, lit.values[0]))
    probe = z3.StringVal(lit.values[0])
    if op == "contains":
        return z3.And(has, z3.Contains(val, probe))
    if op == "starts":
        return z3.And(has, z3.PrefixOf(probe, val))
    return z3.And(has, z3.SuffixOf(probe, val))


def calico_formula(sel: CalicoSelector, view: Callable[[str], Entry], values: Values) -> z3.BoolRef:
    if not sel.dnf:
        return z3.BoolVal(False)
    return z3.Or([z3.And([lit_formula(lit, view, values) for lit in conj]) for conj in sel.dnf])


def k8s_formula(sel: LabelSelector, view: Callable[[str], Entry], values: Values) -> z3.BoolRef:
    terms = []
    for r in sel.requirements:
        has, val, slot = view(r.key)
        if r.op is Op.EXISTS:
            terms.append(has)
        elif r.op is Op.DOES_NOT_EXIST:
            terms.append(z3.Not(has))
        else:
            inside = z3.And(has, z3.Or([val == values.const(slot, v) for v in sorted(r.values)])) \
                if val is not None else z3.BoolVal(False)
            terms.append(inside if r.op is Op.IN else z3.Not(inside))
    return z3.And(terms) if terms else z3.BoolVal(True)


SELECTABLE_TIMEOUT_MS = 10_000  # for one policy's selectors in `policy_selectable`


def policy_selectable(pol) -> bool:
    """Whether some pod, in some namespace, could ever be selected by `pol` (z3 over every labelling): False
    for contradictory selectors such as `a == 'x' && a == 'y'`."""
    from reasoner.model.admin import AdminPolicy
    from reasoner.model.calico import CalicoPolicy

    tests: list[Test] = []
    if isinstance(pol, CalicoPolicy):
        pod_tests = [Test("calico", pol.selector)]
        if pol.namespace_selector is not None:
            tests.append(Test("ns-calico", pol.namespace_selector))
        if pol.service_account_selector is not None:
            tests.append(Test("sa-calico", pol.service_account_selector))
    elif isinstance(pol, AdminPolicy):
        pod_tests = [Test("pod", pol.pod_selector)]
        tests.append(Test("ns", pol.namespace_selector))
    else:
        pod_tests = [Test("pod", pol.pod_selector)]
    values = Values(pod_tests + tests)
    constraints: list = []
    pod = Symbolic("pod", values, pod_slot, constraints)
    ns = Symbolic("ns", values, ns_slot, constraints)
    sa = Symbolic("sa", values, sa_slot, constraints)
    formulas = []
    for t in pod_tests + tests:
        view = {"pod": pod, "calico": pod, "ns": ns, "ns-calico": ns, "sa-calico": sa}[t.view]
        formulas.append(k8s_formula(t.what, view, values) if isinstance(t.what, LabelSelector)
                        else calico_formula(t.what, view, values))
    solver = z3.Solver()
    solver.set(timeout=SELECTABLE_TIMEOUT_MS)  # past it the answer is unknown: selectable, so nothing is claimed
    solver.add(*constraints, *formulas)
    return solver.check() != z3.unsat
