"""`reasoner repl`: load a cluster once, then ask questions at a prompt, from a script, or with --execute.

A thin layer over what the CLI commands use: `api` loads and analyses, `explain.can` decides a flow,
`connectivity` says what each pair of endpoint classes allows, `properties.prove` proves a spec, and the
renderers of `report/` print them. `Session` is the command interpreter, usable without a terminal: feed
it a line, get a `Reply`. `repl_command` is the click command that drives it from a terminal (prompt,
history, completion, colour) or from a script (plain output, one block per command, exit status 1 if a
command failed).

Datalog queries (`?- applies(P, "shop/web", "ingress")`) are parsed here into a relation name and
arguments and asked through `Engine.ask` with the constants bound: user text is data, never source.
"""

from __future__ import annotations

import difflib
import gc
import os
import re
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import click

from reasoner import api
from reasoner.errors import ManifestErrors, ReasonerError, UsageError
from reasoner.manifests.load import ReadOptions
from reasoner.model.calico import parse_protocol
from reasoner.progress import stage
from reasoner.report.text import escape, terminal

PROMPT = "reasoner> "
SCOPES = ("inventory", "any-workload")


# --------------------------------------------------------------------------------------------------
# Replies and small text helpers
# --------------------------------------------------------------------------------------------------

@dataclass
class Reply:
    """What one line gave: its text (without a trailing newline), whether it failed, whether to stop."""

    text: str = ""
    error: bool = False
    quit: bool = False
    empty: bool = False  # a blank line or a comment: nothing was asked


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Aligned columns, two spaces apart; the last column is not padded."""
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return [line(header)] + [line(r) for r in rows]


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def _words(arg: str) -> list[str]:
    try:
        return shlex.split(arg)
    except ValueError as exc:  # an unbalanced quote
        raise UsageError(f"cannot split {arg!r} into words: {exc}") from None


def natural(text: str) -> tuple:
    """A sort key that puts ns/web-2 before ns/web-10."""
    return tuple(int(part) if i % 2 else part for i, part in enumerate(re.split(r"([0-9]+)", text)))


def _hint(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


# --------------------------------------------------------------------------------------------------
# PORT/PROTO
# --------------------------------------------------------------------------------------------------

PORTED = ("TCP", "UDP", "SCTP")


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
    if proto in PORTED and port is not None and not 1 <= port <= 65535:
        raise UsageError(f"port {port} is out of range (want 1-65535)")
    if proto not in PORTED and port is not None:
        raise UsageError(f"{proto} has no ports (give {proto} alone)")
    return FlowSpec(proto, port, explicit=not a.isdigit() or b is not None)


def _protocol(text: str) -> str:
    """A protocol's canonical name (TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite) or number (0-255, as a string)."""
    proto = parse_protocol(text)
    if proto is None:
        raise UsageError(f"unknown protocol {text!r} (want TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or 0-255)")
    return proto


# --------------------------------------------------------------------------------------------------
# Datalog queries: parsed here, asked through Engine.ask with the constants bound
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


# Columns that hold object ids, by the name the relation's comment gives them: shown by name, and a string
# constant there is read as a name (an endpoint, a policy, ...). Other columns hold plain values.
from reasoner.facts.emit import CLASS_COLUMNS, ID_COLUMNS  # noqa: E402


def relation_table() -> dict[str, tuple[str, tuple[str, ...], str]]:
    """Every relation: name -> (kind 'fact'|'derived', columns, one-line meaning)."""
    from reasoner.engine.datalog import columns, derived_relations
    from reasoner.facts.schema import RELATIONS

    out = {name: ("fact", rel.columns, rel.doc) for name, rel in RELATIONS.items()}
    for name, comment in derived_relations().items():
        out[name] = ("derived", columns(comment), comment.split(": ", 1)[-1])
    return out


# --------------------------------------------------------------------------------------------------
# Commands: a registry, so that help and completion read the same table
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    details: str
    run: Callable[["Session", str], str]
    args: tuple[str, ...] = ()  # what each word is, for completion; a trailing "*" repeats
    aliases: tuple[str, ...] = ()


COMMANDS: dict[str, Command] = {}
ALIASES: dict[str, str] = {}


def command(name: str, usage: str, summary: str, details: str = "", args: tuple[str, ...] = (),
            aliases: tuple[str, ...] = ()):
    def register(fn: Callable[["Session", str], str]) -> Callable[["Session", str], str]:
        COMMANDS[name] = Command(name, usage, summary, details.strip("\n"), fn, args, aliases)
        for alias in aliases:
            ALIASES[alias] = name
        return fn

    return register


# --------------------------------------------------------------------------------------------------
# The session: one loaded cluster and what the commands need, computed once per load
# --------------------------------------------------------------------------------------------------

