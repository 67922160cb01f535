"""Semantic diff of two policy versions: the flows whose verdict changed, or a proof that none did.

Each version is read into its own cluster and its own Datalog engine (two fact bases, never mixed).
Inventory objects (namespaces, pods, workloads, services, service accounts, host endpoints) that one side
lacks are taken from the other side, or from `--inventory`, so that a side may hold only policies and a
side's own relabelling still counts. When both sides carry endpoints of their own (pods, workloads, host
endpoints) and no `--inventory` is given, each side keeps its own endpoints: one that exists in one version
only (a network set too, which is never taken from the other side) is listed as added or removed, and its
flows are not compared, but the versions are not equivalent. The comparison runs over *joint classes*:
endpoints present in both versions and alike in both, and address ranges alike in both (the atoms of both
sides cut together). For each ordered pair of joint classes the two class-level connectivity relations are
compared per protocol and port; differences are grouped into flow classes as a reviewer would state them
(`describe` names their groups; `focus` keeps the part of them that the filters of `connectivity` match).
With no difference, z3 proves that the joint classes agree, from the two z3 encodings of the versions
(properties/encode.py). Every reported flow class carries a witness flow replayed through `can` on both
versions, which must really differ.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field, replace
from typing import Callable

import z3

from reasoner import analysis
from reasoner.errors import ManifestError, ManifestErrors, UsageError
from reasoner.manifests.git import run_git
from reasoner.manifests.load import CLUSTER_SCOPED, SUFFIXES, Document, ReadOptions, decode, documents, excluded
from reasoner.model.cidr import sample_ip
from reasoner.model.cluster import Cluster
from reasoner.model.ports import ALL, PORTED, intersect, minus, span
from reasoner.progress import stage
from reasoner.properties import DEFAULT_BUDGET
from reasoner.properties.encode import Encoding
from reasoner.query.addresses import addresses_text, fewest_prefixes, own_addresses
from reasoner.query.can import can, other_protocol_number
from reasoner.query.map import Focus, class_connections, class_connections_for, make_focus
from reasoner.query.verdict import Verdict
from reasoner.results import ChangeKind, Witness
from reasoner.sources.registry import build_cluster

ENDPOINT_KINDS = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController",
                            "Job", "CronJob", "HostEndpoint"})
INVENTORY_KINDS = ENDPOINT_KINDS | {"Namespace", "Service", "ServiceAccount"}


class DiffMismatch(AssertionError):
    """The two ways of comparing disagree (joint classes vs z3, or a witness that does not differ): a defect
    of ours, never of the input."""


# --------------------------------------------------------------------------------------------------
# Reading the two versions
# --------------------------------------------------------------------------------------------------

def read_version(source: str, options: ReadOptions = ReadOptions()) -> tuple[list[Document], list[str]]:
    """A file, a directory, `cluster:`, or `git:REV:PATH` (read from the git repository of the current
    directory): its documents, each a valid object on its own (see `analysis.settle`), and the warnings of reading it."""
    _, docs, warnings = _read_version(source, options)
    return docs, warnings


def _read_version(source: str, options: ReadOptions) -> tuple[Cluster, list[Document], list[str]]:
    """`read_version`, with the cluster of the documents read."""
    if source.startswith("git:"):
        docs, errors, skipped = _read_git(source, options.exclude)
    else:
        docs, errors, skipped = analysis.read_inputs([source], options=options)
    cluster, docs, warnings = analysis.settle(docs, errors, options)  # before any of them is joined with the other version
    return cluster, docs, skipped + warnings


def _read_git(source: str, exclude: tuple[str, ...] = ()) -> tuple[list[Document], list[ManifestError], list[str]]:
    """`git:REV:PATH`, PATH from the top of the repository (`./PATH`, `../PATH`: from the current directory), as
    git reads `REV:PATH`: the documents of its manifest files (those `exclude` matches left out), the errors and
    the notes of reading them."""
    parts = source.split(":", 2)
    if len(parts) != 3 or not parts[1]:
        raise UsageError(f"{source!r}: want git:REV:PATH (e.g. git:main:deploy/)")
    _, rev, path = parts
    if path == "." or path.startswith(("./", "../")) or path == "..":
        prefix = os.fsdecode(run_git(["rev-parse", "--show-prefix"], source).rstrip(b"\n"))
        path = posixpath.normpath(posixpath.join(prefix, path))
        if path == ".." or path.startswith("../"):
            raise UsageError(f"{source}: the path leaves the repository")
    path = posixpath.normpath(path) if path else "."
    files: list[tuple[str, str]] = []  # (path, blob)
    left_out = 0
    for record in run_git(["ls-tree", "-r", "-z", "--full-tree", rev, "--", path], source).split(b"\0"):
        if not record:
            continue
        meta, name = record.split(b"\t", 1)
        mode, kind, blob = meta.decode().split()
        f = os.fsdecode(name)
        rel = f if path == "." else posixpath.basename(f) if f == path else posixpath.relpath(f, path)
        if (kind == "blob" and mode != "120000" and f.lower().endswith(SUFFIXES)
                and not any(part.startswith(".") for part in rel.split("/"))):
            if excluded(rel, exclude):
                left_out += 1
            else:
                files.append((f, blob))
    if not files:
        raise UsageError(f"{source}: --exclude leaves out every .yaml, .yml or .json file at {path} in {rev}"
                         if left_out else f"{source}: no .yaml, .yml or .json file at {path} in {rev}")
    out = run_git(["cat-file", "--batch"], source, "".join(f"{blob}\n" for _, blob in files).encode())
    errors: list[ManifestError] = []
    texts: list[tuple[str, str]] = []
    at = 0
    for f, _ in files:  # each blob: "<oid> blob <size>\n<content>\n"
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        name = f"git:{rev}:{f}"
        try:
            texts.append((name, decode(out[header_end + 1:header_end + 1 + size], name)))
        except ManifestError as exc:
            errors.append(exc)
        at = header_end + 1 + size + 1
    docs, notes = documents(texts, errors)
    return docs, errors, notes


def _kind(doc: Document) -> object:
    return doc.data.get("kind") if isinstance(doc.data, dict) else None


def _key(doc: Document, kinds: frozenset[str]) -> tuple | None:
    data = doc.data
    if _kind(doc) not in kinds:
        return None
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    ns = "" if data["kind"] in CLUSTER_SCOPED else meta.get("namespace", "default")
    return data["kind"], ns, meta.get("name")


def holds_endpoints(docs: list[Document]) -> bool:
    """Whether a version carries endpoints of its own (pods, workloads, host endpoints), not only policies."""
    return any(_kind(doc) in ENDPOINT_KINDS for doc in docs)


def complete(side: list[Document], *others: list[Document], kinds: frozenset[str] = INVENTORY_KINDS) -> list[Document]:
    """`side` plus the inventory objects of `kinds` it lacks, from `others` in order."""
    have = {k for k in (_key(doc, kinds) for doc in side) if k is not None}
    out = list(side)
    for other in others:
        for doc in other:
            k = _key(doc, kinds)
            if k is not None and k not in have:
                have.add(k)
                out.append(doc)
    return out


def cluster_of(docs: list[Document]):
    cluster, errors = build_cluster(docs)
    if errors:
        raise ManifestErrors(errors)
    return cluster


# --------------------------------------------------------------------------------------------------
# Staged policies enforced
# --------------------------------------------------------------------------------------------------

CALICO_GROUPS = ("projectcalico.org", "crd.projectcalico.org")
# staged kind -> (apiVersion of the enforced kind, None: the staged one's; enforced kind)
ENFORCED = {"StagedNetworkPolicy": (None, "NetworkPolicy"),
            "StagedGlobalNetworkPolicy": (None, "GlobalNetworkPolicy"),
            "StagedKubernetesNetworkPolicy": ("networking.k8s.io/v1", "NetworkPolicy")}


def _staged_kind(doc: Document) -> str | None:
    data = doc.data
    if not isinstance(data, dict) or data.get("kind") not in ENFORCED or not isinstance(data.get("apiVersion"), str):
        return None
    return data["kind"] if data["apiVersion"].rsplit("/", 1)[0] in CALICO_GROUPS else None


def _policy_key(doc: Document) -> tuple | None:
    """The policy a (valid) document is or a staged document names: (kind, namespace, name). Calico policies are
    named as in `names/policy.go` of libcalico-go: `default.NAME` in the default tier is NAME (the prefix
    Calico 3.32 dropped); in other tiers the name carries its tier prefix, in the staged and the enforced
    policy alike."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("apiVersion"), str):
        return None
    group, kind = data["apiVersion"].rsplit("/", 1)[0] if "/" in data["apiVersion"] else "", data.get("kind")
    staged = _staged_kind(doc)
    if staged:
        api, kind = ENFORCED[staged]
        group = api.rsplit("/", 1)[0] if api else group
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    name, ns = meta.get("name"), meta.get("namespace") or "default"
    if not isinstance(name, str):
        return None
    if group in CALICO_GROUPS and kind in ("NetworkPolicy", "GlobalNetworkPolicy"):
        return ("projectcalico.org/" + kind, ns if kind == "NetworkPolicy" else "", name.removeprefix("default."))
    if group == "networking.k8s.io" and kind == "NetworkPolicy":
        return (kind, ns, name)
    return None


