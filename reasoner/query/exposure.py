"""Exposure: what could reach an endpoint, or what it could reach, beyond the input's endpoints.

The any-workload engine (reasoner/properties/universe.py) adds to the cluster a representative of every kind of
pod that could be deployed, in each existing namespace and in new namespaces of every labelling that policies
tell apart; the connectivity map of that wider cluster (`Map`, its ends the input's endpoints only) then says
what each representative exchanges with each endpoint. Each row is read from a representative (or from the
outside addresses of the map), so each claims a flow that a pod of that kind really has. The kinds are described
by namespace and labels: every kind of a namespace alike reads as "any new pod in NS" (or, every new namespace
alike, "any pod in any new namespace"); else one row per kind, with the labels of its representative (a value
`other` stands for any value that no policy names).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from reasoner import analysis
from reasoner.errors import UsageError
from reasoner.model.cluster import NAME_LABEL
from reasoner.properties import DEFAULT_BUDGET
from reasoner.query.addresses import Addresses
from reasoner.query.map import Focus, Keep, Map

INGRESS, EGRESS = "ingress", "egress"
NEW_POD, NEW_NAMESPACE, ADDRESSES = "new-pod", "new-namespace", "addresses"


@dataclass(frozen=True)
class Outsider:
    """A peer that the input does not hold. `kind`: `new-pod` (a new pod in existing `namespace`),
    `new-namespace` (a pod in a new namespace: `namespace` only when a selector reads namespace names,
    `namespace_labels` None for any new namespace), `addresses` (outside the cluster). `labels` None: any pod there."""

    kind: str
    namespace: str | None = None
    labels: tuple[tuple[str, str], ...] | None = None
    namespace_labels: tuple[tuple[str, str], ...] | None = None
    service_account: str | None = None  # when not `default`
    service_account_labels: tuple[tuple[str, str], ...] | None = None  # a new service account's
    addresses: Addresses | None = None


@dataclass
class Exposure:
    """One row: `endpoint` (a map end) receives from (`ingress`) or sends to (`egress`) `peer` what `allowed` says."""

    endpoint: str
    direction: str
    peer: Outsider
    allowed: dict[str, object]


class Exposures:
    """The any-workload universe of an analysis, analysed, and its map in `view` (ends: the input's endpoints).
    Raises UsageError when the engine finds more kinds of new pods than it is given to analyse, or its `budget`
    (seconds) runs out."""

    def __init__(self, an: analysis.Analysis, view: str = "workload", budget: float = DEFAULT_BUDGET):
        from reasoner.properties.kinds import TooMany
        from reasoner.properties.universe import build_universe

        try:
            self.universe = build_universe(an.cluster, budget=budget)
        except TooMany as exc:
            raise UsageError(str(exc)) from None
        self.wide = analysis.analyse(self.universe.cluster)
        new = self.universe.new_pods
        self.map = Map(self.wide, view, frozenset(ep.ref for ep in an.cluster.endpoints))
        self.spaces: dict[str, list[str]] = {}  # namespace -> its representatives
        for ref, p in new.items():
            self.spaces.setdefault(p.namespace, []).append(ref)
        self.fresh = {p.namespace for p in new.values() if p.new_namespace is not None}
        self.names = names_read(an.cluster)  # other names of new namespaces are the engine's choice
        self.kinds: dict[int, list[str]] = {}  # class -> its representatives
        for cls in self.wide.facts.classes:
            refs = [ep.ref for ep in cls.members if ep.ref in new]
            if refs:
                self.kinds[cls.id] = refs

    def rows(self, focus: Focus | None = None, direction: str = INGRESS) -> list[Exposure]:
        """The exposure of every map end that `focus` keeps (its namespace, selector and endpoint judge the end;
        its protocol and port, the traffic shown), in `direction`."""
        keep = Keep(self.wide, focus) if focus is not None else None
        table = self.map.into if direction == INGRESS else self.map.out
        side = "in" if direction == INGRESS else "out"
        out = []
        for u in self.map.units:
            reach: dict[str, dict] = {}  # representative -> what it exchanges with u
            for c, allowed in table.get(u.rep, {}).items():
                for ref in self.kinds.get(c, ()):
                    reach[ref] = allowed
            found = self._outsiders(reach)
            found += [(Outsider(ADDRESSES, addresses=a), allowed) for a, allowed in
                      self.map.addresses.get((side, u.rep), ())]
            for peer, allowed in found:
                if keep is not None:  # the row's one end in the input is u: the filters judge it alone
                    allowed = keep(u, u, allowed)
                if allowed:
                    out.append(Exposure(u.name, direction, peer, allowed))
        return out

    def _outsiders(self, reach: dict[str, dict]) -> list[tuple[Outsider, dict]]:
        """The kinds of new pods among `reach` (representative -> allowed), described: a namespace whose every
        kind gets the same as one row, every new namespace alike as one row, else one row per kind and traffic."""
        new = self.universe.new_pods
        key = self.map.key
        out: list[tuple[Outsider, dict]] = []
        whole: list[tuple[Outsider, dict]] = []  # the new namespaces whose every kind gets the same
        for ns in sorted(self.spaces):
            reps = [r for r in self.spaces[ns] if r in reach]
            if not reps:
                continue
            first = new[reps[0]]
            fresh = ns in self.fresh
            kind = NEW_NAMESPACE if fresh else NEW_POD
            ns_labels = _items({k: v for k, v in first.new_namespace.items() if k != NAME_LABEL}) if fresh else None
            named = ns if not fresh or self.names is None or ns in self.names else None
            if len(reps) == len(self.spaces[ns]) and len({key(reach[r]) for r in reps}) == 1:
                row = (Outsider(kind, named, None, ns_labels), reach[reps[0]])
                (whole if fresh else out).append(row)
                continue
            rows: dict[tuple, tuple[Outsider, dict]] = {}
            kinds: dict[Outsider, set] = {}  # every kind of the namespace: what its representatives get
            for r in self.spaces[ns]:
                p = new[r]
                peer = Outsider(kind, named, _items(p.labels), ns_labels,
                                p.service_account if p.service_account != "default" else None,
                                _items(p.new_service_account) if p.new_service_account is not None else None)
                kinds.setdefault(peer, set()).add(key(reach.get(r)))
                if r in reach:
                    rows.setdefault((peer, key(reach[r])), (peer, reach[r]))
            out.extend(row for row in rows.values() if not _implied(row, rows.values(), kinds, key))
        if whole and len(whole) == len(self.fresh) and len({key(a) for _p, a in whole}) == 1:
            out.append((Outsider(NEW_NAMESPACE), whole[0][1]))  # any pod in any new namespace
        else:
            out.extend(whole)
        out.sort(key=lambda row: row[0].kind != NEW_POD)  # new pods in existing namespaces first
        return out


def _implied(row: tuple[Outsider, dict], rows, kinds: dict[Outsider, set], key) -> bool:
    """Whether another row of the same namespace and traffic says as much with fewer labels (`labelled a=1`
    before `labelled a=1, b=2`): one whose kind gets what every kind holding its labels gets (`kinds`: what the
    representatives of each get, None for nothing), so that `labelled a=1` is true of every pod labelled so."""
    peer, allowed = row

    def holds(other: Outsider, kind: Outsider) -> bool:  # kind's labels hold other's, all else alike
        return set(other.labels) <= set(kind.labels) and dataclasses.replace(other, labels=kind.labels) == kind

    return any(other != peer and key(a) == key(allowed) and holds(other, peer)
               and all(got == kinds[other] for kind, got in kinds.items() if holds(other, kind)) for other, a in rows)


def names_read(cluster) -> set[str] | None:
    """The namespace names that some selector of the cluster compares a namespace's name with (its name label, or
    Calico's); None when one matches names by part (`contains`, `starts with`, `ends with`): any may matter."""
    from reasoner.model.calico import AUTO
    from reasoner.model.calico_selector import CalicoSelector
    from reasoner.properties.label_tests import collect_tests
    from reasoner.properties.values import STRING_OPS

    keys = {"ns": {NAME_LABEL}, "ns-calico": {NAME_LABEL, AUTO + "name"},
            "calico": {AUTO + "namespace", "pcns." + NAME_LABEL, "pcns." + AUTO + "name"}}
    out: set[str] = set()
    for t in collect_tests(cluster):
        if t.view == "ns-name":
            out.update(t.what)
        elif isinstance(t.what, CalicoSelector) and t.view in keys:
            for lit in (lit for conj in t.what.dnf for lit in conj if lit.key in keys[t.view]):
                if lit.op in STRING_OPS:
                    return None
                out.update(lit.values)
        elif t.view in keys:
            out.update(v for r in t.what.requirements if r.key in keys[t.view] for v in r.values)
    return out


def _items(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def exposure(an: analysis.Analysis, view: str = "workload", focus: Focus | None = None, direction: str = INGRESS,
             budget: float = DEFAULT_BUDGET) -> list[Exposure]:
    """What could reach each endpoint (or what it could reach, `direction` egress) beyond the input's endpoints."""
    return Exposures(an, view, budget).rows(focus, direction)


__all__ = ["Exposure", "Exposures", "Outsider", "exposure", "INGRESS", "EGRESS"]
