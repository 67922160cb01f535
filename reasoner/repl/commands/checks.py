"""The checks over the loaded cluster: prove (a ComplianceSpec, with z3), lint, diff (against other inputs). Their
renderers, and the solver behind them, are imported when a check is first asked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reasoner import api
from reasoner.errors import UsageError
from reasoner.repl.registry import command, usage, words

if TYPE_CHECKING:
    from reasoner.repl.session import Session


@command("prove", "prove SPEC | prove default-deny", "prove a ComplianceSpec (z3), as `reasoner prove --spec`",
         """
SPEC is a ComplianceSpec file (see the README); `default-deny` is the built-in check. The scope is the
spec's own unless `set scope` chose one.

Examples:
  prove corpus/microservices-demo/spec.yaml
  set scope any-workload
  prove default-deny
""", args=("path",))
def _prove(s: Session, arg: str) -> str:
    from reasoner.report.prove import to_text

    given = words(arg)
    if len(given) != 1:
        raise usage("prove")
    if given[0] == "default-deny" and not Path(given[0]).exists():  # as `reasoner prove --check default-deny`
        spec = api.spec(scope=s.scope, checks=("default-deny",))
    else:
        spec = api.spec(given[0], scope=s.scope)
    return to_text(api.prove(s.an, spec))


@command("lint", "lint", "findings about the policies (shadowed, redundant, conflicting rules, ...)",
         """
The findings of `reasoner lint` over the loaded cluster, in the scope that `set scope` chose.
""")
def _lint(s: Session, arg: str) -> str:
    from reasoner.report.lint import to_text

    if arg:
        raise usage("lint")
    return to_text(api.lint(s.an, s.scope or "inventory"))


DIFF_FILTERS = {"-n": "namespace", "--namespace": "namespace", "-l": "selector", "--selector": "selector",
                "--focus": "ends", "--peer": "peers", "--direction": "direction", "--port": "port",
                "--protocol": "protocol"}


@command("diff", "diff PATH [FILTERS]", "what changes from the loaded inputs to PATH: flows newly allowed or denied",
         """
The answer of `reasoner diff LOADED PATH`, the loaded input (one path) as the old version. PATH is a
file, a directory or git:REV:PATH. The filters are those of `reasoner diff`: -n NS, -l SELECTOR (quoted
when it has spaces), --focus ENDPOINT, --peer ENDPOINT, --direction in|out, --port N, --protocol P.

Examples:
  diff new-policies/
  diff new-policies/ -n shop --port 443
  diff git:main:deploy/ --focus shop/web --direction in
""", args=("path",))
def _diff(s: Session, arg: str) -> str:
    from reasoner.report.diff import to_text

    given = words(arg)
    if not given or given[0].startswith("-"):
        raise usage("diff")
    filters: dict[str, object] = {}
    rest = given[1:]
    while rest:
        flag, *rest = rest
        if flag not in DIFF_FILTERS or not rest:
            raise UsageError(f"diff: {flag!r} is not a filter with its value (want {', '.join(sorted(DIFF_FILTERS))})"
                             if flag not in DIFF_FILTERS else f"diff: {flag} needs a value")
        value, *rest = rest
        key = DIFF_FILTERS[flag]
        if key == "port":
            number = api.whole_number(value)
            if number is None or not 1 <= number <= 65535:
                raise UsageError(f"diff: --port {value!r} is not a port number (1-65535)")
            filters[key] = number
        elif key == "direction" and value not in ("in", "out"):
            raise UsageError(f"diff: --direction {value!r} (want in or out)")
        else:
            filters[key] = value
    if len(s.paths) != 1 or s.paths[0] == "-":
        raise UsageError("diff compares one loaded path with PATH; use `reasoner diff OLD NEW` for more")
    result = api.diff(s.paths[0], given[0], (), s.scope or "inventory", options=s.options)
    return to_text(api.diff_focus(result, **filters) if filters else result)
