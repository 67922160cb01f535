"""Errors: every problem with the user's input is a located `ManifestError`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ReasonerError(Exception):
    """Root of every error the tool reports to the user (exit status 2)."""


@dataclass(frozen=True)
class Location:
    """Where a problem is: file, 1-based line, the resource and the field path."""

    file: str
    line: int | None = None
    resource: str | None = None  # "NetworkPolicy shop/api-in"
    field: str | None = None  # "spec.ingress[0].ports[1].port"

    def __str__(self) -> str:
        head = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [head]
        if self.resource:
            parts.append(self.resource)
        if self.field:
            parts.append(self.field)
        return ": ".join(parts)


class ManifestError(ReasonerError):
    """One problem in one manifest, with its location and what was expected."""

    def __init__(self, location: Location, message: str):
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


class ManifestErrors(ReasonerError):
    """All the problems found in the inputs, reported together."""

    def __init__(self, errors: list[ManifestError]):
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class UsageError(ReasonerError):
    """A bad command-line argument, such as an endpoint name that does not exist."""


class QueryError(ReasonerError):
    """A query the engine cannot answer: an unknown relation, or one that needs bound arguments."""


def show(value: Any, limit: int = 40) -> str:
    """`value` for a message: short, on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict,)):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int) and value.bit_length() > 64:
        return "a very large integer"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
