"""Imports point downstream: the model knows neither pyDatalog nor z3."""

import re
from pathlib import Path

MODEL = Path(__file__).resolve().parents[1] / "reasoner" / "model"


def test_model_imports_no_solver():
    for path in MODEL.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(z3|pyDatalog)", text, re.M), path
