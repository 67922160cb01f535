"""SARIF 2.1.0 for code scanning (`lint`, `prove`, `diff -o sarif`): the log, its tool, and its locations.

Locations are relative to the source root, the git top level of the current directory (else the
directory itself), with `uriBaseId: %SRCROOT%`, as code scanning expects. A location that is not a
file under the root (standard input, a live cluster, a file outside the repository) is never given.
Code scanning rejects a result without a location: such a result is placed at the first input file
under the root (the spec, else the first manifest file read); when there is none, it is a
notification of the run's invocation instead of a result. A `git:REV:PATH` name (`diff`) stands for PATH
in the work tree.
"""

from __future__ import annotations

import json
import os
from importlib.metadata import version
from pathlib import Path
from typing import Iterable
from urllib.parse import quote

from reasoner.errors import UsageError
from reasoner.manifests.git import run_git

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/reasoner/"
SRCROOT = "%SRCROOT%"


def source_root() -> Path:
    """The git top level of the current directory (`git rev-parse --show-toplevel`), else the directory itself."""
    try:
        top = run_git(["rev-parse", "--show-toplevel"], "the source root")
    except UsageError:  # not in a work tree, or no git
        return Path.cwd().resolve()
    return Path(os.fsdecode(top.rstrip(b"\n"))).resolve()


def repo_path(file: str, root: Path) -> str | None:
    """`file` as a path from `root`, in POSIX form: a `git:REV:PATH` name (`diff`) is PATH, from the top of the
    repository; a file on disk must be a file under `root`. None otherwise."""
    if file.startswith("git:") and not os.path.lexists(file):  # not a file of that name
        parts = file.split(":", 2)
        return parts[2] if len(parts) == 3 and parts[2] else None
    path = Path(file).resolve() if file else None
    if path is None or not path.is_file() or not path.is_relative_to(root):
        return None
    return path.relative_to(root).as_posix()


def location(file: str, line: int | None, root: Path) -> dict | None:
    """A physicalLocation for `file` (and `line`) relative to `root`; None when `file` is not a file under it."""
    rel = repo_path(file, root)
    if rel is None or not (root / rel).is_file():
        return None
    out: dict = {"artifactLocation": {"uri": quote(rel), "uriBaseId": SRCROOT}}
    if line:
        out["region"] = {"startLine": line}
    return out


def first_location(files: Iterable[str], root: Path) -> dict | None:
    """The location of the first of `files` that is a file under `root`, as a whole; None when none is."""
    return next((loc for file in files if (loc := location(file, None, root)) is not None), None)


def rule(rule_id: str, short: str, full: str, help_text: str, **extra) -> dict:
    """A reportingDescriptor: every rule says what it checks in one line, in full, and what to do about it."""
    return {"id": rule_id, "shortDescription": {"text": short}, "fullDescription": {"text": full},
            "help": {"text": help_text}, **extra}


def log(rules: list[dict], results: list[dict], fallback: dict | None) -> str:
    """One run of reasoner with its rules and results, as SARIF 2.1.0 JSON text. A result without a location is
    placed at `fallback`, a physicalLocation; without one, it is a notification of the run's invocation."""
    driver = {"name": "reasoner", "version": version("reasoner"), "informationUri": INFORMATION_URI, "rules": rules}
    located, notifications = [], []
    for res in results:
        if "locations" not in res and fallback is not None:
            res = {**res, "locations": [{"physicalLocation": fallback}]}
        if "locations" in res:
            located.append(res)
        else:
            notifications.append({"level": res["level"], "message": res["message"],
                                  "associatedRule": {"id": res["ruleId"]}, "properties": res["properties"]})
    invocation = {"executionSuccessful": True, "toolExecutionNotifications": notifications}
    run = {"tool": {"driver": driver}, "invocations": [invocation], "results": located}
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2)
