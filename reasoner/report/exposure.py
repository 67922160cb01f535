"""Renderers for exposure (reasoner/query/exposure.py): a table in text, and JSON."""

from __future__ import annotations

import json

from reasoner.query.exposure import ADDRESSES, INGRESS, NEW_NAMESPACE, Exposure, Outsider
from reasoner.report.connectivity import allowed_json, allowed_text


def _labels(items: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{k}={v}" for k, v in items)


def describe(peer: Outsider) -> str:
    """A peer in words: `any new pod in shop`, `new pods in shop labelled role=admin`, `any pod in a new namespace
    labelled env=dev`, `any address (0.0.0.0/0)`."""
    if peer.kind == ADDRESSES:
        return str(peer.addresses)
    if peer.kind == NEW_NAMESPACE:
        if peer.namespace is not None:
            where = f"new namespace {peer.namespace}"
        elif peer.namespace_labels is None:
            where = "any new namespace"
        else:
            where = (f"a new namespace labelled {_labels(peer.namespace_labels)}" if peer.namespace_labels
                     else "a new namespace without labels")
    else:
        where = peer.namespace
    if peer.labels is None:
        return f"any pod in {where}" if peer.kind == NEW_NAMESPACE else f"any new pod in {where}"
    labels = f"labelled {_labels(peer.labels)}" if peer.labels else "without labels"
    text = f"pods {labels} in {where}" if peer.kind == NEW_NAMESPACE else f"new pods in {where} {labels}"
    if peer.service_account is not None:
        text += f", service account {peer.service_account}"
        if peer.service_account_labels is not None:
            text += f" (new, labelled {_labels(peer.service_account_labels) or 'nothing'})"
    return text


def to_text(rows: list[Exposure], protocols: tuple[str, ...], direction: str = INGRESS) -> str:
    from reasoner.report.text import table

    if not rows:
        return ("nothing beyond the input's endpoints can reach them" if direction == INGRESS
                else "they can reach nothing beyond the input's endpoints")
    header = ("ENDPOINT", "REACHABLE FROM" if direction == INGRESS else "CAN REACH", "ALLOWED")
    lines = table(header, [(r.endpoint, describe(r.peer), allowed_text(r.allowed, protocols)) for r in rows])
    ends = len({r.endpoint for r in rows})
    lines.append(f"{ends} endpoint{'s' if ends != 1 else ''} "
                 + ("reachable from" if direction == INGRESS else "can reach") + " beyond the input's endpoints")
    return "\n".join(lines)


def peer_json(peer: Outsider) -> dict:
    out: dict = {"kind": peer.kind}
    if peer.namespace is not None:
        out["namespace"] = peer.namespace
    if peer.labels is not None:
        out["labels"] = dict(peer.labels)
    if peer.namespace_labels is not None:
        out["namespaceLabels"] = dict(peer.namespace_labels)
    if peer.service_account is not None:
        out["serviceAccount"] = peer.service_account
    if peer.service_account_labels is not None:
        out["serviceAccountLabels"] = dict(peer.service_account_labels)
    if peer.addresses is not None:
        out["cidrs"] = [str(n) for n in peer.addresses.nets]
    return out


def to_json(rows: list[Exposure]) -> str:
    return json.dumps({"exposure": [{"endpoint": r.endpoint, "direction": r.direction,
                                     "from" if r.direction == INGRESS else "to": peer_json(r.peer),
                                     "allowed": allowed_json(r.allowed)} for r in rows]}, indent=2)