def enforce_staged(docs: list[Document]) -> tuple[list[Document], list[str]]:
    """`docs` with every staged policy enforced, as promoting it does (`ConvertStagedPolicyToEnforced`):
    stagedAction Set replaces the enforced policy of the same kind, namespace and name (or adds it) by one with
    the staged spec; Delete removes it; Learn and Ignore (policy recommendations) are not promoted. Each enforced
    policy keeps the staged document's file and lines. The documents must be valid (`read_version`). Also the
    notes on what was not done."""
    notes: list[str] = []
    staged: dict[tuple, tuple[Document, str]] = {}  # the enforced policy -> the staged document and its action
    for doc in docs:
        kind = _staged_kind(doc)
        if kind is None:
            continue
        spec = doc.data.get("spec") or {}
        action = spec.get("stagedAction") or "Set"
        if action in ("Learn", "Ignore"):
            notes.append(f"{doc.file}:{doc.line() or 1}: {doc.resource()}: stagedAction {action} (a policy "
                         "recommendation) is not enforced")
            continue
        key = _policy_key(doc)
        if key in staged:
            other = staged[key][0]
            raise ManifestErrors([doc.error(("metadata", "name"), f"{ENFORCED[kind][1]} {key[2]} is also staged at "
                                                                  f"{other.file}:{other.line() or 1}")])
        staged[key] = (doc, action)
    out: list[Document] = []
    replaced: set[tuple] = set()
    for doc in docs:
        kind, key = _staged_kind(doc), _policy_key(doc)
        if kind is None and key in staged:
            replaced.add(key)  # by the staged spec, or deleted
        elif kind is None:
            out.append(doc)
        elif key in staged and staged[key][0] is doc and staged[key][1] == "Set":
            api, enforced = ENFORCED[kind]
            spec = {k: v for k, v in (doc.data.get("spec") or {}).items() if k != "stagedAction"}
            out.append(replace(doc, data={**doc.data, "apiVersion": api or doc.data["apiVersion"], "kind": enforced,
                                          "spec": spec}))
    for key, (doc, action) in staged.items():
        if action == "Delete" and key not in replaced:
            notes.append(f"{doc.file}:{doc.line() or 1}: {doc.resource()}: stagedAction Delete, but there is no "
                         f"{ENFORCED[doc.data['kind']][1]} {key[2]} to delete")
    return out, notes


