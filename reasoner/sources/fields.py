"""Typed access to a document's fields; a wrong or missing field becomes a located error."""

from __future__ import annotations

from typing import Any

from reasoner.errors import ManifestError
from reasoner.manifests.load import Document, FieldPath

_MISSING = object()
TYPE_WORDS = {str: "a string", int: "an integer", bool: "true or false", dict: "a mapping", list: "a list"}


class Invalid(Exception):
    """Raised inside a parser to abandon the current resource; the error is already recorded."""


class Fields:
    def __init__(self, doc: Document, errors: list[ManifestError]):
        self.doc = doc
        self.errors = errors

    def fail(self, path: FieldPath, message: str) -> Invalid:
        self.errors.append(self.doc.error(path, message))
        return Invalid()

    def raw(self, path: FieldPath) -> Any:
        node: Any = self.doc.data
        for part in path:
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    return _MISSING
                node = node[part]
            else:
                if not isinstance(node, dict) or part not in node:
                    return _MISSING
                node = node[part]
        return node

    def has(self, path: FieldPath) -> bool:
        value = self.raw(path)
        return value is not _MISSING and value is not None

    def get(self, path: FieldPath, kind: type, default: Any = None, required: bool = False) -> Any:
        """The value at `path` if it has type `kind`; `default` when absent or null."""
        value = self.raw(path)
        if value is _MISSING or value is None:
            if required:
                raise self.fail(path, f"missing required field (expected {TYPE_WORDS[kind]})")
            return default
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.fail(path, f"expected an integer, got {_show(value)}")
        if kind is str and not isinstance(value, str):
            raise self.fail(path, f"expected a string, got {_show(value)}")
        if kind is not int and kind is not str and not isinstance(value, kind):
            raise self.fail(path, f"expected {TYPE_WORDS[kind]}, got {_show(value)}")
        return value

    def str_map(self, path: FieldPath) -> dict[str, str]:
        """A map of strings to strings, such as `metadata.labels`."""
        value = self.get(path, dict, {})
        out: dict[str, str] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise self.fail(path, f"label key {_show(key)} must be a string")
            if not isinstance(item, str):
                raise self.fail(path + (key,), f"expected a string value, got {_show(item)} (quote it)")
            out[key] = item
        return out


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict,)):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def directions(f: Fields, path: FieldPath) -> set:
    """`policyTypes` / `types`: a list of Ingress and Egress (empty when absent; defaulting is the caller's)."""
    from reasoner.model.policy import Direction

    known = {"Ingress": Direction.INGRESS, "Egress": Direction.EGRESS}
    out = set()
    for i, t in enumerate(f.get(path, list, [])):
        if t not in known:
            raise f.fail(path + (i,), f"unknown policy type {t!r} (want Ingress or Egress)")
        out.add(known[t])
    return out
