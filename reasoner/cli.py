"""The command line: thin commands that call `api`, render, and pick an exit status.

Exit status: 0 success (or allowed), 1 a negative answer (denied), 2 bad input or usage.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
from typing import Callable

import click

from reasoner import api
from reasoner.api import DEFAULT_BUDGET, SCOPES, ReadOptions
from reasoner.errors import ManifestErrors, ReasonerError
from reasoner.report import progress
from reasoner.report.text import escape

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Group(click.Group):
    """Turns every user error into one line per problem on stderr and exit status 2. On a terminal, standard
    error shows the progress of a command that runs for more than a second (report/progress.py)."""

    def invoke(self, ctx: click.Context):
        try:
            with progress.shown(sys.stderr):
                return super().invoke(ctx)
        except ManifestErrors as exc:
            for err in exc.errors:
                click.echo(f"error: {escape(str(err))}", err=True)
            sys.exit(2)
        except ReasonerError as exc:
            click.echo(f"error: {escape(str(exc))}", err=True)
            sys.exit(2)
        except click.exceptions.Exit:
            raise
        except click.ClickException as exc:
            exc.exit_code = 2
            raise

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "repl"})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "repl" and name not in self.commands:  # imported when used: the other commands start faster
            from reasoner.repl import repl_command

            self.add_command(input_options(repl_command))
        return super().get_command(ctx, name)


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(package_name="reasoner")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), envvar="KUBECONFIG",
              help="kubeconfig for `cluster:` inputs (default: $KUBECONFIG, ~/.kube/config).")
@click.option("--context", "kube_context", help="kubeconfig context for `cluster:` inputs (default: the current one).")
def main(kubeconfig: str | None, kube_context: str | None) -> None:
    """Know, not guess, what your Kubernetes network policies allow.

    Inputs are manifest files or directories (read recursively: .yaml, .yml, .json; multi-document
    YAML, `kind: List` and typed lists such as PodList, `helm template` output), `-` for standard input,
    or `cluster:` (`cluster:CONTEXT`) to read a running cluster, read-only (`pip install 'reasoner[live]'`;
    see also `snapshot`). Files that hold no Kubernetes object (values.yaml, Chart.yaml, ...) are skipped;
    --exclude GLOB leaves files out, --skip-invalid goes on past files with errors.

    \b
    Examples:
      reasoner connectivity corpus/microservices-demo/manifests
      reasoner connectivity -o json manifests/ > map.json
      reasoner can boutique/frontend boutique/cartservice --port 7070 -f manifests/
      reasoner --context prod lint cluster:
    """
    api.use_cluster(kubeconfig=kubeconfig, context=kube_context)


def _setting(name: str) -> Callable:
    def store(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            api.use_cluster(**{name: value})
    return store


def cluster_options(cmd: click.Command) -> click.Command:
    """`--kubeconfig` and `--context` after the command too, as kubectl takes them."""
    cmd.params += [
        click.Option(["--kubeconfig"], type=click.Path(dir_okay=False), expose_value=False,
                     callback=_setting("kubeconfig"), help="kubeconfig for `cluster:` inputs (as `reasoner --kubeconfig`)."),
        click.Option(["--context"], expose_value=False, callback=_setting("context"),
                     help="kubeconfig context for `cluster:` inputs (as `reasoner --context`)."),
    ]
    return cmd


class Input(click.ParamType):
    """An input as given (a file, a directory, `-`, `cluster:`, `git:REV:PATH`): completed as a file name by the
    shell completion (`reasoner completion`)."""

    name = "path"

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        return [CompletionItem(incomplete, type="file")]


def input_options(cmd: click.Command) -> click.Command:
    """The options of every command that reads inputs: --exclude, --skip-invalid and the cluster options. The
    command is called with them as `options` (a `ReadOptions`). Its inputs (paths, old, new, --inventory)
    complete as file names."""
    import functools

    for param in cmd.params:
        if param.name in ("paths", "old", "new", "inventory"):
            param.type = Input()
    cmd.params += [
        click.Option(["--exclude"], multiple=True, metavar="GLOB",
                     help="Leave out the files and directories whose path (relative to the directory given) or name "
                          "matches GLOB (repeatable), e.g. --exclude 'charts/*' --exclude values.yaml."),
        click.Option(["--skip-invalid"], is_flag=True,
                     help="Leave out each file that has an error, with a warning, instead of stopping."),
    ]
    run = cmd.callback

    @functools.wraps(run)
    def callback(*args, exclude: tuple[str, ...], skip_invalid: bool, **kwargs):
        return run(*args, options=ReadOptions(tuple(exclude), skip_invalid), **kwargs)

    cmd.callback = callback
    return cluster_options(cmd)


MIN_SECONDS, MAX_SECONDS = 0.001, 86_400  # what a seconds option takes: from a millisecond (z3's unit) to a day


class Seconds(click.ParamType):
    """A duration: a finite number of seconds from MIN_SECONDS to MAX_SECONDS (no nan, inf, 1e308 or 0, which
    z3 takes as no limit at all)."""

    name = "seconds"

    def convert(self, value, param, ctx) -> float:
        import math
        import re

        if isinstance(value, (int, float)):
            seconds = float(value)
        else:  # decimal notation in ASCII: float() also takes nan, inf, 1_000 and other scripts' digits
            plain = re.fullmatch(r"\+?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?", value)
            seconds = float(value) if plain else math.nan
        if not (math.isfinite(seconds) and MIN_SECONDS <= seconds <= MAX_SECONDS):
            self.fail(f"{value!r} is not a number of seconds (want {MIN_SECONDS:g} to {MAX_SECONDS})", param, ctx)
        return seconds


class Whole(click.ParamType):
    """A whole number written with the digits 0-9 (click's int() also takes other scripts' digits)."""

    name = "integer"

    def __init__(self, what: str):
        self.what = what

    def convert(self, value, param, ctx) -> int:
        number = value if isinstance(value, int) else api.whole_number(value)
        if number is None:
            self.fail(f"{value!r} is not {self.what} written with the digits 0-9", param, ctx)
        return number


BUDGET = click.option("--budget", type=Seconds(), default=DEFAULT_BUDGET, show_default=True,
                      help="With --scope any-workload: the seconds that finding every kind of pod that could be "
                           "deployed may take; beyond, the scope is not analysed (see README, Limits).")

def _read(paths: tuple[str, ...], options: ReadOptions):
    cluster = api.load(paths, stdin=sys.stdin, options=options)
    for line in cluster.skipped:
        click.echo(f"warning: {escape(line)}", err=True)
    return cluster


def _load(paths: tuple[str, ...], options: ReadOptions) -> api.Analysis:
    return api.analyse(_read(paths, options))


@input_options
@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-o", "--output", "output", default="text", show_default=True,
              type=click.Choice(["text", "json", "csv", "md", "dot", "svg"]),
              help="Output format (svg: the dot picture drawn by Graphviz's dot).")
@click.option("--by", "by", type=click.Choice(["workload", "pod", "namespace", "service", "endpoint"]),
              default="workload", show_default=True,
              help="The ends of a row: workload (NAMESPACE/NAME[Kind] where every pod of it is alike, else its "
                   "pods), pod (endpoint: the same), namespace (NAMESPACE/* where every member is alike, else "
                   "finer), service (which sources reach each Service, on which service ports; text or json).")
@click.option("-n", "--namespace", metavar="NS", help="Only rows that touch namespace NS.")
@click.option("-l", "--selector", metavar="SEL", help="Only rows that touch an endpoint this Calico selector matches "
                                       "(e.g. \"app == 'web'\").")
@click.option("--focus", metavar="ENDPOINT", help="Only rows to or from ENDPOINT (a name as `can` takes it).")
@click.option("--peer", metavar="ENDPOINT", help="With --focus: only rows between the two.")
@click.option("--direction", type=click.Choice(["in", "out"]), help="With --focus: only rows into it, or out of it.")
@click.option("--port", type=Whole("a port number (1-65535)"), help="Only rows that allow this port (TCP, UDP or "
                                                                     "SCTP), showing only it.")
@click.option("--protocol", help="Only rows that allow this protocol (TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or a "
                                 "number), showing only it.")
@click.option("--exposure", is_flag=True, help="What could reach each end (--direction out: what it could reach) "
                                               "beyond the input's endpoints: pods that could be deployed, in existing "
                                               "or new namespaces, and outside addresses (text or json).")
def connectivity(paths: tuple[str, ...], output: str, by: str, namespace: str | None, selector: str | None,
                 focus: str | None, peer: str | None, direction: str | None, port: int | None, protocol: str | None,
                 exposure: bool, options: ReadOptions) -> None:
    """Who can talk to whom, on which protocols and ports.

    Every ordered pair of distinct ends with some allowed traffic is listed once. By default the ends
    are workloads (NAMESPACE/NAME[Kind], by the pods' ownerReferences) whose pods all get the same
    traffic from and to every peer, else the pods (NAMESPACE/POD; a workload given without pods:
    NAMESPACE/WORKLOAD). The outside world is always there: for each end, the addresses it exchanges
    the same traffic with, as the fewest CIDR prefixes (cidr:PREFIX in JSON and CSV; in text e.g.
    `10.0.0.0/16 except 10.0.2.0/24`, `any address (0.0.0.0/0)`). The filters keep the rows that match
    all of them.

    \b
    Examples:
      reasoner connectivity manifests/
      reasoner connectivity --by pod -n shop manifests/
      reasoner connectivity --focus shop/api --direction in --port 8080 manifests/
      reasoner connectivity -o dot manifests/ | dot -Tsvg > map.svg
      reasoner connectivity --by service manifests/
      kubectl get netpol,pods,ns -A -o yaml | reasoner connectivity -
    """
    from reasoner.errors import UsageError
    from reasoner.report import connectivity as render

    filters = (namespace, selector, focus, peer, direction, port, protocol)
    an = _load(paths, options)
    if exposure:  # reasoner/query/exposure.py
        from reasoner.report import exposure as shown

        if by == "service" or peer is not None or output not in ("text", "json"):
            raise UsageError("--exposure prints text or json, --by workload, pod or namespace, without --peer")
        kept = api.focus(an, namespace, selector, focus, None, None, protocol, port) if any(
            f is not None for f in (namespace, selector, focus, port, protocol)) else None
        if kept is not None and kept.ends is not None and kept.ends.nets:
            raise UsageError("--exposure --focus takes an endpoint, not addresses (exposure is of endpoints)")
        rows = api.exposure(an, "pod" if by == "endpoint" else by, kept, outward=direction == "out")
        click.echo(shown.to_json(rows) if output == "json"
                   else shown.to_text(rows, an.facts.protocols, "egress" if direction == "out" else "ingress"))
        return
    if by == "service":
        import json

        from reasoner.report.services import service_map_text

        if any(f is not None for f in filters):
            raise UsageError("--by service takes none of the filters (-n, -l, --focus, --peer, --direction, --port, "
                             "--protocol)")
        rows = api.service_map(an)
        if output not in ("text", "json"):
            raise UsageError("--by service prints text or json")
        click.echo(json.dumps(render.service_json(rows), indent=2) if output == "json" else service_map_text(rows))
        return
    view = "pod" if by == "endpoint" else by
    kept = api.focus(an, namespace, selector, focus, peer, direction, protocol, port) if any(
        f is not None for f in filters) else None
    the_map = api.connections(an, view)
    if output == "json":  # written as it is made, some thousands of connections at a time
        batch: list[str] = []
        for chunk in render.json_chunks(the_map.rows(kept), view):
            batch.append(chunk)
            if len(batch) == 4096:
                click.echo("".join(batch), nl=False)
                batch.clear()
        click.echo("".join(batch))
        return
    conns = list(the_map.rows(kept))
    shown = {e for c in conns for e in (c.src, c.dst)}  # filtered: the ends of the rows kept
    endpoints = [u.name for u in the_map.units if kept is None or u.name in shown]
    if output == "csv":
        click.echo(render.to_csv(conns))
    elif output == "md":
        click.echo(render.to_md(conns, an.facts.protocols))
    elif output in ("dot", "svg"):
        alike = {u.name: u.rep for u in the_map.units if [u.name] == [ep.ref for ep in u.members]}  # pods alike
        dot = render.to_dot(conns, endpoints, an.facts.protocols, alike)
        click.echo(render.to_svg(dot) if output == "svg" else dot)
    else:
        click.echo(render.to_text(conns, endpoints, an.facts.protocols, kept is not None))


@input_options
@main.command()
@click.argument("src")
@click.argument("dst")
@click.option("--port", type=Whole("a port number (1-65535)"), help="Destination port. Without it: every port, and what is allowed.")
@click.option("--protocol", help="TCP (default with --port), UDP, SCTP, ICMP, ICMPv6, UDPLite or a number.")
@click.option("--icmp-type", type=Whole("an ICMP type (0-255)"), help="ICMP type (with --protocol ICMP/ICMPv6); default: one no rule names.")
@click.option("--icmp-code", type=Whole("an ICMP code (0-255)"), help="ICMP code (with --icmp-type).")
@click.option("-f", "--file", "paths", multiple=True, required=True, help="Manifest file or directory (repeatable).")
@click.option("-o", "--output", "output", default="text", show_default=True,
              type=click.Choice(["text", "json"]), help="Output format.")
def can(src: str, dst: str, port: int | None, protocol: str | None, icmp_type: int | None, icmp_code: int | None,
        paths: tuple[str, ...], output: str, options: ReadOptions) -> None:
    """Can SRC reach DST? The verdict, and why: the rule chain at each end.

    The first line starts with ALLOWED or DENIED; without --port it says what is allowed (e.g. `TCP/5432
    only`). SRC and DST are NAMESPACE/POD, hep:NAME, ip:ADDRESS or cidr:PREFIX, or a workload
    NAMESPACE/NAME (NAMESPACE/NAME[Kind]) standing for its pods (by their ownerReferences): answered for
    each pod, allowed when every pod is. DST may also be a service: svc:NS/NAME, its DNS name (NAME in the
    source's namespace, NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local) or its ClusterIP, and a pod may be
    named A-B-C-D.NS.pod.cluster.local. A service is asked about on its port (--port is the service port,
    or a nodePort), each backend pod on the targetPort it maps to: allowed when every backend is; a pod
    that backs the service reaches itself through it (hairpin) and is policed like any other pod. Names
    are checked before the rules run; an unknown one gets the nearest known names. Exit status 0 if
    allowed, 1 if denied, 2 for an unknown name or a service without backends.

    \b
    Examples:
      reasoner can shop/web shop/db --port 5432 -f manifests/
      reasoner can shop/web ip:203.0.113.9 --port 443 -f manifests/
      reasoner can shop/web shop/db -f manifests/          # every port
      reasoner can shop/web db.shop.svc.cluster.local --port 5432 -f manifests/
      reasoner can shop/web kube-system/coredns --port 53 --protocol UDP -f manifests/
    """
    from reasoner.report.services import answer_json, answer_text

    verdict = api.can_in(_read(paths, options), src, dst, protocol, port, icmp_type, icmp_code)
    click.echo(answer_json(verdict) if output == "json" else answer_text(verdict))
    sys.exit(0 if verdict.allowed else 1)


@input_options
@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-r", "--relation", help="A base or derived relation to dump (default: list the relations).")
@click.option("--raw", is_flag=True, help="Print object ids as they are, not as names.")
@click.option("-o", "--output", "output", default="text", show_default=True,
              type=click.Choice(["text", "json", "csv"]), help="Output format.")
def facts(paths: tuple[str, ...], relation: str | None, raw: bool, output: str, options: ReadOptions) -> None:
    """Dump the fact base or one relation derived by the rules in rules/.

    Without --relation, lists every relation with its size and meaning. Object ids (endpoint classes,
    namespaces, policies, rules) print as names unless --raw.

    \b
    Examples:
      reasoner facts manifests/
      reasoner facts -r applies manifests/
      reasoner facts -r allowed -o csv manifests/
    """
    from reasoner.report import facts as render

    an = _load(paths, options)
    if relation is None:
        sizes = api.relation_sizes(an)
        click.echo(render.sizes_json(sizes) if output == "json" else render.sizes_text(sizes))
        return
    columns, rows = api.relation_rows(an, relation, raw)
    click.echo({"json": render.rows_json, "csv": render.rows_csv, "text": render.rows_text}[output](
        relation, columns, rows))


class LintCommand(click.Command):
    """`lint`, whose help lists the kinds of finding (`{findings}`) as report/lint.py describes them, imported only
    when the help is shown."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from reasoner.report.lint import kinds_text

        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(inspect.cleandoc(self.help or "").replace("{findings}",
                                                                          textwrap.indent(kinds_text(), "  ")))


@input_options
@main.command(cls=LintCommand)
@click.argument("paths", nargs=-1, required=True)
@click.option("--scope", type=click.Choice(SCOPES), default="inventory", show_default=True,
              help="inventory: over the endpoints given; any-workload: also over every pod that could be deployed "
                   "(each finding then says whether it holds for every workload or for today's only).")
@BUDGET
@click.option("--fail-on", "fail_on", type=click.Choice(["error", "warning", "info", "never"]), default="error",
              show_default=True, help="Exit 1 when a finding of this severity or worse is reported.")
@click.option("-o", "--output", "output", default="text", show_default=True,
              type=click.Choice(["text", "json", "sarif"]), help="Output format.")
def lint(paths: tuple[str, ...], scope: str, budget: float, fail_on: str, output: str, options: ReadOptions) -> None:
    """Find shadowed, conflicting and redundant rules, vacuous policies, dead peers and more, with proof.

    \b
    Findings (severity):
    {findings}

    \b
    Examples:
      reasoner lint manifests/
      reasoner lint --fail-on warning -o sarif manifests/ > lint.sarif
      reasoner lint --scope any-workload manifests/
    """
    from reasoner.report import lint as render

    an = _load(paths, options)
    findings = api.lint(an, scope, budget)
    if output == "sarif":
        click.echo(render.to_sarif(findings, an.cluster.files))
    else:
        click.echo((render.to_json if output == "json" else render.to_text)(findings))
    bad = fail_on != "never" and any(api.severity_rank(f.severity) >= api.severity_rank(fail_on) for f in findings)
    sys.exit(1 if bad else 0)


@cluster_options
@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
def snapshot(directory: str) -> None:
    """Read a running cluster (read-only) and write what was read to DIRECTORY, one YAML file per kind.

    Namespaces, Pods, Services, ServiceAccounts, NetworkPolicies, the Calico resources (through their
    CRDs) and AdminNetworkPolicies. A snapshot is an input like any other: prove it, lint it, diff it
    against the manifests in git, offline.

    \b
    Examples:
      reasoner snapshot snapshots/prod-$(date +%F)
      reasoner --kubeconfig ~/.kube/staging --context staging snapshot snap/
      reasoner diff snap/ deploy/
    """
    reading, written = api.snapshot(directory)
    for line in reading.skipped:
        click.echo(f"warning: {escape(line)}", err=True)
    total = sum(len(v) for v in reading.objects.values())
    click.echo(f"{total} objects from {reading.source} written to {directory} ({len(written)} files)")


@input_options
@main.command()
@click.argument("old")
@click.argument("new", required=False)
@click.option("--staged", is_flag=True,
              help="Compare the one version given with itself where every staged policy (StagedNetworkPolicy, "
                   "StagedGlobalNetworkPolicy, StagedKubernetesNetworkPolicy) is enforced: what promoting them "
                   "would change.")
@click.option("--inventory", "inventory", multiple=True,
              help="Pods, namespaces, workloads, services and service accounts that both versions run against "
                   "(repeatable); objects a version lacks are otherwise taken from the other version (pods, "
                   "workloads and host endpoints only when it has none of its own).")
@click.option("--scope", type=click.Choice(SCOPES), default="inventory", show_default=True,
              help="inventory: the endpoints given; any-workload: also every pod that could be deployed.")
@BUDGET
@click.option("-o", "--output", "output", default="text", show_default=True,
              type=click.Choice(["text", "md", "json", "sarif"]), help="Output format.")
@click.option("--link-base", metavar="URL",
              help="With -o md: link each rule to URL + its path from the top of the repository + #L + its line "
                   "(e.g. https://github.com/ORG/REPO/blob/SHA/).")
@click.option("--link-base-git", metavar="URL",
              help="With -o md: the same for the rules of a version read with git:REV:PATH, at URL (the blob URL of "
                   "REV); without it they are not linked (their lines are REV's, not the checkout's).")
@click.option("-n", "--namespace", metavar="NS", help="Only flows that touch namespace NS.")
@click.option("-l", "--selector", metavar="SEL", help="Only flows that touch an endpoint this Calico selector matches.")
@click.option("--focus", metavar="ENDPOINT", help="Only flows to or from ENDPOINT (a name as `can` takes it).")
@click.option("--peer", metavar="ENDPOINT", help="With --focus: only flows between the two.")
@click.option("--direction", type=click.Choice(["in", "out"]), help="With --focus: only flows into it, or out of it.")
@click.option("--port", type=Whole("a port number (1-65535)"), help="Only flows on this port (TCP, UDP or SCTP).")
@click.option("--protocol", help="Only flows of this protocol (TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or a number).")
def diff(old: str, new: str | None, staged: bool, inventory: tuple[str, ...], scope: str, budget: float,
         output: str, link_base: str | None, link_base_git: str | None, namespace: str | None, selector: str | None,
         focus: str | None, peer: str | None, direction: str | None, port: int | None, protocol: str | None,
         options: ReadOptions) -> None:
    """What changes between two versions of the policies: the flows newly allowed and newly denied.

    OLD and NEW are each a file, a directory, or git:REV:PATH (read from the git repository of the
    current directory; PATH from its top, ./PATH from the current directory). Each flow class that changes verdict is stated by source group, destination
    group, protocol and ports, with a witness flow replayed through `can` on both versions and the
    deciding rule chain before and after. When nothing changes, the equivalence is proved with z3.
    With --staged, give one version: it is compared with itself where each staged policy is enforced
    (stagedAction Set creates or replaces the policy of the same name, Delete removes it; Learn and
    Ignore are not enforced). Groups are named as a reviewer says them: NAMESPACE/* (every endpoint of
    it), workloads NAMESPACE/NAME[Kind], `app=api in shop (92 pods)`, pods, merged address ranges. The
    filters (as `connectivity` takes them; names resolved in NEW, else OLD) keep the flows that match
    all of them; the exit status is still that of the whole diff. -o md writes a pull-request comment
    (tables of the flows newly allowed, newly denied and changed, each with its witness and deciding
    rules), -o sarif one code-scanning result per change at the rule that decides it. Exit status 0
    equivalent, 1 different, 2 bad input.

    \b
    Examples:
      reasoner diff git:main:deploy/ deploy/
      reasoner diff old/ new/ --inventory cluster-snapshot/ -o md >> review.md
      reasoner diff v1.yaml v2.yaml --scope any-workload -o json
      reasoner diff --staged manifests/
      reasoner diff git:main:deploy/ deploy/ -n shop --port 443
      reasoner diff git:main:deploy/ deploy/ -o md --link-base https://github.com/ORG/REPO/blob/HEAD/ \\
          --link-base-git https://github.com/ORG/REPO/blob/main/
    """
    from reasoner.errors import UsageError
    from reasoner.report import diff as render

    if staged and new is not None:
        raise UsageError("with --staged give one version (its staged policies are enforced in the other)")
    if not staged and new is None:
        raise UsageError("give OLD and NEW (or --staged VERSION)")
    if (link_base is not None or link_base_git is not None) and output != "md":
        raise UsageError(f"{'--link-base' if link_base is not None else '--link-base-git'} goes with -o md")
    result = api.diff(old, new, inventory, scope, budget, options, staged=staged)
    filters = {"namespace": namespace, "selector": selector, "ends": focus, "peers": peer, "direction": direction,
               "protocol": protocol, "port": port}
    if any(v is not None for v in filters.values()):
        result = api.diff_focus(result, **filters)
    for line in result.warnings:
        click.echo(f"warning: {escape(line)}", err=True)
    if output == "md":
        click.echo(render.to_md(result, link_base, link_base_git))
    elif output == "sarif":
        click.echo(render.to_sarif(result, render.files_read(result)))
    else:
        click.echo((render.to_json if output == "json" else render.to_text)(result))
    sys.exit(0 if result.equivalent else 1)


@input_options
@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False), help="A ComplianceSpec file (see README).")
@click.option("--check", "checks", multiple=True, type=click.Choice(["isolation", "default-deny"]),
              help="Built-in check: `isolation` (of the namespaces given with --namespace) or `default-deny`.")
