"""Reading the two versions of a diff and completing each one's inventory from the other.

A version is a file, a directory, `cluster:`, or `git:REV:PATH` (read from the git repository of the current
directory), read into its own cluster. Inventory objects (namespaces, pods, workloads, services, service accounts,
host endpoints) that one side lacks are taken from the other side, or from `--inventory` (`complete`), so that a
side may hold only policies and a side's own relabelling still counts.
"""

from __future__ import annotations

import os
import posixpath

from reasoner import analysis
from reasoner.errors import ManifestError, ManifestErrors, UsageError
from reasoner.manifests.git import run_git
from reasoner.manifests.load import CLUSTER_SCOPED, SUFFIXES, Document, ReadOptions, decode, documents, excluded
from reasoner.model.cluster import Cluster
from reasoner.sources.registry import build_cluster

ENDPOINT_KINDS = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController",
                            "Job", "CronJob", "HostEndpoint"})
INVENTORY_KINDS = ENDPOINT_KINDS | {"Namespace", "Service", "ServiceAccount"}


def read_version(source: str, options: ReadOptions = ReadOptions()) -> tuple[list[Document], list[str]]:
    """A file, a directory, `cluster:`, or `git:REV:PATH` (read from the git repository of the current
    directory): its documents, each a valid object on its own (see `analysis.settle`), and the warnings of reading it."""
    _, docs, warnings = read_built(source, options)
    return docs, warnings


def read_built(source: str, options: ReadOptions) -> tuple[Cluster, list[Document], list[str]]:
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


def endpoint_names(cluster: Cluster) -> set[str]:
    """The endpoints of a version by name: pods (or workloads), host endpoints, network sets."""
    return {e.ref for e in [*cluster.endpoints, *cluster.host_endpoints, *cluster.network_sets]}


__all__ = ["read_version"]
