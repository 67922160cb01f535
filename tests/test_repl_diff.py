"""The REPL's `diff` takes the filters of `reasoner diff`, and answers as it does."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from reasoner.cli import main
from reasoner.repl import Session

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
OLD, NEW = CORPUS / "diff-removed-policy" / "old", CORPUS / "diff-removed-policy" / "new"


def cli(*args: str) -> str:
    return CliRunner().invoke(main, ["diff", str(OLD), str(NEW), *args]).stdout.rstrip("\n")


def test_the_filters_keep_what_the_cli_keeps():
    session = Session([str(OLD)])
    whole = session.execute(f"diff {NEW}")
    assert not whole.error and whole.text == cli()
    for filters in (["--focus", "payments/ledger-0"], ["-n", "monitoring"], ["--port", "8443"],
                    ["--focus", "payments/ledger-0", "--direction", "in", "--protocol", "TCP"],
                    ["-l", "app == 'gateway'"]):
        quoted = " ".join(f'"{f}"' if " " in f else f for f in filters)
        reply = session.execute(f"diff {NEW} {quoted}")
        assert not reply.error, reply.text
        assert reply.text == cli(*filters), filters
        assert reply.text != whole.text  # each keeps less than the whole diff
    assert "8443" in session.execute(f"diff {NEW} --port 8443").text
    assert "9102" not in session.execute(f"diff {NEW} --port 8443").text


def test_a_bad_filter_is_an_error_naming_it():
    session = Session([str(OLD)])
    for line, needle in ((f"diff {NEW} --port x", "--port 'x' is not a port number"),
                         (f"diff {NEW} --direction up", "--direction 'up'"),
                         (f"diff {NEW} --bogus 1", "'--bogus' is not a filter"),
                         (f"diff {NEW} -n", "-n needs a value"),
                         (f"diff {NEW} -n nope", "unknown namespace 'nope'"),
                         ("diff --focus a/b", "usage: diff PATH")):
        reply = session.execute(line)
        assert reply.error and needle in reply.text, (line, reply.text)
