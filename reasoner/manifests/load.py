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
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from reasoner.errors import Location, ManifestError, ManifestErrors

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
                tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit) if event.implicit[0] else STR_TAG
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


def parse_text(text: str, file: str) -> list[Document]:
    """Every document in `text` (YAML or JSON), lists expanded, empty documents dropped.

    Raises `ManifestErrors` with every malformed document: after an error, reading goes on at the next `---`.
    A `.json` file must be JSON; line numbers then come from reading it as YAML (a superset)."""
    if file.lower().endswith(".json"):
        try:
            _json(text, file)
        except ManifestError as exc:
            raise ManifestErrors([exc]) from None
    docs: list[Document] = []
    errors: list[ManifestError] = []
    start = 0  # the line reading starts at
    while True:
        try:
            for data, lines in _stream(_from_line(text, start), file, start):
                docs.extend(_expand(Document(file, data, lines)))
            break
        except ManifestError as exc:
            error = exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            at = Location(file, start + mark.line + 1 if mark is not None else None)
            if problem == "exceeded maximum nesting depth":  # libyaml's limit, deeper than ours
                error = ManifestError(at, f"nested deeper than {MAX_DEPTH} levels")
            elif not errors and text.lstrip().startswith(("{", "[")):
                # JSON that PyYAML cannot read (tabs, for example) still parses as JSON, without line numbers.
                try:
                    return list(_expand(Document(file, _shallow(_json(text, file, _unique), file), {})))
                except ManifestError as jexc:
                    raise ManifestErrors([jexc]) from None
            else:
                error = ManifestError(at, f"malformed YAML: {problem}")
        errors.append(error)
        start = _next_document(text, max(start + 1, (error.location.line or 0) - 1))
        if start is None:
            break
    if errors:
        raise ManifestErrors(errors)
    return docs


def _stream(text: str, file: str, base: int) -> Iterable[tuple[Any, dict[FieldPath, int]]]:
    loader = _Loader(text)
    try:
        while not loader.check_event(yaml.StreamEndEvent):
            if loader.get_event().__class__ is yaml.DocumentStartEvent:
                yield _compose(loader, file, base)
    finally:
        loader.dispose()


_DOCUMENT_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.M)


def _offset(text: str, line: int) -> int:
    """Where the 0-based `line` of `text` starts."""
    at = 0
    for _ in range(line):
        at = text.index("\n", at) + 1
    return at


def _from_line(text: str, line: int) -> str:
    return text[_offset(text, line):]


def _next_document(text: str, line: int) -> int | None:
    """The 0-based line of the first `---` at or after `line`."""
    at = _offset(text, line) if line <= text.count("\n") else len(text)
    m = _DOCUMENT_START.search(text, at)
    return None if m is None else line + text.count("\n", at, m.start())


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


def _expand(doc: Document) -> Iterable[Document]:
    """A document as its resources: a bare array and a `List` or typed list (`PodList`, `NetworkPolicyList`, as
    the API server returns them) are their items; an item of a typed list takes the list's kind without `List`
    and its apiVersion unless it gives its own."""
    data = doc.data
    if data is None:
        return []
    if isinstance(data, list):  # a bare JSON/YAML array of resources
        return [d for i, item in enumerate(data) for d in _expand(Document(doc.file, item, doc.lines, doc.prefix + (i,)))]
    kind = data.get("kind") if isinstance(data, dict) else None
    if kind == "List" or isinstance(kind, str) and kind.endswith("List") and isinstance(data.get("items"), list):
        items = data.get("items")
        if not isinstance(items, list):
            raise doc.error(("items",), "a List needs `items`, a list of resources")
        out: list[Document] = []
        for i, item in enumerate(items):
            if kind != "List" and isinstance(item, dict):
                given = {"apiVersion": data.get("apiVersion"), "kind": kind[:-len("List")]}
                item = {**{k: v for k, v in given.items() if isinstance(v, str)}, **item}
            out.extend(_expand(Document(doc.file, item, doc.lines, doc.prefix + ("items", i))))
        return out
    return [doc]


