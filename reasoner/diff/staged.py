"""Staged Calico policies enforced, as promoting them does: what `diff --staged` compares a version with.

Calico's StagedNetworkPolicy, StagedGlobalNetworkPolicy and StagedKubernetesNetworkPolicy stand for the enforced
policy of the same kind, namespace and name; their stagedAction says whether promoting one sets or deletes it.
Learn and Ignore (policy recommendations) are never promoted.
"""

from __future__ import annotations

from dataclasses import replace

from reasoner.errors import ManifestErrors
from reasoner.manifests.load import Document

CALICO_GROUPS = ("projectcalico.org", "crd.projectcalico.org")
# staged kind -> (apiVersion of the enforced kind, None: the staged one's; enforced kind)
ENFORCED = {"StagedNetworkPolicy": (None, "NetworkPolicy"),
            "StagedGlobalNetworkPolicy": (None, "GlobalNetworkPolicy"),
            "StagedKubernetesNetworkPolicy": ("networking.k8s.io/v1", "NetworkPolicy")}


def staged_kind(doc: Document) -> str | None:
    """The kind of a staged Calico policy (`ENFORCED`); None for any other document."""
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
    staged = staged_kind(doc)
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
        kind = staged_kind(doc)
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
        kind, key = staged_kind(doc), _policy_key(doc)
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


__all__ = ["enforce_staged"]
