"""z3's proof that two versions agree: when the joint classes show no difference, the two z3 encodings of the
versions (properties/encode.py) are shown to give every flow between joint classes, on any protocol and port, the
same verdict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import z3

from reasoner.model.ports import PORTED
from reasoner.properties.encode import Encoding

if TYPE_CHECKING:
    from reasoner.diff.joint import Joint


def prove_equivalent(ea: Encoding, eb: Encoding, joints: list[Joint]) -> str | None:
    """z3: no flow between joint classes on which the two encodings disagree. How that was established; None when
    z3 finds such a flow."""
    protocols = list(dict.fromkeys([*ea.protocols, *eb.protocols]))
    js, jd, jp, port = z3.Ints("joint_src joint_dst joint_proto joint_port")

    def chain(var, values):
        term = z3.IntVal(values[-1])
        for i in range(len(values) - 2, -1, -1):
            term = z3.If(var == i, z3.IntVal(values[i]), term)
        return term

    def version(enc: Encoding, side: str) -> z3.BoolRef:
        ids = [getattr(j, side) for j in joints]
        proto_ids = [enc.proto_index.get(p, enc.proto_index["OTHER"]) for p in protocols]
        return z3.substitute(enc.allowed, (enc.S, chain(js, ids)), (enc.D, chain(jd, ids)),
                             (enc.P, chain(jp, proto_ids)), (enc.Port, port))

    n = len(joints)
    external = [j.id for j in joints if j.external]
    single = [j.id for j in joints if not j.external and len(j.members) < 2]

    def member(var, ids):
        return z3.Or([var == i for i in ids]) if ids else z3.BoolVal(False)

    fam = {f: [j.id for j in joints if f in j.families] for f in (4, 6)}
    ported = [i for i, p in enumerate(protocols) if p in PORTED]
    icmp = [i for i, p in enumerate(protocols) if p in ("ICMP", "ICMPv6")]
    solver = z3.Solver()
    solver.set(timeout=60_000)
    solver.add(js >= 0, js < n, jd >= 0, jd < n, jp >= 0, jp < len(protocols),
               z3.Not(z3.And(member(js, external), member(jd, external))),
               z3.Implies(js == jd, z3.Not(member(js, external + single))),
               z3.Or([z3.And(member(js, fam[f]), member(jd, fam[f])) for f in (4, 6)]),
               z3.If(member(jp, ported), z3.And(port >= 1, port <= 65535),
                     z3.If(member(jp, icmp), z3.And(port >= 0, port <= 65535), port == 0)),
               version(ea, "old") != version(eb, "new"))
    status = solver.check()
    if status == z3.unsat:
        return (f"z3: no flow between endpoints of both versions or addresses ({n} joint classes), on any protocol "
                f"and port, has different verdicts (unsat)")
    if status == z3.sat:
        return None
    return (f"z3 gave up ({solver.reason_unknown()}); the class-by-class comparison found no difference between "
            f"endpoints of both versions or addresses")