# --------------------------------------------------------------------------------------------------
# Joint classes
# --------------------------------------------------------------------------------------------------

@dataclass
class Joint:
    id: int
    old: int  # class id in the old analysis
    new: int
    members: list[str] = field(default_factory=list)  # endpoint refs; empty for an address range
    family: int | None = None  # address ranges
    lo: int = 0
    hi: int = 0
    families: tuple[int, ...] = (4, 6)

    @property
    def external(self) -> bool:
        return not self.members


def joint_classes(a: analysis.Analysis, b: analysis.Analysis) -> list[Joint]:
    """The endpoints of both versions grouped by their class in each, then the address ranges."""
    out: list[Joint] = []
    by_key: dict[tuple[int, int], Joint] = {}
    for ep in [*a.cluster.endpoints, *a.cluster.host_endpoints]:
        ca, cb = a.facts.class_of[ep.ref], b.facts.class_of.get(ep.ref)
        if cb is None:
            continue  # in one version only: added or removed, its flows not compared
        j = by_key.get((ca.id, cb.id))
        if j is None:
            j = by_key[(ca.id, cb.id)] = Joint(len(out), ca.id, cb.id, families=ca.families)
            out.append(j)
        j.members.append(ep.ref)
    for fam in (4, 6):
        ea = sorted((c.external.lo, c.external.hi, c.id) for c in a.facts.classes
                    if c.external is not None and c.external.family == fam)
        eb = sorted((c.external.lo, c.external.hi, c.id) for c in b.facts.classes
                    if c.external is not None and c.external.family == fam)
        i = k = 0
        while i < len(ea) and k < len(eb):
            lo, hi = max(ea[i][0], eb[k][0]), min(ea[i][1], eb[k][1])
            out.append(Joint(len(out), ea[i][2], eb[k][2], [], fam, lo, hi, (fam,)))
            if ea[i][1] == hi:
                i += 1
            if eb[k][1] == hi:
                k += 1
    return out


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
            result.proof = _prove_equivalent(Encoding(old, conns_old), Encoding(new, conns_new), joints)
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


