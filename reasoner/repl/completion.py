"""Completion: `suggest` says what the word under the cursor is (pure); `Completer` fills in the names of the
loaded cluster."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reasoner import api
from reasoner.repl.commands.session import SETTINGS
from reasoner.repl.parse import QUERY_START
from reasoner.repl.registry import ALIASES, COMMANDS
from reasoner.repl.session import Session


@dataclass(frozen=True)
class Suggestion:
    kind: str  # command, endpoint, flow, label-key, label-value, relation, path, setting, value
    context: str | None = None  # label-value: the key; value: the setting


def suggest(line: str) -> tuple[Suggestion, ...]:
    """What the last word of `line` (the text before the cursor) can be completed with."""
    text = line.lstrip()
    words = text.split()
    first = ALIASES.get(words[0], words[0]) if words else ""
    if first not in COMMANDS and (QUERY_START.match(text) or text.startswith("?")) or first == "?-":
        return (Suggestion("relation"),) if "(" not in text else ()
    at = len(words) if not text or text[-1].isspace() else len(words) - 1
    if at == 0:
        return (Suggestion("command"),)
    cmd = COMMANDS.get(first)
    if cmd is None or not cmd.args:
        return ()
    if cmd.args[0] == "selector":
        before = words[1:at]
        if len(before) >= 2 and before[-1] in ("==", "!="):
            return (Suggestion("label-value", before[-2]),)
        return (Suggestion("label-key"),)
    kinds = cmd.args
    if at - 1 < len(kinds):
        kind = kinds[at - 1]
    elif kinds[-1].endswith("*"):
        kind = kinds[-1]
    else:
        return ()
    kind = kind.rstrip("*")
    if kind == "value":
        return (Suggestion("value", words[1]),)
    return (Suggestion(kind),)


class Completer:
    """A readline completer over the names of the loaded cluster (read again after each load)."""

    def __init__(self, session: Session):
        self.session = session
        self._for: object = None
        self._matches: list[str] = []

    def _model(self) -> tuple[list[str], list[str], dict[str, set[str]]]:
        an = self.session.an
        if self._for is not an:
            fb = an.facts
            self._endpoints = sorted(fb.class_of)
            self._services = sorted(f"svc:{svc.namespace}/{svc.name}" for svc in an.cluster.services)
            self._namespaces = sorted(an.cluster.namespaces)
            labels: dict[str, set[str]] = {}
            for cls in fb.classes:
                for ep in cls.members:
                    for k, v in api.calico_view(fb, cls, ep).items():
                        labels.setdefault(k, set()).add(v)
            self._labels = labels
            self._for = an
        return self._endpoints, self._namespaces, self._labels

    def candidates(self, line: str, word: str) -> list[str]:
        endpoints, namespaces, labels = self._model()
        out: list[str] = []
        for sug in suggest(line):
            if sug.kind == "command":
                out += [n for n in [*COMMANDS, *ALIASES] if n.startswith(word)]
            elif sug.kind == "endpoint":
                if word.startswith("svc:"):
                    out += [e for e in self._services if e.startswith(word)]
                elif "/" in word or ":" in word:
                    out += [e for e in endpoints if e.startswith(word)]
                else:
                    spaces = [n for n in namespaces if n.startswith(word)]
                    if len(spaces) == 1:  # readline then inserts the common prefix, `ns/`, with no space
                        out += [e for e in endpoints if e.startswith(spaces[0] + "/")]
                    else:
                        out += [n + "/" for n in spaces]
                    out += [p for p in ("ip:", "cidr:") + (("svc:",) if self._services else ()) if p.startswith(word)]
            elif sug.kind == "flow":
                if word.isdigit():
                    out += [f"{word}/{p}" for p in api.PORTED]
                else:
                    out += [p for p in (*api.PORTED, "ICMP", "ICMPv6") if p.lower().startswith(word.lower())]
            elif sug.kind == "label-key":
                out += [k for k in sorted(labels) if k.startswith(word)]
                out += [f for f in ("has(", "!has(", "all()") if f.startswith(word)]
            elif sug.kind == "label-value":
                out += [f"'{v}'" for v in sorted(labels.get(sug.context or "", ())) if f"'{v}'".startswith(word)]
            elif sug.kind == "relation":
                head = word[2:] if word.startswith("?-") else word
                out += [("?-" if word.startswith("?-") else "") + r for r in sorted(self.session.relations)
                        if r.startswith(head)]
            elif sug.kind == "direction":
                out += [d for d in ("in", "out") if d.startswith(word)]
            elif sug.kind == "setting":
                out += [n for n in SETTINGS if n.startswith(word)]
            elif sug.kind == "value":
                out += [v for v in SETTINGS.get(sug.context or "", ()) if v.startswith(word)]
            elif sug.kind == "path":
                out += paths(word)
        return out

    def complete(self, word: str, state: int) -> str | None:
        """readline's protocol: called with state 0, 1, ... until it returns None. A unique match that is a
        whole word gets a space after it, as a shell does (Python's readline adds none); one that goes on
        (a namespace's `ns/`, a directory, `ip:`, `has(`) does not."""
        if state == 0:
            import readline

            line = readline.get_line_buffer()[:readline.get_endidx()]
            try:
                self._matches = self.candidates(line, word)
            except Exception:  # completion must never break the prompt
                self._matches = []
            if len(self._matches) == 1 and not self._matches[0].endswith(("/", ":", "(")):
                self._matches = [self._matches[0] + " "]
        return self._matches[state] if state < len(self._matches) else None


def paths(word: str) -> list[str]:
    """Files and directories (with a trailing /) whose path starts with `word`."""
    base = Path(word).expanduser()
    folder = base if word.endswith("/") or not word else base.parent
    prefix = "" if word.endswith("/") or not word else base.name
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    head = word[: len(word) - len(prefix)]  # as typed, `~` included
    return [head + e.name + ("/" if e.is_dir() else "") for e in entries
            if e.name.startswith(prefix) and not e.name.startswith(".")]
