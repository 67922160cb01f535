"""The session's own commands: reload, load, set, help, quit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reasoner import api
from reasoner.errors import UsageError
from reasoner.repl.registry import ALIASES, COMMANDS, Quit, command, hint, usage, words
from reasoner.report.text import table

if TYPE_CHECKING:
    from reasoner.repl.session import Session

SETTINGS = {"scope": api.SCOPES, "timing": ("on", "off")}


@command("reload", "reload", "read the same inputs again (after you edited them)")
def _reload(s: Session, arg: str) -> str:
    if "-" in s.paths:
        raise UsageError("the inputs came from standard input; they cannot be read again")
    s.load(s.paths)
    return "\n".join(s.warnings + [s.summary()])


@command("load", "load PATH...", "read other inputs instead of the loaded ones", """
The loaded cluster is kept if the new inputs have errors.

Examples:
  load corpus/deny-all
""", args=("path*",))
def _load(s: Session, arg: str) -> str:
    paths = words(arg)
    if not paths:
        raise usage("load")
    if "-" in paths:
        raise UsageError("standard input holds the commands; give files or directories")
    s.load(paths)
    return "\n".join(s.warnings + [s.summary()])


@command("set", "set scope inventory|any-workload | set timing on|off", "change a setting (without arguments: show them)",
         """
scope: the scope of `prove` and `lint` (default: a spec's own scope, else inventory).
timing: print how long each answer took.
""", args=("setting", "value"))
def _set(s: Session, arg: str) -> str:
    given = words(arg)
    if not given:
        scope = s.scope or "the spec's own, else inventory"
        return f"scope   {scope}\ntiming  {'on' if s.timing else 'off'}"
    if len(given) != 2 or given[0] not in SETTINGS:
        raise usage("set")
    name, value = given
    if value not in SETTINGS[name]:
        raise UsageError(f"{name} is one of {', '.join(SETTINGS[name])}, not {value!r}")
    if name == "scope":
        s.scope = value
    else:
        s.timing = value == "on"
    return f"{name} = {value}"


@command("help", "help [COMMAND]", "list the commands, or explain one", args=("command",), aliases=("?",))
def _help(s: Session, arg: str) -> str:
    given = words(arg)
    if given:
        name = ALIASES.get(given[0], given[0])
        cmd = COMMANDS.get(name)
        if cmd is None:
            raise UsageError(f"no command {given[0]!r}{hint(given[0], COMMANDS)}")
        return "\n".join([f"usage: {cmd.usage}", "", cmd.summary[0].upper() + cmd.summary[1:] + "."]
                         + ([""] + cmd.details.splitlines() if cmd.details else []))
    rows = [(cmd.usage.split(" | ")[0], cmd.summary) for cmd in COMMANDS.values()]
    return "\n".join(table(("COMMAND", "WHAT"), rows) + [
        "",
        "Endpoints: NAMESPACE/POD (or NAMESPACE/WORKLOAD), ip:ADDRESS, cidr:PREFIX; a destination may be a service.",
        "PORT/PROTO: 80/TCP, 53/UDP, 8080, ICMP. `help COMMAND` explains one; Tab completes names."])


@command("quit", "quit", "leave (Ctrl-D does too)", aliases=("exit",))
def _quit(s: Session, arg: str) -> str:
    raise Quit()