def _prove_equivalent(ea: Encoding, eb: Encoding, joints: list[Joint]) -> str:
    """z3: no flow between joint classes on which the two encodings disagree."""
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
        raise DiffMismatch("z3 finds a flow whose verdict differs, but the class comparison found none")
    return (f"z3 gave up ({solver.reason_unknown()}); the class-by-class comparison found no difference between "
            f"endpoints of both versions or addresses")


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------

def diff(old_source: str, new_source: str, inventory: list[str] = (), scope: str = "inventory",
         budget: float = DEFAULT_BUDGET, options: ReadOptions = ReadOptions()) -> DiffResult:
    """`budget`: seconds for finding, in any-workload scope, the pods that could be deployed; when it runs out
    (as when there are too many kinds of them), a UsageError."""
    old_built, old_docs, old_skipped = _read_version(old_source, options)
    new_built, new_docs, new_skipped = _read_version(new_source, options)
    return _diff_versions(old_docs, old_skipped, new_docs, new_skipped, inventory, scope, budget, options,
                          built=(old_built, new_built))


def diff_staged(source: str, inventory: list[str] = (), scope: str = "inventory", budget: float = DEFAULT_BUDGET,
                options: ReadOptions = ReadOptions()) -> DiffResult:
    """What enforcing the staged policies of `source` would change: `source` as it is against `source` with each
    staged policy enforced (`enforce_staged`)."""
    built, docs, skipped = _read_version(source, options)
    enforced, notes = enforce_staged(docs)
    if not any(_staged_kind(doc) for doc in docs):
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


def endpoint_names(cluster: Cluster) -> set[str]:
    """The endpoints of a version by name: pods (or workloads), host endpoints, network sets."""
    return {e.ref for e in [*cluster.endpoints, *cluster.host_endpoints, *cluster.network_sets]}


