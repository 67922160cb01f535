"""Front ends: a terminal (prompt, history, completion, colour), or a script (standard input or --execute), and
`repl_command`, the click command that chooses between them."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable, Sequence

import click

from reasoner import api
from reasoner.errors import UsageError
from reasoner.repl.completion import Completer
from reasoner.repl.session import Session
from reasoner.report.text import escape

PROMPT = "reasoner> "


def history_file() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reasoner" / "history"


def _styled(text: str) -> str:
    """Colour for a terminal: the verdict word, errors."""
    out = []
    for line in text.split("\n"):
        if line.startswith("ALLOWED"):
            line = click.style("ALLOWED", fg="green", bold=True) + line[7:]
        elif line.startswith("DENIED"):
            line = click.style("DENIED", fg="red", bold=True) + line[6:]
        elif line.startswith("error:"):
            line = click.style(line, fg="red")
        out.append(line)
    return "\n".join(out)


def run_script(session: Session, lines: Iterable[str], out, err) -> int:
    """Plain output, each command's answer followed by a blank line; errors to `err`. 1 if any failed."""
    failed = False
    for line in lines:
        reply = session.execute(line)
        if reply.empty:
            continue
        if reply.quit:
            break
        if reply.error:
            failed = True
            out.flush()
            err.write(reply.text + "\n")
            err.flush()
            out.write("\n")
        else:
            out.write(reply.text + "\n\n")
        out.flush()
    return 1 if failed else 0


def run_terminal(session: Session, colour: bool) -> int:
    """The interactive loop: history, completion, Ctrl-C clears the line (or stops an answer), Ctrl-D leaves."""
    try:
        import readline
    except ImportError:  # a Python without readline: no history and no completion, the rest works
        readline = None
    path = history_file()
    if readline is not None:
        try:
            readline.read_history_file(path)
        except OSError:
            pass
        readline.set_history_length(1000)
        readline.set_completer(Completer(session).complete)
        readline.set_completer_delims(" \t\n")  # endpoint names hold '/', ':' and '-': one word each
        if "libedit" in (readline.__doc__ or ""):
            readline.parse_and_bind("bind ^I rl_complete")
        else:
            readline.parse_and_bind("tab: complete")
    paint = _styled if colour else (lambda t: t)
    click.echo(session.summary() + "; `help` lists the commands, Tab completes, Ctrl-D leaves.")
    try:
        while True:
            try:
                line = input(PROMPT)
            except EOFError:
                click.echo()
                break
            except KeyboardInterrupt:
                click.echo()
                continue
            try:
                reply = session.execute(line)
            except KeyboardInterrupt:
                click.echo(paint("error: interrupted"))
                continue
            if reply.quit:
                break
            if not reply.empty:
                click.echo(paint(reply.text), color=colour, err=reply.error)
    finally:
        if readline is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                readline.write_history_file(path)
            except OSError:
                pass
    return 0


def _large(paths: Sequence[str]) -> bool:
    """Whether the inputs are large enough for `Session(freeze_gc=True)`: 512 KiB of
    files, or inputs of unknown size (standard input, a live cluster, a path that cannot be read)."""
    total = 0
    for p in paths:
        path = Path(p)
        try:
            if path.is_file():
                total += path.stat().st_size
            elif path.is_dir():
                total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            else:
                return True
        except OSError:  # reading the inputs says what is wrong
            return True
    return total >= 512 * 1024


@click.command("repl", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("paths", nargs=-1, required=True)
@click.option("-e", "--execute", "commands", multiple=True, metavar="COMMAND",
              help="Run COMMAND and exit instead of prompting (repeatable, in order).")
def repl_command(paths: tuple[str, ...], commands: tuple[str, ...], options: api.ReadOptions) -> None:
    """Load the inputs once, then ask questions: at a prompt, from a script, or with --execute.

    \b
    Commands (`help COMMAND` in the session explains each):
      can SRC DST [PORT/PROTO]      the verdict (any port without PORT/PROTO)
      why SRC DST [PORT/PROTO]      the verdict and the deciding rule chain at each end
      who-can-reach DST [PORT/PROTO], reachable-from SRC [PORT/PROTO]
      exposure [ENDPOINT] [in|out]  what could reach it beyond the loaded endpoints
      policies ENDPOINT             what applies to it, in evaluation order
      endpoints [SELECTOR]          the endpoints a Calico selector matches
      ?- RELATION(ARG, ...)         a Datalog query; `relations` lists the relations
      prove SPEC, lint, diff PATH, reload, load PATH..., set scope any-workload|inventory, quit

    On a terminal: a prompt with history (kept in $XDG_DATA_HOME/reasoner/history, else
    ~/.local/share/reasoner/history) and Tab completion; Ctrl-C clears the line or stops an answer.
    Otherwise commands are read from standard input, one a line (`#` starts a comment), and each answer
    is printed plainly followed by a blank line; errors go to standard error as `error: ...` and the
    session goes on. Exit status: 0, or 1 if a command of a script failed; 2 if the inputs cannot be
    loaded.

    \b
    Examples:
      reasoner repl corpus/microservices-demo/manifests
      reasoner repl manifests/ < questions.txt
      reasoner repl manifests/ -e 'can shop/web shop/db 5432/TCP' -e 'who-can-reach shop/db'
      kubectl get netpol,pods,ns -A -o yaml | reasoner repl - -e 'endpoints app == "db"'
    """
    interactive = not commands and sys.stdin.isatty()
    if "-" in paths and not commands:
        raise UsageError("with `-`, standard input holds the manifests: give the commands with --execute")
    session = Session(paths, stdin=sys.stdin, freeze_gc=_large(paths), options=options)
    for warning in session.warnings:
        click.echo(escape(warning), err=True)
    if interactive:
        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        sys.exit(run_terminal(session, colour))
    lines: Iterable[str] = commands if commands else sys.stdin
    sys.exit(run_script(session, lines, sys.stdout, sys.stderr))
