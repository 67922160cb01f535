"""Renderers for `reasoner facts`: the relations with their sizes, and one relation's tuples (text, json, csv)."""

from __future__ import annotations

import csv
import io
import json

from reasoner.report.text import escape


def sizes_text(rows: list[tuple[str, str, int | str, str]]) -> str:
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{r:<{width}}  {k:<7}  {n:>7}  {m}" for r, k, n, m in rows)


def sizes_json(rows: list[tuple[str, str, int | str, str]]) -> str:
    return json.dumps([{"relation": r, "kind": k, "tuples": n, "meaning": m} for r, k, n, m in rows], indent=2)


def rows_text(relation: str, columns: tuple[str, ...], rows: list[tuple]) -> str:
    lines = [f"{relation}({', '.join(columns)}): {len(rows)} tuples"]
    lines += [escape("  " + " | ".join(str(v) for v in t)) for t in rows]
    return "\n".join(lines)


def rows_json(relation: str, columns: tuple[str, ...], rows: list[tuple]) -> str:
    return json.dumps({"relation": relation, "columns": list(columns), "tuples": [list(t) for t in rows]},
                      indent=2, default=str)


def rows_csv(relation: str, columns: tuple[str, ...], rows: list[tuple]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue().rstrip("\n")
