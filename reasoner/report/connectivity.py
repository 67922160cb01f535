"""Renderers for the connectivity map: text, json, csv, md, dot. An end that stands for outside addresses
(`Addresses`) reads as one peer in text, Markdown and DOT, and is one `cidr:PREFIX` row per prefix in JSON and
CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Iterable, Iterator

from reasoner.connectivity import ALL, Addresses, Connection, end_names
from reasoner.facts.emit import PROTOCOLS
from reasoner.report.text import join_lines


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
        if p in ("TCP", "UDP", "SCTP"):
            return f"{p}{sep}{ports_text(v)}"
        if p in ("ICMP", "ICMPv6"):
            return f"{p}{icmp_text(v)}"
        return f"{p} (not {', '.join(left_out)})" if p == "OTHER" and left_out else p
    return "; ".join(one(p, v) for p, v in allowed.items())


def allowed_json(allowed: dict[str, object]) -> list[dict]:
    return [{"protocol": p, "ports": v if v == ALL else [list(r) for r in v]}  # type: ignore[union-attr]
            for p, v in allowed.items()]


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
    lines.append(f"{len(conns)} connection{'s' if len(conns) != 1 else ''} between {len(endpoints)} endpoints"
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


def _dot_id(text: str) -> str:
    return json.dumps(text)  # a double-quoted string with escapes, valid as a DOT ID


def to_dot(conns: list[Connection], endpoints: list[str], protocols: tuple[str, ...]) -> str:
    lines = ["digraph connectivity {", "  rankdir=LR;", "  node [shape=box, fontname=\"Helvetica\"];",
             "  edge [fontname=\"Helvetica\", fontsize=10];"]
    nodes = sorted(set(endpoints) | {c.src for c in conns} | {c.dst for c in conns})
    by_ns: dict[str, list[str]] = {}
    addresses = {e for c in conns for e in (c.src, c.dst) if isinstance(e, Addresses)}
    for n in nodes:
        group = n.split("/", 1)[0] if "/" in n and n not in addresses and not n.startswith(("cidr:", "ip:")) else ""
        by_ns.setdefault(group, []).append(n)
    for i, (ns, members) in enumerate(sorted(by_ns.items(), key=lambda g: (not g[0], g[0]))):  # namespaces first
        if ns:
            lines.append(f"  subgraph cluster_{i} {{")
            lines.append(f"    label={_dot_id('namespace ' + ns)};")
            for n in members:
                lines.append(f"    {_dot_id(n)} [label={_dot_id(n.split('/', 1)[1])}];")
            lines.append("  }")
        else:
            for n in members:
                lines.append(f"  {_dot_id(n)} [shape=ellipse];")
    for c in conns:
        lines.append(f"  {_dot_id(c.src)} -> {_dot_id(c.dst)} [label={_dot_id(allowed_text(c.allowed, protocols))}];")
    lines.append("}")
    return "\n".join(lines)
