"""The REPL's commands, by theme. Importing this package registers them (registry.COMMANDS) in the order `help`
lists them: this import's order."""

from reasoner.repl.commands import flows, inventory, datalog, checks, session  # noqa: F401  # isort: skip
