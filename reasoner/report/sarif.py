"""SARIF 2.1.0 for code scanning (`lint -o sarif`, `prove -o sarif`): the log, its tool, and its locations.

Locations are relative to the source root, the git top level of the current directory (else the
directory itself), with `uriBaseId: %SRCROOT%`, as code scanning expects. A location that is not a
file under the root (standard input, a live cluster, a file outside the repository) is left out: a
result then has no location rather than one that points nowhere.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from urllib.parse import quote

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/reasoner/"
SRCROOT = "%SRCROOT%"


def source_root(cwd: Path | None = None) -> Path:
    """The git top level of `cwd` (default: the current directory), else `cwd` itself."""
    here = (cwd or Path.cwd()).resolve()
    return next((d for d in (here, *here.parents) if (d / ".git").exists()), here)


def location(file: str, line: int | None, root: Path) -> dict | None:
    """A physicalLocation for `file` (and `line`) relative to `root`; None when `file` is not a file under it."""
    path = Path(file).resolve() if file else None
    if path is None or not path.is_file() or not path.is_relative_to(root):
        return None
    out: dict = {"artifactLocation": {"uri": quote(path.relative_to(root).as_posix()), "uriBaseId": SRCROOT}}
    if line:
        out["region"] = {"startLine": line}
    return out


def rule(rule_id: str, short: str, full: str, help_text: str, **extra) -> dict:
    """A reportingDescriptor: every rule says what it checks in one line, in full, and what to do about it."""
    return {"id": rule_id, "shortDescription": {"text": short}, "fullDescription": {"text": full},
            "help": {"text": help_text}, **extra}


def log(rules: list[dict], results: list[dict]) -> str:
    """One run of reasoner with its rules and results, as SARIF 2.1.0 JSON text."""
    driver = {"name": "reasoner", "version": version("reasoner"), "informationUri": INFORMATION_URI, "rules": rules}
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0",
                       "runs": [{"tool": {"driver": driver}, "results": results}]}, indent=2)
