"""The package is whole when installed: the rule files and the JSON contracts ship inside it.

Builds a wheel of the checkout (no network: the installed setuptools and wheel, no build isolation), unpacks it into
a folder of its own and runs a corpus scenario with nothing but that folder on the path, from a directory
outside the checkout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_of_the_tree_is_listed_for_the_build():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    tree = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "reasoner").rglob("__init__.py")}
    assert tree | {"reasoner.rules"} == listed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(out), str(ROOT)], capture_output=True, text=True, cwd=out)
    assert build.returncode == 0, build.stderr
    (whl,) = out.glob("reasoner-*.whl")
    return whl


def test_the_wheel_holds_the_rules_and_the_contracts(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    rules = {p.name for p in (ROOT / "rules").glob("*.dl")}
    assert rules and {f"reasoner/rules/{n}" for n in rules} <= names
    assert {"reasoner/contracts/lint.schema.json", "reasoner/contracts/diff.schema.json"} <= names


def test_the_unpacked_wheel_runs_a_scenario_from_another_directory(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = ("import sys; sys.path.insert(0, " + repr(str(site)) + "); import reasoner, reasoner.cli; "
            "assert reasoner.__file__.startswith(" + repr(str(site)) + "), reasoner.__file__; "
            "sys.argv = ['reasoner', 'connectivity', '-o', 'json', sys.argv[1]]; reasoner.cli.main()")
    run = subprocess.run([sys.executable, "-I", "-c", code, str(ROOT / "corpus/microservices-demo/manifests")],
                         capture_output=True, text=True, cwd=elsewhere)
    assert run.returncode == 0, run.stderr
    assert len(json.loads(run.stdout)["connections"]) == 16
