"""The command line: thin commands that call `api`, render, and pick an exit status.

Exit status: 0 success (or allowed), 1 a negative answer (denied), 2 bad input or usage.
"""

from __future__ import annotations

import sys
from typing import Callable

import click

from reasoner import api
from reasoner.errors import ManifestErrors, ReasonerError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Group(click.Group):
    """Turns every user error into one line per problem on stderr and exit status 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ManifestErrors as exc:
            for err in exc.errors:
                click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except ReasonerError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except click.exceptions.Exit:
            raise
        except click.ClickException as exc:
            exc.exit_code = 2
            raise


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(package_name="reasoner")
def main() -> None:
    """Know, not guess, what your Kubernetes network policies allow.

    Inputs are manifest files or directories (read recursively: .yaml, .yml, .json; multi-document
    YAML, `kind: List`, `helm template` output), or `-` for standard input.

    \b
    Examples:
      reasoner connectivity corpus/microservices-demo/manifests
      reasoner connectivity -o json manifests/ > map.json
      reasoner can boutique/frontend boutique/cartservice --port 7070 -f manifests/
    """


OUTPUT = click.option("-o", "--output", "output", default="text", show_default=True,
                      help="Output format.")


def _load(paths: tuple[str, ...]) -> api.Analysis:
    cluster = api.load(paths, stdin=sys.stdin)
    for line in cluster.skipped:
        click.echo(f"warning: {line}", err=True)
    return api.analyse(cluster)


def _choice(name: str, allowed: dict[str, Callable]) -> Callable:
    if name not in allowed:
        raise click.UsageError(f"unknown output format {name!r} (want {', '.join(allowed)})")
    return allowed[name]


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-o", "--output", "output", default="text", show_default=True,
              type=click.Choice(["text", "json", "csv", "md", "dot"]), help="Output format.")
def connectivity(paths: tuple[str, ...], output: str) -> None:
    """Who can talk to whom, on which protocols and ports.

    Every ordered pair of distinct endpoints with some allowed traffic is listed once. Pods are
    NAMESPACE/POD (a workload given without pods: NAMESPACE/WORKLOAD); external address ranges that
    ipBlocks mention appear as cidr:PREFIX.

    \b
    Examples:
      reasoner connectivity manifests/
      reasoner connectivity -o dot manifests/ | dot -Tsvg > map.svg
      kubectl get netpol,pods,ns -A -o yaml | reasoner connectivity -
    """
    from reasoner.connectivity import connections
    from reasoner.report import connectivity as render

    an = _load(paths)
    conns = connections(an)
    endpoints = [ep.ref for ep in an.cluster.endpoints]
    if output == "json":
        click.echo(render.to_json(conns))
    elif output == "csv":
        click.echo(render.to_csv(conns))
    elif output == "md":
        click.echo(render.to_md(conns))
    elif output == "dot":
        click.echo(render.to_dot(conns, endpoints))
    else:
        click.echo(render.to_text(conns, endpoints))


@main.command()
@click.argument("src")
@click.argument("dst")
@click.option("--port", type=int, help="Destination port. Without it: every port, and what is allowed.")
@click.option("--protocol", help="TCP (default with --port), UDP, SCTP, ICMP, ICMPv6 or a number.")
@click.option("-f", "--file", "paths", multiple=True, required=True, help="Manifest file or directory (repeatable).")
@click.option("-o", "--output", "output", default="text", show_default=True,
              type=click.Choice(["text", "json"]), help="Output format.")
def can(src: str, dst: str, port: int | None, protocol: str | None, paths: tuple[str, ...], output: str) -> None:
    """Can SRC reach DST? The verdict, and why: the rule chain at each end.

    SRC and DST are NAMESPACE/POD, ip:ADDRESS or cidr:PREFIX. Exit status 0 if allowed, 1 if denied.

    \b
    Examples:
      reasoner can shop/web shop/db --port 5432 -f manifests/
      reasoner can shop/web ip:203.0.113.9 --port 443 -f manifests/
      reasoner can shop/web shop/db -f manifests/          # every port
    """
    from reasoner.explain import can as decide
    from reasoner.report import can as render

    an = _load(paths)
    verdict = decide(an, src, dst, protocol, port)
    click.echo(render.to_json(verdict) if output == "json" else render.to_text(verdict))
    sys.exit(0 if verdict.allowed else 1)
