"""What the commands read: a flow (`80/TCP`, `ICMP`) and a Datalog query (`?- applies(P, "shop/web", "ingress")`),
and the relations a query may ask.

A query is parsed here into a relation name and arguments, and asked through `Engine.ask` with the constants
bound: user text is data, never source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from reasoner import api
from reasoner.errors import UsageError

# --------------------------------------------------------------------------------------------------
# PORT/PROTO
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowSpec:
    """`80`, `80/TCP`, `53/udp`, `TCP/80`, `ICMP`: a protocol (None: any) and a port (None: any)."""

    protocol: str | None
    port: int | None
    explicit: bool = True  # the protocol was written (`80` alone is --port 80: TCP, or any protocol of a service)

    def __str__(self) -> str:
        if self.protocol is None:
            return "any port"
        return self.protocol if self.port is None else f"{self.port}/{self.protocol}"


def parse_flow(text: str | None) -> FlowSpec:
    if text is None:
        return FlowSpec(None, None)
    m = re.fullmatch(r"([0-9]+)(?:/([A-Za-z0-9]+))?", text) or re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)(?:/([0-9]+))?", text)
    if m is None:
        raise UsageError(f"bad port {text!r} (want PORT/PROTO, e.g. 80/TCP, 53/UDP, 8080, or a protocol: ICMP)")
    a, b = m.group(1), m.group(2)
    if a.isdigit():
        port, proto = int(a), (b or "TCP")
    else:
        proto, port = a, (int(b) if b is not None else None)
    proto = _protocol(proto)
    if proto in api.PORTED and port is not None and not 1 <= port <= 65535:
        raise UsageError(f"port {port} is out of range (want 1-65535)")
    if proto not in api.PORTED and port is not None:
        raise UsageError(f"{proto} has no ports (give {proto} alone)")
    return FlowSpec(proto, port, explicit=not a.isdigit() or b is not None)


def _protocol(text: str) -> str:
    """A protocol's canonical name (TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite) or number (0-255, as a string)."""
    proto = api.parse_protocol(text)
    if proto is None:
        raise UsageError(f"unknown protocol {text!r} (want TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or 0-255)")
    return proto


# --------------------------------------------------------------------------------------------------
# Datalog queries
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Var:
    name: str  # "_" is anonymous: every occurrence is a fresh variable, never shown

    @property
    def shown(self) -> bool:
        return not self.name.startswith("_")


@dataclass(frozen=True)
class Query:
    relation: str
    args: tuple[object, ...]  # Var, str or int


_TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<int>-?[0-9]+)"""
                    r"""|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),.])|(?P<bad>\S))""")
QUERY_START = re.compile(r"\s*(\?-|[a-z_][a-z0-9_]*\s*\()")


def parse_query(text: str) -> Query:
    """`?- rel(X, "a", 3, _).` -> Query. Variables are capitalised or start with `_`; constants are quoted
    strings, integers, or bare lowercase words (strings). Raises UsageError with the column of the fault."""
    body = text.strip()
    offset = len(text) - len(text.lstrip())
    if body.startswith("?-"):
        offset += 2
        body = body[2:]
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None or m.end() == pos:  # only trailing blanks are left
            break
        kind = m.lastgroup or "bad"
        tokens.append((kind, m.group(kind), offset + m.start(kind) + 1))
        pos = m.end()
    tokens.append(("end", "", offset + len(body) + 1))

    def fail(tok: tuple[str, str, int], want: str) -> UsageError:
        got = "the end of the line" if tok[0] == "end" else repr(tok[1])
        return UsageError(f"bad query at column {tok[2]}: expected {want}, found {got} "
                          "(want ?- relation(Arg, ...) with Variables, \"strings\" or integers)")

    i = 0
    if tokens[i][0] != "name" or not tokens[i][1][0].islower():
        raise fail(tokens[i], "a relation name")
    relation = tokens[i][1]
    i += 1
    if tokens[i][1] != "(":
        raise fail(tokens[i], "'('")
    i += 1
    args: list[object] = []
    while True:
        kind, value, _col = tokens[i]
        if kind == "str":
            args.append(re.sub(r"\\(.)", r"\1", value[1:-1]))
        elif kind == "int":
            args.append(int(value))
        elif kind == "name":
            args.append(Var(value) if value[0].isupper() or value[0] == "_" else value)
        else:
            raise fail(tokens[i], "an argument")
        i += 1
        if tokens[i][1] == ",":
            i += 1
            continue
        if tokens[i][1] == ")":
            i += 1
            break
        raise fail(tokens[i], "',' or ')'")
    if tokens[i][1] == ".":
        i += 1
    if tokens[i][0] != "end":
        raise fail(tokens[i], "the end of the query")
    return Query(relation, tuple(args))


class Relation(NamedTuple):
    kind: str  # fact (read from the manifests) or derived (by the rules)
    columns: tuple[str, ...]
    meaning: str
    bound_only: bool  # the engine answers it only with some arguments bound (its meaning says which)

    def comment(self, name: str) -> str:
        """As the rules introduce it: `name(Col, ...): meaning`."""
        return f"{name}({', '.join(self.columns)}): {self.meaning}"


def relation_table() -> dict[str, Relation]:
    """Every relation a query can ask, by name (`api.relations`)."""
    base, derived, bound = api.relations()
    out = {name: Relation("fact", cols, meaning, False) for name, (cols, meaning) in base.items()}
    out.update((name, Relation("derived", cols, meaning, name in bound)) for name, (cols, meaning) in derived.items())
    return out
