"""Port sets: what a rule, an end or a pair of endpoints allows, per protocol, as inclusive ranges of ports (for
ICMP, of type*256+code). One home for the protocols' port spans and the set algebra that the facts, the map, the
verdicts, the REPL and the reports share. No solver, no Datalog."""

from __future__ import annotations

from reasoner.model.ranges import complement, merge

PROTOCOLS = ("TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "OTHER")  # the engine's protocols, before the input names others
PORTED = ("TCP", "UDP", "SCTP")  # the protocols with ports (1-65535)
ICMPS = ("ICMP", "ICMPv6")  # the protocols whose "port" is type*256+code
ICMP_ANY = 65535  # the encoded ICMP type/code of a flow whose type no rule names (Calico types are 0-254)
ALL = "all"  # a port set holding every port of its protocol
PortSet = str | list[tuple[int, int]]  # ALL, or inclusive ranges


def intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo <= hi:
                out.append((lo, hi))
    return merge(out)


def minus(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ports of `a` not in `b` (ranges within 0..65535)."""
    return intersect(a, complement(b))


def span(proto: str) -> tuple[int, int]:
    """Every port a flow of `proto` can have: 1-65535 for TCP, UDP and SCTP; ICMP type*256+code, 0-65535; 0 for a
    protocol without ports."""
    return (1, 65535) if proto in PORTED else (0, 65535) if proto in ICMPS else (0, 0)


def flow_ports(proto: str, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The ports of `ranges` a flow of a ported protocol can have: port atoms start at 0, but no TCP, UDP or SCTP
    flow has port 0."""
    return intersect(ranges, [span(proto)]) if proto in PORTED else ranges


def port_sets(tuples: list[tuple[str, int, int]], protocols: tuple[str, ...] = PROTOCOLS,
              members: dict[str, tuple[str, ...]] | None = None) -> dict[str, PortSet]:
    """{protocol: "all" | [(lo, hi), ...]} from (proto, lo, hi) tuples where proto may be '*' (every protocol)
    or an engine protocol that stands for several (`members`). Only ports a flow can have (`flow_ports`); "all"
    when they are every one of them."""
    by_proto: dict[str, list[tuple[int, int]]] = {}
    for proto, lo, hi in tuples:
        for p in (protocols if proto == "*" else (members or {}).get(proto, (proto,))):
            by_proto.setdefault(p, []).append((lo, hi))
    out: dict[str, PortSet] = {}
    for p in protocols:
        if p not in by_proto:
            continue
        ranges = flow_ports(p, merge(by_proto[p]))
        if not ranges:
            continue
        if ranges == [span(p)] or (p not in PORTED and p not in ICMPS):
            out[p] = ALL
        else:
            out[p] = ranges
    return out


def admits(allowed: dict[str, PortSet], protocol: str, port: int | None) -> bool:
    """Whether a port set per protocol (`port_sets`) holds a flow of `protocol` (an engine protocol) on `port`
    (None: any port of it)."""
    ranges = allowed.get(protocol)
    if ranges is None:
        return False
    return isinstance(ranges, str) or port is None or any(lo <= port <= hi for lo, hi in ranges)


def ports_json(allowed: dict[str, PortSet]) -> list[dict]:
    """A port set per protocol as the JSON contracts give it: [{"protocol", "ports": "all" | [[lo, hi], ...]}]."""
    return [{"protocol": p, "ports": v if isinstance(v, str) else [list(r) for r in v]}
            for p, v in allowed.items()]
