"""z3 encoding of every flow of the inventory and of its verdict.

A flow is (source, destination, protocol, port): source and destination are endpoint classes (pods alike to
every policy) or address atoms; the protocol an index into the protocols the map lists; the port 0..65535
(for ICMP the encoded type*256+code, 0 for protocols without ports). `allowed` is built from the Datalog
verdict: the class-level connectivity relation (rules/verdict.dl `allowed`, and tiers.dl for ordered ends),
so the semantics are written once, in rules/. In any-workload scope the inventory it is built from holds the
representatives of every pod that could be deployed (properties/universe.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from reasoner.analysis import Analysis
from reasoner.facts.classes import EndpointClass
from reasoner.model.ports import ALL, PORTED
from reasoner.query.map import class_connections


@dataclass(frozen=True)
class Flow:
    src: EndpointClass
    dst: EndpointClass
    protocol: str
    port: int


class Encoding:
    def __init__(self, an: Analysis, connections: dict | None = None, sources=None, destinations=None):
        """`connections`: the class-level map {(src, dst): allowed}, when the caller has it already; else the map
        from the class ids `sources` to `destinations` (None: every class), and `allowed` holds only there."""
        self.an = an
        self.classes = an.facts.classes
        self.protocols = list(an.facts.protocols)
        self.proto_index = {p: i for i, p in enumerate(self.protocols)}
        self.S, self.D, self.P, self.Port = z3.Ints("src dst proto port")
        self.connections = connections if connections is not None else \
            {(c.src.id, c.dst.id): c.allowed for c in class_connections(an, sources, destinations)}
        self.allowed = self._allowed()

    def _ports(self, proto: str, ranges: object) -> z3.BoolRef:
        p = self.P == self.proto_index[proto]
        if ranges == ALL:
            return p
        return z3.And(p, z3.Or([z3.And(self.Port >= lo, self.Port <= hi) for lo, hi in ranges]))  # type: ignore[union-attr]

    def _allowed(self) -> z3.BoolRef:
        # one formula per distinct port set (the map shares them), and per source one term per port set
        formulas: dict[int, z3.BoolRef] = {}
        by_src: dict[int, dict[int, list[int]]] = {}
        for (s, d), allowed in self.connections.items():
            key = id(allowed)
            if key not in formulas:
                formulas[key] = z3.Or([self._ports(p, r) for p, r in allowed.items()])
            by_src.setdefault(s, {}).setdefault(key, []).append(d)
        return z3.Or([z3.And(self.S == s, z3.Or([z3.And(self.in_set(self.D, ds), formulas[key])
                                                 for key, ds in groups.items()]))
                      for s, groups in by_src.items()]) if by_src else z3.BoolVal(False)

    def domain(self, same_class_ok: set[int]) -> z3.BoolRef:
        """Every flow that can exist: known classes; not both ends outside the cluster; a class to itself only
        between two of its endpoints (`same_class_ok`); a shared IP family; ports in range."""
        n = len(self.classes)
        external = [c.id for c in self.classes if c.external is not None]
        fam4 = [c.id for c in self.classes if 4 in c.families]
        fam6 = [c.id for c in self.classes if 6 in c.families]
        ported = [self.proto_index[p] for p in self.protocols if p in PORTED or p in ("ICMP", "ICMPv6")]

        def member(v, ids):
            return z3.Or([v == i for i in ids]) if ids else z3.BoolVal(False)

        return z3.And(
            self.S >= 0, self.S < n, self.D >= 0, self.D < n,
            z3.Not(z3.And(member(self.S, external), member(self.D, external))),
            z3.Or(self.S != self.D, member(self.S, sorted(same_class_ok))),
            z3.Or(z3.And(member(self.S, fam4), member(self.D, fam4)), z3.And(member(self.S, fam6), member(self.D, fam6))),
            self.P >= 0, self.P < len(self.protocols),
            z3.If(member(self.P, ported), z3.And(self.Port >= 0, self.Port <= 65535), self.Port == 0),
            z3.Implies(z3.Or([self.P == self.proto_index[p] for p in PORTED if p in self.proto_index] or [z3.BoolVal(False)]),
                       self.Port >= 1),
        )

    def in_set(self, var: z3.ArithRef, ids) -> z3.BoolRef:
        ids = sorted(ids)
        return z3.Or([var == i for i in ids]) if ids else z3.BoolVal(False)

    def decode(self, model: z3.ModelRef) -> Flow:
        s = model.eval(self.S, model_completion=True).as_long()
        d = model.eval(self.D, model_completion=True).as_long()
        p = model.eval(self.P, model_completion=True).as_long()
        port = model.eval(self.Port, model_completion=True).as_long()
        return Flow(self.classes[s], self.classes[d], self.protocols[p], port)
