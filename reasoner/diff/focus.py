"""Focus filters on a diff: its changes kept to the flows that the filters of `connectivity` keep (namespace,
selector, ends, peers, direction, protocol, port), names resolved in the new version, else in the old one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from reasoner.diff.compare import Change, DiffResult, _witness
from reasoner.diff.joint import Joint
from reasoner.errors import UsageError
from reasoner.model.ports import PORTED, intersect
from reasoner.query.map import Focus, make_focus


def make_diff_focus(result: DiffResult, **filters) -> Focus:
    """`make_focus` (its keyword arguments) with names resolved in the new version, else in the old one."""
    try:
        return make_focus(result.new, **filters)
    except UsageError as exc:
        try:
            return make_focus(result.old, **filters)
        except UsageError:
            raise exc from None


_Pick = Callable[[str], bool]  # an endpoint name -> whether it is in a part


class _Part:
    """The endpoints (by name) and addresses a filter names; None of either: all of them."""

    def __init__(self, refs: _Pick | None, nets: tuple = ()):
        self.refs, self.nets = refs, nets

    def cut(self, group: list[Joint], inside: bool) -> list[Joint]:
        """The part of `group` inside (or outside) this one."""
        if self.refs is None and not self.nets:
            return list(group) if inside else []
        out = []
        for j in group:
            if j.external:
                spans = [(c.lo, c.hi) for c in self.nets if c.family == j.family]
                pieces = intersect([(j.lo, j.hi)], spans) if inside else _without(j.lo, j.hi, spans)
                out.extend(replace(j, lo=lo, hi=hi) for lo, hi in pieces)
            else:
                members = [m for m in j.members if (self.refs is not None and self.refs(m)) == inside]
                if members:
                    out.append(replace(j, members=members))
        return out


EVERYTHING = _Part(None)


def _without(lo: int, hi: int, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The values of lo..hi outside `spans` (addresses: any width, so not `minus`, which is for ports)."""
    out, at = [], lo
    for a, b in intersect([(lo, hi)], spans):
        if at < a:
            out.append((at, a - 1))
        at = b + 1
    return out + ([(at, hi)] if at <= hi else [])


def focus(result: DiffResult, f: Focus) -> DiffResult:
    """`result` with only the flows the filters keep, as `connectivity` keeps rows (`Focus`): each change cut to the
    flows that touch the namespace, touch an endpoint the selector matches, go out of or into the focus (from or to
    the peer), on the protocol and port; each part that holds a flow gets its own witness."""
    old, new = result.old, result.new
    endpoints = {ep.ref: ep for an in (old, new) for ep in [*an.cluster.endpoints, *an.cluster.host_endpoints]}
    checks: list[Callable[[list[Joint], list[Joint]], list[tuple[list[Joint], list[Joint]]]]] = []

    def touching(part: _Part):
        return lambda s, d: [(part.cut(s, True), d), (part.cut(s, False), part.cut(d, True))]
    if f.namespace is not None:
        checks.append(touching(_Part(lambda m: getattr(endpoints.get(m), "namespace", None) == f.namespace)))
    if f.selector is not None:
        from reasoner.query.endpoints import calico_view

        def selected(m: str) -> bool:
            an = new if m in new.facts.class_of else old
            return f.selector.matches(calico_view(an.facts, an.facts.class_of[m], endpoints[m]))
        checks.append(touching(_Part(selected)))
    if f.ends is not None:
        ends = _Part(f.ends.refs.__contains__, f.ends.nets)
        peers = _Part(f.peers.refs.__contains__, f.peers.nets) if f.peers is not None else EVERYTHING

        def around(s, d):
            out_of = [(ends.cut(s, True), peers.cut(d, True))]
            into = [(peers.cut(s, True), ends.cut(d, True))]
            if f.direction is not None:
                return out_of if f.direction == "out" else into
            return out_of + [(ends.cut(peers.cut(s, True), False), ends.cut(d, True)),  # into, not already out of
                             (peers.cut(ends.cut(s, True), True), peers.cut(ends.cut(d, True), False))]
        checks.append(around)
    kept: list[Change] = []
    for c in result.changes:
        if f.protocol is not None and c.protocol != f.protocol:
            continue
        ranges = c.ranges
        if f.port is not None:
            if c.protocol not in PORTED or not any(lo <= f.port <= hi for lo, hi in ranges):
                continue
            ranges = [(f.port, f.port)]
        rects = [(c.srcs, c.dsts)]
        for check in checks:
            rects = [r for s, d in rects if s and d for r in check(s, d)]
        for s, d in rects:
            if s and d and ranges == c.ranges and (s, d) == (c.srcs, c.dsts):
                kept.append(c)
            elif s and d:
                part = Change(c.kind, s, d, c.protocol, ranges)
                if _witness(old, new, part):
                    kept.append(part)
    return replace(result, changes=kept, total=len(result.changes) if result.total is None else result.total,
                   naming=None)


__all__ = ["focus", "make_diff_focus"]
