"""Running git for inputs read from a repository (`git:REV:PATH`) and for the source root of reports."""

from __future__ import annotations

import subprocess

from reasoner.errors import UsageError


def run_git(args: list[str], what: str, stdin: bytes | None = None) -> bytes:
    try:
        out = subprocess.run(["git", *args], input=stdin, capture_output=True, check=False)
    except OSError as exc:
        raise UsageError(f"{what}: cannot run git: {exc}") from None
    if out.returncode != 0:
        err = out.stderr.decode(errors="replace").strip()
        raise UsageError(f"{what}: {err.splitlines()[-1] if err else 'git failed'}")
    return out.stdout