class _Names:
    """What the endpoints of both versions are called in the new version: their workloads (by ownerReferences,
    `query.endpoints.owner_chain`), their labels, and the endpoints of each namespace and workload."""

    def __init__(self, result: DiffResult):
        from reasoner.query.endpoints import owner_chain

        cluster = result.new.cluster if result.new is not None else None
        self.by_ns = {ns: set(names) for ns, names in result.by_ns.items()}
        self.labels: dict[str, dict[str, str]] = {}
        self.owner: dict[str, str] = {}
        self.owned: dict[str, set[str]] = {}
        self.spare: dict[int, list[tuple[int, int]]] = {}  # the endpoints' own addresses
        for ep in cluster.endpoints if cluster is not None else ():
            if ep.name not in self.by_ns.get(ep.namespace, ()):
                continue
            self.labels[ep.ref] = dict(ep.labels)
            chain = owner_chain(cluster, ep) if ep.kind == "Pod" else []
            if chain:
                kind, name = chain[-1]
                self.owner[ep.ref] = f"{ep.namespace}/{name}[{kind}]"
                self.owned.setdefault(self.owner[ep.ref], set()).add(ep.ref)
        if cluster is not None:
            self.spare = own_addresses(cluster)

    def namespace(self, ns: str, names: set[str]) -> str:
        """Endpoints of one namespace: `ns/*` when they are all of it, else the shortest of their workloads and
        pods, and a label set they are exactly the endpoints of in `ns`."""
        everyone = self.by_ns.get(ns, set())
        if len(names) > 1 and names == everyone:
            return f"{ns}/* ({_pods(len(names))})"
        refs = {f"{ns}/{n}" for n in names}
        workloads = sorted({w for r in refs if (w := self.owner.get(r)) is not None and self.owned[w] <= refs})
        rest = sorted(r.split("/", 1)[1] for r in refs if self.owner.get(r) not in workloads)
        items = workloads + ([f"{ns}/{rest[0]}"] if len(rest) == 1 else [f"{ns}/{{{', '.join(rest)}}}"] if rest else [])
        listed = ", ".join(items)
        if len(workloads) + len(rest) > 4:
            shown = (workloads + [f"{ns}/{r}" for r in rest])[:3]
            listed = f"{', '.join(shown)}, … {len(workloads) + len(rest) - 3} more in {ns}"
        by_labels = self._labels(ns, refs, everyone)
        if by_labels is not None and (len(by_labels) < len(", ".join(items)) or len(items) > 4):
            return by_labels
        return listed

    def _labels(self, ns: str, refs: set[str], everyone: set[str]) -> str | None:
        """`k=v in ns (N pods)`: the fewest labels (one, else all they share) that exactly these endpoints of `ns`
        carry; None when there is none."""
        if len(refs) < 2 or any(r not in self.labels for r in refs):
            return None
        common = set.intersection(*(set(self.labels[r].items()) for r in refs))
        for chosen in [*({kv} for kv in sorted(common)), common]:
            if not chosen:
                continue
            matched = {f"{ns}/{n}" for n in everyone if chosen <= set(self.labels.get(f"{ns}/{n}", {}).items())}
            if matched == refs:
                return f"{','.join(f'{k}={v}' for k, v in sorted(chosen))} in {ns} ({_pods(len(refs))})"
        return None


def _pods(n: int) -> str:
    return f"{n} pod{'s' if n != 1 else ''}"


def describe(group: list[Joint], result: DiffResult) -> str:
    """A set of endpoints or addresses as a reviewer says it (`_Names.namespace`): `ns/*`, workloads
    (`ns/name[Kind]`), `k=v in ns (N pods)`, pods; host endpoints; new pods (any-workload) by namespace and labels;
    addresses as the fewest CIDR prefixes (`addresses_text`, the endpoints' own addresses counting as either)."""
    if result.naming is None:
        result.naming = _Names(result)
    names = result.naming
    new_pods = result.new_pods
    by_ns: dict[str, set[str]] = {}
    kinds: list[str] = []
    hosts: list[str] = []
    for j in group:
        for m in j.members:
            if new_pods and m in new_pods:
                p = new_pods[m]
                labels = ", ".join(f"{k}={v}" for k, v in sorted(p.labels.items())) or "no labels"
                where = f"new namespace {p.namespace}" if p.new_namespace is not None else p.namespace
                text = f"new pods in {where} with {labels}"
                if text not in kinds:
                    kinds.append(text)
                continue
            if m.startswith("hep:"):
                hosts.append(m)
                continue
            ns, name = m.split("/", 1)
            by_ns.setdefault(ns, set()).add(name)
    parts = sorted(set(hosts))
    parts.extend(names.namespace(ns, members) for ns, members in sorted(by_ns.items()))
    if kinds:
        parts.append("; ".join(kinds) if len(kinds) <= 3
                     else f"{'; '.join(kinds[:2])}; … {len(kinds) - 2} more kinds")
    nets = fewest_prefixes(((j.family, j.lo, j.hi) for j in group if j.external), names.spare)
    if nets:
        parts.append(addresses_text(nets))
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------------

def make_diff_focus(result: DiffResult, **filters) -> Focus:
    """`make_focus` (its keyword arguments) with names resolved in the new version, else in the old one."""
    try:
        return make_focus(result.new, **filters)
    except UsageError as exc:
        try:
            return make_focus(result.old, **filters)
        except UsageError:
            raise exc from None


_Pick = Callable[[str], bool]  # an endpoint name -> whether it is in a part


