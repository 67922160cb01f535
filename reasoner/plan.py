"""The bulk plan: what every pair of endpoint classes may send each other, computed with bitsets.

The rules in `rules/` are the specification, written per flow and evaluated by pyDatalog (`flow_allowed`).
Asking them for every pair and every port would materialize millions of tuples, so the map, diff and the
proofs take this plan instead. It reads only the per-class and per-rule relations of the specification,
which are small (which policies apply to which class, which classes a rule's peer or EntityRule matches,
which port atoms a rule covers), and composes them with bit-parallel algebra: a set of peer classes is a
Python integer with bit C set for class C.

For one end (a subject class and a direction):
- not isolated: every peer, every port;
- the union of Kubernetes rules (`egress_rule`/`ingress_rule`): each rule gives its ports to the peers it
  matches (`rule_peer_ok`: the union of its peers' `peer_match`), a named port resolved on the destination
  (`class_port`);
- ordered evaluation (`ordered`; rules/tiers.dl): per port region, the tiers in order; in each tier the rules
  in rank order; the first Allow/Deny/Pass rule matching a peer decides it, a tier's default ends the rest,
  and what no tier decides is allowed (the namespace profile). A rule's peers are those of `rule_hits` in
  tiers.dl: every peer for a universal rule, else `rule_peer_ok` (Kubernetes and admin rules) or the
  EntityRule on the peer's end (`ent_match`) for a Calico rule whose own end matches the subject.

A pair's ports are the meet of the source's egress end towards the destination and the destination's
ingress end towards the source, for pairs that can exist (`pair_ok`). Tests check the plan against
`flow_allowed` on every corpus scenario and on random clusters (tests/test_plan.py).

A host endpoint's ends (failsafe ports, untracked and preDNAT hooks, node ports forwarded to backends) are
composed per peer in reasoner/query/hosts.py `HostEnds`, from this plan's evaluation of each hook (`regions`)
and of its normal ends; tests/test_calico_crosscheck.py checks them against `flow_allowed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from reasoner.facts.schema import EVALUATIONS
from reasoner.model.ranges import complement, merge
from reasoner.progress import counted

FULL = ((0, 65535),)
DIRECTIONS = ("ingress", "egress")


def members(bits: int) -> Iterator[int]:
    """The positions of the set bits of `bits`, lowest first."""
    text = bin(bits)[:1:-1]  # least significant first
    at = text.find("1")
    while at >= 0:
        yield at
        at = text.find("1", at + 1)


class Plan:
    """The per-end port sets of every class, read from the engine's per-class relations."""

    def __init__(self, an):
        self.an = an
        e = an.engine
        fb = an.facts
        self.classes = fb.classes
        n = len(self.classes)
        self.every = (1 << n) - 1
        self.protocols = tuple(fb.proto_members)  # the engine's protocols
        self.atoms: dict[str, list[tuple[int, int, int]]] = {}  # protocol -> [(lo, hi, atom)] by lo
        for aid, (p, lo, hi) in fb.port_atoms.items():
            self.atoms.setdefault(p, []).append((lo, hi, aid))
        for lst in self.atoms.values():
            lst.sort()
        self.atom_of = {aid: (p, lo, hi) for aid, (p, lo, hi) in fb.port_atoms.items()}

        rows = e.evaluate  # (the first stage's helpers set at a time, as the kept relations are)

        def bitset(pairs: Iterable[tuple]) -> dict:
            out: dict = {}
            for key, c in pairs:
                out[key] = out.get(key, 0) | (1 << c)
            return out

        self.family = bitset((f, c) for c, f in rows("class_family", None, None) if c < n)  # (not forwarding ids)
        self.internal = sum(1 << c for (c,) in rows("internal", None))
        self.endpoints = sum(1 << c for (c,) in rows("endpoint", None) if c < n)
        self.external = sum(1 << c for (c,) in rows("external", None))
        self.open = {d: sum(1 << c for (c,) in rows(f"{d}_open", None)) for d in DIRECTIONS}
        self.ordered = {(c, d) for c, d in rows("ordered", None, None)}
        self.union_rules: dict[tuple[int, str], list[int]] = {}
        for d in DIRECTIONS:
            for c, r in rows(f"{d}_rule", None, None):
                self.union_rules.setdefault((c, d), []).append(r)
        # rule_peer_ok (peers.dl), composed here from what each peer matches: a rule without peers matches every
        # endpoint, else the union of its peers' (equal peers of several rules share one id, and one peer_match)
        matched = bitset(rows("peer_match", None, None))
        every_endpoint = sum(1 << c for (c,) in rows("endpoint", None))
        self.peer_ok = {r: every_endpoint for (r,) in rows("rule_all_peers", None)}
        for r, peer in rows("rule_peer", None, None):
            if peer in matched:
                self.peer_ok[r] = self.peer_ok.get(r, 0) | matched[peer]
        self.ranges: dict[int, list[tuple[str, int, int]]] = {}
        for r, p, lo, hi in rows("rule_range", None, None, None, None):
            self.ranges.setdefault(r, []).append((p, lo, hi))
        self.named: dict[int, list[tuple[str, str]]] = {}
        for r, p, name in rows("rule_named", None, None, None):
            self.named.setdefault(r, []).append((p, name))
        self.class_port: dict[tuple[str, str], dict[int, int]] = {}  # (name, proto) -> {port: classes}
        for c, name, p, port in rows("class_port", None, None, None, None):
            by_port = self.class_port.setdefault((name, p), {})
            by_port[port] = by_port.get(port, 0) | (1 << c)

        # ordered evaluation: the subjects' rules, tiers, and what each rule matches
        self.subject_rules: dict[tuple[int, str], list[int]] = {}
        for c, d, r in rows("subject_rule", None, None, None):
            if (c, d) in self.ordered:
                self.subject_rules.setdefault((c, d), []).append(r)
        self.tiers: dict[tuple[int, str], list[int]] = {}
        for c, d, t in rows("tier_applies", None, None, None):
            self.tiers.setdefault((c, d), []).append(t)
        self.tier_rank = dict(rows("tier_rank", None, None))
        self.tier_default = dict(rows("tier_default", None, None))
        self.rank = dict(rows("rule_rank", None, None))
        self.rule_tier = dict(rows("rule_tier", None, None))
        self.action = dict(rows("rule_action", None, None))
        self.decisive = {r for (r,) in rows("decisive", None)}
        self.krule = {r for (r,) in rows("krule", None)}
        self.universal = {r for (r,) in rows("universal", None)}
        self.repr_miss = {r for (r,) in rows("crule_repr_miss", None)}
        self.hook = {(r, d) for r, d in rows("rule_hook", None, None)}
        self.rule_dir = dict(rows("rule_dir", None, None))
        self.src = dict(rows("rule_src", None, None))
        self.dst = dict(rows("rule_dst", None, None))
        self.ipver = dict(rows("rule_ipver", None, None))
        self.ent_any = {x for (x,) in rows("ent_any", None)}
        self.ent_match = bitset(rows("ent_match", None, None))
        self.backend = {f: b for f, _h, b in rows("fwd", None, None, None)}  # a forwarded packet goes to backend b
        # ports: every port of P (rfull), one atom whatever the destination (rule_atom), or per destination (rule_atom_to)
        self.rfull: dict[int, set[str]] = {}
        for r, p in rows("rfull", None, None):
            self.rfull.setdefault(r, set()).add(p)
        self.rule_atom: dict[int, set[int]] = {}
        for r, _p, a in rows("rule_atom", None, None, None):
            self.rule_atom.setdefault(r, set()).add(a)
        dynamic = {r for (r,) in rows("crule_dynamic", None)} | set(self.named)  # ports resolved on the destination
        used = {r for rules in [*self.subject_rules.values(), *self.union_rules.values()] for r in rules}
        self.rule_atom_to: dict[int, dict[int, int]] = {}  # rule -> {atom: destination classes}
        single = {(p, lo): aid for aid, (p, lo, hi) in fb.port_atoms.items() if lo == hi}
        calico_dynamic = {r for (r,) in rows("crule_dynamic", None)}
        def named_on(p: str, name: str, by_atom: dict[int, int], skip: frozenset = frozenset(),
                     excluded: dict[int, int] | None = None) -> None:
            """rule_named_atom_to's named ports: the destinations that define `name` on P, at the atom of its number there
            (a single-port atom: every port a container names is a bound), but atoms in `skip` (cneg) and the
            destinations `excluded` per atom (cneg_d)."""
            for port, holders in self.class_port.get((name, p), {}).items():
                a = single.get((p, port))
                if a is not None and a not in skip:
                    by_atom[a] = by_atom.get(a, 0) | (holders & ~(excluded or {}).get(a, 0))

        for r in sorted(dynamic & used):
            by_atom = self.rule_atom_to.setdefault(r, {})
            for p, name in self.named.get(r, ()):  # rule_named_atom_to's first rule
                named_on(p, name, by_atom)
            if r not in calico_dynamic:
                continue
            # rule_atom_to of a Calico rule: per destination (rule_named_atom_to), or numeric but for notPorts named there
            protocols = [p for _r, p in rows("cproto", r, None)]
            for _r, dcls, p, port in rows("svc_port", r, None, None, None):  # rule_named_atom_to's second rule
                a = single.get((p, port))
                if a is not None and p in protocols:
                    by_atom[a] = by_atom.get(a, 0) | (1 << dcls)
            excluded: dict[int, int] = {}
            for _r, dcls, _p, a in rows("cneg_d", r, None, None, None):
                excluded[a] = excluded.get(a, 0) | (1 << dcls)
            skip = frozenset(a for _r, _p, a in rows("cneg", r, None, None))
            for _r, name in rows("cport_named", r, None):  # rule_named_atom_to's third rule
                for p in protocols:
                    named_on(p, name, by_atom, skip, excluded)
            for _r, _p, a in rows("rule_numeric_atom", r, None, None):
                by_atom[a] = by_atom.get(a, 0) | (self.endpoints & ~excluded.get(a, 0))
        self._ends: dict[tuple[int, str], dict[str, list[tuple[tuple[tuple[int, int], ...], int]]]] = {}
        self._interned: dict[tuple, dict[str, tuple[tuple[int, int], ...]]] = {}
        self._regions: dict[tuple[int, str], dict] = {}
        self.host_end = None  # (class, peer, direction) -> {protocol: ranges}: a host endpoint's end (query/map.py)

    # ---- one end -------------------------------------------------------------------------------------------

    def end(self, c: int, d: str) -> dict[str, list[tuple[tuple[tuple[int, int], ...], int]]]:
        """What end (c, d) allows: per protocol, [(port ranges, peers)], each range set given to those peers. An
        ordered end allows what no tier denies: what no tier decides goes to the profile (pods: allow; a host
        endpoint's last tier denies; traffic forwarded to a node port's backends goes on)."""
        key = (c, d)
        out = self._ends.get(key)
        if out is None:
            if key in self.ordered:
                out = {}
                for p, regions in self.regions(c, d).items():
                    for ports, _allow, deny in regions:
                        if self.every & ~deny:
                            out.setdefault(p, []).append((ports, self.every & ~deny))
            elif d in DIRECTIONS and (1 << c) & self.open[d]:
                out = {p: [(FULL, self.every)] for p in self.protocols}
            else:
                out = self._union_end(c, d)
            self._ends[key] = out
        return out

    def regions(self, c: int, d: str) -> dict[str, list[tuple[tuple[tuple[int, int], ...], int, int]]]:
        """The ordered evaluation of end (c, d): per protocol, [(port ranges, peers allowed, peers denied)] by the
        first tier that decides; the other peers no tier decides."""
        key = (c, d)
        out = self._regions.get(key)
        if out is None:
            out = self._regions[key] = self._ordered_end(c, d)
        return out

    def _union_end(self, c: int, d: str) -> dict:
        out: dict[str, list] = {}
        for r in self.union_rules.get((c, d), ()):
            peers = self.peer_ok.get(r, 0)
            if not peers:
                continue
            for p, lo, hi in self.ranges.get(r, ()):
                for q in (self.protocols if p == "*" else (p,)):
                    out.setdefault(q, []).append((((lo, hi),), peers))
            for p, name in self.named.get(r, ()):  # resolved on the destination: c for ingress, the peer for egress
                for port, holders in self.class_port.get((name, p), {}).items():
                    if d == "ingress" and holders >> c & 1:
                        out.setdefault(p, []).append((((port, port),), peers))
                    elif d == "egress" and peers & holders:
                        out.setdefault(p, []).append((((port, port),), peers & holders))
        return out

    def _hits(self, r: int, c: int, d: str) -> int:
        """The peers that rule r of subject c's d end matches on everything but protocol and ports (tiers.dl `hit`)."""
        if r in self.krule:
            return self.every if r in self.universal else self.peer_ok.get(r, 0)
        if r in self.repr_miss:
            return 0
        local, peer = (self.dst[r], self.src[r]) if self.rule_dir[r] == "ingress" else (self.src[r], self.dst[r])
        c = self.backend[c] if d == "fwd_in" else c  # a forwarded packet: the backend is its destination
        if local not in self.ent_any and not self.ent_match.get(local, 0) >> c & 1:
            return 0  # local_ok / crule_ok: the subject's own end
        if r in self.universal:
            return self.every
        if (r, d) not in self.hook:
            return 0
        peers = self.every if peer in self.ent_any else self.ent_match.get(peer, 0)
        fam = self.ipver.get(r)
        if fam is not None:  # ipver_rejects: both ends must have the family
            if not self.family.get(fam, 0) >> c & 1:
                return 0
            peers &= self.family.get(fam, 0)
        return peers

    def _ordered_end(self, c: int, d: str) -> dict:
        out: dict[str, list] = {}
        setup = self.setup(c, d)
        for p, ports, a in setup.regions:
            allow, deny = self.evaluate(setup, p, a)
            out.setdefault(p, []).append((ports, allow, deny))
        return out

    def setup(self, c: int, d: str) -> "_Setup":
        """What the ordered evaluation of end (c, d) needs: its Allow/Deny/Pass rules that match some peer, their
        peers, its tiers in order, and its port regions: each atom that some rule covers without covering all of
        its protocol, and the rest of each protocol."""
        rules = sorted((r for r in self.subject_rules.get((c, d), ()) if r in self.decisive),
                       key=lambda r: self.rank[r])
        hits = {r: self._hits(r, c, d) for r in rules}
        rules = [r for r in rules if hits[r]]
        tiers = sorted(self.tiers.get((c, d), ()), key=lambda t: self.tier_rank[t])
        by_tier: dict[int, list[int]] = {}
        for r in rules:
            by_tier.setdefault(self.rule_tier[r], []).append(r)
        touched: dict[str, set[int]] = {}
        dest = self._dest(c, d)
        for r in rules:
            for a in self.rule_atom.get(r, ()):
                touched.setdefault(self.atom_of[a][0], set()).add(a)
            for a, dests in self.rule_atom_to.get(r, {}).items():
                if dest is None or dests >> dest & 1:
                    touched.setdefault(self.atom_of[a][0], set()).add(a)
        regions: list[tuple[str, tuple[tuple[int, int], ...], int | None]] = []
        for p in self.protocols:
            mine = sorted(touched.get(p, ()), key=lambda a: self.atom_of[a][1])
            regions.extend((p, (self.atom_of[a][1:],), a) for a in mine)
            rest = tuple(complement([self.atom_of[a][1:] for a in mine]))
            if rest:
                regions.append((p, rest, None))
        return _Setup(c, d, dest, tiers, by_tier, hits, regions)

    def _dest(self, c: int, d: str) -> int | None:
        """The destination class of the flows seen at end (c, d), or None when it is the peer (tiers.dl flow_dest)."""
        if d == "fwd_in":
            return self.backend[c]
        return None if EVALUATIONS[d] == "egress" else c

    def _covers(self, r: int, dest: int | None, p: str, a: int | None) -> int:
        """The peers towards which rule r covers region a of protocol p (None: the atoms no rule covers alone);
        `dest` is the destination class, or None when the peer is the destination."""
        if p in self.rfull.get(r, ()):
            return self.every
        if a is None:
            return 0
        if a in self.rule_atom.get(r, ()):
            return self.every
        dests = self.rule_atom_to.get(r, {}).get(a, 0)
        if dest is not None:
            return self.every if dests >> dest & 1 else 0
        return dests

    def evaluate(self, setup: "_Setup", p: str, a: int | None, trace=None) -> tuple[int, int]:
        """(the peers whose flows of region a of protocol p are allowed, those denied) by the first tier that decides:
        tiers in order, the first matching rule per tier, else the tier's default. `trace(what, rule or tier, peers)`
        hears, for lint: ("match", r, the peers r matches), ("first", r, those for which r is the first match of its
        tier with no earlier tier stopping them), ("default", t, those that tier t's defaultAction ends)."""
        undecided, allow = self.every, 0
        for t in setup.tiers:
            pending = undecided
            for r in setup.by_tier.get(t, ()):
                m = setup.hits[r]
                if not (m & pending) and trace is None:
                    continue
                m &= self._covers(r, setup.dest, p, a)
                if trace is not None and m:
                    trace("match", r, m)
                m &= pending
                if not m:
                    continue
                if trace is not None:
                    trace("first", r, m)
                pending &= ~m
                action = self.action[r]
                if action == "Allow":
                    allow |= m
                    undecided &= ~m
                elif action == "Deny":
                    undecided &= ~m
                # Pass: leaves the tier; the next tier decides
                if not pending and trace is None:
                    break
            default = self.tier_default[t]
            if default in ("Allow", "Deny") and pending:
                if trace is not None:
                    trace("default", t, pending)
                if default == "Allow":
                    allow |= pending
                undecided &= ~pending
            if not undecided and trace is None:
                break
        return allow, self.every & ~allow & ~undecided

    # ---- pairs ---------------------------------------------------------------------------------------------

    def towards(self, c: int, d: str, mask: int | None = None) -> list[dict[str, tuple[tuple[int, int], ...]] | None]:
        """For end (c, d), per peer class: its ports per protocol (one dict shared by peers treated alike), or None;
        only for the peers in the bitset `mask` when given (None for the others)."""
        n = len(self.classes)
        mask = self.every if mask is None else mask
        if self.host_end is not None and self.classes[c].host:  # composed per peer (hooks, failsafe, node ports)
            row: list = [None] * n
            for q in members(mask):
                value = {p: tuple(r) for p, r in self.host_end(c, q, d).items() if r}
                if value:
                    row[q] = self._interned.setdefault(tuple(sorted(value.items())), value)
            return row
        blocks: list[tuple[int, tuple[int, ...]]] = [(mask, ())]
        items = [(p, ports, peers) for p, lst in self.end(c, d).items() for ports, peers in lst]
        for i, (_p, _ports, peers) in enumerate(items):
            split = []
            for bits, sig in blocks:
                inside = bits & peers
                if not inside:
                    split.append((bits, sig))
                    continue
                split.append((inside, sig + (i,)))
                if inside != bits:
                    split.append((bits & ~inside, sig))
            blocks = split
        out: list = [None] * n
        for bits, sig in blocks:
            if not sig:
                continue
            by_proto: dict[str, list[tuple[int, int]]] = {}
            for i in sig:
                p, ports, _peers = items[i]
                by_proto.setdefault(p, []).extend(ports)
            value = {p: tuple(merge(r)) for p, r in by_proto.items()}
            value = self._interned.setdefault(tuple(sorted(value.items())), value)  # one object per port set
            for q in members(bits):
                out[q] = value
        return out

    def pairs(self, sources: int | None = None, destinations: int | None = None
              ) -> dict[tuple[int, int], dict[str, tuple[tuple[int, int], ...]]]:
        """Every pair (source, destination) that can exist with some allowed traffic: its ports per engine protocol;
        only from the classes of the bitset `sources` to those of `destinations` when given."""
        classes = self.classes
        ingress: dict[int, list] = {}
        meets: dict[tuple[int, int], dict] = {}
        out: dict[tuple[int, int], dict] = {}
        wanted = self.every if destinations is None else destinations
        listed: dict[int, tuple[int, ...]] = {}  # the members of a partner set (most sources share one)
        for src in counted("computing the map", classes):
            s = src.id
            if sources is not None and not sources >> s & 1:
                continue
            partners = self._partners(s) & wanted
            if not partners:
                continue
            e_row = self.towards(s, "egress", partners)
            ids = listed.get(partners)
            if ids is None:
                ids = listed[partners] = tuple(members(partners))
            for dd in ids:
                e_set = e_row[dd]
                if e_set is None:
                    continue
                row = ingress.get(dd)
                if row is None:
                    row = ingress[dd] = self.towards(dd, "ingress", sources)
                i_set = row[s]
                if i_set is None:
                    continue
                key = (id(e_set), id(i_set))
                both = meets.get(key)
                if both is None:
                    both = meets[key] = _meet(e_set, i_set)
                if both:
                    out[(s, dd)] = both
        return out

    def pair(self, s: int, dd: int) -> dict[str, tuple[tuple[int, int], ...]]:
        """The ports of one pair (empty when it cannot exist or nothing passes)."""
        if not (self._partners(s) >> dd) & 1:
            return {}
        e_set = self.towards(s, "egress", 1 << dd)[dd]
        i_set = self.towards(dd, "ingress", 1 << s)[s]
        return _meet(e_set, i_set) if e_set and i_set else {}

    def _partners(self, s: int) -> int:
        """The destinations a flow from class s can have (`pair_ok`): an internal class sharing an IP family, or
        for an internal source also an external one."""
        fams = [f for f, bits in self.family.items() if bits >> s & 1]
        same = 0
        for f in fams:
            same |= self.family[f]
        if (self.internal >> s) & 1:
            return same
        return same & self.internal


@dataclass
class _Setup:
    c: int
    d: str
    dest: int | None  # the destination class, or None: the peer is the destination
    tiers: list[int]
    by_tier: dict[int, list[int]]
    hits: dict[int, int]
    regions: list[tuple[str, tuple[tuple[int, int], ...], int | None]]  # (protocol, ports, atom or None: the rest)


def _meet(a: dict, b: dict) -> dict[str, tuple[tuple[int, int], ...]]:
    out = {}
    for p, ra in a.items():
        rb = b.get(p)
        if not rb:
            continue
        both = []
        i = j = 0
        while i < len(ra) and j < len(rb):
            lo, hi = max(ra[i][0], rb[j][0]), min(ra[i][1], rb[j][1])
            if lo <= hi:
                both.append((lo, hi))
            if ra[i][1] < rb[j][1]:
                i += 1
            else:
                j += 1
        if both:
            out[p] = tuple(both)
    return out