class Session:
    """The command interpreter. `execute(line)` answers one line; `run(text)` a whole script.

    paths: the inputs; `-` reads manifests from `stdin`. options: how they are read (--exclude, --skip-invalid).
    freeze_gc: after each load, exempt the loaded model from Python's cyclic garbage collector (`gc.freeze`).
    A 10 000-pod engine is millions of objects, and one full collection of them, which would come at a random
    moment in a later answer, takes seconds. It is a choice for the whole process, so the front end makes it.
    """

    def __init__(self, paths: Sequence[str], stdin=None, freeze_gc: bool = False,
                 options: ReadOptions = ReadOptions()):
        self.stdin = stdin
        self.options = options
        self.freeze_gc = freeze_gc
        self.an: api.Analysis | None = None
        self.scope: str | None = None  # set scope: overrides a spec's own scope in `prove`
        self.timing = False
        self.load_seconds = 0.0
        self._load(list(paths))

    # ---- loading -----------------------------------------------------------------------------

    def _load(self, paths: list[str]) -> None:
        """Read, analyse and index `paths`; on failure the session keeps what it had."""
        start = time.perf_counter()
        cluster = api.load(paths, stdin=self.stdin, options=self.options)
        an = api.analyse(cluster)
        self.paths = paths
        replaced, self.an = self.an is not None, an
        self.warnings = [f"warning: {line}" for line in cluster.skipped]
        if self.freeze_gc:
            if replaced:  # let the collector see, and free, the model this one replaces
                gc.unfreeze()
                gc.collect()
            gc.freeze()
        with stage("indexing"):
            self._reset()
            self._warm()
        if self.freeze_gc:
            gc.freeze()  # and the indexes just built
        self.load_seconds = time.perf_counter() - start

    def _reset(self) -> None:
        an = self.an
        self._class_map: tuple[dict, dict] | None = None
        self._into: dict[int, dict[int, dict]] = {}
        self._from: dict[int, dict[int, dict]] = {}
        self._names: dict[str, dict[str, list[int]]] | None = None
        self._relations: dict[str, tuple[str, tuple[str, ...], str]] | None = None
        self._exposures = None  # the any-workload universe and its map (`exposure`), built when first asked
        self._outside: dict | None = None  # the map's merged outside addresses per class and direction
        from reasoner.facts.emit import evaluation_order

        self.rank = {id(pol): i for i, pol in enumerate(evaluation_order(an.cluster))}
        # endpoint names in natural order, computed once: long answers are sorted by a lookup
        refs = sorted((ep.ref for ep in an.cluster.endpoints), key=natural)
        self._place = {ref: (0, i) for i, ref in enumerate(refs)}

    def sort_key(self, name: str) -> tuple:
        """Endpoints in natural order (ns/web-2 before ns/web-10), then addresses."""
        return self._place.get(name) or (1, natural(name))

    def _warm(self) -> None:
        """Build, once per load, what the first question of each kind would otherwise pay for: the engine's
        lookup indexes (one per relation and set of bound arguments), and, when Calico ordering decides some
        end, the class-level connectivity map (it is assembled whole, see `_classes_into`)."""
        from reasoner.explain import can

        an = self.an
        internal = [c for c in an.facts.classes if c.external is None and c.members]
        if not internal:
            return
        first = internal[0]
        self._classes_into(first.id)
        self._classes_from(first.id)
        an.engine.ask("applies", None, first.id, None)
        ordered = {c for c, _d in an.engine.ask("ordered", None, None)}  # `can` towards an ordered end, if any
        other = next((c for c in internal if c.id in ordered and c is not first), internal[-1])
        if other is not first:
            for proto, port in (("TCP", 80), (None, None)):
                try:
                    can(an, first.members[0].ref, other.members[0].ref, proto, port)
                except ReasonerError:
                    pass

    @property
    def relations(self) -> dict[str, tuple[str, tuple[str, ...], str]]:
        if self._relations is None:
            self._relations = relation_table()
        return self._relations

    def summary(self) -> str:
        fb = self.an.facts
        cluster = self.an.cluster
        n_pol = len(cluster.policies) + len(cluster.calico_policies) + len(cluster.admin_policies)
        internal = sum(1 for c in fb.classes if c.external is None)
        return (f"loaded {_plural(len(cluster.endpoints), 'endpoint')} ({_plural(internal, 'class', 'classes')}), "
                f"{_plural(n_pol, 'policy', 'policies')} from {' '.join(self.paths)} in {self.load_seconds:.1f} s")

    # ---- answering ---------------------------------------------------------------------------

    def execute(self, line: str) -> Reply:
        """Answer one line. A `ReasonerError` (bad input) is an error reply, and the session goes on."""
        text = line.strip()
        if not text or text.startswith("#"):
            return Reply(empty=True)
        start = time.perf_counter()
        reply = self._dispatch(text)
        reply.text = terminal(reply.text)  # names, labels and files are shown escaped (report/text.py)
        if self.timing and not reply.empty:
            ms = (time.perf_counter() - start) * 1000
            reply.text += f"\n({ms:.0f} ms)"
        return reply

    def _dispatch(self, text: str) -> Reply:
        word, _, arg = text.partition(" ")
        name = ALIASES.get(word, word)
        if name not in COMMANDS and QUERY_START.match(text) or text.startswith("?-"):
            name, arg = "?-", text  # the whole line, so that an error's column is the line's
        cmd = COMMANDS.get(name)
        if cmd is None:
            return Reply(f"error: unknown command {word!r}{_hint(word, COMMANDS)}; `help` lists them", error=True)
        arg = arg.strip() if name != "?-" else arg
        try:
            out = cmd.run(self, arg)
        except ManifestErrors as exc:
            return Reply("\n".join(f"error: {e}" for e in exc.errors), error=True)
        except ReasonerError as exc:
            return Reply(f"error: {exc}", error=True)
        except Quit:
            return Reply("", quit=True)
        except RecursionError:
            return Reply("error: the question is too deep for the engine", error=True)
        except Exception as exc:  # a defect of ours: say so, and keep the session and its loaded cluster
            return Reply(f"error: internal error, please report it: {type(exc).__name__}: {exc}", error=True)
        return Reply(out)

    def run(self, text: str) -> tuple[str, bool]:
        """Answer every line of a script: (the answers, errors included, each followed by a blank line;
        whether every command succeeded)."""
        out: list[str] = []
        ok = True
        for line in text.splitlines():
            reply = self.execute(line)
            if reply.empty:
                continue
            if reply.quit:
                break
            ok = ok and not reply.error
            out.append(reply.text + "\n\n")
        return "".join(out), ok

    # ---- what the commands share ---------------------------------------------------------------

    def target(self, name: str):
        from reasoner.explain import resolve

        return resolve(self.an, name)

    def _classes_into(self, d: int) -> dict[int, dict]:
        """{source class: what it may send to class d, per protocol}: the connectivity map's rows into d."""
        return self._classes(self._into, 0, d, (None, d))

    def _classes_from(self, s: int) -> dict[int, dict]:
        """{destination class: what class s may send it, per protocol}."""
        return self._classes(self._from, 1, s, (s, None))

    def _classes(self, cache: dict, side: int, c: int, ends: tuple[int | None, int | None]) -> dict[int, dict]:
        if c not in cache:
            cache[c] = self._map()[side].get(c, {})
        return cache[c]

    def outside(self, c: int, into: bool) -> list:
        """The outside addresses that may send to class c (`into`) or that c may send to, merged as the
        connectivity map shows them: [(Addresses, what is allowed)]."""
        if self._outside is None:
            from reasoner.connectivity import Map

            self._outside = Map(self.an, "pod").addresses
        return self._outside.get(("in" if into else "out", c), [])

    def _map(self) -> tuple[dict, dict]:
        """The class-level connectivity map, indexed by destination and by source (built once per load)."""
        if self._class_map is None:
            from reasoner.connectivity import class_connections

            into: dict[int, dict[int, dict]] = {}
            out: dict[int, dict[int, dict]] = {}
            for cc in class_connections(self.an):
                into.setdefault(cc.dst.id, {})[cc.src.id] = cc.allowed
                out.setdefault(cc.src.id, {})[cc.dst.id] = cc.allowed
            self._class_map = (into, out)
        return self._class_map

    def names(self) -> dict[str, dict[str, list[int]]]:
        """Names a Datalog constant may use for an object id, per kind of column (as the tables print them)."""
        if self._names is None:
            fb = self.an.facts
            names: dict[str, dict[str, list[int]]] = {"class": {}, "Pol": {}, "R": {}, "Ns": {}, "T": {}}

            def add(kind: str, name: str, oid: int) -> None:
                ids = names[kind].setdefault(name, [])
                if oid not in ids:
                    ids.append(oid)

            for cls in fb.classes:
                add("class", cls.name, cls.id)
                for ep in cls.members:
                    add("class", ep.ref, cls.id)
            for pid, pol in fb.policy_ids.items():
                add("Pol", f"{pol.kind} {pol.ref}", pid)
                add("Pol", pol.ref, pid)
            for rid, (pol, rule) in fb.rule_ids.items():
                add("R", f"{pol.ref} {rule.direction.value}[{rule.index}]", rid)
            for name, nid in fb.ns_ids.items():
                add("Ns", name, nid)
                add("Ns", f"ns:{name}", nid)
            for name, tid in fb.tier_ids.items():
                add("T", name, tid)
                add("T", f"tier:{name}", tid)
            self._names = names
        return self._names

    def constant(self, relation: str, column: str, value: object) -> object:
        """A query constant as the engine holds it: a name in an id column becomes the object's id."""
        if not isinstance(value, str) or column not in ID_COLUMNS:
            return value
        names = self.names()
        kinds = ["class"] if column in CLASS_COLUMNS else ["class", "Ns"] if column == "Obj" else [column]
        for kind in kinds:
            ids = names[kind].get(value)
            if ids:
                if len(ids) > 1:
                    raise UsageError(f"{value!r} names several objects in column {column} of {relation}; "
                                     f"write it as the tables print it (e.g. \"NetworkPolicy {value}\")")
                return ids[0]
        if column in CLASS_COLUMNS and value.startswith(("ip:", "cidr:")):
            return self.target(value).cls.id
        what = {"Pol": "policy", "R": "rule", "Ns": "namespace", "T": "tier", "Obj": "endpoint or namespace"}
        raise UsageError(f"{value!r} in column {column} of {relation} names no {what.get(column, 'endpoint')}"
                         f"{_hint(value, [n for k in kinds for n in names[k]])}")

    def show(self, relation: str, column: str, value: object) -> str:
        """A value of a result as the user reads it: object ids by name (FactBase.show, as `reasoner facts`)."""
        return self.an.facts.show(relation, column, value)


