"""Renderers for the connectivity map: text, json, csv, md, dot, and svg (the dot drawn by Graphviz). An end that
stands for outside addresses (`Addresses`) reads as one peer in text, Markdown and DOT, and is one `cidr:PREFIX` row
per prefix in JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
import subprocess
from collections import Counter
from typing import Iterable, Iterator

from reasoner.errors import ReasonerError, UsageError
from reasoner.model.ports import ALL, PORTED, PROTOCOLS
from reasoner.model.ports import ports_json as allowed_json
from reasoner.model.ranges import merge
from reasoner.query.addresses import Addresses, end_names
from reasoner.query.map import Connection
from reasoner.report.text import escape, join_lines


def ports_text(ports: object) -> str:
    if ports == ALL:
        return "all"
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports)  # type: ignore[union-attr]


def icmp_text(ranges: object) -> str:
    """ICMP types/codes from ranges of type*256+code."""
    if ranges == ALL:
        return ""
    parts = []
    for lo, hi in ranges:  # type: ignore[union-attr]
        if lo % 256 == 0 and hi % 256 == 255:
            t1, t2 = lo // 256, hi // 256
            parts.append(f"type {t1}" if t1 == t2 else f"types {t1}-{t2}")
        else:
            parts.extend(f"type {v // 256} code {v % 256}" for v in range(lo, min(hi, lo + 7) + 1))
            if hi > lo + 7:
                parts.append("...")
    return " " + ", ".join(parts)


def allowed_text(allowed: dict[str, object], protocols: tuple[str, ...], sep: str = " ") -> str:
    """What `allowed` admits, in words (`sep` between a protocol and its ports). `protocols` are those of the map:
    a protocol some rule names by number is its own class, never inside OTHER, so OTHER says which it leaves out."""
    partial = [p for p in protocols if allowed.get(p) != ALL]
    left_out = [p for p in protocols if p not in PROTOCOLS and p not in allowed]
    if partial == left_out:
        return "all traffic" + (f" except {', '.join(left_out)}" if left_out else "")

    def one(p: str, v: object) -> str:
        if p in PORTED:
            return f"{p}{sep}{ports_text(v)}"
        if p in ("ICMP", "ICMPv6"):
            return f"{p}{icmp_text(v)}"
        return f"{p} (not {', '.join(left_out)})" if p == "OTHER" and left_out else p
    return "; ".join(one(p, v) for p, v in allowed.items())


def to_json(conns: Iterable[Connection], view: str | None = None) -> str:
    return "".join(json_chunks(conns, view))


def json_chunks(conns: Iterable[Connection], view: str | None = None) -> Iterator[str]:
    """`to_json` in pieces, one connection per line: a map of a million connections stays readable to grep and is
    written as it is made (the indenting encoder of the json module is pure Python). A port set shared by many
    pairs is encoded once. `view`: the map's view, said first."""
    encoded: dict[int, str] = {}
    yield "{\n" + (f'  "view": {json.dumps(view)},\n' if view else "") + '  "connections": ['
    sep = "\n"
    for c in conns:
        allowed = encoded.get(id(c.allowed))
        if allowed is None:
            allowed = encoded[id(c.allowed)] = json.dumps(allowed_json(c.allowed))
        for src in end_names(c.src):
            for dst in end_names(c.dst):
                yield f'{sep}    {{"src": {json.dumps(src)}, "dst": {json.dumps(dst)}, "allowed": {allowed}}}'
                sep = ",\n"
    yield "\n  ]\n}" if sep != "\n" else "]\n}"


def to_text(conns: list[Connection], endpoints: list[str], protocols: tuple[str, ...], filtered: bool = False) -> str:
    """The map as a table; `filtered`: the rows some filters kept (then no endpoint is said to send nothing)."""
    rows = [("SOURCE", "DESTINATION", "ALLOWED")]
    last = None
    for c in conns:
        rows.append((c.src if c.src != last else "", c.dst, allowed_text(c.allowed, protocols)))
        last = c.src
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows]
    sources = {c.src for c in conns}
    isolated = [e for e in endpoints if e not in sources]
    lines.append("")
    lines.append(f"{len(conns)} connection{'s' if len(conns) != 1 else ''} between {len(endpoints)} "
                 f"endpoint{'s' if len(endpoints) != 1 else ''}"
                 + (" kept by the filters" if filtered else
                    f"; sending nothing: {', '.join(isolated)}" if isolated and len(isolated) <= 10 else
                    f"; {len(isolated)} endpoints send nothing" if isolated else ""))
    return join_lines(lines)


