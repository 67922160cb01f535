"""Numbers as users write them in manifests and on the command line."""

from __future__ import annotations


def ascii_int(text: str) -> int | None:
    """The integer written in ASCII digits `text`, or None (int() and str.isdigit() also take other scripts)."""
    return int(text) if text.isascii() and text.isdigit() else None