class Quit(Exception):
    """`quit`: leave the session."""


# --------------------------------------------------------------------------------------------------
# The commands
# --------------------------------------------------------------------------------------------------

def _verdict(s: Session, arg: str, usage: str) -> tuple[str, str]:
    """(the answer of `reasoner can`, its verdict lines). SRC, DST and PORT/PROTO are read as `reasoner can`
    reads SRC DST --port --protocol: a service (svc:NS/NAME, a DNS name, a ClusterIP) as the destination is
    asked about on each backend; a pod may be named by its DNS name.
    (services.decide is the dispatch `reasoner can` uses too.)"""
    from reasoner.explain import Verdict
    from reasoner.report.can import to_text
    from reasoner.services import ServiceVerdict, WorkloadVerdict, decide, workload_text
    from reasoner.services import to_text as service_text

    words = _words(arg)
    if len(words) not in (2, 3):
        raise UsageError(f"usage: {usage}")
    flow = parse_flow(words[2] if len(words) == 3 else None)
    if flow.protocol in PORTED and flow.port is None:
        raise UsageError(f"{flow.protocol} needs a port, e.g. 80/{flow.protocol} (or leave it out: every port)")
    protocol = flow.protocol if flow.explicit else None
    verdict = decide(s.an, words[0], words[1], protocol, flow.port)
    if isinstance(verdict, WorkloadVerdict):  # the verdict over the pods, then each pod's first line
        text = workload_text(verdict)
        return text, "\n".join([text.split("\n", 1)[0]] + [
            "  " + (to_text(a) if isinstance(a, Verdict) else service_text(a)).split("\n", 1)[0] for a in verdict.answers])
    if isinstance(verdict, ServiceVerdict):
        text = service_text(verdict)
        return text, "\n".join(line for line in text.splitlines() if not line.startswith("    "))
    text = to_text(verdict)
    return text, text.split("\n\n", 1)[0]


@command("can", "can SRC DST [PORT/PROTO]", "the verdict for a flow, or what SRC may send DST on any port",
         """
SRC and DST are NAMESPACE/POD, a workload NAMESPACE/WORKLOAD (answered for each of its pods), ip:ADDRESS
or cidr:PREFIX; DST may be a service (svc:NS/NAME, its DNS name or ClusterIP), asked about on each backend.
PORT/PROTO is 80/TCP, 53/UDP, 8080 (as --port 8080: TCP, or the service port), or a protocol without
ports (ICMP); without it, the answer is for every port and lists what is allowed. The verdict lines of
`reasoner can`; `why` adds the rule chains.

Examples:
  can boutique/frontend boutique/cartservice 7070/TCP
  can boutique/cartservice boutique/frontend
  can ip:203.0.113.9 shop/web 443
  can shop/web db.shop.svc.cluster.local 5432
""", args=("endpoint", "endpoint", "flow"))
def _can(s: Session, arg: str) -> str:
    return _verdict(s, arg, COMMANDS["can"].usage)[1]