def to_csv(conns: list[Connection]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["src", "dst", "protocol", "ports"])
    for c in conns:
        for src in end_names(c.src):
            for dst in end_names(c.dst):
                for p, v in c.allowed.items():
                    w.writerow([src, dst, p, ports_text(v)])
    return out.getvalue().rstrip("\n")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_md(conns: list[Connection], protocols: tuple[str, ...]) -> str:
    lines = ["| source | destination | allowed |", "|---|---|---|"]
    for c in conns:
        lines.append(f"| {_md_cell(c.src)} | {_md_cell(c.dst)} | {_md_cell(allowed_text(c.allowed, protocols))} |")
    return join_lines(lines)


FAN = 5  # edges at least into or out of one end on the same ports for `to_dot` to tell them on the end
CLIQUE = 3  # units at least of a namespace for `to_dot` to tell on it that each reaches each other
DNS = {"TCP": [(53, 53)], "UDP": [(53, 53)]}


def _dot_id(text: str) -> str:
    """`text` as a double-quoted DOT string that shows as it is: control characters escaped as in text output
    (report/text.py), then backslashes (else `\\N`, `\\l` ... would be read as label escapes) and quotes."""
    return '"' + escape(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(lines: list[str]) -> str:
    return '"' + "\\n".join(_dot_id(line)[1:-1] for line in lines) + '"'


def _is_dns(allowed: dict[str, object]) -> bool:
    return bool(allowed) and all(p in DNS and v != ALL and [tuple(r) for r in v] == DNS[p]  # type: ignore[union-attr]
                                 for p, v in allowed.items())


def _kind(name: str) -> str:
    """What a unit of the map is, by its name."""
    return ("namespace" if name.endswith("/*") else "workload" if name.endswith("]") else
            "host endpoint" if name.startswith("hep:") else "pod")


def _counted(units: Iterable[str]) -> str:
    """`3 workloads and 1 pod`."""
    kinds = Counter(_kind(u) for u in units)
    return " and ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in sorted(kinds.items()))


def _merge_alike(rows: list[tuple], units: set[str], alike: dict[str, object]
                 ) -> tuple[list[tuple], dict[str, list[str]]]:
    """`rows` (source, destination, text, allowed) with the units of a namespace that `alike` gives one key and
    that have the same rows (to and from every other end, and each to all the others of them, on the same ports)
    made one node, named after the first; and the units of each node."""
    by_src: dict[str, list[tuple]] = {}
    by_dst: dict[str, list[tuple]] = {}
    for row in rows:
        by_src.setdefault(row[0], []).append(row)
        by_dst.setdefault(row[1], []).append(row)
    candidates: dict[tuple[str, object], list[str]] = {}
    for u in sorted(units):
        if u in alike and "/" in u:
            candidates.setdefault((u.split("/", 1)[0], alike[u]), []).append(u)
    node = {u: u for u in units}
    members: dict[str, list[str]] = {u: [u] for u in units}
    for group in candidates.values():
        inside = set(group)

        def signature(u: str) -> tuple[Counter, Counter]:
            return (Counter((d if d not in inside else None, t) for _s, d, t, _a in by_src.get(u, ())),
                    Counter((s, t) for s, _d, t, _a in by_dst.get(u, ()) if s not in inside))
        first = signature(group[0])
        among = [(t, n) for (d, t), n in first[0].items() if d is None]
        if len(group) < 2 or any(signature(u) != first for u in group[1:]) or (
                among and (len(among) > 1 or among[0][1] < len(group) - 1)):
            continue
        for u in group:
            node[u] = group[0]
            del members[u]
        members[group[0]] = group
    merged: dict[tuple[str, str], tuple] = {}
    for src, dst, text, allowed in rows:
        key = (node.get(src, src), node.get(dst, dst))
        merged.setdefault(key, (*key, text, allowed))
    return list(merged.values()), members


class _Picture:
    """What `to_dot` draws of a map: `edges` (source, destination, label or None), and the notes that stand for
    the rest, on nodes (`notes`) and namespaces (`cluster_notes`). `members`: the units of each node (several when
    `_merge_alike` made them one).

    - the units of a namespace (CLIQUE at least) that each reach each other on the same ports: `all traffic
      between any two of its 5 workloads` on the namespace, no edges;
    - the sources (FAN at least) that reach one destination on DNS only (TCP/UDP 53), or that are every other
      unit, on the same ports: `DNS (UDP 53) from 37 workloads`, `TCP 80 from every other workload` on the
      destination (the units counted by what they are: `_kind`), no edges;
    - a source's most edges on the same ports (FAN at least) are drawn without a label, and the ports said on the
      source: `unlabelled edges out: TCP 9100 (20)`; then so are a destination's, of the sources left labelled:
      `unlabelled edges in: TCP 443 (14)`. An unlabelled edge is told by its source if that has such a note, else
      by its destination."""

    def __init__(self, conns: list[Connection], units: set[str], protocols: tuple[str, ...],
                 alike: dict[str, object]):
        rows, self.members = _merge_alike([(c.src, c.dst, allowed_text(c.allowed, protocols), c.allowed)
                                           for c in conns], units, alike)
        weight = {n: len(us) for n, us in self.members.items()}
        total = len(units)
        kinds = {_kind(u) for u in units}
        everyone = f"every other {kinds.pop() if len(kinds) == 1 else 'end'}"
        self.notes: dict[str, list[str]] = {}
        self.cluster_notes: dict[str, str] = {}
        told: set[int] = set()  # indices of the rows the notes tell
        by_ns: dict[str, list[str]] = {}
        for n in self.members:
            if "/" in n:
                by_ns.setdefault(n.split("/", 1)[0], []).append(n)
        within: dict[str, dict[tuple[str, str], int]] = {}
        for i, (src, dst, _t, _a) in enumerate(rows):
            if src in weight and dst in weight and "/" in src and src.split("/", 1)[0] == dst.split("/", 1)[0]:
                within.setdefault(src.split("/", 1)[0], {})[(src, dst)] = i
        for ns, nodes in by_ns.items():
            pairs = within.get(ns, {})
            others = [pairs.get((s, d)) for s in nodes for d in nodes if s != d or weight[s] > 1]
            texts = {rows[i][2] if i is not None else None for i in others}
            size = sum(weight[n] for n in nodes)
            if size < CLIQUE or len(texts) != 1 or None in texts:
                continue
            (text,) = texts
            selves = [pairs.get((n, n)) for n in nodes if weight[n] == 1]
            each = bool(selves) and all(i is not None and rows[i][2] == text for i in selves)
            told.update(others + (selves if each else []))  # type: ignore[arg-type]
            its = _counted(u for n in nodes for u in self.members[n])
            self.cluster_notes[ns] = f"{text} between any two of its {its}" + (", and within each" if each else "")
        into: dict[tuple[str, str], list[int]] = {}
        for i, (src, dst, text, _a) in enumerate(rows):
            if i not in told and src != dst and src in weight:
                into.setdefault((dst, text), []).append(i)
        for (dst, text), ids in into.items():
            count = sum(weight[rows[i][0]] for i in ids)
            every = count == total - weight.get(dst, 0)
            dns = _is_dns(rows[ids[0]][3])
            if count >= FAN and (dns or every):
                told.update(ids)
                who = ((everyone if dst in weight else everyone.replace(" other", "")) if every else
                       _counted(u for i in ids for u in self.members[rows[i][0]]))
                self.notes.setdefault(dst, []).append(f"{f'DNS ({text})' if dns else text} from {who}")
        bare: set[int] = set()
        out_told: set[str] = set()
        for end, direction in ((0, "out"), (1, "in")):  # an unlabelled edge: its source's note, else its target's
            groups: dict[str, dict[str, list[int]]] = {}
            for i, row in enumerate(rows):
                if i not in told and i not in bare and row[0] not in out_told:
                    groups.setdefault(row[end], {}).setdefault(row[2], []).append(i)
            for e, by_text in groups.items():
                text, ids = max(by_text.items(), key=lambda g: (len(g[1]), g[0]))
                if len(ids) >= FAN:
                    bare.update(ids)
                    out_told.update([e] if direction == "out" else [])
                    self.notes.setdefault(e, []).append(f"unlabelled edges {direction}: {text} ({len(ids)})")
        self.edges = [(src, dst, None if i in bare else text)
                      for i, (src, dst, text, _a) in enumerate(rows) if i not in told]


def to_dot(conns: list[Connection], endpoints: list[str], protocols: tuple[str, ...],
           alike: dict[str, object] | None = None) -> str:
    """The map as a Graphviz digraph, laid out left to right: one node per end (units `alike` gives one key and
    that have the same rows are one node: `_merge_alike`), the units of a namespace in its cluster and outside
    addresses in theirs, one edge per row labelled with what it allows, but for what `_Picture` tells in notes.
    The nodes without an edge are set in rows (invisible edges), so a namespace of many makes a block, not a
    column; edges without a label are concentrated."""
    units = set(endpoints) | {e for c in conns for e in (c.src, c.dst) if not isinstance(e, Addresses)}
    picture = _Picture(conns, units, protocols, alike or {})
    addresses = sorted({e for c in conns for e in (c.src, c.dst) if isinstance(e, Addresses)})
    linked = {e for src, dst, _label in picture.edges for e in (src, dst)}
    by_ns: dict[str, list[str]] = {}
    for n in sorted(picture.members):
        by_ns.setdefault(n.split("/", 1)[0] if "/" in n else "", []).append(n)
    lines = ["digraph connectivity {",
             "  graph [rankdir=LR, newrank=true, splines=true, nodesep=0.15, ranksep=0.8, fontname=\"Helvetica\","
             " fontsize=12, labeljust=l];",
             "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\", fontsize=11,"
             " height=0.3];",
             "  edge [fontname=\"Helvetica\", fontsize=9, arrowsize=0.6, color=\"#555555\"];"]
    if any(label is None for _s, _d, label in picture.edges):
        lines.insert(2, "  concentrate=true;")  # unlabelled edges to or from one node share their way

    def node(n: str, ns: str, indent: str, shape: str = "") -> None:
        note = picture.notes.get(n, [])
        marked = ', fillcolor="#fff3c4"' if note else ""
        names = sorted((m.split("/", 1)[1] if ns else m for m in picture.members.get(n, [n])),
                       key=lambda m: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", m)])  # pod-2 < pod-10
        label = ([names[0] if names[0] != "*" else "the whole namespace"] if len(names) == 1 else
                 [", ".join(names) if len(names) == 2 else f"{names[0]} … {names[-1]}", f"({len(names)} alike)"])
        lines.append(f"{indent}{_dot_id(n)} [{shape}label={_dot_label([*label, *note])}{marked}];")

    def rows(members: list[str], indent: str) -> None:
        """The members without an edge, about as many to a row as there are rows."""
        alone = [n for n in members if n not in linked]
        width = math.isqrt(len(alone) - 1) + 1 if alone else 1
        for i in range(0, len(alone), width):
            row = alone[i:i + width]
            if len(row) > 1:
                lines.append(f"{indent}{' -> '.join(map(_dot_id, row))} [style=invis];")

    for i, (ns, members) in enumerate(sorted(by_ns.items(), key=lambda g: (not g[0], g[0]))):  # namespaces first
        if ns:
            note = picture.cluster_notes.get(ns)
            lines.append(f"  subgraph cluster_{i} {{")
            lines.append(f"    label={_dot_label(['namespace ' + ns, *([note] if note else [])])}; style=rounded;"
                         f" color=\"#888888\";")
            for n in members:
                node(n, ns, "    ")
            rows(members, "    ")
            lines.append("  }")
        else:
            for n in members:
                node(n, ns, "  ")
            rows(members, "  ")
    if addresses:
        lines.append("  subgraph cluster_addresses {")
        lines.append("    label=\"outside addresses\"; style=dashed; color=\"#888888\"; node [fillcolor=\"#eef3ff\"];")
        for a in addresses:
            if a in picture.notes:
                node(a, "", "    ", "shape=ellipse, ")
            else:
                lines.append(f"    {_dot_id(a)} [shape=ellipse];")
        lines.append("  }")
    for src, dst, label in picture.edges:
        lines.append(f"  {_dot_id(src)} -> {_dot_id(dst)}" + (f" [label={_dot_id(label)}];" if label else ";"))
    lines.append("}")
    return "\n".join(lines)


def to_svg(dot: str) -> str:
    """`dot` drawn by Graphviz's `dot -Tsvg` (found on the PATH)."""
    exe = shutil.which("dot")
    if exe is None:
        raise UsageError("-o svg needs Graphviz's dot on the PATH (install Graphviz: apt-get install graphviz, "
                         "brew install graphviz, or see https://graphviz.org/download/)")
    done = subprocess.run([exe, "-Tsvg"], input=dot.encode(), capture_output=True, check=False)
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise ReasonerError(f"Graphviz's dot failed (exit status {done.returncode})"
                            + (f": {said[0]}" if said else ""))
    return done.stdout.decode().rstrip("\n")


def service_json(rows) -> dict:
    """`connectivity --by service -o json`: the contract's `connections`, a service as the destination `svc:NS/NAME`
    with the service ports that reach every backend, and the `services` rows in detail (target ports, the ports
    only some backends admit)."""
    connections = []
    for r in rows:
        ports: dict[str, list[tuple[int, int]]] = {}
        for sp in r.allowed:
            ports.setdefault(sp.protocol, []).append((sp.port, sp.port))
        if ports:
            connections.append({"src": r.src, "dst": f"svc:{r.service.ref}",
                                "allowed": [{"protocol": p, "ports": [list(x) for x in merge(v)]}
                                            for p, v in sorted(ports.items())]})
    return {"view": "service", "connections": connections, "services": [r.to_json() for r in rows]}