@click.option("--namespace", "namespaces", multiple=True, help="A namespace for --check isolation (repeatable).")
@click.option("--scope", type=click.Choice(SCOPES), default=None,
              help="inventory: the endpoints given; any-workload: also every pod that could be deployed "
                   "(any labels, namespace, service account, address). Default: the spec's scope, else inventory.")
@click.option("--timeout", type=Seconds(), default=10.0, show_default=True,
              help=f"Seconds per requirement for the solver ({MIN_SECONDS:g} to {MAX_SECONDS}).")
@BUDGET
@click.option("--strict", is_flag=True,
              help="Fail (exit 1) on a requirement whose from, to or selection matches no endpoint, not just warn.")
@click.option("-o", "--output", "output", default="text", show_default=True,
              type=click.Choice(["text", "json", "junit", "sarif"]), help="Output format.")
def prove(paths: tuple[str, ...], spec_path: str | None, checks: tuple[str, ...], namespaces: tuple[str, ...],
          scope: str | None, timeout: float, budget: float, strict: bool, output: str, options: ReadOptions) -> None:
    """Prove compliance requirements over every flow (z3), or show a flow that breaks one.

    Each requirement comes back PROVED, VIOLATED with a witness flow and the rule chain at each end
    (replayed through the Datalog verdict), or UNKNOWN when the solver gives up within --timeout (or,
    in any-workload scope, when --budget runs out before every pod that could be deployed is found).
    A requirement whose from, to or selection matches no endpoint gets a warning (it may hold only
    vacuously); --strict makes that a failure. Exit status 0 if every requirement is proved (and,
    with --strict, none has a warning), 1 otherwise, 2 for bad input.

    \b
    Examples:
      reasoner prove --spec corpus/microservices-demo/spec.yaml corpus/microservices-demo/manifests
      reasoner prove --check default-deny manifests/
      reasoner prove --check default-deny --scope any-workload manifests/
      reasoner prove --check isolation --namespace payments -o junit manifests/ > report.xml
    """
    from reasoner.errors import UsageError
    from reasoner.report import prove as render

    if spec_path is None and not checks:
        raise UsageError("give --spec SPEC or --check isolation|default-deny")
    spec = api.spec(spec_path, scope, checks, namespaces)
    an = _load(paths, options)
    results = api.prove(an, spec, round(timeout * 1000), budget)
    if output == "json":
        click.echo(render.to_json(results))
    elif output == "sarif":
        click.echo(render.to_sarif(results, strict, [*([spec_path] if spec_path else []), *an.cluster.files]))
    else:
        click.echo((render.to_junit if output == "junit" else render.to_text)(results, strict))
    if output != "text":  # the report holds them too; a CI log shows them here
        for line in render.warnings(results):
            click.echo(f"warning: {escape(line)}", err=True)
    sys.exit(0 if all(r.passed(strict) for r in results) else 1)


@main.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the script that completes commands, options and their values for SHELL.

    \b
    Install it (see README, Shell completion):
      bash  echo 'eval "$(reasoner completion bash)"' >> ~/.bashrc
      zsh   echo 'eval "$(reasoner completion zsh)"' >> ~/.zshrc     # after compinit
      fish  reasoner completion fish > ~/.config/fish/completions/reasoner.fish
    """
    from click.shell_completion import get_completion_class

    click.echo(get_completion_class(shell)(main, {}, "reasoner", "_REASONER_COMPLETE").source())