@command("why", "why SRC DST [PORT/PROTO]", "the verdict and the deciding rule chain at each end",
         """
The same answer as `reasoner can SRC DST [--port P --protocol PROTO]`: the verdict, then for egress at
the source and ingress at the destination the policies that apply and the rules that decide (tier,
policy, rule, file:line), with the Log rules, Passes and end-of-tier drops of an ordered evaluation.

Examples:
  why boutique/frontend boutique/paymentservice 50051/TCP
  why boutique/checkoutservice boutique/paymentservice
""", args=("endpoint", "endpoint", "flow"))
def _why(s: Session, arg: str) -> str:
    return _verdict(s, arg, COMMANDS["why"].usage)[0]


def _reach(s: Session, arg: str, usage: str, into: bool) -> str:
    from reasoner.connectivity import names
    from reasoner.report.connectivity import allowed_text

    words = _words(arg)
    if len(words) not in (1, 2):
        raise UsageError(f"usage: {usage}")
    end = s.target(words[0])
    flow = parse_flow(words[1] if len(words) == 2 else None)
    classes = s.an.facts.classes
    rows = s._classes_into(end.cls.id) if into else s._classes_from(end.cls.id)
    listed: list[tuple[str, str]] = []
    protocols = s.an.facts.protocols
    for cid, allowed in rows.items():
        cls = classes[cid]
        if cls.external is None and _admits(allowed, flow, protocols):
            text = allowed_text(allowed, protocols)
            listed.extend((n, text) for n in names(cls) if n != end.name)
    listed.sort(key=lambda row: s.sort_key(row[0]))
    if end.cls.external is None:  # outside addresses, merged as the map shows them, after the endpoints
        listed += [(str(addresses), allowed_text(allowed, protocols))
                   for addresses, allowed in s.outside(end.cls.id, into) if _admits(allowed, flow, protocols)]
    on = "" if flow.protocol is None else f" on {flow}"
    lines = table(("SOURCE" if into else "DESTINATION", "ALLOWED"), listed) if listed else []
    if into:
        lines.append(f"{_plural(len(listed), 'source')} can reach {end.name}{on}" if listed
                     else f"nothing can reach {end.name}{on}")
    else:
        lines.append(f"{end.name} can reach {_plural(len(listed), 'destination')}{on}" if listed
                     else f"{end.name} can reach nothing{on}")
    return "\n".join(lines)


def _admits(allowed: dict, flow: FlowSpec, protocols: tuple[str, ...]) -> bool:
    """Whether a port set per protocol (as the connectivity map gives it) holds the flow."""
    if flow.protocol is None:
        return True
    from reasoner.model.calico import PROTOCOL_NUMBERS

    by_number = {str(n): name for name, n in PROTOCOL_NUMBERS.items()}
    same = (flow.protocol, str(PROTOCOL_NUMBERS.get(flow.protocol)), by_number.get(flow.protocol))
    key = next((p for p in same if p in protocols), "OTHER")  # a protocol no rule names is one of the rest
    ranges = allowed.get(key)
    if ranges is None:
        return False
    if ranges == "all" or flow.port is None:
        return True
    return any(lo <= flow.port <= hi for lo, hi in ranges)


@command("who-can-reach", "who-can-reach DST [PORT/PROTO]", "every endpoint that may send to DST",
         """
One row per source endpoint (and per cidr: range a policy names), with what it may send to DST; the
rows of the connectivity map whose destination is DST. With PORT/PROTO, only the sources allowed that
flow.

Examples:
  who-can-reach boutique/cartservice
  who-can-reach boutique/frontend 8080/TCP
""", args=("endpoint", "flow"))
def _who_can_reach(s: Session, arg: str) -> str:
    return _reach(s, arg, COMMANDS["who-can-reach"].usage, into=True)


@command("reachable-from", "reachable-from SRC [PORT/PROTO]", "every endpoint SRC may send to",
         """
One row per destination endpoint (and per cidr: range a policy names), with what SRC may send it: the
rows of the connectivity map whose source is SRC.

Examples:
  reachable-from boutique/frontend
  reachable-from boutique/checkoutservice 50051/TCP
""", args=("endpoint", "flow"))
def _reachable_from(s: Session, arg: str) -> str:
    return _reach(s, arg, COMMANDS["reachable-from"].usage, into=False)


@command("exposure", "exposure [ENDPOINT] [in|out]",
         "what could reach each endpoint, or ENDPOINT, beyond the loaded ones (out: what it could reach)",
         """
As `reasoner connectivity --exposure`: for each endpoint (workloads whose pods are alike, else pods), the
pods that could be deployed (new pods in an existing namespace, with the labels they would need; pods in
new namespaces, with the namespace labels needed) and the outside addresses that can reach it, with the
ports allowed. The first answer finds the kinds of pods that could be deployed (any-workload scope); the
next ones reuse them.

Examples:
  exposure
  exposure shop/db
  exposure shop/db out
""", args=("endpoint", "direction"))
def _exposure(s: Session, arg: str) -> str:
    from reasoner.connectivity import make_focus
    from reasoner.exposure import EGRESS, INGRESS, Exposures
    from reasoner.report.exposure import to_text

    words = _words(arg)
    way = INGRESS
    if words and words[-1] in ("in", "out"):
        way = EGRESS if words.pop() == "out" else INGRESS
    if len(words) > 1:
        raise UsageError(f"usage: {COMMANDS['exposure'].usage}")
    focus = make_focus(s.an, ends=words[0]) if words else None
    if s._exposures is None:
        s._exposures = Exposures(s.an)
    return to_text(s._exposures.rows(focus, way), s.an.facts.protocols, way)


