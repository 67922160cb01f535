"""Read manifest documents and remember where every field came from.

Files, directories (recursive, `*.yaml`, `*.yml`, `*.json`), and `-` for standard input. Multi-document
YAML, JSON, `kind: List` (as `kubectl get -o yaml` prints) and typed lists (`PodList`, as the API server
returns them) are flattened into one `Document` per resource. Each document keeps a map from field path to
1-based line so that every later error can name the line of the field at fault. Nothing here knows about
kinds beyond lists.

Hostile input is bounded: documents are composed from the parser's events (libyaml's when present) without
recursion, nesting is limited to MAX_DEPTH levels, aliases share what they name and may not add more than
MAX_ALIAS_NODES nodes, and a mapping key given twice is an error. Plain scalars resolve as Kubernetes
resolves them (no YAML 1.1 base-60 numbers).
"""

from __future__ import annotations

import codecs
import json
import os
import re
import stat
import sys
from bisect import bisect_left
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterable

import yaml

from reasoner.errors import Location, ManifestError, ManifestErrors, UsageError, show

FieldPath = tuple[Any, ...]
SUFFIXES = (".yaml", ".yml", ".json")
CLUSTER_SCOPED = frozenset({"Namespace", "Node", "GlobalNetworkPolicy", "StagedGlobalNetworkPolicy", "GlobalNetworkSet",
                            "Tier", "Profile", "HostEndpoint", "FelixConfiguration", "AdminNetworkPolicy",
                            "BaselineAdminNetworkPolicy", "IPPool", "ClusterRole", "ClusterRoleBinding",
                            "CustomResourceDefinition", "StorageClass", "PersistentVolume", "resource"})

# API group -> the versions the API server serves for the kinds read (reasoner/sources/registry.py); a mapping
# without `kind` in one of them is an object missing its kind
VERSIONS: dict[str, tuple[str, ...]] = {
    "": ("v1",), "apps": ("v1",), "batch": ("v1",), "networking.k8s.io": ("v1",),
    "policy.networking.k8s.io": ("v1alpha1",), "projectcalico.org": ("v3",), "crd.projectcalico.org": ("v1",),
}


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


# Input limits: real manifests nest fewer than 30 levels and rarely use aliases at all.
MAX_DEPTH = 100  # nesting levels of mappings and sequences
MAX_ALIAS_NODES = 1_000_000  # nodes that aliases may add to a file (each alias counts the nodes it repeats)
MERGE_TAG = "tag:yaml.org,2002:merge"
_TAG_WORDS = {"tag:yaml.org,2002:int": "a number", "tag:yaml.org,2002:float": "a number",
              "tag:yaml.org,2002:bool": "a boolean (true or false)"}
