"""The outside world in the map: external address atoms merged back into the fewest CIDR prefixes, and written
as a reader takes them in (`10.0.0.0/16 except 10.0.2.0/24`, `any address (0.0.0.0/0, ::/0)`)."""

from __future__ import annotations

import bisect
import ipaddress
from typing import Iterable

from reasoner.model.cidr import MAX, Cidr, ip_int, prefixes
from reasoner.model.ranges import complement, merge


def fewest_prefixes(ranges: Iterable[tuple[int, int, int]], spare: dict[int, list[tuple[int, int]]] | None = None
                    ) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The fewest CIDR prefixes, by family and address, that cover the (family, lo, hi) ranges. `spare`: merged
    ranges per family of addresses that may be covered or not: a prefix may take them in, and one that holds
    nothing else is left out."""
    by_family: dict[int, list[tuple[int, int]]] = {}
    for fam, lo, hi in ranges:
        by_family.setdefault(fam, []).append((lo, hi))
    out = []
    for fam, wanted in sorted(by_family.items()):
        extra = (spare or {}).get(fam, [])
        starts = [lo for lo, _hi in extra]

        def only_spare(lo: int, hi: int) -> bool:
            k = bisect.bisect_right(starts, lo) - 1
            return k >= 0 and extra[k][1] >= hi
        for lo, hi in merge(wanted + extra):
            if not only_spare(lo, hi):
                out.extend(p for p in prefixes(fam, lo, hi)
                           if not only_spare(int(p.network_address), int(p.broadcast_address)))
    return out


def own_addresses(cluster) -> dict[int, list[tuple[int, int]]]:
    """The addresses the endpoints of `cluster` (pods, host endpoints) hold, merged per family: a merge of outside
    addresses may cover them or not (`fewest_prefixes`' spare), since they are shown as the endpoints."""
    out: dict[int, list[tuple[int, int]]] = {}
    for ep in [*cluster.endpoints, *cluster.host_endpoints]:
        for ip in ep.ips:
            fam, value = ip_int(ip)
            out.setdefault(fam, []).append((value, value))
    return {fam: merge(rs) for fam, rs in out.items()}


def addresses_text(nets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    """Prefixes as a reader takes them in: `any address (0.0.0.0/0)` for all of each family, else per family the
    list, or the prefix that spans them `except` the ones between when that is shorter
    (`10.0.0.0/16 except 10.0.2.0/24`)."""
    by_family: dict[int, list] = {}
    for net in nets:
        by_family.setdefault(net.version, []).append(net)
    whole = {fam: ns[0] for fam, ns in by_family.items() if ns[0].prefixlen == 0}
    if len(whole) == len(by_family):
        return f"any address ({', '.join(str(n) for _f, n in sorted(whole.items()))})"
    parts = []
    for fam, ns in sorted(by_family.items()):
        if fam in whole:
            parts.append(f"any IPv{fam} address ({whole[fam]})")
            continue
        ranges = merge([(int(n.network_address), int(n.broadcast_address)) for n in ns])
        lo, hi = ranges[0][0], ranges[-1][1]
        bits = (lo ^ hi).bit_length()
        base = lo >> bits << bits
        covering = (ipaddress.IPv4Network if fam == 4 else ipaddress.IPv6Network)((base, MAX[fam].bit_length() - bits))
        holes = [p for a, b in complement([(a - base, b - base) for a, b in ranges], (1 << bits) - 1)
                 for p in prefixes(fam, base + a, base + b)]
        parts.append(f"{covering} except {', '.join(map(str, holes))}" if 1 + len(holes) < len(ns)
                     else ", ".join(map(str, ns)))
    return "; ".join(parts)


class Addresses(str):
    """A map end that stands for outside addresses: it reads as `addresses_text`, and `names` are its
    `cidr:PREFIX` endpoint names (the fewest prefixes)."""

    nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def __new__(cls, nets: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> "Addresses":
        nets = tuple(nets)
        out = super().__new__(cls, addresses_text(nets))
        out.nets = nets
        return out

    @property
    def names(self) -> list[str]:
        return [f"cidr:{n}" for n in self.nets]

    def overlaps(self, cidr: Cidr) -> bool:
        return any(n.version == cidr.family and int(n.network_address) <= cidr.hi
                   and cidr.lo <= int(n.broadcast_address) for n in self.nets)


def end_names(end: str) -> list[str]:
    """The endpoint names a map end stands for: those of its prefixes for `Addresses`."""
    return end.names if isinstance(end, Addresses) else [end]


