"""The clauses of rules/*.dl as pyDatalog parses them, kept on disk between processes.

Parsing the rule files costs about 0.2 s, which every command would pay before its first question. The parsed
clauses are written once, as plain values (`marshal`), to the user's cache directory, under a name derived from
the rule texts, the installed pyDatalog (its modules' files) and the Python version: an edited rule file, another
pyDatalog or another Python reads a different name, so a stale copy is never used. The file starts with the
SHA-256 of the rest: a copy that cannot be read (damaged, truncated, of another shape) is ignored and written
again; a cache directory that cannot be written is not an error. The copy holds code (the rules' lambdas): it is
read only from a directory and file of this user that no one else may write (the directory is made 0700).

`REASONER_CACHE_DIR` names the directory (default: `$XDG_CACHE_HOME/reasoner`, else `~/.cache/reasoner`); set
to the empty string, nothing is read or written.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import marshal
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

from pyDatalog import pyEngine, pyParser

_FORMAT = 1  # of the encoding below


def directory() -> Path | None:
    configured = os.environ.get("REASONER_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "reasoner"


def path(texts: dict[str, str]) -> Path | None:
    """Where the clauses parsed from `texts` (file name -> text) are kept."""
    root = directory()
    if root is None:
        return None
    digest = hashlib.sha256()
    for part in (str(_FORMAT), _engine_stamp(), sys.version, sys.implementation.cache_tag or ""):
        digest.update(part.encode() + b"\0")
    for name, text in texts.items():
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return root / f"rules-{digest.hexdigest()[:24]}.marshal"


def _engine_stamp() -> str:
    """The installed pyDatalog, by its parser and engine modules' files (another version or build: another name).
    (Its package metadata would take importing importlib.metadata, a tenth of the time this cache saves.)"""
    parts = []
    for module in (pyParser, pyEngine):
        try:
            stat = os.stat(module.__file__)
            parts.append(f"{module.__file__}:{stat.st_size}:{stat.st_mtime_ns}")
        except (OSError, TypeError):
            parts.append(f"{module.__name__}:unknown")
    return "|".join(parts)


def _ours(path: Path) -> bool:
    """Whether `path` belongs to this user and no one else may write it: the cache holds code (the rules'
    lambdas), so a copy another user could have written is not read."""
    stat = path.stat()
    if hasattr(os, "getuid") and stat.st_uid != os.getuid():
        return False
    return not stat.st_mode & 0o022  # not writable by group or others


class _Unsupported(Exception):
    """A clause holds a term this encoding does not know: the clauses are not kept."""


def _term(term) -> tuple:
    kind = type(term).__name__
    if kind == "Var":
        return ("v", term.id[1])
    if kind == "Const":
        return ("c", term.id)
    if kind == "VarTuple":
        return ("t", tuple(_term(t) for t in term._id))
    if kind == "Operation":
        operator = term.operator
        if isinstance(operator, types.FunctionType):
            if operator.__closure__ or operator.__defaults__ or operator.__kwdefaults__:
                raise _Unsupported(kind)
            operator = ("fn", operator.__code__)
        elif not isinstance(operator, str):
            raise _Unsupported(kind)
        return ("o", _term(term.lhs), operator, _term(term.rhs))
    raise _Unsupported(kind)


def _literal(recipe) -> tuple:
    name, terms, prearity, aggregate = recipe
    if aggregate is not None:
        raise _Unsupported("aggregate")
    return (name, tuple(_term(t) for t in terms), prearity)


_GLOBALS = {"__builtins__": builtins}  # what a rule's lambda sees: it names only its arguments


def _make_term(data) -> Any:
    kind = data[0]
    if kind == "v":
        return pyEngine.Var(data[1])
    if kind == "c":
        return pyEngine.Const(data[1])
    if kind == "t":
        return pyEngine.VarTuple(tuple(_make_term(t) for t in data[1]))
    if kind == "o":
        operator = data[2]
        if isinstance(operator, tuple):
            if operator[0] != "fn" or not isinstance(operator[1], types.CodeType):
                raise ValueError("operator")
            operator = types.FunctionType(operator[1], _GLOBALS)
        elif not isinstance(operator, str):
            raise ValueError("operator")
        return pyEngine.Operation(_make_term(data[1]), operator, _make_term(data[3]))
    raise ValueError(f"term kind {kind!r}")


def _make_literal(data) -> tuple:
    name, terms, prearity = data
    if not isinstance(name, str):
        raise ValueError("name")
    return (name, [_make_term(t) for t in terms], prearity, None)


def read(texts: dict[str, str]) -> list | None:
    """The clauses kept for `texts` (as recipes: see engine.datalog), or None."""
    where = path(texts)
    if where is None:
        return None
    try:
        if not _ours(where.parent) or not _ours(where):
            return None
        content = where.read_bytes()
        digest, payload = content[:32], content[32:]
        if hashlib.sha256(payload).digest() != digest:  # damaged, or cut short
            return None
        data = marshal.loads(payload)
        if not isinstance(data, tuple) or len(data) != 2 or data[0] != _FORMAT:
            return None
        return [(_make_literal(head), [_make_literal(b) for b in body]) for head, body in data[1]]
    except (OSError, EOFError, ValueError, TypeError, IndexError, KeyError):
        return None


def write(texts: dict[str, str], clauses: list) -> None:
    """Keep `clauses` (recipes) for `texts`; silently not when they or the directory do not allow it."""
    where = path(texts)
    if where is None:
        return
    try:
        payload = marshal.dumps((_FORMAT, tuple((_literal(head), tuple(_literal(b) for b in body))
                                             for head, body in clauses)))
    except (_Unsupported, ValueError):
        return
    try:
        where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _ours(where.parent):
            return
        handle, temporary = tempfile.mkstemp(dir=where.parent, prefix=".rules-")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(hashlib.sha256(payload).digest() + payload)
        os.replace(temporary, where)  # whole or not at all, also when two processes write at once
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