@dataclass(frozen=True)
class ReadOptions:
    """How inputs are read: `--exclude` globs and `--skip-invalid`."""

    exclude: tuple[str, ...] = ()
    skip_invalid: bool = False


# The options of the command being run (set by the CLI around a command; the defaults otherwise).
OPTIONS: ContextVar[ReadOptions] = ContextVar("read_options", default=ReadOptions())


@contextmanager
def read_options(options: ReadOptions) -> Iterator[None]:
    token = OPTIONS.set(options)
    try:
        yield
    finally:
        OPTIONS.reset(token)


# API groups whose objects configure tools rather than the cluster (kustomization.yaml)
TOOL_GROUPS = frozenset({"kustomize.config.k8s.io"})
_TEMPLATE = re.compile(r"\{\{.*\}\}")


def is_object(data: Any) -> bool:
    """A Kubernetes object (perhaps a broken one): a mapping with a kind, not a tool's configuration."""
    return (isinstance(data, dict) and isinstance(data.get("kind"), str)
            and str(data.get("apiVersion")).rsplit("/", 1)[0] not in TOOL_GROUPS)


def read_paths(paths: Iterable[str | Path], stdin: Any = None,
               options: ReadOptions | None = None) -> tuple[list[Document], list[ManifestError], list[str]]:
    """All documents under `paths` (files `options.exclude` matches left out), the errors of reading them
    (unreadable or malformed files and directories are returned, not raised), and notes (see `documents`)."""
    options = options or OPTIONS.get()
    errors: list[ManifestError] = []
    texts = (text for raw in paths for text in _texts(str(raw), stdin, errors, options.exclude))
    docs, notes = documents(texts, errors)
    return docs, errors, notes


def documents(texts: Iterable[tuple[str, str]], errors: list[ManifestError]) -> tuple[list[Document], list[str]]:
    """The documents of (file, text) pairs; a malformed file adds its errors to `errors` (an unrendered Helm
    template, one). Files that hold no Kubernetes object (Helm `values.yaml`, `Chart.yaml`, `kustomization.yaml`,
    ...) are skipped quietly: the notes say which."""
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
                errors.extend(exc.errors)
            continue
        if any(is_object(d.data) for d in found):
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


def _texts(path: str, stdin: Any, errors: list[ManifestError], exclude: tuple[str, ...]) -> Iterable[tuple[str, str]]:
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin
        raw = getattr(stream, "buffer", None)
        try:
            yield "<stdin>", decode(raw.read(), "<stdin>") if raw is not None else stream.read()
        except ManifestError as exc:
            errors.append(exc)
        return
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
    except FileNotFoundError:
        errors.append(ManifestError(Location(path), "no such file or directory"))
        return
    except OSError as exc:
        errors.append(ManifestError(Location(path[:200] + ("..." if len(path) > 200 else "")),
                                    f"cannot read: {exc.strerror or exc}"))
        return
    if is_dir:
        files = _walk(Path(path), errors, exclude)
        if not files and not any(e.location.file.startswith(path) for e in errors):
            errors.append(ManifestError(Location(path), "directory holds no .yaml, .yml or .json file"))
    elif excluded(Path(path).as_posix(), exclude):
        return
    else:
        files = [Path(path)]
    for f in files:
        try:
            yield str(f), read_text(f)
        except ManifestError as exc:
            errors.append(exc)


def _walk(root: Path, errors: list[ManifestError], exclude: tuple[str, ...]) -> list[Path]:
    """The manifest files under `root`, hidden and excluded ones left out, symbolic links to directories not
    followed; a directory that cannot be listed is an error."""
    files: list[Path] = []
    todo = [root]
    while todo:
        directory = todo.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            errors.append(ManifestError(Location(str(directory)), f"cannot read directory: {exc.strerror or exc}"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if excluded(path.relative_to(root).as_posix(), exclude):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(path)
                elif entry.is_file() and path.suffix.lower() in SUFFIXES:
                    files.append(path)
            except OSError as exc:
                errors.append(ManifestError(Location(entry.path), f"cannot read: {exc.strerror or exc}"))
    return sorted(files)
