"""A progress line on standard error, for work that goes on for more than a second on a terminal.

The work says what it is doing with `reasoner.progress.stage` (a context manager; stages nest, and one may count
its steps); a front end shows it with `shown(stream)` around a command. Nothing is written unless the stream is a
terminal, some stage is open, and the work has gone on for `DELAY` seconds; then one line, redrawn in place
with `\\r`, names the open stages, with a bar (the outermost counted stage's share done, else a block that
moves) and the seconds elapsed. The line is erased as soon as the last stage closes, so what the command
prints next starts on a clean line: no stage may be open while a command writes its answer. Standard
output is never written.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

from reasoner.progress import listening
from reasoner.report.text import escape

DELAY = 1.0  # seconds of work before the line appears
TICK = 0.1  # seconds between redraws
GAP = 0.5  # a stage opened within GAP seconds of the last one's close goes on the same piece of work
BAR = 20  # characters inside the brackets

class Line:
    """The progress line of one terminal stream: the open stages, and what was last drawn.

    `refresh` draws it (a thread of `shown` calls it every TICK seconds); `clock` is injectable for tests."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic, columns: int | None = None):
        self.stream = stream
        self.clock = clock
        self.columns = columns
        self.stages: list[list] = []  # [name, done, total] from the outermost
        self.since = 0.0  # when the current piece of work began
        self.closed = -GAP - 1.0  # when the last stage closed
        self.drawn = 0  # the length of the text on the terminal (0: nothing)
        self.lock = threading.Lock()
        self.pid = os.getpid()  # a forked child (prove's workers) inherits the line but must not draw

    def open(self, entry: list) -> None:
        if os.getpid() != self.pid:
            return
        with self.lock:
            now = self.clock()
            if not self.stages and now - self.closed > GAP:
                self.since = now
            self.stages.append(entry)
        self.refresh()

    def close(self, entry: list) -> None:
        if os.getpid() != self.pid:
            return
        with self.lock:
            self.stages = [e for e in self.stages if e is not entry]
            if not self.stages:
                self.closed = self.clock()
                self._erase()

    def text(self, now: float) -> str:
        """The line for the open stages at time `now`."""
        names = " > ".join(escape(name) for name, _done, _total in self.stages)
        counted = next(((done, total) for _name, done, total in self.stages if total), None)
        elapsed = now - self.since
        if counted:
            done, total = counted
            full = BAR * min(done, total) // total
            bar, count = "#" * full + "-" * (BAR - full), f" {done}/{total}"
        else:  # no count: a block that goes to and fro
            at = int(elapsed / TICK) % (2 * (BAR - 3))
            at = at if at <= BAR - 3 else 2 * (BAR - 3) - at
            bar, count = " " * at + "===" + " " * (BAR - 3 - at), ""
        line = f"{names} [{bar}]{count} {elapsed:.0f} s"
        width = (self.columns or _columns(self.stream)) - 1  # the last column would wrap on some terminals
        return line if len(line) <= width else line[:max(width - 1, 0)] + "…"

    def refresh(self) -> None:
        """Draw the line if a stage is open and the work has gone on for DELAY seconds."""
        if os.getpid() != self.pid:
            return
        with self.lock:
            now = self.clock()
            if not self.stages or now - self.since < DELAY:
                return
            line = self.text(now)
            self.stream.write("\r" + line + " " * max(self.drawn - len(line), 0) + "\r")
            self.stream.flush()
            self.drawn = len(line)

    def _erase(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
            self.drawn = 0


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80  # a terminal that says 0: not known
    except (AttributeError, ValueError, OSError):
        return 80


_line: Line | None = None  # the line `shown` set up, if any
_held: list[threading.Lock] = []  # the line's lock, held across a fork (see _before_fork)


def _before_fork() -> None:
    """A process forked while the line is being drawn would inherit the stream's lock held: fork between draws."""
    if _line is not None:
        _line.lock.acquire()
        _held.append(_line.lock)


def _after_fork() -> None:
    while _held:
        _held.pop().release()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork)


@contextmanager
def shown(stream: TextIO) -> Iterator[None]:
    """Show the stages opened inside on `stream` when it is a terminal (nothing otherwise, or when a line is
    already shown)."""
    global _line
    if _line is not None or not _isatty(stream):
        yield
        return
    line = _line = Line(stream)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK):
            line.refresh()

    thread = threading.Thread(target=tick, name="progress", daemon=True)
    thread.start()
    try:
        with listening(line):
            yield
    finally:
        stop.set()
        thread.join()
        with line.lock:
            line._erase()
        _line = None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or closed
        return False