@command("policies", "policies ENDPOINT", "the policies that apply to an endpoint, in evaluation order",
         """
For ingress and egress: every policy that selects the endpoint, in the order Calico evaluates them (tiers
by order, policies by order then name), and how that end is decided: by the union of Kubernetes rules, or
by ordered evaluation when a Calico or admin policy applies.

Examples:
  policies boutique/frontend
""", args=("endpoint",))
def _policies(s: Session, arg: str) -> str:
    from reasoner.model.policy import NetworkPolicy

    words = _words(arg)
    if len(words) != 1:
        raise UsageError(f"usage: {COMMANDS['policies'].usage}")
    end = s.target(words[0])
    an = s.an
    cls = end.cls
    if cls.external is not None:
        return f"{end.name} is an address outside the cluster: no policy applies to it"
    lines = []
    if cls.host_network:
        lines.append(f"{end.name} is a host-network pod: NetworkPolicy does not select it")
    for direction in ("ingress", "egress"):
        pols = [an.facts.policy_ids[p] for p, _c, _d in an.engine.ask("applies", None, cls.id, direction)]
        pols.sort(key=lambda p: s.rank.get(id(p), 0))
        if not pols:
            lines.append(f"{direction}: no policy applies; not isolated, everything passes")
        elif an.engine.holds("ordered", cls.id, direction):
            lines.append(f"{direction}: ordered evaluation: tier by tier, the first Allow or Deny decides")
        else:
            lines.append(f"{direction}: the union of these Kubernetes policies: a flow passes if any rule allows it")
        rows = []
        for i, pol in enumerate(pols, 1):
            tier = "default" if isinstance(pol, NetworkPolicy) else pol.tier
            rows.append((f"{i}.", tier, _order(pol), f"{pol.kind} {pol.ref}", str(pol.origin)))
        if rows:
            lines.extend("  " + line for line in table(("#", "TIER", "ORDER", "POLICY", "FILE:LINE"), rows))
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _number(value: float | None) -> str:
    if value is None:
        return "none"
    return str(int(value)) if float(value).is_integer() else str(value)


def _order(pol) -> str:
    from reasoner.model.admin import AdminPolicy
    from reasoner.model.policy import NetworkPolicy

    if isinstance(pol, NetworkPolicy):
        return "1000"
    if isinstance(pol, AdminPolicy):
        return f"priority {pol.priority}" if pol.priority is not None else "-"
    return _number(pol.order) if pol.order is not None else "none (last)"


def calico_view(fb, cls, ep) -> dict[str, str]:
    """The labels Calico selectors see on one endpoint of `cls`: the class's view (its tested labels and the
    automatic ones) with all of the endpoint's own labels, which win there too."""
    return {**fb.calico_labels[cls.id], **dict(ep.labels)}


@command("endpoints", "endpoints [SELECTOR]", "the endpoints a Calico selector matches (all without one)",
         """
SELECTOR is in Calico syntax (==, !=, in, not in, has(), !has(), contains, starts with, ends with, &&,
||, !, all()) and sees the labels Calico sees, its automatic ones included
(projectcalico.org/namespace, projectcalico.org/serviceaccount, pcns.<namespace label>, ...).

Examples:
  endpoints
  endpoints app == 'frontend'
  endpoints projectcalico.org/namespace == 'boutique' && has(tier)
""", args=("selector",))
def _endpoints(s: Session, arg: str) -> str:
    from reasoner.model.calico_selector import SelectorSyntaxError, parse_selector

    selector = None
    if arg:
        try:
            selector = parse_selector(arg)
        except SelectorSyntaxError as exc:
            raise UsageError(f"bad selector {arg!r}: {exc}") from None
    fb = s.an.facts
    rows = []
    for cls in fb.classes:
        for ep in cls.members:
            if selector is not None and not selector.matches(calico_view(fb, cls, ep)):
                continue
            kind = ep.kind + (" (hostNetwork)" if ep.host_network else "")
            labels = cls.labels if cls.host else ep.labels  # a host endpoint's class: its profiles' labels too
            rows.append((ep.ref, kind, ",".join(ep.ips) or "-", ",".join(f"{k}={v}" for k, v in labels) or "-"))
    rows.sort(key=lambda row: s.sort_key(row[0]))
    tail = _plural(len(rows), "endpoint") + (f" {'matches' if len(rows) == 1 else 'match'} {arg}"
                                             if selector is not None else "")
    return "\n".join((table(("ENDPOINT", "KIND", "ADDRESS", "LABELS"), rows) if rows else []) + [tail])


@command("?-", "?- RELATION(ARG, ...)", "a Datalog query over the facts and every derived relation",
         """
Arguments are Variables (capitalised; `_` is anonymous), "strings" or 'strings', integers, or bare
lowercase words (strings). Answers are the tuples that match, one row per binding of the named
variables; a query without variables answers true or false. Object ids print by name, and a string
in such a column names the object: an endpoint ("boutique/frontend"), a policy ("NetworkPolicy
boutique/frontend" or "boutique/frontend"), a rule ("boutique/frontend ingress[0]"), a namespace, a tier.
`relations` lists the relations, their columns and meaning.

Examples:
  ?- applies(P, "boutique/cartservice", "ingress")
  ?- isolated(C, egress)
  ?- rule_index(R, 0)
""", args=("relation",))
def _query(s: Session, arg: str) -> str:
    q = parse_query(arg)
    relations = s.relations
    if q.relation not in relations:
        raise UsageError(f"unknown relation {q.relation!r}{_hint(q.relation, relations)}; `relations` lists them")
    _kind, cols, _meaning = relations[q.relation]
    if len(q.args) != len(cols):
        raise UsageError(f"{q.relation} has {_plural(len(cols), 'argument')}: {q.relation}({', '.join(cols)}); "
                         f"the query gives {len(q.args)}")
    _check_bound(q, cols)
    args = [None if isinstance(a, Var) else s.constant(q.relation, col, a) for a, col in zip(q.args, cols)]
    rows = s.an.engine.ask(q.relation, *args)
    positions: dict[str, list[int]] = {}
    for i, a in enumerate(q.args):
        if isinstance(a, Var) and a.name != "_":
            positions.setdefault(a.name, []).append(i)
    repeated = [p for p in positions.values() if len(p) > 1]
    rows = [r for r in rows if all(len({r[i] for i in p}) == 1 for p in repeated)]
    shown = [(name, p[0]) for name, p in positions.items() if Var(name).shown]
    if not shown:
        return "true" if rows else "false"
    answers = sorted({tuple(s.show(q.relation, cols[i], r[i]) for _n, i in shown) for r in rows})
    lines = table([n for n, _i in shown], answers) if answers else []
    return "\n".join(lines + [f"({_plural(len(answers), 'row')})"])


