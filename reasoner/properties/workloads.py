"""`scope: any-workload`: every pod that could be deployed, as a finite set of representative pods.

A pod that does not exist yet is known to policy only through tests that compare its labels (and those of
its namespace and service account) with constants, its namespace, its service account's name, and the
address atom of its IP. Two new pods that agree on every such test of the input and of the spec are
indistinguishable to every rule and to every requirement. So the new pods are quantified symbolically:
z3 takes label values as strings (tests are `==`, `in`, `has`, `contains`, `starts with`, `ends with`
against constants), and enumerates every *realizable* combination of test outcomes (AllSAT projected on
the tests). Each combination gets one concrete representative pod (two, so that traffic between two pods
alike is covered too); the representatives join the inventory, and the Datalog rules decide everything
from there: the semantics stay in `rules/`.

Choices quantified over: the namespace (each existing one, or a new namespace with any name and labels),
the service account (each existing one of that namespace, `default`, or a new one with any name and
labels), the pod labels, and the IP (each address atom inside the pod CIDRs; default: every address). Every
representative gets an address of its own, which no endpoint of the input has, so a witness between two of
them is realizable.
Not quantified: named container ports (new pods declare none) and host networking (new pods use the pod
network). A namespace that does not exist and that a selector pins by name is materialised once per
proof: a second labelling of the same new name is not explored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from time import monotonic
from typing import Callable

import z3

from reasoner.facts.classes import Atoms, policy_cidrs
from reasoner.model.calico import AUTO
from reasoner.model.calico_selector import CalicoSelector, Lit
from reasoner.model.cidr import Cidr, ip_int, ip_text
from reasoner.model.cluster import NAME_LABEL, Cluster, Endpoint, Namespace, ServiceAccount
from reasoner.model.origin import Origin
from reasoner.model.policy import PodPeer
from reasoner.model.selector import LabelSelector, Op
from reasoner.properties import DEFAULT_BUDGET
from reasoner.sources.fields import DNS_LABEL, QUALIFIED_NAME, Word

ORIGIN = Origin("<any-workload>", None)
_MAX_REPRESENTATIVES = 6_000  # new pods (two per kind and address atom): beyond, the analysis is too slow
_MAX_SIDE_REPRESENTATIVES = 10_000  # new pods of one requirement (build_sides; measured: 6 050 with 2 000 pods, 60 s)


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


# --------------------------------------------------------------------------------------------------
# Tests: what policy (and the spec) can ask of a pod
# --------------------------------------------------------------------------------------------------

SRC, DST = "src", "dst"
BOTH = frozenset({SRC, DST})


@dataclass(frozen=True)
class Test:
    """One question about a new pod. `view`: which labels it reads — `pod` (its own, k8s selectors),
    `calico` (Calico's view of the pod), `ns` (namespace labels, k8s), `ns-calico`, `sa-calico`,
    `sa-name`, `ns-name`. `scope`: the namespaces where it can matter (None: any; a name; or a selector on
    the namespace, `LabelSelector` or `CalicoSelector`); a test that cannot matter only costs time.

    Where a flow's verdict can depend on it: `roles`, the ends of a flow at which the pod is tested (`src`: a
    policy's egress subject, a peer of an ingress rule, a Calico rule's `source`; `dst`: the converse);
    `guard` (end, namespace): only for flows whose other end `end` is in `namespace` (the policy's, when it is
    that end's subject); `subject`: it decides whether a policy applies to the pod."""

    view: str
    what: object  # LabelSelector | CalicoSelector | tuple[str, ...] (names)
    scope: object = None
    roles: frozenset = BOTH
    guard: tuple | None = None
    subject: bool = False


def _ends(types) -> frozenset:
    """The ends of a flow at which a policy of these types tests its subject."""
    from reasoner.model.policy import Direction

    return frozenset(({DST} if Direction.INGRESS in types else set()) | ({SRC} if Direction.EGRESS in types else set()))


def service_selector(pairs) -> LabelSelector:
    """A Service's selector (key, value pairs, all to hold) as a pod LabelSelector."""
    from reasoner.model.selector import Requirement

    return LabelSelector(frozenset(Requirement(k, Op.IN, frozenset({v})) for k, v in pairs))


def collect_tests(cluster: Cluster, extra: list[Test] = ()) -> list[Test]:
    tests: list[Test] = list(extra)

    def k8s_peer(peer, own_ns, role, guard):
        if not isinstance(peer, PodPeer):
            return
        if peer.namespace_selector is not None:
            tests.append(Test("ns", peer.namespace_selector, None, role, guard))
        if peer.pod_selector is not None:
            tests.append(Test("pod", peer.pod_selector, peer.namespace_selector or own_ns, role, guard))

    src, dst = frozenset({SRC}), frozenset({DST})
    for pol in cluster.policies:
        tests.append(Test("pod", pol.pod_selector, pol.namespace, _ends(pol.types), subject=True))
        for rule in pol.ingress:
            for peer in rule.peers or ():
                k8s_peer(peer, pol.namespace, src, (DST, pol.namespace))
        for rule in pol.egress:
            for peer in rule.peers or ():
                k8s_peer(peer, pol.namespace, dst, (SRC, pol.namespace))
    for apol in cluster.admin_policies:
        roles = _ends(apol.types)
        tests.append(Test("ns", apol.namespace_selector, None, roles, subject=True))
        tests.append(Test("pod", apol.pod_selector, apol.namespace_selector, roles, subject=True))
        for arule in apol.ingress:
            for peer in arule.peers or ():
                k8s_peer(peer, None, src, None)
        for arule in apol.egress:
            for peer in arule.peers or ():
                k8s_peer(peer, None, dst, None)
    for cpol in cluster.calico_policies:
        scope = cpol.namespace if cpol.namespace else cpol.namespace_selector
        roles = _ends(cpol.types)
        tests.append(Test("calico", cpol.selector, scope, roles, subject=True))
        if cpol.namespace_selector is not None:
            tests.append(Test("ns-calico", cpol.namespace_selector, None, roles, subject=True))
        if cpol.service_account_selector is not None:
            tests.append(Test("sa-calico", cpol.service_account_selector, scope, roles, subject=True))
        for crules, subject_end in ((cpol.ingress, DST), (cpol.egress, SRC)):
            guard = (subject_end, cpol.namespace) if cpol.namespace else None
            for crule in crules:
                for ent, role in ((crule.source, src), (crule.destination, dst)):
                    rscope = ent.namespace_selector if ent.namespace_selector is not None else cpol.namespace
                    if ent.namespace_selector is not None:
                        tests.append(Test("ns-calico", ent.namespace_selector, None, role, guard))
                    for sel in (ent.selector, ent.not_selector):
                        if sel is not None:
                            tests.append(Test("calico", sel, rscope, role, guard))
                    if ent.service is not None:  # a Service's backends: its namespace's pods matching its selector
                        svc = cluster.service(*ent.service)
                        if svc is not None and svc.selector is not None:
                            tests.append(Test("pod", service_selector(svc.selector), svc.namespace, role, guard))
                    if ent.service_accounts is not None:
                        if ent.service_accounts.selector is not None:
                            tests.append(Test("sa-calico", ent.service_accounts.selector, rscope, role, guard))
                        if ent.service_accounts.names:
                            tests.append(Test("sa-name", tuple(ent.service_accounts.names), rscope, role, guard))
    return tests


def project(tests: list[Test], role: str, other_namespaces: frozenset[str] | None,
            subjects_only: bool = False) -> list[Test]:
    """The tests that can decide a flow at which the new pod stands at `role`, when the flow's other end lies in
    one of `other_namespaces` (None: anywhere); `subjects_only`: only those that decide which policies apply."""
    out = []
    for t in tests:
        if role not in t.roles or (subjects_only and not t.subject):
            continue
        if t.guard is not None and t.guard[0] != role and t.guard[1] is not None and other_namespaces is not None \
                and t.guard[1] not in other_namespaces:
            continue
        out.append(t)
    return out


def spec_tests(peers, services: dict | None = None) -> list[Test]:
    """The tests that the spec's peers make of an endpoint (`services`: NS/NAME -> selector pairs)."""
    out = []
    for p in peers:
        if p.namespace is not None:
            out.append(Test("ns-name", (p.namespace,)))
        if p.namespace_selector is not None:
            out.append(Test("ns-calico", p.namespace_selector))
        if p.selector is not None:
            out.append(Test("calico", p.selector))
        if p.service_account is not None:
            out.append(Test("sa-name", (p.service_account,)))
        if p.service is not None:  # its backends: the pods of its namespace matching its selector
            ns, _, name = p.service.partition("/")
            out.append(Test("ns-name", (ns,)))
            selector = services.get(p.service) if services else None
            if selector:
                out.append(Test("pod", service_selector(selector), ns))
    return out


# --------------------------------------------------------------------------------------------------
# Symbolic label maps
# --------------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------------
# Representatives
# --------------------------------------------------------------------------------------------------

@dataclass
class NewPod:
    """A representative pod: what a pod of this kind would need to be."""

    namespace: str
    labels: dict[str, str]
    service_account: str
    ip: str
    new_namespace: dict[str, str] | None = None  # the new namespace's labels
    new_service_account: dict[str, str] | None = None  # the new service account's labels

    def describe(self) -> dict:
        out: dict = {"namespace": self.namespace, "labels": dict(sorted(self.labels.items())),
                     "serviceAccount": self.service_account, "ip": self.ip}
        if self.new_namespace is not None:
            out["newNamespaceLabels"] = dict(sorted(self.new_namespace.items()))
        if self.new_service_account is not None:
            out["newServiceAccountLabels"] = dict(sorted(self.new_service_account.items()))
        return out


@dataclass
class Universe:
    """The inventory plus representatives of every pod that could be deployed."""

    cluster: Cluster
    new_pods: dict[str, NewPod] = field(default_factory=dict)  # endpoint ref -> what it stands for
    signatures: int = 0


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


def build_universe(cluster: Cluster, extra: list[Test] = (), pod_cidrs: list[Cidr] | None = None,
                   limit: int = _MAX_REPRESENTATIVES, budget: float = DEFAULT_BUDGET) -> Universe:
    """The inventory plus a representative of every kind of pod that could be deployed, found within `budget`
    seconds (else OutOfBudget)."""
    (out,), universe = build_worlds([cluster], extra, pod_cidrs, limit, budget)
    return universe


def _copy(cluster: Cluster) -> Cluster:
    """A copy whose inventory lists can grow; everything else (policies, host endpoints, pools, ...) is shared."""
    return dataclasses.replace(cluster, namespaces=dict(cluster.namespaces), endpoints=list(cluster.endpoints),
                               services=list(cluster.services), service_accounts=list(cluster.service_accounts))


def build_worlds(clusters: list[Cluster], extra: list[Test] = (), pod_cidrs: list[Cidr] | None = None,
                 limit: int = _MAX_REPRESENTATIVES, budget: float = DEFAULT_BUDGET) -> tuple[list[Cluster], Universe]:
    """The same representative pods added to each of several versions of a cluster (diff): a kind is a
    combination of test outcomes in every version at once, so that each new pod behaves, in each version,
    as every pod of its kind does there. Returns the widened clusters and the universe of the first.
    Raises OutOfBudget when that takes more than `budget` seconds, TooMany when there are too many kinds."""
    deadline = Budget(budget)
    tests = [collect_tests(c, list(extra)) for c in clusters]
    values = Values([t for ts in tests for t in ts])
    outs = [_copy(c) for c in clusters]
    universe = Universe(outs[0])
    names = sorted({n for c in clusters for n in c.namespaces})
    namespaces: list[tuple[str, dict | None]] = [(n, None) for n in names]
    for name, labels in _new_namespaces(set(names), [t for ts in tests for t in ts], values, limit, deadline):
        namespaces.append((name, labels))
    for name, labels in namespaces:  # a namespace that a version lacks gets only its name label there
        for out in outs:
            if name not in out.namespaces:
                out.namespaces[name] = Namespace(name, tuple(sorted((labels or {NAME_LABEL: name}).items())), ORIGIN)
    atoms = _addresses(clusters, pod_cidrs)
    used = {ep.ref for c in clusters for ep in c.endpoints}
    n = 0
    for ns, new_labels in namespaces:
        for labels, sa, sa_new in _pod_kinds(outs, ns, tests, values, limit, deadline):
            universe.signatures += 1
            if sa_new is not None:
                for out in outs:
                    out.service_accounts.append(ServiceAccount(ns, sa, tuple(sorted(sa_new.items())), ORIGIN))
            for atom in atoms:
                n += 1
                if n * 2 > limit:
                    raise TooMany(f"any-workload: {universe.signatures}+ kinds of new pods times {len(atoms)} address "
                                  f"atoms need more than {limit} representative pods; not analysed (podCIDRs "
                                  f"narrows the addresses)")
                for suffix in ("", "-twin"):
                    name = f"new-pod-{n}{suffix}"
                    while f"{ns}/{name}" in used:
                        name = "x" + name
                    used.add(f"{ns}/{name}")
                    ip = atom.take()
                    for out in outs:
                        out.endpoints.append(Endpoint(ns, name, "Pod", tuple(sorted(labels.items())), sa, (), (ip,),
                                                      False, ORIGIN))
                    universe.new_pods[f"{ns}/{name}"] = NewPod(ns, labels, sa, ip, new_labels, sa_new)
    deadline.ms()  # a budget spent by now leaves no time to analyse the representatives
    return outs, universe


@dataclass(frozen=True)
class Side:
    """The new pods that one end of a requirement needs. `tests`: those that can decide its flows (`project`);
    `member`: a spec peer (reasoner.properties.spec.Peer) they must belong to, or with `outside` must not (None:
    no constraint)."""

    tests: list[Test]
    member: object = None
    outside: bool = False


def _outside_namespace(peer, ns: Namespace, cluster: Cluster) -> bool:
    """Whether every new pod of namespace `ns` is outside `peer`, whatever its labels and service account."""
    if peer.pods is not None:  # names existing pods only
        return True
    if peer.namespace is not None and ns.name != peer.namespace:
        return True
    if peer.namespace_selector is not None and \
            not peer.namespace_selector.matches({**dict(ns.labels), AUTO + "name": ns.name}):
        return True
    if peer.service is not None:
        svc = cluster.service(*peer.service.split("/", 1))
        return svc is None or svc.namespace != ns.name or svc.selector is None
    return False


def _member_formula(peer, cluster: Cluster, values: Values) -> Callable:
    """The part of `peer`'s membership that a new pod's labels and service account decide, as a formula."""
    def formula(pod: Symbolic, calico_view, sa_name) -> z3.BoolRef:
        terms = []
        if peer.selector is not None:
            terms.append(calico_formula(peer.selector, calico_view, values))
        if peer.service_account is not None:
            terms.append(sa_name == values.const(SANAME, peer.service_account))
        if peer.service is not None:
            svc = cluster.service(*peer.service.split("/", 1))
            terms.append(k8s_formula(service_selector(svc.selector), pod, values))
        return z3.And(terms) if terms else z3.BoolVal(True)

    return formula


def build_sides(cluster: Cluster, sides: list[Side], pod_cidrs: list[Cidr] | None = None,
                limit: int = _MAX_SIDE_REPRESENTATIVES, budget: float = DEFAULT_BUDGET) -> Universe:
    """The inventory plus, for each side of a requirement, a representative of every kind of pod that could be
    deployed there, kinds told apart only by the side's tests (`project`): the pods that could stand at that end
    of a flow that the requirement asks about, as that flow's verdict sees them. A flow between two new pods is
    decided by the source's tests of its side and the destination's of its side, so a representative of each,
    side by side, behaves as the pair does; no twin is needed. Raises TooMany beyond `limit` representatives,
    OutOfBudget beyond `budget` seconds."""
    deadline = Budget(budget)
    every = [t for side in sides for t in side.tests]
    values = Values(every)
    out = _copy(cluster)
    universe = Universe(out)
    atoms = _addresses([cluster], pod_cidrs)
    used = {ep.ref for ep in cluster.endpoints}
    n = 0
    for side in sides:
        peer = side.member
        if peer is not None and not side.outside and peer.pods is not None:
            continue  # `pods:` names existing pods: no new pod belongs
        namespaces: list[tuple[str, dict | None]] = [(name, None) for name in sorted(cluster.namespaces)]
        pinned = peer is not None and not side.outside and peer.namespace in cluster.namespaces
        if not pinned:
            for name, labels in _new_namespaces(set(cluster.namespaces), side.tests, values, limit, deadline):
                if name in out.namespaces and not name.startswith("new-namespace-"):
                    # a name pinned by a test, made for a side before: tried with one labelling (module doc)
                    namespaces.append((name, dict(out.namespaces[name].labels)))
                    continue
                if name in out.namespaces:  # an earlier side's new namespace has that name: another one
                    k = len(out.namespaces)
                    while f"new-namespace-{k}" in out.namespaces:
                        k += 1
                    name = f"new-namespace-{k}"
                    labels = {**labels, NAME_LABEL: name}
                out.namespaces[name] = Namespace(name, tuple(sorted(labels.items())), ORIGIN)
                namespaces.append((name, labels))
        for ns_name, new_labels in namespaces:
            ns = out.namespaces[ns_name]
            member = None
            if peer is not None:
                if _outside_namespace(peer, ns, out):
                    if not side.outside:
                        continue  # no new pod of ns belongs: none is needed; outside it, every one is
                else:
                    inside = _member_formula(peer, out, values)
                    member = (lambda f: lambda *a: z3.Not(f(*a)))(inside) if side.outside else inside
            for labels, sa, sa_new in _pod_kinds([out], ns_name, [side.tests], values, limit, deadline, member):
                universe.signatures += 1
                if sa_new is not None:
                    out.service_accounts.append(ServiceAccount(ns_name, sa, tuple(sorted(sa_new.items())), ORIGIN))
                for atom in atoms:
                    n += 1
                    if n > limit:
                        raise TooMany(f"any-workload: {universe.signatures}+ kinds of new pods times {len(atoms)} "
                                      f"address atoms need more than {limit} representative pods; not analysed "
                                      f"(podCIDRs narrows the addresses)")
                    name = f"new-pod-{n}"
                    while f"{ns_name}/{name}" in used:
                        name = "x" + name
                    used.add(f"{ns_name}/{name}")
                    ip = atom.take()
                    out.endpoints.append(Endpoint(ns_name, name, "Pod", tuple(sorted(labels.items())), sa, (), (ip,),
                                                  False, ORIGIN))
                    universe.new_pods[f"{ns_name}/{name}"] = NewPod(ns_name, labels, sa, ip, new_labels, sa_new)
    deadline.ms()
    return universe


# Addresses a reader recognises as pod addresses, used when the atom holds them.
_TYPICAL = ("10.244.0.10", "192.168.0.10", "172.16.0.10", "100.64.0.10", "10.0.0.10", "fd00::10")


def default_pod_cidrs(cluster: Cluster) -> list[Cidr]:
    """Per IP family, the smallest CIDR that holds every pod address of the input and is no smaller than a
    /16 (IPv6: /48): the pod CIDR as far as the input shows it. A family in which no pod has an address is
    left out; every address of both families when no pod has a known address."""
    if not any(ip for ep in cluster.endpoints if not ep.host_network for ip in ep.ips):
        return [Cidr.parse("0.0.0.0/0"), Cidr.parse("::/0")]
    out = []
    for family in (4, 6):
        values = [ip_int(ip)[1] for ep in cluster.endpoints if not ep.host_network for ip in ep.ips
                  if ip_int(ip)[0] == family]
        if not values:
            continue
        bits = 32 if family == 4 else 128
        lo, hi = min(values), max(values)
        prefix = min(bits - (lo ^ hi).bit_length(), 16 if family == 4 else 48)  # no smaller than a /16 (/48)
        base = lo >> (bits - prefix) << (bits - prefix) if prefix else 0
        out.append(Cidr(family, base, base + (1 << (bits - prefix)) - 1))
    return out


class _AtomAddresses:
    """The addresses of one address atom that representatives get: each a new one, none an endpoint has, so that
    a witness between representatives is a pair of pods that could run side by side. Only an atom with fewer
    free addresses than representatives hands one out again (never a taken one while a free one is left)."""

    def __init__(self, family: int, lo: int, hi: int, start: int, taken: set[str]):
        self.family, self.lo, self.hi, self.next, self.taken = family, lo, hi, start, taken
        self.given: list[str] = []

    def take(self) -> str:
        for _ in range(min(self.hi - self.lo + 1, 1 << 16)):
            value, self.next = self.next, self.next + 1 if self.next < self.hi else self.lo
            text = ip_text(self.family, value)
            if text not in self.taken:
                self.taken.add(text)
                self.given.append(text)
                return text
        if not self.given:  # every address of the atom belongs to an endpoint: share the first
            self.given.append(ip_text(self.family, self.lo))
        self.given.append(self.given.pop(0))
        return self.given[-1]


def _addresses(clusters: list[Cluster], pod_cidrs: list[Cidr] | None) -> list[_AtomAddresses]:
    """The address atoms (of every version's CIDRs) inside the pod CIDRs, each handing out addresses that no
    endpoint and no other representative has."""
    every, tops = [], []
    for c in clusters:
        e, t = policy_cidrs(c)
        every += e
        tops += t
    cidrs = list(pod_cidrs) if pod_cidrs else default_pod_cidrs(clusters[0])
    atoms = Atoms(every + cidrs, tops)
    taken = {ip_text(*ip_int(ip)) for c in clusters for ep in c.endpoints for ip in ep.ips}
    typical = [Cidr.of_ip(ip) for ip in _TYPICAL]
    out = []
    for atom in atoms.atoms:
        if not any(c.family == atom.family and c.lo <= atom.lo and atom.hi <= c.hi for c in cidrs):
            continue
        start = next((c.lo for c in typical if c.family == atom.family and atom.lo <= c.lo <= atom.hi),
                     atom.lo + 10 if atom.hi - atom.lo >= 20 else atom.lo)
        out.append(_AtomAddresses(atom.family, atom.lo, atom.hi, start, taken))
    return out


def _new_namespaces(existing: set[str], tests: list[Test], values: Values, limit: int, budget: Budget):
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
            continue  # a name pinned by a selector, already materialised with other labels (see module doc)
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


def _pod_kinds(worlds: list[Cluster], ns_name: str, tests: list[list[Test]], values: Values, limit: int,
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
            continue  # a name pinned by a test, already made with other labels (see module doc)
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
