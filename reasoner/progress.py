"""What long work is doing, for whoever shows it: stages, which nest, and may count their steps.

The pipeline (loading, the rules, the map, proofs, lint, diff) opens a `stage` around each piece of work; a
front end listens with `listening` (reasoner/report/progress.py draws a line on a terminal's standard error).
With nobody listening, a stage costs a function call.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Protocol, TypeVar

T = TypeVar("T")


class Listener(Protocol):
    def open(self, entry: list) -> None: ...  # entry: [name, steps done, total steps or None]

    def close(self, entry: list) -> None: ...


_listener: Listener | None = None


@contextmanager
def listening(who: Listener) -> Iterator[None]:
    """Have `who` told of the stages opened inside."""
    global _listener
    before, _listener = _listener, who
    try:
        yield
    finally:
        _listener = before


@contextmanager
def stage(name: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """Report the work inside as `name`; with `total`, the function yielded takes the number of steps done."""
    entry = [name, 0, total]
    who = _listener
    if who is None:
        yield lambda done: None
        return
    who.open(entry)
    try:
        yield lambda done: entry.__setitem__(1, done)
    finally:
        who.close(entry)


def counted(name: str, items: Iterable[T], total: int | None = None) -> Iterator[T]:
    """`items` one by one, reported as the stage `name` of `total` steps (default: len(items))."""
    with stage(name, len(items) if total is None else total) as step:  # type: ignore[arg-type]
        for done, item in enumerate(items):
            step(done)
            yield item
