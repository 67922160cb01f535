"""Test helpers: build an analysis from inline YAML and ask verdicts."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from reasoner import api
from reasoner.cli import main
from reasoner.query.can import can

BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {team: red}}
---
apiVersion: v1
kind: Namespace
metadata: {name: y, labels: {team: blue}}
"""


def connections(an, view: str = "pod", focus=None) -> list:
    """The rows of the connectivity map of `an` in `view` (pod by default), as a list."""
    return list(api.connections(an, view).rows(focus))


def pod(ns: str, name: str, labels: dict | None = None, ip: str | None = None, ports: list | None = None,
        host_network: bool = False, owner: tuple[str, str] | None = None) -> str:
    """A Pod manifest as YAML text. ports: [(name, protocol, number), ...]; owner: (kind, name) of its controller
    (an apps/v1 ownerReference)."""
    owned = (f", ownerReferences: [{{apiVersion: apps/v1, kind: {owner[0]}, name: {owner[1]}, controller: true, "
             f"uid: u-{owner[1]}}}]" if owner else "")
    lines = ["apiVersion: v1", "kind: Pod",
             f"metadata: {{name: {name}, namespace: {ns}, labels: {labels or {}}{owned}}}", "spec:", f"  hostNetwork: {'true' if host_network else 'false'}", "  containers:", "  - name: c",
             "    image: i"]
    if ports:
        lines.append("    ports:")
        for pname, proto, number in ports:
            lines.append(f"    - {{name: {pname}, protocol: {proto}, containerPort: {number}}}" if pname else
                         f"    - {{protocol: {proto}, containerPort: {number}}}")
    if ip:
        lines.append(f"status: {{phase: Running, podIP: {ip}}}")
    return "\n".join(lines)


# Calico and Kubernetes policy manifests as YAML text; `spec` is the body of their spec, indented by two spaces.

def gnp(name: str, spec: str, tier: str | None = None) -> str:
    return (f"apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n"
            + (f"  tier: {tier}\n" if tier else "") + spec)


def cnp(ns: str, name: str, spec: str) -> str:
    return f"apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}"


def tier(name: str, order: float | None = None, default: str | None = None) -> str:
    spec = []
    if order is not None:
        spec.append(f"order: {order}")
    if default:
        spec.append(f"defaultAction: {default}")
    return f"apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {{name: {name}}}\nspec: {{{', '.join(spec)}}}"


def knp(ns: str, name: str, spec: str) -> str:
    return f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}"


def analyse(*docs: str, base: bool = True) -> api.Analysis:
    text = "\n---\n".join(([BASE] if base else []) + [textwrap.dedent(d) for d in docs])
    cluster = api.load(["-"], stdin=io.StringIO(text))
    return api.analyse(cluster)


def allowed(an: api.Analysis, src: str, dst: str, protocol: str = "TCP", port: int | None = 80) -> bool:
    return can(an, src, dst, protocol, port).allowed


def table(an: api.Analysis) -> dict[tuple[str, str], dict]:
    return {(c.src, c.dst): c.allowed for c in connections(an)}


def diff_rows(result_json: dict) -> set[tuple]:
    """(src, dst, protocol, change, ports) for every pair of endpoints that a `diff -o json` result's changes name."""
    out = set()
    for c in result_json["changes"]:
        for s in c["src_endpoints"]:
            for d in c["dst_endpoints"]:
                if s != d:
                    out.add((s, d, c["protocol"], c["change"], json.dumps(c["ports"])))
    return out


# A Calico policy on pods app=y in namespace a: Deny one protocol (put in for PROTO), then Allow everything.
CALICO_DENY_PROTO = """
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  selector: app == 'y'
  ingress:
  - {action: Deny, protocol: PROTO}
  - {action: Allow}
"""


def write_docs(directory: Path, *docs: str) -> str:
    """The documents as one multi-document file in `directory` (made if needed); returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "all.yaml").write_text("\n---\n".join(textwrap.dedent(d) for d in docs))
    return str(directory)


def cli(*args: str):
    """The command line, in process."""
    return CliRunner().invoke(main, list(args))
