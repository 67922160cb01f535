"""The comparison of two versions: the flows whose verdict changed, or a proof that none did.

Each version is read into its own cluster and its own Datalog engine (two fact bases, never mixed), its inventory
completed from the other (versions.py). When both sides carry endpoints of their own (pods, workloads, host
endpoints) and no `--inventory` is given, each side keeps its own endpoints: one that exists in one version only (a
network set too, which is never taken from the other side) is listed as added or removed, and its flows are not
compared, but the versions are not equivalent. The comparison runs over *joint classes* (joint.py). For each
ordered pair of joint classes the two class-level connectivity relations are compared per protocol and port;
differences are grouped into flow classes as a reviewer would state them. With no difference, z3 proves that the
joint classes agree (prove.py). Every reported flow class carries a witness flow replayed through `can` on both
versions, which must really differ. An equivalent inventory diff also tells, when that is quick, whether the pods
that could be deployed see a difference (`_any_workload_check`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from reasoner import analysis
from reasoner.diff.joint import Joint, joint_classes
from reasoner.diff.prove import prove_equivalent
from reasoner.diff.staged import enforce_staged, staged_kind
from reasoner.diff.versions import (
    ENDPOINT_KINDS,
    INVENTORY_KINDS,
    cluster_of,
    complete,
    endpoint_names,
    holds_endpoints,
    read_built,
)
from reasoner.errors import UsageError
from reasoner.manifests.load import Document, ReadOptions
from reasoner.model.cidr import sample_ip
from reasoner.model.cluster import Cluster
from reasoner.model.ports import ALL, PORTED, minus, span
from reasoner.progress import stage
from reasoner.properties import DEFAULT_BUDGET
from reasoner.properties.encode import Encoding
from reasoner.query.can import can, other_protocol_number
from reasoner.query.map import class_connections, class_connections_for
from reasoner.query.verdict import Verdict
from reasoner.results import ChangeKind, Witness

if TYPE_CHECKING:
    from reasoner.diff.naming import _Names


class DiffMismatch(AssertionError):
    """The two ways of comparing disagree (joint classes vs z3, or a witness that does not differ): a defect
    of ours, never of the input."""


# --------------------------------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------------------------------

def _ranges(allowed: dict, proto: str, listed: tuple[str, ...]) -> list[tuple[int, int]]:
    """The ports (ICMP: type*256+code) of `proto` that `allowed` admits, each a real flow (`port_sets`)."""
    key = proto if proto in listed else "OTHER"
    value = allowed.get(key)
    if value is None:
        return []
    if value == ALL:
        return [span(proto)]
    return list(value)


@dataclass
class Change:
    kind: ChangeKind
    srcs: list[Joint]
    dsts: list[Joint]
    protocol: str
    ranges: list[tuple[int, int]]  # [(0, 0)] for a protocol without ports
    witness: Witness | None = None  # set when the change is replayed (`_witness`)
    before: Verdict | None = None
    after: Verdict | None = None
    traffic_before: dict = field(default_factory=dict)  # all the witness's pair allowed before, by protocol
    traffic_after: dict = field(default_factory=dict)


@dataclass
class DiffResult:
    equivalent: bool  # no verdict changes and no endpoint added or removed
    scope: str
    changes: list[Change]
    proof: str = ""  # how the equivalence was established
    new_pods: dict = field(default_factory=dict)
    by_ns: dict[str, list[str]] = field(default_factory=dict)  # every endpoint name, by namespace
    warnings: list[str] = field(default_factory=list)  # inputs skipped while reading either version
    endpoints_added: list[str] = field(default_factory=list)  # in the new version only: their flows not compared
    endpoints_removed: list[str] = field(default_factory=list)  # in the old version only
    shared: int = 0  # how many endpoints both versions hold (the flows compared are theirs)
    old: analysis.Analysis | None = field(default=None, repr=False)
    new: analysis.Analysis | None = field(default=None, repr=False)
    total: int | None = None  # with filters (`focus`): how many changes there were before filtering
    naming: _Names | None = field(default=None, repr=False)  # made when first needed (`describe`)
    wider: dict | None = None  # inventory scope, equivalent: what any-workload scope says (`_any_workload_check`)


def _pair_ok(s: Joint, d: Joint) -> bool:
    if s.external and d.external:
        return False
    if s is d and len(s.members) < 2:
        return False
    return bool(set(s.families) & set(d.families))


def compare(old: analysis.Analysis, new: analysis.Analysis, scope: str = "inventory", new_pods: dict | None = None,
            added: list[str] = (), removed: list[str] = ()) -> DiffResult:
    """`added`, `removed`: the endpoints of one version only. The versions are equivalent when no flow between
    endpoints of both changes verdict and no endpoint is added or removed."""
    with stage("comparing the versions"):
        joints = joint_classes(old, new)
        conns_old = {(c.src.id, c.dst.id): c.allowed for c in class_connections(old)}
        conns_new = {(c.src.id, c.dst.id): c.allowed for c in class_connections(new)}
        listed_old, listed_new = old.facts.protocols, new.facts.protocols
        protocols = list(dict.fromkeys([*listed_old, *listed_new]))
        rows: dict[tuple, list[Joint]] = {}
        for s in joints:
            for d in joints:
                if not _pair_ok(s, d):
                    continue
                a = conns_old.get((s.old, d.old), {})
                b = conns_new.get((s.new, d.new), {})
                if not a and not b:
                    continue
                for p in protocols:
                    ra, rb = _ranges(a, p, listed_old), _ranges(b, p, listed_new)
                    if ra == rb:
                        continue
                    for kind, diff in ((ChangeKind.NEWLY_ALLOWED, minus(rb, ra)),
                                       (ChangeKind.NEWLY_DENIED, minus(ra, rb))):
                        if diff:
                            rows.setdefault((s.id, kind, p, tuple(diff)), []).append(d)
        grouped: dict[tuple, list[Joint]] = {}
        for (sid, kind, p, diff), dsts in rows.items():
            grouped.setdefault((kind, p, diff, tuple(d.id for d in dsts)), []).append(joints[sid])
        changes = [Change(kind, srcs, [joints[i] for i in dst_ids], p, list(diff))
                   for (kind, p, diff, dst_ids), srcs in grouped.items()]
        changes.sort(key=lambda c: (c.kind, c.protocol, c.srcs[0].id, c.dsts[0].id))
        result = DiffResult(not changes and not added and not removed, scope, changes, new_pods=new_pods or {},
                            endpoints_added=list(added), endpoints_removed=list(removed),
                            shared=sum(m not in (new_pods or {}) for j in joints for m in j.members), old=old, new=new)
        both = {ep.ref for ep in new.cluster.endpoints}
        for ep in old.cluster.endpoints:
            if ep.ref in both and ep.ref not in result.new_pods:
                result.by_ns.setdefault(ep.namespace, []).append(ep.name)
        if changes:
            for c in changes:
                if not _witness(old, new, c):
                    raise DiffMismatch(f"a change of {c.protocol} holds no flow")
        else:
            proof = prove_equivalent(Encoding(old, conns_old), Encoding(new, conns_new), joints)
            if proof is None:
                raise DiffMismatch("z3 finds a flow whose verdict differs, but the class comparison found none")
            result.proof = proof
        return result


def _name(j: Joint, not_this: str | None = None) -> str | None:
    if j.external:
        return f"ip:{sample_ip(j.family, j.lo, j.hi)}"
    return next((m for m in j.members if m != not_this), None)


def first_flow(c: Change) -> tuple[Joint, str, Joint, str] | None:
    """The first flow of a change: a source and a destination that are not both addresses, nor one endpoint."""
    for s in c.srcs:
        for d in c.dsts:
            if s.external and d.external or not set(s.families) & set(d.families):
                continue
            src = _name(s)
            dst = _name(d, src)
            if src is not None and dst is not None:
                return s, src, d, dst
    return None


def _witness(old: analysis.Analysis, new: analysis.Analysis, c: Change) -> bool:
    """Replays the change's first flow through `can` on both versions (it must differ) and keeps it as the witness,
    with what its pair of classes allows before and after; False when the change holds no flow."""
    pair = first_flow(c)
    if pair is None:
        return False
    sj, src, dj, dst = pair
    port = c.ranges[0][0]
    proto = c.protocol
    icmp = proto in ("ICMP", "ICMPv6")
    args: tuple = (proto, port if proto in PORTED else None,
                   port // 256 if icmp and port < 65535 else None, port % 256 if icmp and port < 65535 else None)
    if proto == "OTHER" or proto.isdigit():
        args = (proto if proto.isdigit() else other_protocol_number(old, new), None, None, None)
    try:
        before, after = can(old, src, dst, *args), can(new, src, dst, *args)
    except UsageError as exc:  # the witness is ours: `can` refusing it is our defect, not the user's
        raise DiffMismatch(f"{src} -> {dst} {proto}/{port}: the witness does not replay: {exc}") from exc
    if before.allowed == after.allowed or after.allowed != (c.kind == ChangeKind.NEWLY_ALLOWED):
        raise DiffMismatch(f"{src} -> {dst} {proto}/{port}: the versions were found to differ, but `can` says "
                           f"{'allowed' if before.allowed else 'denied'} before and "
                           f"{'allowed' if after.allowed else 'denied'} after")
    c.witness = Witness(src, dst, *args)  # the flow replayed: protocol, port, ICMP type and code
    c.before, c.after = before, after
    c.traffic_before = class_connections_for(old, sj.old, dj.old)
    c.traffic_after = class_connections_for(new, sj.new, dj.new)
    return True


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------

def diff(old_source: str, new_source: str, inventory: list[str] = (), scope: str = "inventory",
         budget: float = DEFAULT_BUDGET, options: ReadOptions = ReadOptions()) -> DiffResult:
    """`budget`: seconds for finding, in any-workload scope, the pods that could be deployed; when it runs out
    (as when there are too many kinds of them), a UsageError."""
    old_built, old_docs, old_skipped = read_built(old_source, options)
    new_built, new_docs, new_skipped = read_built(new_source, options)
    return _diff_versions(old_docs, old_skipped, new_docs, new_skipped, inventory, scope, budget, options,
                          built=(old_built, new_built))


def diff_staged(source: str, inventory: list[str] = (), scope: str = "inventory", budget: float = DEFAULT_BUDGET,
                options: ReadOptions = ReadOptions()) -> DiffResult:
    """What enforcing the staged policies of `source` would change: `source` as it is against `source` with each
    staged policy enforced (`enforce_staged`)."""
    built, docs, skipped = read_built(source, options)
    enforced, notes = enforce_staged(docs)
    if not any(staged_kind(doc) for doc in docs):
        notes.append(f"{source}: no staged policy (StagedNetworkPolicy, StagedGlobalNetworkPolicy, "
                     "StagedKubernetesNetworkPolicy) found: nothing to enforce")
    return _diff_versions(docs, skipped, enforced, notes, inventory, scope, budget, options, built=(built, None))


def _diff_versions(old_docs: list[Document], old_skipped: list[str], new_docs: list[Document], new_skipped: list[str],
                   inventory: list[str], scope: str, budget: float, options: ReadOptions,
                   built: tuple[Cluster | None, Cluster | None] = (None, None)) -> DiffResult:
    """`built`: the clusters of `old_docs` and `new_docs` as read, when known: a version the other completes with
    nothing (`complete`) is not built again."""
    inv: list[Document] = []
    if inventory:
        inv, errors, inv_skipped = analysis.read_inputs(inventory, options=options)
        _, inv, inv_warnings = analysis.settle(inv, errors, options)
        new_skipped += inv_skipped + inv_warnings
    own = not inventory and holds_endpoints(old_docs) and holds_endpoints(new_docs)  # else the inventory is shared
    kinds = INVENTORY_KINDS - ENDPOINT_KINDS if own else INVENTORY_KINDS
    old_cluster, new_cluster = (
        cluster_of(whole) if len(whole) > len(docs) or cluster is None else cluster
        for whole, docs, cluster in ((complete(old_docs, new_docs, inv, kinds=kinds), old_docs, built[0]),
                                     (complete(new_docs, old_docs, inv, kinds=kinds), new_docs, built[1])))
    old_names, new_names = endpoint_names(old_cluster), endpoint_names(new_cluster)
    warnings = list(dict.fromkeys(old_skipped + new_skipped + old_cluster.skipped + new_cluster.skipped))
    if scope == "any-workload":
        from reasoner.properties.kinds import TooMany
        from reasoner.properties.universe import build_worlds

        try:
            (old_cluster, new_cluster), universe = build_worlds([old_cluster, new_cluster], budget=budget)
        except TooMany as exc:
            raise UsageError(str(exc)) from None
        new_pods = universe.new_pods
    else:
        new_pods = {}
    old, new = analysis.analyse(old_cluster), analysis.analyse(new_cluster)
    result = compare(old, new, scope, new_pods, sorted(new_names - old_names), sorted(old_names - new_names))
    result.warnings = warnings
    if scope == "inventory" and result.equivalent:
        result.wider = _any_workload_check(old_cluster, new_cluster, budget)
    return result


WIDER_BUDGET = 10.0  # seconds for finding the pods that could be deployed, after an equivalent inventory diff
WIDER_KINDS = 200  # kinds of such pods at most (each kind is a pod in both versions' analyses)


def _any_workload_check(old_cluster: Cluster, new_cluster: Cluster, budget: float) -> dict:
    """After an equivalent inventory diff: whether the versions also agree for the pods that could be deployed
    (scope any-workload), when that is quick to tell; else why it was not told. {"checked", "equivalent",
    "changes", "witness" (of the first change, a Witness with its new pods), "change" (its kind), "why"}."""
    from reasoner.properties.kinds import OutOfBudget, TooMany
    from reasoner.properties.universe import build_worlds

    seconds = min(budget, WIDER_BUDGET)
    try:
        (old_w, new_w), universe = build_worlds([old_cluster, new_cluster], limit=WIDER_KINDS, budget=seconds)
    except OutOfBudget:
        return {"checked": False, "why": f"finding the kinds of pods that could be deployed takes more than {seconds:g} s"}
    except TooMany:
        return {"checked": False, "why": f"more than {WIDER_KINDS} kinds of pods could be deployed"}
    wide = compare(analysis.analyse(old_w), analysis.analyse(new_w), "any-workload", universe.new_pods)
    out: dict = {"checked": True, "equivalent": not wide.changes, "changes": len(wide.changes)}
    if wide.changes:
        c = wide.changes[0]
        assert c.witness is not None
        out["witness"] = replace(c.witness, new_pods={
            n: wide.new_pods[n].describe() for n in (c.witness.src, c.witness.dst) if n in wide.new_pods})
        out["change"] = c.kind
    return out


__all__ = ["diff", "diff_staged", "compare", "DiffResult", "Change", "DiffMismatch"]
