"""The progress line (reasoner/report/progress.py): drawn on a terminal only, after DELAY seconds of work, erased
when the work ends; never on standard output, never off a terminal."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reasoner.cli import main
from reasoner.progress import counted, listening, stage
from reasoner.report import progress
from reasoner.report.progress import DELAY, GAP, Line, shown

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "corpus" / "microservices-demo"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def term():
    return Terminal(), Clock()


def test_nothing_is_drawn_before_a_second_of_work(term):
    stream, clock = term
    line = Line(stream, clock, columns=80)
    entry = ["reading the inputs", 0, None]
    line.open(entry)
    clock.now += DELAY / 2
    line.refresh()
    line.close(entry)
    assert stream.getvalue() == ""


def test_the_line_names_the_stages_and_is_erased_when_the_last_one_closes(term):
    stream, clock = term
    line = Line(stream, clock, columns=80)
    outer, inner = ["proving", 3, 10], ["evaluating the rules", 0, None]
    line.open(outer)
    line.open(inner)
    clock.now += DELAY + 2
    line.refresh()
    drawn = stream.getvalue()
    assert drawn.startswith("\rproving > evaluating the rules [######--------------] 3/10 3 s")
    assert drawn.endswith("\r") and "\n" not in drawn
    line.close(inner)
    assert stream.getvalue() == drawn  # a stage is still open: the line stays
    line.close(outer)
    width = len(drawn.strip("\r"))
    assert stream.getvalue() == drawn + "\r" + " " * width + "\r"


def test_a_stage_without_a_count_shows_a_moving_block(term):
    stream, clock = term
    line = Line(stream, clock, columns=80)
    line.open(["evaluating the rules", 0, None])
    clock.now += DELAY
    first = line.text(clock.now)
    clock.now += 0.5
    assert line.text(clock.now) != first
    assert "===" in first and first.startswith("evaluating the rules [")


def test_the_line_fits_the_terminal_and_a_control_character_is_escaped(term):
    stream, clock = term
    line = Line(stream, clock, columns=30)
    line.open(["reading \x1b[31m a very long name of a stage", 0, None])
    clock.now += DELAY
    text = line.text(clock.now)
    assert len(text) == 29 and text.endswith("…") and "\x1b" not in text and "\\x1b" in text


def test_the_next_stage_of_the_same_work_is_drawn_at_once_and_new_work_waits_again(term):
    stream, clock = term
    line = Line(stream, clock, columns=80)
    first = ["reading the inputs", 0, None]
    line.open(first)
    clock.now += DELAY + 1
    line.close(first)
    clock.now += GAP / 2
    second = ["evaluating the rules", 0, None]
    line.open(second)  # the same piece of work: drawn as it opens
    assert re.search(r"\revaluating the rules \[ *=== *\] 2 s\r$", stream.getvalue())
    line.close(second)
    before = stream.getvalue()
    clock.now += GAP * 4  # a pause (a prompt waiting): the next stage is new work
    line.open(["indexing", 0, None])
    assert stream.getvalue() == before


def test_stages_report_to_nothing_without_a_line():
    assert progress._line is None
    with stage("anything", 3) as step:
        step(1)
    assert list(counted("steps", [1, 2])) == [1, 2]


def test_off_a_terminal_nothing_is_written():
    stream = io.StringIO()
    with shown(stream):
        assert progress._line is None
        with stage("reading the inputs"):
            pass
    assert stream.getvalue() == ""


def test_shown_on_a_terminal_draws_the_stages_and_erases_them(monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    stream = Terminal()
    with shown(stream):
        assert progress._line is not None
        with stage("linting"):
            assert "\rlinting [" in stream.getvalue()
        assert re.fullmatch(r"(\rlinting \[[ =]+\] 0 s\r)+\r {34}\r", stream.getvalue())
    assert progress._line is None


def test_counted_reports_each_step(term):
    stream, clock = term
    line = Line(stream, clock, columns=80)
    seen = []
    with listening(line):
        for item in counted("proving", ["a", "b", "c"]):
            seen.append((item, [e[1:] for e in line.stages]))
    assert seen == [("a", [[0, 3]]), ("b", [[1, 3]]), ("c", [[2, 3]])]
    assert line.stages == []


@pytest.mark.parametrize("args, status", [
    (["connectivity", str(DEMO / "manifests")], 0),
    (["lint", str(DEMO / "manifests")], 0),
    (["prove", "--spec", str(DEMO / "spec.yaml"), str(DEMO / "manifests")], 1),  # the spec has violations
])
def test_a_command_off_a_terminal_writes_nothing_to_standard_error(args, status):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == status, result.output
    assert result.stderr == ""
    done = subprocess.run([sys.executable, "-m", "reasoner", *args], capture_output=True, cwd=ROOT)
    assert (done.returncode, done.stderr) == (status, b"")


def test_on_a_terminal_the_line_goes_to_standard_error_only():
    """stderr on a terminal, stdout to a pipe; DELAY 0 so that every stage is drawn as it opens."""
    master, slave = pty.openpty()
    code = "import reasoner.report.progress as p; p.DELAY = 0; from reasoner.cli import main; main()"
    args = ["connectivity", str(DEMO / "manifests")]
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=slave,
                            stdin=subprocess.DEVNULL, cwd=ROOT, close_fds=True)
    os.close(slave)
    out, _ = proc.communicate(timeout=300)
    err = b""
    while select.select([master], [], [], 0)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert proc.returncode == 0
    plain = subprocess.run([sys.executable, "-m", "reasoner", *args], capture_output=True, cwd=ROOT)
    assert out == plain.stdout and b"\r" not in out
    text = err.decode()
    for name in ("reading the inputs", "checking the objects", "evaluating the rules", "computing the map"):
        assert f"\r{name} [" in text
    assert text.endswith(" \r") and text.rstrip("\r ").count("\n") == 0  # erased at the end, one line only
