"""The package is whole when installed: the rule files and the JSON contracts ship inside it.

Builds a wheel of the checkout (no network: the installed setuptools and wheel, no build isolation), unpacks it into
a folder of its own and runs a corpus scenario from a directory outside the checkout, with nothing on the path
but that folder and, after it, the dependencies (no editable install can answer for a module of the package).
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
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
    # -S: no .pth file is read, so the editable install's finder (which maps reasoner.rules to the checkout's
    # rules/) is not installed; the dependencies (pyDatalog, z3, yaml, click) come from this environment's
    # site-packages, after the wheel's folder.
    deps = sysconfig.get_path("purelib")
    code = ("import sys; from pathlib import Path; site = Path(sys.argv[2]); sys.path.insert(0, str(site)); "
            "sys.path.append(sys.argv[3]); import reasoner, reasoner.cli, reasoner.contracts, reasoner.rules; "
            "modules = [Path(m.__file__) for m in (reasoner, reasoner.rules, reasoner.contracts)]; "
            "assert all(m.is_relative_to(site) for m in modules), modules; "
            "sys.argv = ['reasoner', 'connectivity', '-o', 'json', sys.argv[1]]; reasoner.cli.main()")
    run = subprocess.run([sys.executable, "-I", "-S", "-c", code, str(ROOT / "corpus/microservices-demo/manifests"),
                          str(site), deps], capture_output=True, text=True, cwd=elsewhere)
    assert run.returncode == 0, run.stderr
    assert len(json.loads(run.stdout)["connections"]) == 18  # 16 between pods, 2 from outside (IPv4, IPv6)
