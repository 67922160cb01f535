"""Text for a terminal: a string from the input never reaches it raw.

Names, label values, file names, spec ids and selectors are data. A control character in one of them
(an ESC sequence, a carriage return, a newline that forges a line, a right-to-left override) is shown
as an escape, as kubectl does: `\\x1b`, `\\n`, `\\u202e`. Printable characters of every script stay as
they are.
"""

from __future__ import annotations

from typing import Iterable, Sequence

NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str) -> str:
    """`text` with every character that is not printable (Unicode categories C*, Z* but the space) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else NAMED.get(c) or _code(c) for c in text)


def _code(c: str) -> str:
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def join_lines(lines: Iterable[str]) -> str:
    """Rendered lines as one text: each line escaped whole, so a newline inside a value cannot start a line."""
    return "\n".join(escape(line) for line in lines)


def terminal(text: str) -> str:
    """Text already laid out in lines (a REPL answer, an error): its line breaks kept, all else escaped."""
    return join_lines(text.split("\n"))


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Aligned columns, two spaces apart; the last column is not padded."""
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return [line(header)] + [line(r) for r in rows]
