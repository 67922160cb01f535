"""Read manifest documents and remember where every field came from.

Files, directories (recursive, `*.yaml`, `*.yml`, `*.json`), and `-` for standard input. Multi-document
YAML, JSON, and `kind: List` (as `kubectl get -o yaml` prints) are flattened into one `Document` per
resource. Each document keeps a map from field path to 1-based line so that every later error can name
the line of the field at fault. Nothing here knows about kinds beyond `List`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from reasoner.errors import Location, ManifestError

FieldPath = tuple[Any, ...]
SUFFIXES = (".yaml", ".yml", ".json")
CLUSTER_SCOPED = frozenset({"Namespace", "Node", "GlobalNetworkPolicy", "GlobalNetworkSet", "Tier", "Profile",
                            "HostEndpoint", "FelixConfiguration", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "IPPool",
                            "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "StorageClass",
                            "PersistentVolume", "resource"})


@dataclass
class Document:
    """One resource: its data and the line of each field path inside it."""

    file: str
    data: Any
    lines: dict[FieldPath, int] = field(default_factory=dict)
    prefix: FieldPath = ()  # where this resource sits in its file (e.g. ("items", 3) in a List)

    def line(self, path: FieldPath = ()) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        full = self.prefix + tuple(path)
        while True:
            if full in self.lines:
                return self.lines[full]
            if not full:
                return None
            full = full[:-1]

    def resource(self) -> str:
        data = self.data if isinstance(self.data, dict) else {}
        kind = data.get("kind") if isinstance(data.get("kind"), str) else "resource"
        meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        name = meta.get("name") if isinstance(meta.get("name"), str) else "<unnamed>"
        ns = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
        if ns is None and kind not in CLUSTER_SCOPED:
            ns = "default"
        return f"{kind} {ns}/{name}" if ns else f"{kind} {name}"

    def error(self, path: FieldPath, message: str) -> ManifestError:
        return ManifestError(Location(self.file, self.line(path), self.resource(), field_name(path)), message)


def field_name(path: FieldPath) -> str | None:
    """("spec", "ingress", 0, "ports") -> "spec.ingress[0].ports"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or None


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when present
    """A safe loader; positions are read from the composed node tree."""


def _build(node: yaml.Node, path: FieldPath, lines: dict[FieldPath, int], ctor: _Loader) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        ctor.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = ctor.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = str(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, path + (key,), lines, ctor)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), lines, ctor) for i, item in enumerate(node.value)]
    return ctor.construct_object(node, deep=True)


def parse_text(text: str, file: str) -> list[Document]:
    """Every document in `text` (YAML or JSON), `kind: List` expanded, empty documents dropped.

    A `.json` file must be JSON; line numbers then come from reading it again as YAML (a superset)."""
    docs: list[tuple[Any, dict[FieldPath, int]]] = []
    if file.lower().endswith(".json"):
        try:
            json.loads(text)
        except json.JSONDecodeError as jexc:
            raise ManifestError(Location(file, jexc.lineno), f"malformed JSON: {jexc.msg}") from None
    try:
        loader = _Loader(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    continue
                lines: dict[FieldPath, int] = {}
                docs.append((_build(node, (), lines, loader), lines))
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        # JSON that PyYAML cannot read (tabs, for example) still parses as JSON.
        stripped = text.lstrip()
        if stripped.startswith(("{", "[")):
            try:
                docs = [(json.loads(text), {})]
            except json.JSONDecodeError as jexc:
                raise ManifestError(Location(file, jexc.lineno), f"malformed JSON: {jexc.msg}") from None
        else:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = mark.line + 1 if mark is not None else None
            problem = getattr(exc, "problem", None) or str(exc)
            raise ManifestError(Location(file, line), f"malformed YAML: {problem}") from None
    out: list[Document] = []
    for data, lines in docs:
        out.extend(_expand(Document(file, data, lines)))
    return out


def _expand(doc: Document) -> Iterable[Document]:
    data = doc.data
    if data is None:
        return []
    if isinstance(data, list):  # a bare JSON/YAML array of resources
        return [d for i, item in enumerate(data) for d in _expand(Document(doc.file, item, doc.lines, doc.prefix + (i,)))]
    if isinstance(data, dict) and data.get("kind") == "List" or (
        isinstance(data, dict) and isinstance(data.get("kind"), str) and data["kind"].endswith("List")
        and isinstance(data.get("items"), list)
    ):
        items = data.get("items")
        if not isinstance(items, list):
            raise doc.error(("items",), "a List needs `items`, a list of resources")
        out: list[Document] = []
        for i, item in enumerate(items):
            out.extend(_expand(Document(doc.file, item, doc.lines, doc.prefix + ("items", i))))
        return out
    return [doc]


def read_paths(paths: Iterable[str | Path], stdin: Any = None) -> tuple[list[Document], list[ManifestError]]:
    """All documents under `paths`; unreadable or malformed files are returned as errors, not raised."""
    docs: list[Document] = []
    errors: list[ManifestError] = []
    for raw in paths:
        for file, text in _texts(str(raw), stdin, errors):
            try:
                docs.extend(parse_text(text, file))
            except ManifestError as exc:
                errors.append(exc)
    return docs, errors


def _texts(path: str, stdin: Any, errors: list[ManifestError]) -> Iterable[tuple[str, str]]:
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin
        yield "<stdin>", stream.read()
        return
    p = Path(path)
    if p.is_dir():
        files = sorted(
            f for f in p.rglob("*")
            if f.is_file() and f.suffix.lower() in SUFFIXES
            and not any(part.startswith(".") for part in f.relative_to(p).parts)
        )
        if not files:
            errors.append(ManifestError(Location(path), "directory holds no .yaml, .yml or .json file"))
    elif p.is_file():
        files = [p]
    else:
        errors.append(ManifestError(Location(path), "no such file or directory"))
        return
    for f in files:
        try:
            yield str(f), f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(ManifestError(Location(str(f)), f"cannot read: {exc}"))