STR_TAG = "tag:yaml.org,2002:str"
# Plain scalars read as integers and floats as Kubernetes reads them: no YAML 1.1 base-60 (`20:30` is a string).
_NUMBERS = {
    "tag:yaml.org,2002:int": re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    "tag:yaml.org,2002:float": re.compile(r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
                                          r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
}


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when present
    """A safe loader; documents are composed from its events by `_compose`."""

    yaml_implicit_resolvers = {
        first: [(tag, _NUMBERS.get(tag, rx)) for tag, rx in resolvers]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


class _Frame:
    """A mapping or sequence being composed."""

    __slots__ = ("value", "path", "anchor", "size", "key", "key_line", "merges")

    def __init__(self, value: Any, path: FieldPath, anchor: str | None):
        self.value, self.path, self.anchor = value, path, anchor
        self.size = 1  # nodes, aliases counted at their full size
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.merges: list[dict] = []


_RESOLVED: dict[str, str] = {}  # plain scalar text -> its implicit tag (_Loader's resolvers never change)
_NO_KEY = object()
_MERGE = object()


def _compose(loader: _Loader, file: str, base: int) -> tuple[Any, dict[FieldPath, int]]:
    """The next document of `loader`'s event stream, and the line of every field path in it.

    Aliases share the node they name (nothing is copied) and count its size against MAX_ALIAS_NODES; nesting is
    limited to MAX_DEPTH; a mapping key given twice is an error, at the second key."""
    lines: dict[FieldPath, int] = {}
    anchors: dict[str, tuple[Any, int] | None] = {}  # None while the anchored node is being composed
    aliased = 0
    stack: list[_Frame] = []
    while True:
        event = loader.get_event()
        kind = event.__class__
        line = base + event.start_mark.line + 1
        path: FieldPath | None = ()  # of the node that starts here; None for a mapping key
        if stack:
            top = stack[-1]
            if top.value.__class__ is not list:
                path = top.path + (top.key,) if top.key is not _NO_KEY else None  # its line: the key's
            elif kind is not yaml.SequenceEndEvent:
                path = top.path + (len(top.value),)
                lines[path] = line
        else:
            lines[path] = line
        if kind is yaml.ScalarEvent:
            tag = event.tag
            if tag is None or tag == "!":
                if not event.implicit[0]:
                    tag = STR_TAG
                else:  # a plain scalar's tag depends on its text alone: each text resolved once per process
                    tag = _RESOLVED.get(event.value)
                    if tag is None:
                        tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                        if len(_RESOLVED) < 100_000:
                            _RESOLVED[event.value] = tag
            if tag == STR_TAG:
                value = event.value
            elif tag == MERGE_TAG and path is None:
                value = _MERGE
            else:
                node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
                try:
                    value = loader.construct_object(node)
                except (ValueError, LookupError, AttributeError, TypeError):
                    # `!!timestamp 2001-13-45`, `!!bool maybe`, an integer of more digits than Python converts
                    raise ManifestError(Location(file, line), f"cannot read {_short(event.value)} as "
                                        f"{_TAG_WORDS.get(tag, 'a ' + tag.rsplit(':', 1)[-1])}") from None
                loader.constructed_objects.clear()
            size = 1
            if event.anchor is not None:
                anchors[event.anchor] = (value, size)
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if len(stack) >= MAX_DEPTH:
                raise ManifestError(Location(file, line), f"nested deeper than {MAX_DEPTH} levels")
            if path is None:
                raise ManifestError(Location(file, line), "a mapping key must be a string or a number, not a "
                                    + ("mapping" if kind is yaml.MappingStartEvent else "list"))
            if event.anchor is not None:
                anchors[event.anchor] = None
            stack.append(_Frame({} if kind is yaml.MappingStartEvent else [], path, event.anchor))
            continue
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            frame = stack.pop()
            value, size = frame.value, frame.size
            for merged in frame.merges:
                for k, v in merged.items():
                    value.setdefault(k, v)
            if frame.anchor is not None:
                anchors[frame.anchor] = (value, size)
        elif kind is yaml.AliasEvent:
            if event.anchor not in anchors:
                raise ManifestError(Location(file, line), f"alias *{event.anchor} names no anchor before it")
            known = anchors[event.anchor]
            if known is None:
                raise ManifestError(Location(file, line), f"alias *{event.anchor} is inside the node it names "
                                    "(a recursive structure)")
            value, size = known
            aliased += size
            if aliased > MAX_ALIAS_NODES:
                raise ManifestError(Location(file, line), f"too many aliases: they would expand to more than "
                                    f"{MAX_ALIAS_NODES} nodes")
        else:
            raise ManifestError(Location(file, line), f"unexpected YAML event {kind.__name__}")
        if not stack:
            return value, lines
        top = stack[-1]
        top.size += size
        if top.value.__class__ is list:
            top.value.append(value)
        elif top.key is _NO_KEY:
            if isinstance(value, (dict, list)):
                raise ManifestError(Location(file, line), "a mapping key must be a string or a number")
            if not isinstance(value, (str, int, float, bool)) and value is not None and value is not _MERGE:
                value = str(value)
            if value is not _MERGE and value in top.value:
                raise ManifestError(Location(file, line), f"duplicate key {value!r} (first at line "
                                    f"{lines.get(top.path + (value,), '?')})")
            top.key, top.key_line = value, line
        else:
            if top.key is _MERGE:
                merged = value if isinstance(value, list) else [value]
                if not all(isinstance(m, dict) for m in merged):
                    raise ManifestError(Location(file, top.key_line), "`<<` merges a mapping or a list of mappings")
                top.merges.extend(merged)
            else:
                top.value[top.key] = value
                lines[top.path + (top.key,)] = top.key_line
            top.key = _NO_KEY


def _short(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


MAX_ERRORS = 20  # errors reported per file; the rest are counted
MAX_WALK_ENTRIES = 100_000  # directory entries visited under one input (links are followed)


def parse_text(text: str, file: str) -> list[Document]:
    """Every document in `text` (YAML or JSON), lists expanded, empty documents dropped.

    Raises `ManifestErrors` with every malformed document: after an error, reading goes on at the next `---`,
    one document at a time. A `.json` file must be JSON; line numbers then come from reading it as YAML (a
    superset)."""
    if file.lower().endswith(".json"):
        try:
            _json(text, file)
        except ManifestError as exc:
            raise ManifestErrors([exc]) from None
    docs: list[Document] = []
    errors: list[ManifestError] = []
    try:
        for data, lines in _stream(text, file, 0):
            docs.extend(_expand(Document(file, data, lines), errors))
    except (ManifestError, yaml.YAMLError) as exc:
        if isinstance(exc, yaml.YAMLError) and text.lstrip().startswith(("{", "[")) and not _too_deep(exc):
            # JSON that PyYAML cannot read (tabs, for example) still parses as JSON, without line numbers.
            try:
                docs = _expand(Document(file, _shallow(_json(text, file, _unique), file), {}), errors)
            except ManifestError as jexc:
                raise ManifestErrors([jexc]) from None
            if errors:
                raise ManifestErrors(errors) from None
            return docs
        error = _located(exc, file, 0, text)
        errors.append(error)
        # Read on from the first `---` at or after the line where the parser stopped, each document by itself.
        stopped = getattr(exc, "problem_mark", None)
        starts = _document_starts(text)
        first = bisect_left([line for _, line in starts],
                            max(1, stopped.line if stopped is not None else (error.location.line or 0) - 1))
        ends = [at for at, _ in starts[1:]] + [len(text)]
        for (at, base), end in list(zip(starts, ends))[first:]:
            try:
                for data, lines in _stream(text[at:end], file, base):
                    docs.extend(_expand(Document(file, data, lines), errors))
            except (ManifestError, yaml.YAMLError) as later:
                again = _located(later, file, base, text[at:end])
                if str(again) != str(error):  # the document that starts on the line of the error
                    errors.append(again)
    if errors:
        raise ManifestErrors(errors)
    return docs


def _too_deep(exc: yaml.YAMLError) -> bool:
    return getattr(exc, "problem", None) == "exceeded maximum nesting depth"  # libyaml's limit, deeper than ours


# libyaml places a reader error at a byte of the text encoded in UTF-8, PyYAML's own reader at a character.
_BYTE_POSITIONS = issubclass(_Loader, getattr(yaml, "CSafeLoader", ()))


# What the parser says past an unclosed flow collection or quote (libyaml's words, then PyYAML's)
_UNCLOSED = re.compile(r"while (?:parsing a flow|scanning a quoted scalar).*: (?:did not find expected"
                       r"|found unexpected (?:end of stream|document)|expected ',' or )")


def _located(exc: ManifestError | yaml.YAMLError, file: str, base: int, text: str) -> ManifestError:
    """A parser's error in `text` as a `ManifestError` at its line (`base`: the line `text` starts at, 0-based)."""
    if isinstance(exc, ManifestError):
        return exc
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow: its position, no mark
        if _BYTE_POSITIONS:
            newlines = text.encode("utf-8", "surrogatepass")[:exc.position].count(b"\n")
        else:
            newlines = text.count("\n", 0, exc.position)
        reason = str(exc).partition("\n")[0]  # without the position that follows
        return ManifestError(Location(file, base + newlines + 1), f"malformed YAML: {reason}")
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    opened = getattr(exc, "context_mark", None)
    if (opened is not None and mark is not None and opened.line < mark.line
            and _UNCLOSED.match(f"{exc.context}: {exc.problem}")):
        mark = opened  # where the unclosed bracket or quote opens, not the `---` or end where the parser noticed
    at = Location(file, base + mark.line + 1 if mark is not None else None)
    if _too_deep(exc):
        return ManifestError(at, f"nested deeper than {MAX_DEPTH} levels")
    return ManifestError(at, f"malformed YAML: {getattr(exc, 'problem', None) or exc}")


def _capped(errors: list[ManifestError], file: str) -> list[ManifestError]:
    """The first MAX_ERRORS of a file's errors, and a line that counts the others."""
    if len(errors) <= MAX_ERRORS:
        return errors
    more = len(errors) - MAX_ERRORS
    return errors[:MAX_ERRORS] + [ManifestError(Location(file), f"... and {more} more error{'s' if more != 1 else ''} "
                                                                "in this file")]


def _stream(text: str, file: str, base: int) -> Iterable[tuple[Any, dict[FieldPath, int]]]:
    loader = _Loader(text)
    try:
        while not loader.check_event(yaml.StreamEndEvent):
            if loader.get_event().__class__ is yaml.DocumentStartEvent:
                yield _compose(loader, file, base)
    finally:
        loader.dispose()


_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.M)


def _document_starts(text: str) -> list[tuple[int, int]]:
    """The offset and 0-based line of every `---` that starts a document."""
    starts: list[tuple[int, int]] = []
    line = at = 0
    for m in _DOCUMENT_START.finditer(text):
        line += text.count("\n", at, m.start())
        at = m.start()
        starts.append((at, line))
    return starts


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _json(text: str, file: str, pairs: Any = None) -> Any:
    """`text` read as JSON; with `pairs=_unique`, a key given twice in an object is an error."""
    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise ManifestError(Location(file, exc.lineno), f"malformed JSON: {exc.msg}") from None
    except ValueError as exc:
        raise ManifestError(Location(file), f"malformed JSON: {exc}") from None
    except RecursionError:
        raise ManifestError(Location(file), f"nested deeper than {MAX_DEPTH} levels") from None


def _shallow(data: Any, file: str) -> Any:
    """`data`, if it nests no deeper than MAX_DEPTH."""
    level, todo = 0, [v for v in (data,) if isinstance(v, (dict, list))]
    while todo:
        level += 1
        if level > MAX_DEPTH:
            raise ManifestError(Location(file), f"nested deeper than {MAX_DEPTH} levels")
        todo = [v for item in todo for v in (item.values() if isinstance(item, dict) else item)
                if isinstance(v, (dict, list))]
    return data


def _expand(doc: Document, errors: list[ManifestError]) -> list[Document]:
    """A document as its resources: a bare array and a `List` or typed list (`PodList`, `NetworkPolicyList`, as
    the API server returns them) are their items; an item of a typed list takes the list's kind without `List`
    and its apiVersion unless it gives its own. A list whose items are not all mappings adds an error for each
    other one to `errors`."""
    data = doc.data
    if data is None:
        return []
    if isinstance(data, list):  # a bare JSON/YAML array of resources
        return [d for i, item in enumerate(data)
                for d in _expand(Document(doc.file, item, doc.lines, doc.prefix + (i,)), errors)]
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "List" or isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list):
        items = data.get("items")
        if not isinstance(items, list):
            errors.append(doc.error(("items",), "a List needs `items`, a list of resources"))
            return []
        out: list[Document] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                errors.append(doc.error(("items", i), "expected a resource (a mapping), got "
                                        + ("null" if item is None else show(item))))
                continue
            if kind != "List":
                given = {"apiVersion": data.get("apiVersion"), "kind": kind[:-len("List")]}
                item = {**{k: v for k, v in given.items() if isinstance(v, str)}, **item}
            out.extend(_expand(Document(doc.file, item, doc.lines, doc.prefix + ("items", i)), errors))
        return out
    return [doc]


@dataclass(frozen=True)
class ReadOptions:
    """How inputs are read: `--exclude` globs and `--skip-invalid`."""

    exclude: tuple[str, ...] = ()
    skip_invalid: bool = False



# API groups whose objects configure tools rather than the cluster (kustomization.yaml)
TOOL_GROUPS = frozenset({"kustomize.config.k8s.io"})
# Files of tools that hold no Kubernetes object, though they may have `apiVersion` (Chart.yaml) or `metadata`
TOOL_FILES = ("Chart.yaml", "*values*.yaml", "*values*.yml", "kustomization.yaml", "kustomization.yml")
_TEMPLATE = re.compile(r"\{\{.*\}\}")


def is_object(data: Any) -> bool:
    """A Kubernetes object (perhaps a broken one): a mapping with a kind, not a tool's configuration."""
    return (isinstance(data, dict) and isinstance(data.get("kind"), str)
            and str(data.get("apiVersion")).rsplit("/", 1)[0] not in TOOL_GROUPS)


def _kindless(doc: Document) -> ManifestError | None:
    """The error of a mapping without kind that is meant as a Kubernetes object: it has a key close to `kind`
    (a misspelt `knid:` that would otherwise leave a policy out unseen) or the apiVersion of a group this tool
    reads. Other mappings without kind (devfiles, Helm values) are no error."""
    data = doc.data
    if not isinstance(data, dict) or isinstance(data.get("kind"), str):
        return None
    if data.get("kind") is not None:
        return doc.error(("kind",), f"expected a string, got {show(data['kind'])}")
    api = data.get("apiVersion")
    group, _, version = api.rpartition("/") if isinstance(api, str) else ("?", "", "")
    near = [key for key in data if isinstance(key, str) and _near_kind(key)]
    if near or group in VERSIONS and (group or version in VERSIONS[""]):
        return doc.error((), "has no `kind` (a Kubernetes object needs apiVersion and kind)")
    return None


def _near_kind(key: str) -> bool:
    """Whether `key` is likely a misspelling of `kind`: its letters in another case or order (`Kind`, `knid`,
    `kidn`). Words one letter away (`bind`, `find`, `link`) are ordinary keys of other files."""
    return sorted(key.lower()) == sorted("kind")


def read_paths(paths: Iterable[str | Path], stdin: Any = None,
               options: ReadOptions = ReadOptions()) -> tuple[list[Document], list[ManifestError], list[str]]:
    """All documents under `paths` (files `options.exclude` matches left out), the errors of reading them
    (unreadable or malformed files and directories are returned, not raised), and notes (see `documents`).
    When `--exclude` leaves nothing to read, a `UsageError`."""
    reading = _Reading(options.exclude)
    docs, notes = documents((text for raw in paths for text in reading.texts(str(raw), stdin)), reading.errors)
    if not reading.read and reading.excluded:
        raise UsageError("every input was excluded by --exclude")
    return docs, reading.errors, reading.notes + notes


def documents(texts: Iterable[tuple[str, str]], errors: list[ManifestError]) -> tuple[list[Document], list[str]]:
    """The documents of (file, text) pairs; a malformed file adds its errors to `errors` (an unrendered Helm
    template, one; at most MAX_ERRORS and a count otherwise), and so does a mapping without kind that is meant
    as an object (see `_kindless`). Files that hold no Kubernetes object (Helm `values.yaml`, `Chart.yaml`,
    `kustomization.yaml`, ...) are skipped quietly: the notes say which."""
    docs: list[Document] = []
    empty: list[str] = []
    for file, text in texts:
        try:
            found = parse_text(text, file)
        except ManifestErrors as exc:
            if _TEMPLATE.search(text):
                errors.append(ManifestError(Location(file), "an unrendered Helm template (`{{ ... }}`): render "
                                            "the chart first, e.g. `helm template CHART | reasoner ... -`"))
            else:
                errors.extend(_capped(exc.errors, file))
            continue
        tool = any(fnmatchcase(re.split(r"[/:\\]", file)[-1], name) for name in TOOL_FILES)
        checked = [(d, None if tool else _kindless(d)) for d in found]
        kindless = [e for _, e in checked if e is not None]
        if kindless:
            errors.extend(_capped(kindless, file))
            docs.extend(d for d, e in checked if e is None)
        elif any(is_object(d.data) for d in found):
            docs.extend(found)
        else:
            empty.append(file)
    notes = []
    if empty:
        shown = ", ".join(empty[:5]) + (f", ... {len(empty) - 5} more" if len(empty) > 5 else "")
        files = "1 file that holds" if len(empty) == 1 else f"{len(empty)} files that hold"
        notes.append(f"skipped {files} no Kubernetes object: {shown}")
    return docs, notes


def decode(data: bytes, file: str) -> str:
    """The text of a file: UTF-8, or UTF-16/32 with a byte-order mark; an error names the first byte that is not."""
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                          (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            break
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ManifestError(Location(file, data.count(b"\n", 0, exc.start) + 1),
                            f"not {encoding.upper().replace('-SIG', '')} text: byte 0x{data[exc.start]:02x} "
                            f"at offset {exc.start}") from None


def read_text(path: str | Path) -> str:
    """A file's text (see `decode`); a file that cannot be read is a `ManifestError`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ManifestError(Location(str(path)), f"cannot read: {exc.strerror or exc}") from None
    return decode(data, str(path))


def excluded(rel: str, exclude: tuple[str, ...]) -> bool:
    """Whether a glob matches a file's path relative to the directory given (`charts/*`), or that of a directory
    on the way (`charts`), or the name of either (`values.yaml`, `templates`)."""
    parts = rel.split("/")
    return any(fnmatchcase("/".join(parts[:i]), glob) or fnmatchcase(parts[i - 1], glob)
               for glob in exclude for i in range(1, len(parts) + 1))


class _Reading:
    """The texts of the inputs, with the errors and notes of finding them and counts of the files read and of
    those `--exclude` left out."""

    def __init__(self, exclude: tuple[str, ...]):
        self.exclude = exclude
        self.errors: list[ManifestError] = []
        self.notes: list[str] = []
        self.read = self.excluded = 0

    def texts(self, path: str, stdin: Any) -> Iterable[tuple[str, str]]:
        """The (file, text) of an input: `-`, a file (left out when a glob matches its name or the path as
        given, never a directory above it) or a directory (see `_walk`)."""
        if path == "-":
            stream = stdin if stdin is not None else sys.stdin
            raw = getattr(stream, "buffer", None)
            self.read += 1
            try:
                yield "<stdin>", decode(raw.read(), "<stdin>") if raw is not None else stream.read()
            except ManifestError as exc:
                self.errors.append(exc)
            return
        try:
            is_dir = stat.S_ISDIR(os.stat(path).st_mode)
        except FileNotFoundError:
            self.errors.append(ManifestError(Location(path), "no such file or directory"))
            return
        except OSError as exc:
            self.errors.append(ManifestError(Location(path[:200] + ("..." if len(path) > 200 else "")),
                                             f"cannot read: {exc.strerror or exc}"))
            return
        if is_dir:
            excluded_before, errors_before = self.excluded, len(self.errors)
            files = self._walk(Path(path))
            if not files and len(self.errors) == errors_before:
                if self.excluded > excluded_before:
                    self.notes.append(f"{path}: --exclude leaves nothing in it to read")
                else:
                    self.errors.append(ManifestError(Location(path), "directory holds no .yaml, .yml or .json file"))
        elif any(fnmatchcase(Path(path).name, glob) or fnmatchcase(path, glob) for glob in self.exclude):
            self.excluded += 1
            return
        else:
            files = [Path(path)]
        for f in files:
            self.read += 1
            try:
                yield str(f), read_text(f)
            except ManifestError as exc:
                self.errors.append(exc)

    def _walk(self, root: Path) -> list[Path]:
        """The manifest files under `root`, hidden and excluded ones left out. Symbolic links are followed; one
        to a directory already read (a cycle) is skipped with a note, one to nothing is an error if it would have
        been read (its name is not excluded and ends in .yaml, .yml or .json, or has no suffix, as a directory's
        may), as is a directory that cannot be listed. At most MAX_WALK_ENTRIES entries are visited: past them
        (a link to a large tree), an error and nothing read."""
        files: list[Path] = []
        todo = [root]
        st = os.stat(root)
        seen = {(st.st_dev, st.st_ino): root}  # the directories read, to stop at a cycle of links
        visited = 0
        while todo:
            directory = todo.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError as exc:
                self.errors.append(ManifestError(Location(str(directory)),
                                                 f"cannot read directory: {exc.strerror or exc}"))
                continue
            visited += len(entries)
            if visited > MAX_WALK_ENTRIES:
                self.errors.append(ManifestError(Location(str(root)), f"more than {MAX_WALK_ENTRIES} entries under "
                                                 f"{root} (a link to a large tree? use --exclude)"))
                return []
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                path = Path(entry.path)
                try:
                    is_dir = entry.is_dir()
                    is_file = not is_dir and entry.is_file() and path.suffix.lower() in SUFFIXES
                    dangling = (not is_dir and not is_file and entry.is_symlink() and not os.path.exists(path)
                                and path.suffix.lower() in SUFFIXES + ("",))
                    if (is_dir or is_file or dangling) and excluded(path.relative_to(root).as_posix(), self.exclude):
                        self.excluded += 1
                    elif is_file:
                        files.append(path)
                    elif is_dir:
                        st = entry.stat()
                        if (st.st_dev, st.st_ino) in seen:
                            self.notes.append(f"{path}: skipped, the same directory as "
                                              f"{seen[st.st_dev, st.st_ino]} (read there)")
                        else:
                            seen[st.st_dev, st.st_ino] = path
                            todo.append(path)
                    elif dangling:
                        self.errors.append(ManifestError(Location(entry.path), "a symbolic link to "
                                                         f"{os.readlink(path)}, which does not exist"))
                except OSError as exc:
                    self.errors.append(ManifestError(Location(entry.path), f"cannot read: {exc.strerror or exc}"))
        return sorted(files)
