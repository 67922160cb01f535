"""The Datalog commands: `?- relation(Arg, ...)` queries over the facts and the derived relations, and
`relations`, which lists them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from reasoner import api
from reasoner.errors import UsageError
from reasoner.repl.parse import Query, Relation, Var, parse_query
from reasoner.repl.registry import command, hint, plural, usage
from reasoner.report.text import table

if TYPE_CHECKING:
    from reasoner.repl.session import Session


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
        raise UsageError(f"unknown relation {q.relation!r}{hint(q.relation, relations)}; `relations` lists them")
    rel = relations[q.relation]
    cols = rel.columns
    if len(q.args) != len(cols):
        raise UsageError(f"{q.relation} has {plural(len(cols), 'argument')}: {q.relation}({', '.join(cols)}); "
                         f"the query gives {len(q.args)}")
    _check_bound(q, rel)
    args = [None if isinstance(a, Var) else s.constant(q.relation, col, a) for a, col in zip(q.args, cols)]
    rows = api.ask(s.an, q.relation, *args)
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
    return "\n".join(lines + [f"({plural(len(answers), 'row')})"])


def _check_bound(q: Query, rel: Relation) -> None:
    """Relations the engine answers only with some arguments bound: their comment says which ("call with Src, Dst
    bound"); else at least one."""
    if not rel.bound_only:
        return
    cols = rel.columns
    comment = rel.comment(q.relation)
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
        raise usage("relations")
    rows = [(f"{name}({', '.join(rel.columns)})", rel.kind, rel.meaning) for name, rel in sorted(s.relations.items())]
    return "\n".join(table(("RELATION", "KIND", "MEANING"), rows))
