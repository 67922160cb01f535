"""Joint classes: what a diff compares. The endpoints present in both versions, grouped by their class in each,
and the address ranges alike in both (the atoms of both sides cut together).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reasoner.analysis import Analysis


@dataclass
class Joint:
    id: int
    old: int  # class id in the old analysis
    new: int
    members: list[str] = field(default_factory=list)  # endpoint refs; empty for an address range
    family: int | None = None  # address ranges
    lo: int = 0
    hi: int = 0
    families: tuple[int, ...] = (4, 6)

    @property
    def external(self) -> bool:
        return not self.members


def joint_classes(a: Analysis, b: Analysis) -> list[Joint]:
    """The endpoints of both versions grouped by their class in each, then the address ranges."""
    out: list[Joint] = []
    by_key: dict[tuple[int, int], Joint] = {}
    for ep in [*a.cluster.endpoints, *a.cluster.host_endpoints]:
        ca, cb = a.facts.class_of[ep.ref], b.facts.class_of.get(ep.ref)
        if cb is None:
            continue  # in one version only: added or removed, its flows not compared
        j = by_key.get((ca.id, cb.id))
        if j is None:
            j = by_key[(ca.id, cb.id)] = Joint(len(out), ca.id, cb.id, families=ca.families)
            out.append(j)
        j.members.append(ep.ref)
    for fam in (4, 6):
        ea = sorted((c.external.lo, c.external.hi, c.id) for c in a.facts.classes
                    if c.external is not None and c.external.family == fam)
        eb = sorted((c.external.lo, c.external.hi, c.id) for c in b.facts.classes
                    if c.external is not None and c.external.family == fam)
        i = k = 0
        while i < len(ea) and k < len(eb):
            lo, hi = max(ea[i][0], eb[k][0]), min(ea[i][1], eb[k][1])
            out.append(Joint(len(out), ea[i][2], eb[k][2], [], fam, lo, hi, (fam,)))
            if ea[i][1] == hi:
                i += 1
            if eb[k][1] == hi:
                k += 1
    return out
