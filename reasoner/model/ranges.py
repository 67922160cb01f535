"""Inclusive integer ranges (ports, addresses as integers): the algebra shared by the facts and the map."""

from __future__ import annotations


def merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint, with adjacent ranges joined."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def complement(ranges: list[tuple[int, int]], top: int = 65535) -> list[tuple[int, int]]:
    """The ranges of 0..top that `ranges` leave out."""
    out, at = [], 0
    for lo, hi in merge(ranges):
        if lo > at:
            out.append((at, lo - 1))
        at = hi + 1
    if at <= top:
        out.append((at, top))
    return out
