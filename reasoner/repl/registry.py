"""The commands' registry, so that `help`, completion and the session read the same table, and the small text
helpers the answers share."""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from reasoner.errors import UsageError

if TYPE_CHECKING:
    from reasoner.repl.session import Session


@dataclass
class Reply:
    """What one line gave: its text (without a trailing newline), whether it failed, whether to stop."""

    text: str = ""
    error: bool = False
    quit: bool = False
    empty: bool = False  # a blank line or a comment: nothing was asked


class Quit(Exception):
    """`quit`: leave the session."""


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    details: str
    run: Callable[["Session", str], str]
    args: tuple[str, ...] = ()  # what each word is, for completion; a trailing "*" repeats
    aliases: tuple[str, ...] = ()


COMMANDS: dict[str, Command] = {}
ALIASES: dict[str, str] = {}


def command(name: str, usage: str, summary: str, details: str = "", args: tuple[str, ...] = (),
            aliases: tuple[str, ...] = ()):
    def register(fn: Callable[["Session", str], str]) -> Callable[["Session", str], str]:
        COMMANDS[name] = Command(name, usage, summary, details.strip("\n"), fn, args, aliases)
        for alias in aliases:
            ALIASES[alias] = name
        return fn

    return register


def usage(name: str) -> UsageError:
    """The error for a command given the wrong words: its usage line."""
    return UsageError(f"usage: {COMMANDS[name].usage}")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else many or word + 's'}"


def words(arg: str) -> list[str]:
    """A command's arguments, split as a shell splits them."""
    try:
        return shlex.split(arg)
    except ValueError as exc:  # an unbalanced quote
        raise UsageError(f"cannot split {arg!r} into words: {exc}") from None


def natural(text: str) -> tuple:
    """A sort key that puts ns/web-2 before ns/web-10."""
    return tuple(int(part) if i % 2 else part for i, part in enumerate(re.split(r"([0-9]+)", text)))


def hint(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""
