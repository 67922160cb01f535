"""The session: one loaded cluster and what the commands need of it, computed once per load.

`Session.execute(line)` answers one line with a `Reply`; it needs no terminal. The commands (commands/) use the
public methods and attributes here.
"""

from __future__ import annotations

import gc
import time
from typing import Sequence

from reasoner import api
from reasoner.errors import ManifestErrors, ReasonerError, UsageError
from reasoner.progress import stage
from reasoner.repl.parse import QUERY_START, Relation, relation_table
from reasoner.repl.registry import ALIASES, COMMANDS, Quit, Reply, hint, natural, plural
from reasoner.report.text import terminal


class Session:
    """The command interpreter. `execute(line)` answers one line; `run(text)` a whole script.

    paths: the inputs; `-` reads manifests from `stdin`. options: how they are read (--exclude, --skip-invalid).
    freeze_gc: after each load, exempt the loaded model from Python's cyclic garbage collector (`gc.freeze`).
    A 10 000-pod engine is millions of objects, and one full collection of them, which would come at a random
    moment in a later answer, takes seconds. It is a choice for the whole process, so the front end makes it.
    """

    def __init__(self, paths: Sequence[str], stdin=None, freeze_gc: bool = False,
                 options: api.ReadOptions = api.ReadOptions()):
        self.stdin = stdin
        self.options = options
        self.freeze_gc = freeze_gc
        self.an: api.Analysis | None = None
        self.scope: str | None = None  # set scope: overrides a spec's own scope in `prove`
        self.timing = False
        self.load_seconds = 0.0
        self.load(list(paths))

    # ---- loading -----------------------------------------------------------------------------

    def load(self, paths: list[str]) -> None:
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
        self._relations: dict[str, Relation] | None = None
        self._exposures = None  # the any-workload universe and its map (`exposures`), built when first asked
        self._outside: dict | None = None  # the map's merged outside addresses per class and direction
        self.rank = {id(pol): i for i, pol in enumerate(api.evaluation_order(an.cluster))}
        # endpoint names in natural order, computed once: long answers are sorted by a lookup
        refs = sorted((ep.ref for ep in an.cluster.endpoints), key=natural)
        self._place = {ref: (0, i) for i, ref in enumerate(refs)}

    def _warm(self) -> None:
        """Build, once per load, what the first question of each kind would otherwise pay for: the engine's
        lookup indexes (one per relation and set of bound arguments), and, when Calico ordering decides some
        end, the class-level connectivity map (it is assembled whole, see `classes_into`)."""
        an = self.an
        internal = [c for c in an.facts.classes if c.external is None and c.members]
        if not internal:
            return
        first = internal[0]
        self.classes_into(first.id)
        self.classes_from(first.id)
        api.ask(an, "applies", None, first.id, None)
        ordered = {c for c, _d in api.ask(an, "ordered", None, None)}  # `can` towards an ordered end, if any
        other = next((c for c in internal if c.id in ordered and c is not first), internal[-1])
        if other is not first:
            for proto, port in (("TCP", 80), (None, None)):
                try:
                    api.verdict(an, first.members[0].ref, other.members[0].ref, proto, port)
                except ReasonerError:
                    pass

    def summary(self) -> str:
        fb = self.an.facts
        cluster = self.an.cluster
        n_pol = len(cluster.policies) + len(cluster.calico_policies) + len(cluster.admin_policies)
        internal = sum(1 for c in fb.classes if c.external is None)
        return (f"loaded {plural(len(cluster.endpoints), 'endpoint')} ({plural(internal, 'class', 'classes')}), "
                f"{plural(n_pol, 'policy', 'policies')} from {' '.join(self.paths)} in {self.load_seconds:.1f} s")

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
            return Reply(f"error: unknown command {word!r}{hint(word, COMMANDS)}; `help` lists them", error=True)
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

    def sort_key(self, name: str) -> tuple:
        """Endpoints in natural order (ns/web-2 before ns/web-10), then addresses."""
        return self._place.get(name) or (1, natural(name))

    def target(self, name: str):
        """An endpoint name (NS/POD, ip:ADDRESS, cidr:PREFIX) resolved to its class."""
        return api.resolve(self.an, name)

    def classes_into(self, d: int) -> dict[int, dict]:
        """{source class: what it may send to class d, per protocol}: the connectivity map's rows into d."""
        return self._classes(self._into, 0, d)

    def classes_from(self, s: int) -> dict[int, dict]:
        """{destination class: what class s may send it, per protocol}."""
        return self._classes(self._from, 1, s)

    def _classes(self, cache: dict, side: int, c: int) -> dict[int, dict]:
        if c not in cache:
            cache[c] = self._map()[side].get(c, {})
        return cache[c]

    def _map(self) -> tuple[dict, dict]:
        """The class-level connectivity map, indexed by destination and by source (built once per load)."""
        if self._class_map is None:
            into: dict[int, dict[int, dict]] = {}
            out: dict[int, dict[int, dict]] = {}
            for cc in api.class_connections(self.an):
                into.setdefault(cc.dst.id, {})[cc.src.id] = cc.allowed
                out.setdefault(cc.src.id, {})[cc.dst.id] = cc.allowed
            self._class_map = (into, out)
        return self._class_map

    def outside(self, c: int, into: bool) -> list:
        """The outside addresses that may send to class c (`into`) or that c may send to, merged as the
        connectivity map shows them: [(Addresses, what is allowed)]."""
        if self._outside is None:
            self._outside = api.connections(self.an, "pod").addresses
        return self._outside.get(("in" if into else "out", c), [])

    def exposures(self):
        """The any-workload universe and its map (`exposure`), built when first asked, then kept for the load:
        its `rows(focus, direction)` answer each question."""
        if self._exposures is None:
            self._exposures = api.exposures(self.an)
        return self._exposures

    @property
    def relations(self) -> dict[str, Relation]:
        """Every relation a query can ask, by name."""
        if self._relations is None:
            self._relations = relation_table()
        return self._relations

    # ---- Datalog constants by name -------------------------------------------------------------

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
        if not isinstance(value, str) or column not in api.ID_COLUMNS:
            return value
        names = self.names()
        kinds = ["class"] if column in api.CLASS_COLUMNS else ["class", "Ns"] if column == "Obj" else [column]
        for kind in kinds:
            ids = names[kind].get(value)
            if ids:
                if len(ids) > 1:
                    raise UsageError(f"{value!r} names several objects in column {column} of {relation}; "
                                     f"write it as the tables print it (e.g. \"NetworkPolicy {value}\")")
                return ids[0]
        if column in api.CLASS_COLUMNS and value.startswith(("ip:", "cidr:")):
            return self.target(value).cls.id
        what = {"Pol": "policy", "R": "rule", "Ns": "namespace", "T": "tier", "Obj": "endpoint or namespace"}
        raise UsageError(f"{value!r} in column {column} of {relation} names no {what.get(column, 'endpoint')}"
                         f"{hint(value, [n for k in kinds for n in names[k]])}")

    def show(self, relation: str, column: str, value: object) -> str:
        """A value of a result as the user reads it: object ids by name (FactBase.show, as `reasoner facts`)."""
        return self.an.facts.show(relation, column, value)