def _check_bound(q: Query, cols: tuple[str, ...]) -> None:
    """Relations the engine answers only with some arguments bound (engine.datalog.BOUND_ONLY): their comment
    says which ("call with Src, Dst bound"); else at least one."""
    from reasoner.engine.datalog import BOUND_ONLY, derived_relations

    if q.relation not in BOUND_ONLY:
        return
    comment = derived_relations().get(q.relation, "")
    m = re.search(r"\(call(?:ed)? with (.+?) bound\)", comment)
    if m is None:
        if all(isinstance(a, Var) for a in q.args):
            raise UsageError(f"{q.relation} is answered only with some argument bound: {comment}")
        return
    need = cols if m.group(1) in ("every argument", "both") else tuple(c.strip() for c in m.group(1).split(","))
    free = [c for c, a in zip(cols, q.args) if c in need and isinstance(a, Var)]
    if free:
        raise UsageError(f"{q.relation} is answered only with {m.group(1)} bound (free here: {', '.join(free)}): "
                         f"{comment}")


@command("relations", "relations", "the relations a query can ask, with their columns and meaning",
         """
The base relations (facts read from the manifests) and every relation derived by the rules in rules/,
each with its one-line comment.
""")
def _relations(s: Session, arg: str) -> str:
    if arg:
        raise UsageError("usage: relations")
    rows = [(f"{name}({', '.join(cols)})", kind, meaning) for name, (kind, cols, meaning) in sorted(s.relations.items())]
    return "\n".join(table(("RELATION", "KIND", "MEANING"), rows))


@command("prove", "prove SPEC | prove default-deny", "prove a ComplianceSpec (z3), as `reasoner prove --spec`",
         """
SPEC is a ComplianceSpec file (see the README); `default-deny` is the built-in check. The scope is the
spec's own unless `set scope` chose one.

Examples:
  prove corpus/microservices-demo/spec.yaml
  set scope any-workload
  prove default-deny
""", args=("path",))
def _prove(s: Session, arg: str) -> str:
    from reasoner.properties.prove import prove
    from reasoner.properties.spec import Spec, default_deny, load_spec
    from reasoner.report.prove import to_text

    words = _words(arg)
    if len(words) != 1:
        raise UsageError(f"usage: {COMMANDS['prove'].usage}")
    if words[0] == "default-deny" and not Path(words[0]).exists():  # as `reasoner prove --check default-deny`
        spec = Spec("inventory", [default_deny()])
    else:
        spec = load_spec(words[0])
    if s.scope is not None:
        spec.scope = s.scope
    return to_text(prove(s.an, spec))


@command("lint", "lint", "findings about the policies (shadowed, redundant, conflicting rules, ...)",
         """
The findings of `reasoner lint` over the loaded cluster, in the scope that `set scope` chose.
""")
def _lint(s: Session, arg: str) -> str:
    from reasoner.lint import lint as run
    from reasoner.report.lint import to_text as render

    if arg:
        raise UsageError("usage: lint")
    return render(run(s.an, s.scope or "inventory"))


@command("diff", "diff PATH", "what changes from the loaded inputs to PATH: flows newly allowed or denied",
         """
The answer of `reasoner diff LOADED PATH`, the loaded input (one path) as the old version. PATH is a
file, a directory or git:REV:PATH.

Examples:
  diff new-policies/
""", args=("path",))
def _diff(s: Session, arg: str) -> str:
    from reasoner.diff import diff as run
    from reasoner.report.diff import to_text as render

    words = _words(arg)
    if len(words) != 1:
        raise UsageError(f"usage: {COMMANDS['diff'].usage}")
    if len(s.paths) != 1 or s.paths[0] == "-":
        raise UsageError("diff compares one loaded path with PATH; use `reasoner diff OLD NEW` for more")
    return render(run(s.paths[0], words[0], (), s.scope or "inventory", options=s.options))


@command("reload", "reload", "read the same inputs again (after you edited them)")
def _reload(s: Session, arg: str) -> str:
    if "-" in s.paths:
        raise UsageError("the inputs came from standard input; they cannot be read again")
    s._load(s.paths)
    return "\n".join(s.warnings + [s.summary()])


@command("load", "load PATH...", "read other inputs instead of the loaded ones", """
The loaded cluster is kept if the new inputs have errors.

Examples:
  load corpus/deny-all
""", args=("path*",))
def _load_cmd(s: Session, arg: str) -> str:
    paths = _words(arg)
    if not paths:
        raise UsageError(f"usage: {COMMANDS['load'].usage}")
    if "-" in paths:
        raise UsageError("standard input holds the commands; give files or directories")
    s._load(paths)
    return "\n".join(s.warnings + [s.summary()])


@command("set", "set scope inventory|any-workload | set timing on|off", "change a setting (without arguments: show them)",
         """
scope: the scope of `prove` and `lint` (default: a spec's own scope, else inventory).
timing: print how long each answer took.
""", args=("setting", "value"))
def _set(s: Session, arg: str) -> str:
    words = _words(arg)
    if not words:
        scope = s.scope or "the spec's own, else inventory"
        return f"scope   {scope}\ntiming  {'on' if s.timing else 'off'}"
    if len(words) != 2 or words[0] not in SETTINGS:
        raise UsageError(f"usage: {COMMANDS['set'].usage}")
    name, value = words
    if value not in SETTINGS[name]:
        raise UsageError(f"{name} is one of {', '.join(SETTINGS[name])}, not {value!r}")
    if name == "scope":
        s.scope = value
    else:
        s.timing = value == "on"
    return f"{name} = {value}"


SETTINGS = {"scope": SCOPES, "timing": ("on", "off")}


