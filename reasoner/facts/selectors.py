"""Facts of rules/selectors.dl: every selector, Kubernetes or Calico, as disjunctive normal form (sel_conj,
conj_pos, conj_neg, conj_gen, conj_nogen), its tests (req_in, req_exists, req_contains, req_starts, req_ends) and
the roles it is used in (podsel, nssel, csel, cnssel, sasel). Equal selectors and equal tests share one id.
"""

from __future__ import annotations

from reasoner.facts.state import Emitter
from reasoner.model.calico_selector import CalicoSelector
from reasoner.model.selector import LabelSelector, Op

# Calico literal -> (negated?, base test): the negated forms hold on an absent key (SEMANTICS §3.8)
NEGATED = {"ne", "notin", "nothas", "notcontains", "notstarts", "notends"}
BASE = {"eq": "in", "ne": "in", "in": "in", "notin": "in", "has": "exists", "nothas": "exists",
        "contains": "contains", "notcontains": "contains", "starts": "starts", "notstarts": "starts",
        "ends": "ends", "notends": "ends"}


def selector(em: Emitter, sel: LabelSelector | CalicoSelector, role: str) -> int:
    """The id of `sel` in a role: "podsel"/"nssel" (k8s pod / namespace selector), "csel" (Calico selector
    over pods and network sets), "cnssel" (Calico namespaceSelector), "sasel" (service accounts)."""
    sid = _selector(em, sel)
    if (sid, role) not in em.roles:
        em.roles.add((sid, role))
        em.add(role, sid)
    return sid


def _selector(em: Emitter, sel: LabelSelector | CalicoSelector) -> int:
    sel_key = sel if isinstance(sel, LabelSelector) else ("calico", sel.dnf)
    sid = em.selectors.get(sel_key)
    if sid is not None:
        return sid
    sid = em.selectors[sel_key] = next(em.ids)
    if isinstance(sel, LabelSelector):  # one conjunction
        conjs = [[(r.op in (Op.NOT_IN, Op.DOES_NOT_EXIST), "in" if r.op in (Op.IN, Op.NOT_IN) else "exists",
                   r.key, tuple(sorted(r.values))) for r in sel.requirements]]
    else:
        conjs = [[(lit.op in NEGATED, BASE[lit.op], lit.key, lit.values) for lit in conj] for conj in sel.dnf]
    for conj in conjs:
        jid = next(em.ids)
        em.add("sel_conj", sid, jid)
        gen = sorted((key, values[0]) for neg, op, key, values in conj if not neg and op == "in" and len(values) == 1)
        if gen:
            em.add("conj_gen", jid, *gen[0])
        else:
            em.add("conj_nogen", jid)
        for neg, op, key, values in conj:
            rid = requirement(em, op, key, values)
            em.add("conj_neg" if neg else "conj_pos", jid, rid)
    return sid


def requirement(em: Emitter, op: str, key: str, values: tuple[str, ...]) -> int:
    rkey = (op, key, values)
    rid = em.requirements.get(rkey)
    if rid is None:
        rid = em.requirements[rkey] = next(em.ids)
        if op == "in":
            for v in values:
                em.add("req_in", rid, key, v)
        elif op == "exists":
            em.add("req_exists", rid, key)
        else:
            em.add(f"req_{op}", rid, key, values[0])
    return rid
