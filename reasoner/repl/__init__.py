"""`reasoner repl`: load a cluster once, then ask questions at a prompt, from a script, or with --execute.

A thin layer over what the CLI commands use: `reasoner.api` loads, analyses and answers, and the renderers of
`reasoner.report` print the answers. `Session` (session.py) is the command interpreter, usable without a
terminal: feed it a line, get a `Reply`. The commands (commands/, one module per theme) register in
registry.py, which `help` and completion (completion.py) read too; parse.py reads flows (`80/TCP`) and Datalog
queries (`?- applies(P, "shop/web", "ingress")`, asked through `Engine.ask` with the constants bound: user text
is data, never source). `repl_command` (terminal.py) is the click command that drives a session from a
terminal (prompt, history, completion, colour) or from a script (plain output, one block per command, exit
status 1 if a command failed).
"""

from reasoner.repl import commands  # noqa: F401  (registers the commands)
from reasoner.repl.completion import Completer, Suggestion, suggest
from reasoner.repl.parse import FlowSpec, Var, parse_flow, parse_query
from reasoner.repl.registry import COMMANDS, Reply
from reasoner.repl.session import Session
from reasoner.repl.terminal import repl_command

__all__ = ["COMMANDS", "Completer", "FlowSpec", "Reply", "Session", "Suggestion", "Var", "parse_flow",
           "parse_query", "repl_command", "suggest"]