@command("help", "help [COMMAND]", "list the commands, or explain one", args=("command",), aliases=("?",))
def _help(s: Session, arg: str) -> str:
    words = _words(arg)
    if words:
        name = ALIASES.get(words[0], words[0])
        cmd = COMMANDS.get(name)
        if cmd is None:
            raise UsageError(f"no command {words[0]!r}{_hint(words[0], COMMANDS)}")
        return "\n".join([f"usage: {cmd.usage}", "", cmd.summary[0].upper() + cmd.summary[1:] + "."]
                         + ([""] + cmd.details.splitlines() if cmd.details else []))
    rows = [(cmd.usage.split(" | ")[0], cmd.summary) for cmd in COMMANDS.values()]
    return "\n".join(table(("COMMAND", "WHAT"), rows) + [
        "",
        "Endpoints: NAMESPACE/POD (or NAMESPACE/WORKLOAD), ip:ADDRESS, cidr:PREFIX; a destination may be a service.",
        "PORT/PROTO: 80/TCP, 53/UDP, 8080, ICMP. `help COMMAND` explains one; Tab completes names."])


@command("quit", "quit", "leave (Ctrl-D does too)", aliases=("exit",))
def _quit(s: Session, arg: str) -> str:
    raise Quit()


# --------------------------------------------------------------------------------------------------
# Completion: `suggest` says what the word under the cursor is (pure); `Completer` fills in the names
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Suggestion:
    kind: str  # command, endpoint, flow, label-key, label-value, relation, path, setting, value
    context: str | None = None  # label-value: the key; value: the setting


def suggest(line: str) -> tuple[Suggestion, ...]:
    """What the last word of `line` (the text before the cursor) can be completed with."""
    text = line.lstrip()
    words = text.split()
    first = ALIASES.get(words[0], words[0]) if words else ""
    if first not in COMMANDS and (QUERY_START.match(text) or text.startswith("?")) or first == "?-":
        return (Suggestion("relation"),) if "(" not in text else ()
    at = len(words) if not text or text[-1].isspace() else len(words) - 1
    if at == 0:
        return (Suggestion("command"),)
    cmd = COMMANDS.get(first)
    if cmd is None or not cmd.args:
        return ()
    if cmd.args[0] == "selector":
        before = words[1:at]
        if len(before) >= 2 and before[-1] in ("==", "!="):
            return (Suggestion("label-value", before[-2]),)
        return (Suggestion("label-key"),)
    kinds = cmd.args
    if at - 1 < len(kinds):
        kind = kinds[at - 1]
    elif kinds[-1].endswith("*"):
        kind = kinds[-1]
    else:
        return ()
    kind = kind.rstrip("*")
    if kind == "value":
        return (Suggestion("value", words[1]),)
    return (Suggestion(kind),)


class Completer:
    """A readline completer over the names of the loaded cluster (read again after each load)."""

    def __init__(self, session: Session):
        self.session = session
        self._for: object = None
        self._matches: list[str] = []

    def _model(self) -> tuple[list[str], list[str], dict[str, set[str]]]:
        an = self.session.an
        if self._for is not an:
            fb = an.facts
            self._endpoints = sorted(fb.class_of)
            self._services = sorted(f"svc:{svc.namespace}/{svc.name}" for svc in an.cluster.services)
            self._namespaces = sorted(an.cluster.namespaces)
            labels: dict[str, set[str]] = {}
            for cls in fb.classes:
                for ep in cls.members:
                    for k, v in calico_view(fb, cls, ep).items():
                        labels.setdefault(k, set()).add(v)
            self._labels = labels
            self._for = an
        return self._endpoints, self._namespaces, self._labels

    def candidates(self, line: str, word: str) -> list[str]:
        endpoints, namespaces, labels = self._model()
        out: list[str] = []
        for sug in suggest(line):
            if sug.kind == "command":
                out += [n for n in [*COMMANDS, *ALIASES] if n.startswith(word)]
            elif sug.kind == "endpoint":
                if word.startswith("svc:"):
                    out += [e for e in self._services if e.startswith(word)]
                elif "/" in word or ":" in word:
                    out += [e for e in endpoints if e.startswith(word)]
                else:
                    spaces = [n for n in namespaces if n.startswith(word)]
                    if len(spaces) == 1:  # readline then inserts the common prefix, `ns/`, with no space
                        out += [e for e in endpoints if e.startswith(spaces[0] + "/")]
                    else:
                        out += [n + "/" for n in spaces]
                    out += [p for p in ("ip:", "cidr:") + (("svc:",) if self._services else ()) if p.startswith(word)]
            elif sug.kind == "flow":
                if word.isdigit():
                    out += [f"{word}/{p}" for p in PORTED]
                else:
                    out += [p for p in (*PORTED, "ICMP", "ICMPv6") if p.lower().startswith(word.lower())]
            elif sug.kind == "label-key":
                out += [k for k in sorted(labels) if k.startswith(word)]
                out += [f for f in ("has(", "!has(", "all()") if f.startswith(word)]
            elif sug.kind == "label-value":
                out += [f"'{v}'" for v in sorted(labels.get(sug.context or "", ())) if f"'{v}'".startswith(word)]
            elif sug.kind == "relation":
                head = word[2:] if word.startswith("?-") else word
                out += [("?-" if word.startswith("?-") else "") + r for r in sorted(self.session.relations)
                        if r.startswith(head)]
            elif sug.kind == "direction":
                out += [d for d in ("in", "out") if d.startswith(word)]
            elif sug.kind == "setting":
                out += [n for n in SETTINGS if n.startswith(word)]
            elif sug.kind == "value":
                out += [v for v in SETTINGS.get(sug.context or "", ()) if v.startswith(word)]
            elif sug.kind == "path":
                out += _paths(word)
        return out

    def complete(self, word: str, state: int) -> str | None:
        """readline's protocol: called with state 0, 1, ... until it returns None. A unique match that is a
        whole word gets a space after it, as a shell does (Python's readline adds none); one that goes on
        (a namespace's `ns/`, a directory, `ip:`, `has(`) does not."""
        if state == 0:
            import readline

            line = readline.get_line_buffer()[:readline.get_endidx()]
            try:
                self._matches = self.candidates(line, word)
            except Exception:  # completion must never break the prompt
                self._matches = []
            if len(self._matches) == 1 and not self._matches[0].endswith(("/", ":", "(")):
                self._matches = [self._matches[0] + " "]
        return self._matches[state] if state < len(self._matches) else None


