"""Typed access to a document's fields; a wrong or missing field becomes a located error.

Names and labels are checked as the Kubernetes API server does (k8s.io/apimachinery/pkg/util/validation):
a DNS-1123 label is at most 63 of `a-z`, `0-9` and inner `-`; a DNS-1123 subdomain is at most 253 characters
of dot-separated DNS-1123 labels; a label key is an optional DNS-1123 subdomain prefix and `/`, then a name of
at most 63 of `A-Za-z0-9` with inner `-`, `_`, `.`; a label value is empty or such a name. A bad name or label
is recorded and reading goes on, so that every one of them is reported; the resource is then dropped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from reasoner.errors import ManifestError, show
from reasoner.manifests.load import Document, FieldPath
from reasoner.model.cidr import MAX_LIST


@dataclass(frozen=True)
class Word:
    """One word of the Kubernetes name syntax: a `first` character, then optionally `inner` characters and a
    `last` one, at most `longest` characters in all. A character set is a tuple of single characters and ranges
    such as "a-z". The one table for the checks here and for the values `scope: any-workload` quantifies over."""

    first: tuple[str, ...]
    inner: tuple[str, ...]
    last: tuple[str, ...]
    longest: int

    def pattern(self, bounded: bool = True) -> str:
        """A Python regular expression (for `fullmatch`); unbounded: of any length."""
        def chars(items: tuple[str, ...]) -> str:
            return "[" + "".join(re.escape(c) if len(c) == 1 else c for c in items) + "]"
        repeat = f"{{0,{self.longest - 2}}}" if bounded else "*"
        return f"{chars(self.first)}(?:{chars(self.inner)}{repeat}{chars(self.last)})?"


_LOWER_ALNUM = ("a-z", "0-9")
_ALNUM = ("a-z", "A-Z", "0-9")
DNS_LABEL = Word(_LOWER_ALNUM, _LOWER_ALNUM + ("-",), _LOWER_ALNUM, 63)
DNS_1035_LABEL = Word(("a-z",), _LOWER_ALNUM + ("-",), _LOWER_ALNUM, 63)
QUALIFIED_NAME = Word(_ALNUM, _ALNUM + ("-", "_", "."), _ALNUM, 63)  # a label key's name part; a label value

_MISSING = object()
_DNS_LABEL = re.compile(DNS_LABEL.pattern())
_DNS_1035_LABEL = re.compile(DNS_1035_LABEL.pattern())
_DNS_SUBDOMAIN = re.compile(f"{DNS_LABEL.pattern(bounded=False)}(?:\\.{DNS_LABEL.pattern(bounded=False)})*")
_QUALIFIED_NAME = re.compile(QUALIFIED_NAME.pattern())
IANA_NAME = re.compile(r"(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*(?<!-)")  # used with fullmatch
_NAME_PART = "alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character"
TYPE_WORDS = {str: "a string", int: "an integer", bool: "true or false", dict: "a mapping", list: "a list"}


class Invalid(Exception):
    """Raised inside a parser to abandon the current resource; the error is already recorded."""


class Fields:
    def __init__(self, doc: Document, errors: list[ManifestError]):
        self.doc = doc
        self.errors = errors

    def report(self, path: FieldPath, message: str) -> None:
        """Record an error and read on (a bad value that does not keep the rest from being read)."""
        self.errors.append(self.doc.error(path, message))

    def fail(self, path: FieldPath, message: str) -> Invalid:
        """Record an error; the caller raises what this returns to abandon the resource."""
        self.report(path, message)
        return Invalid()

    def raw(self, path: FieldPath) -> Any:
        """The value at `path`, or `_MISSING` when it or a field holding it is absent or null; a field holding
        it of the wrong type (`spec: -1`) is a located error, never read as absent."""
        node: Any = self.doc.data
        for depth, part in enumerate(path):
            if node is None:
                return _MISSING
            kind = list if isinstance(part, int) else dict
            if not isinstance(node, kind):
                raise self.fail(path[:depth], f"expected {TYPE_WORDS[kind]}, got {show(node)}")
            if (part >= len(node)) if kind is list else (part not in node):
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
            raise self.fail(path, f"expected an integer, got {show(value)}")
        if kind is str and not isinstance(value, str):
            raise self.fail(path, f"expected a string, got {show(value)}")
        if kind is not int and kind is not str and not isinstance(value, kind):
            raise self.fail(path, f"expected {TYPE_WORDS[kind]}, got {show(value)}")
        return value

    def str_map(self, path: FieldPath) -> dict[str, str]:
        """A map of label keys to label values, such as `metadata.labels` or a selector's `matchLabels`; an entry
        that is not a string key with a string value is reported and left out."""
        value = self.get(path, dict, {})
        out: dict[str, str] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                self.report(path, f"label key {show(key)} must be a string")
                continue
            self.label_key(path + (key,), key)
            if not isinstance(item, str):
                self.report(path + (key,), f"expected a string value, got {show(item)} (quote it)")
                continue
            out[key] = self.label_value(path + (key,), item)
        return out

    def cidr_list(self, path: FieldPath) -> list:
        """The list at `path` (a list of CIDRs), at most `MAX_LIST` long."""
        items = self.get(path, list, [])
        if len(items) > MAX_LIST:
            raise self.fail(path, f"has {len(items)} entries; at most {MAX_LIST} CIDRs per list are supported")
        return items

    def port_name(self, path: FieldPath, text: str) -> str:
        """`text`, a named port: an IANA service name, as the API server checks it (else reported)."""
        if len(text) > 15 or not IANA_NAME.fullmatch(text):
            self.report(path, f"{show(text)} is not a valid port name (IANA service name: at most 15 "
                              "lowercase letters, digits and single inner '-', with a letter)")
        return text

    def label_key(self, path: FieldPath, key: str) -> str:
        """`key`, checked as a label key (else reported)."""
        problem = label_key_problem(key)
        if problem:
            self.report(path, f"invalid label key {show(key)}: {problem}")
        return key

    def label_value(self, path: FieldPath, value: str) -> str:
        """`value`, checked as a label value (else reported)."""
        problem = label_value_problem(value)
        if problem:
            self.report(path, f"invalid label value {show(value)}: {problem}")
        return value

    def name(self, path: FieldPath, rule: str) -> str:
        """The required name at `path`, checked against `rule`: "label" (DNS-1123 label), "subdomain" (DNS-1123
        subdomain) or "dns1035" (DNS-1035 label: a DNS-1123 label starting with a letter); a bad name is reported."""
        text = self.get(path, str, required=True)
        problem = name_problem(text, rule)
        if problem:
            self.report(path, f"invalid name {show(text)}: {problem}")
        return text

    def number(self, path: FieldPath) -> float | None:
        """A finite number (an integer or a decimal), as a float; None when absent."""
        value = self.raw(path)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"expected a number, got {show(value)}")
        try:
            out = float(value)
        except OverflowError:
            out = math.inf
        if not math.isfinite(out):
            raise self.fail(path, f"expected a finite number, got {show(value)}")
        return out


def name_problem(text: str, rule: str) -> str | None:
    """Why `text` is not a name of the kind `rule` ("label", "subdomain", "dns1035"), or None."""
    if rule == "subdomain":
        if len(text) > 253:
            return f"must be at most 253 characters (has {len(text)})"
        if not _DNS_SUBDOMAIN.fullmatch(text):
            return ("must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
                    "starting and ending with a letter or digit")
        return None
    if len(text) > DNS_LABEL.longest:
        return f"must be at most {DNS_LABEL.longest} characters (has {len(text)})"
    if rule == "dns1035" and not _DNS_1035_LABEL.fullmatch(text):
        return "must be a DNS-1035 label: lowercase letters, digits and '-', starting with a letter"
    if not _DNS_LABEL.fullmatch(text):
        return "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"
    return None


def label_key_problem(key: str) -> str | None:
    """Why `key` is not a label key (a qualified name, `[prefix/]name`), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return "the prefix before '/' must not be empty"
        if name_problem(prefix, "subdomain"):
            return "the prefix before '/' must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.')"
    if not name:
        return "the name part must not be empty"
    if len(name) > QUALIFIED_NAME.longest:
        return f"the name part must be at most {QUALIFIED_NAME.longest} characters (has {len(name)})"
    if not _QUALIFIED_NAME.fullmatch(name):
        return f"the name part must consist of {_NAME_PART}"
    return None


def label_value_problem(value: str) -> str | None:
    """Why `value` is not a label value, or None."""
    if len(value) > QUALIFIED_NAME.longest:
        return f"must be at most {QUALIFIED_NAME.longest} characters (has {len(value)})"
    if value and not _QUALIFIED_NAME.fullmatch(value):
        return f"must be empty or consist of {_NAME_PART}"
    return None


def directions(f: Fields, path: FieldPath) -> set:
    """`policyTypes` / `types`: a list of Ingress and Egress (empty when absent; defaulting is the caller's)."""
    from reasoner.model.policy import Direction

    known = {"Ingress": Direction.INGRESS, "Egress": Direction.EGRESS}
    out = set()
    for i, t in enumerate(f.get(path, list, [])):
        if not isinstance(t, str) or t not in known:
            raise f.fail(path + (i,), f"unknown policy type {show(t)} (want Ingress or Egress)")
        out.add(known[t])
    return out
