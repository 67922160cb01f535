"""CIDRs as inclusive integer intervals per IP family."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MAX = {4: (1 << 32) - 1, 6: (1 << 128) - 1}
# The most distinct CIDRs the input may name, in all (MAX_CIDRS) and in one list (MAX_LIST: an ipBlock's `except`,
# a Calico `nets`/`notNets`, a network set's `nets`, an ANP's `networks`; an error located at the list): each bound
# cuts the address space into more atoms, each an endpoint class of its own (the map of one ipBlock with 3,000
# excepts: about 5 s and 125 MB).
MAX_CIDRS = 4000
MAX_LIST = MAX_CIDRS


@dataclass(frozen=True, order=True)
class Cidr:
    family: int  # 4 or 6
    lo: int
    hi: int

    @staticmethod
    def parse(text: str) -> "Cidr":
        """'10.0.0.0/8' -> Cidr; host bits are cleared (normalised to the network address)."""
        net = ipaddress.ip_network(text.strip(), strict=False)
        return Cidr(net.version, int(net.network_address), int(net.broadcast_address))

    @staticmethod
    def of_ip(text: str) -> "Cidr":
        ip = ipaddress.ip_address(text.strip())
        return Cidr(ip.version, int(ip), int(ip))

    def contains(self, other: "Cidr") -> bool:
        return self.family == other.family and self.lo <= other.lo and other.hi <= self.hi

    def __str__(self) -> str:
        return ", ".join(str(n) for n in prefixes(self.family, self.lo, self.hi))


def ip_text(family: int, value: int) -> str:
    """The address `value` of the family as text (an IPv6 address below 2**32 stays IPv6: ::1, not 0.0.0.1)."""
    return str(ipaddress.IPv4Address(value) if family == 4 else ipaddress.IPv6Address(value))


# Address ranges a witness avoids when its range holds others: "this network", loopback, link-local, multicast and
# reserved (IPv4); below the global unicast 2000::/3 (unspecified, loopback, IPv4-mapped, discard…), link-local
# and multicast (IPv6). Sorted, disjoint.
_SPECIAL = {4: [(0x00000000, 0x00FFFFFF), (0x7F000000, 0x7FFFFFFF), (0xA9FE0000, 0xA9FEFFFF),
                (0xE0000000, 0xFFFFFFFF)],
            6: [(0, (0x2000 << 112) - 1), (0xFE80 << 112, (0xFEC0 << 112) - 1), (0xFF00 << 112, (1 << 128) - 1)]}


def sample_ip(family: int, lo: int, hi: int) -> str:
    """An address inside [lo, hi] to show in a witness: a little past its start (not a network address), and
    outside the special ranges (`0.0.0.10` reads as no real peer) when the range holds an ordinary address."""
    at = lo
    for s_lo, s_hi in _SPECIAL[family]:
        if s_lo <= at <= s_hi and s_hi < hi:
            at = s_hi + 1
    ordinary = not any(s_lo <= at <= s_hi for s_lo, s_hi in _SPECIAL[family])
    start = at if ordinary else lo
    return ip_text(family, start if hi - start < 10 else start + 10)


def prefixes(family: int, lo: int, hi: int) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The fewest CIDR prefixes that exactly cover [lo, hi]."""
    cls = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    return list(ipaddress.summarize_address_range(cls(lo), cls(hi)))


def ip_int(text: str) -> tuple[int, int]:
    ip = ipaddress.ip_address(text.strip())
    return ip.version, int(ip)