def _paths(word: str) -> list[str]:
    """Files and directories (with a trailing /) whose path starts with `word`."""
    base = Path(word).expanduser()
    folder = base if word.endswith("/") or not word else base.parent
    prefix = "" if word.endswith("/") or not word else base.name
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    head = word[: len(word) - len(prefix)]  # as typed, `~` included
    return [head + e.name + ("/" if e.is_dir() else "") for e in entries
            if e.name.startswith(prefix) and not e.name.startswith(".")]


# --------------------------------------------------------------------------------------------------
# Front ends: a terminal, or a script (standard input or --execute)
# --------------------------------------------------------------------------------------------------

def history_file() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reasoner" / "history"


def _styled(text: str) -> str:
    """Colour for a terminal: the verdict word, errors."""
    out = []
    for line in text.split("\n"):
        if line.startswith("ALLOWED"):
            line = click.style("ALLOWED", fg="green", bold=True) + line[7:]
        elif line.startswith("DENIED"):
            line = click.style("DENIED", fg="red", bold=True) + line[6:]
        elif line.startswith("error:"):
            line = click.style(line, fg="red")
        out.append(line)
    return "\n".join(out)


def run_script(session: Session, lines: Iterable[str], out, err) -> int:
    """Plain output, each command's answer followed by a blank line; errors to `err`. 1 if any failed."""
    failed = False
    for line in lines:
        reply = session.execute(line)
        if reply.empty:
            continue
        if reply.quit:
            break
        if reply.error:
            failed = True
            out.flush()
            err.write(reply.text + "\n")
            err.flush()
            out.write("\n")
        else:
            out.write(reply.text + "\n\n")
        out.flush()
    return 1 if failed else 0


def run_terminal(session: Session, colour: bool) -> int:
    """The interactive loop: history, completion, Ctrl-C clears the line (or stops an answer), Ctrl-D leaves."""
    try:
        import readline
    except ImportError:  # a Python without readline: no history and no completion, the rest works
        readline = None
    path = history_file()
    if readline is not None:
        try:
            readline.read_history_file(path)
        except OSError:
            pass
        readline.set_history_length(1000)
        readline.set_completer(Completer(session).complete)
        readline.set_completer_delims(" \t\n")  # endpoint names hold '/', ':' and '-': one word each
        if "libedit" in (readline.__doc__ or ""):
            readline.parse_and_bind("bind ^I rl_complete")
        else:
            readline.parse_and_bind("tab: complete")
    paint = _styled if colour else (lambda t: t)
    click.echo(session.summary() + "; `help` lists the commands, Tab completes, Ctrl-D leaves.")
    try:
        while True:
            try:
                line = input(PROMPT)
            except EOFError:
                click.echo()
                break
            except KeyboardInterrupt:
                click.echo()
                continue
            try:
                reply = session.execute(line)
            except KeyboardInterrupt:
                click.echo(paint("error: interrupted"))
                continue
            if reply.quit:
                break
            if not reply.empty:
                click.echo(paint(reply.text), color=colour, err=reply.error)
    finally:
        if readline is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(path)
            except OSError:
                pass
    return 0


def _large(paths: Sequence[str]) -> bool:
    """Whether the inputs are large enough for `Session(freeze_gc=True)`: 512 KiB of
    files, or inputs of unknown size (standard input, a live cluster, a path that cannot be read)."""
    total = 0
    for p in paths:
        path = Path(p)
        try:
            if path.is_file():
                total += path.stat().st_size
            elif path.is_dir():
                total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            else:
                return True
        except OSError:  # reading the inputs says what is wrong
            return True
    return total >= 512 * 1024


@click.command("repl", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("paths", nargs=-1, required=True)
@click.option("-e", "--execute", "commands", multiple=True, metavar="COMMAND",
              help="Run COMMAND and exit instead of prompting (repeatable, in order).")
def repl_command(paths: tuple[str, ...], commands: tuple[str, ...], options: ReadOptions) -> None:
    """Load the inputs once, then ask questions: at a prompt, from a script, or with --execute.

    \b
    Commands (`help COMMAND` in the session explains each):
      can SRC DST [PORT/PROTO]      the verdict (any port without PORT/PROTO)
      why SRC DST [PORT/PROTO]      the verdict and the deciding rule chain at each end
      who-can-reach DST [PORT/PROTO], reachable-from SRC [PORT/PROTO]
      exposure [ENDPOINT] [in|out]  what could reach it beyond the loaded endpoints
      policies ENDPOINT             what applies to it, in evaluation order
      endpoints [SELECTOR]          the endpoints a Calico selector matches
      ?- RELATION(ARG, ...)         a Datalog query; `relations` lists the relations
      prove SPEC, lint, diff PATH, reload, load PATH..., set scope any-workload|inventory, quit

    On a terminal: a prompt with history (kept in $XDG_DATA_HOME/reasoner/history, else
    ~/.local/share/reasoner/history) and Tab completion; Ctrl-C clears the line or stops an answer.
    Otherwise commands are read from standard input, one a line (`#` starts a comment), and each answer
    is printed plainly followed by a blank line; errors go to standard error as `error: ...` and the
    session goes on. Exit status: 0, or 1 if a command of a script failed; 2 if the inputs cannot be
    loaded.

    \b
    Examples:
      reasoner repl corpus/microservices-demo/manifests
      reasoner repl manifests/ < questions.txt
      reasoner repl manifests/ -e 'can shop/web shop/db 5432/TCP' -e 'who-can-reach shop/db'
      kubectl get netpol,pods,ns -A -o yaml | reasoner repl - -e 'endpoints app == "db"'
    """
    interactive = not commands and sys.stdin.isatty()
    if "-" in paths and not commands:
        raise UsageError("with `-`, standard input holds the manifests: give the commands with --execute")
    session = Session(paths, stdin=sys.stdin, freeze_gc=_large(paths), options=options)
    for warning in session.warnings:
        click.echo(escape(warning), err=True)
    if interactive:
        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        sys.exit(run_terminal(session, colour))
    lines: Iterable[str] = commands if commands else sys.stdin
    sys.exit(run_script(session, lines, sys.stdout, sys.stderr))


__all__ = ["Session", "Reply", "parse_query", "parse_flow", "suggest", "Completer", "repl_command", "COMMANDS"]
