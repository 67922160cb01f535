"""The REPL's commands use the session's public interface, and its relation listing reads the rules' clauses as
the engine does, a clause written over several lines included. (What the REPL may import: tests/test_layers.py.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from reasoner.engine import datalog
from reasoner.repl import Session

ROOT = Path(__file__).resolve().parents[1]
DEMO = str(ROOT / "corpus" / "microservices-demo" / "manifests")


@pytest.mark.parametrize("path", sorted((ROOT / "reasoner" / "repl" / "commands").glob("*.py")), ids=lambda p: p.name)
def test_commands_use_only_the_sessions_public_interface(path):
    private = [f"line {node.lineno}: s.{node.attr}" for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "s"
               and node.attr.startswith("_")]
    assert not private, f"{path.name} reaches into the session: {private}"


def test_relations_lists_a_relation_whose_clause_spans_several_lines(monkeypatch):
    session = Session([DEMO])
    texts = dict(datalog.rule_texts())
    texts["lint.dl"] += ("\n# spread_out(C, Dir): a test relation whose only clause spans lines.\n"
                         "spread_out(C,\n           Dir) <= (isolated(C, Dir) &\n                    ~ordered(C, Dir))\n")
    monkeypatch.setattr(datalog, "rule_texts", lambda: texts)
    rows = {tuple(re.split(r"\s{2,}", line)) for line in session.execute("relations").text.splitlines()}
    assert ("spread_out(C, Dir)", "derived", "a test relation whose only clause spans lines.") in rows
    reply = session.execute("?- spread_out(C)")
    assert reply.error and "spread_out has 2 arguments: spread_out(C, Dir)" in reply.text
