"""After an equivalent inventory diff, what scope any-workload says: a note when the pods that could be deployed
see a difference (with a witness), nothing when they see none, and why when it was not checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reasoner.diff import compare as diffing
from reasoner.report import diff as report
from support.helpers import cli

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
ONLY = CORPUS / "diff-any-workload-only"  # equivalent for the pods given; a new app=api-canary pod differs
REFACTOR = CORPUS / "diff-equivalent-refactor"  # equivalent in both scopes


def test_an_inventory_equivalent_diff_says_when_new_pods_would_differ():
    r = cli("diff", str(ONLY / "old"), str(ONLY / "new"))
    assert r.exit_code == 0 and r.stdout.startswith("EQUIVALENT (scope: inventory)")
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("But for pods that could be deployed (--scope any-workload) the versions differ: "
                           "1 flow class changes verdict, e.g. shop/")
    assert "-> shop/db-0 TCP/5432 is newly allowed" in last and "app=api-canary in namespace shop" in last
    wide = json.loads(cli("diff", str(ONLY / "old"), str(ONLY / "new"), "-o", "json").stdout)
    assert wide["equivalent"] is True
    aw = wide["any_workload"]
    assert (aw["checked"], aw["equivalent"], aw["changes"]) == (True, False, 1)
    assert aw["witness"]["change"] == "newly-allowed" and aw["witness"]["dst"] == "shop/db-0"
    assert [p["labels"] for p in aw["witness"]["newPods"].values()] == [{"app": "api-canary"}]
    md = cli("diff", str(ONLY / "old"), str(ONLY / "new"), "-o", "md").stdout
    assert "\n\n> **Note:** But for pods that could be deployed" in md


def test_no_note_when_new_pods_agree_too():
    r = cli("diff", str(REFACTOR / "old"), str(REFACTOR / "new"))
    assert r.exit_code == 0 and "could be deployed" not in r.stdout
    out = json.loads(cli("diff", str(REFACTOR / "old"), str(REFACTOR / "new"), "-o", "json").stdout)
    assert out["any_workload"] == {"checked": True, "equivalent": True, "changes": 0}


def test_too_many_kinds_is_said_not_guessed(monkeypatch):
    monkeypatch.setattr(diffing, "WIDER_KINDS", 0)
    result = diffing.diff(str(ONLY / "old"), str(ONLY / "new"))
    assert result.equivalent and result.wider == {"checked": False,
                                                  "why": "more than 0 kinds of pods could be deployed"}
    assert report.wider_note(result) == ("Not checked for pods that could be deployed (more than 0 kinds of pods "
                                         "could be deployed): run with --scope any-workload.")


@pytest.mark.parametrize("scope", ["inventory", "any-workload"])
def test_a_different_diff_or_another_scope_is_not_checked_again(scope):
    result = diffing.diff(str(ONLY / "old"), str(ONLY / "new"), scope=scope)
    assert result.wider is None if scope == "any-workload" else result.wider["checked"]
    changed = diffing.diff(str(CORPUS / "diff-removed-policy" / "old"), str(CORPUS / "diff-removed-policy" / "new"))
    assert not changed.equivalent and changed.wider is None