class _Part:
    """The endpoints (by name) and addresses a filter names; None of either: all of them."""

    def __init__(self, refs: _Pick | None, nets: tuple = ()):
        self.refs, self.nets = refs, nets

    def cut(self, group: list[Joint], inside: bool) -> list[Joint]:
        """The part of `group` inside (or outside) this one."""
        if self.refs is None and not self.nets:
            return list(group) if inside else []
        out = []
        for j in group:
            if j.external:
                spans = [(c.lo, c.hi) for c in self.nets if c.family == j.family]
                pieces = intersect([(j.lo, j.hi)], spans) if inside else _without(j.lo, j.hi, spans)
                out.extend(replace(j, lo=lo, hi=hi) for lo, hi in pieces)
            else:
                members = [m for m in j.members if (self.refs is not None and self.refs(m)) == inside]
                if members:
                    out.append(replace(j, members=members))
        return out


EVERYTHING = _Part(None)


def _without(lo: int, hi: int, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The values of lo..hi outside `spans` (addresses: any width, so not `minus`, which is for ports)."""
    out, at = [], lo
    for a, b in intersect([(lo, hi)], spans):
        if at < a:
            out.append((at, a - 1))
        at = b + 1
    return out + ([(at, hi)] if at <= hi else [])


def focus(result: DiffResult, f: Focus) -> DiffResult:
    """`result` with only the flows the filters keep, as `connectivity` keeps rows (`Focus`): each change cut to the
    flows that touch the namespace, touch an endpoint the selector matches, go out of or into the focus (from or to
    the peer), on the protocol and port; each part that holds a flow gets its own witness."""
    old, new = result.old, result.new
    endpoints = {ep.ref: ep for an in (old, new) for ep in [*an.cluster.endpoints, *an.cluster.host_endpoints]}
    checks: list[Callable[[list[Joint], list[Joint]], list[tuple[list[Joint], list[Joint]]]]] = []

    def touching(part: _Part):
        return lambda s, d: [(part.cut(s, True), d), (part.cut(s, False), part.cut(d, True))]
    if f.namespace is not None:
        checks.append(touching(_Part(lambda m: getattr(endpoints.get(m), "namespace", None) == f.namespace)))
    if f.selector is not None:
        from reasoner.query.endpoints import calico_view

        def selected(m: str) -> bool:
            an = new if m in new.facts.class_of else old
            return f.selector.matches(calico_view(an.facts, an.facts.class_of[m], endpoints[m]))
        checks.append(touching(_Part(selected)))
    if f.ends is not None:
        ends = _Part(f.ends.refs.__contains__, f.ends.nets)
        peers = _Part(f.peers.refs.__contains__, f.peers.nets) if f.peers is not None else EVERYTHING

        def around(s, d):
            out_of = [(ends.cut(s, True), peers.cut(d, True))]
            into = [(peers.cut(s, True), ends.cut(d, True))]
            if f.direction is not None:
                return out_of if f.direction == "out" else into
            return out_of + [(ends.cut(peers.cut(s, True), False), ends.cut(d, True)),  # into, not already out of
                             (peers.cut(ends.cut(s, True), True), peers.cut(ends.cut(d, True), False))]
        checks.append(around)
    kept: list[Change] = []
    for c in result.changes:
        if f.protocol is not None and c.protocol != f.protocol:
            continue
        ranges = c.ranges
        if f.port is not None:
            if c.protocol not in PORTED or not any(lo <= f.port <= hi for lo, hi in ranges):
                continue
            ranges = [(f.port, f.port)]
        rects = [(c.srcs, c.dsts)]
        for check in checks:
            rects = [r for s, d in rects if s and d for r in check(s, d)]
        for s, d in rects:
            if s and d and ranges == c.ranges and (s, d) == (c.srcs, c.dsts):
                kept.append(c)
            elif s and d:
                part = Change(c.kind, s, d, c.protocol, ranges)
                if _witness(old, new, part):
                    kept.append(part)
    return replace(result, changes=kept, total=len(result.changes) if result.total is None else result.total,
                   naming=None)


def _nets(group: list[Joint]) -> list[str]:
    """The addresses of a group, as the fewest CIDR prefixes."""
    return [str(p) for p in fewest_prefixes((j.family, j.lo, j.hi) for j in group if j.external)]


def endpoints(group: list[Joint]) -> list[str]:
    """A group as endpoint names: its endpoints, then its addresses as `cidr:PREFIX`."""
    return [m for j in group for m in j.members] + [f"cidr:{n}" for n in _nets(group)]


__all__ = ["diff", "diff_staged", "enforce_staged", "compare", "DiffResult", "Change", "DiffMismatch", "describe",
           "endpoints", "focus", "make_diff_focus", "read_version"]
