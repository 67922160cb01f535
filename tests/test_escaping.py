"""Text output never carries a control character from the input raw: file names, spec ids and selectors are
shown with escapes (`\\x1b`, `\\n`, `\\u202e`), so they cannot move the cursor, recolour the terminal, reverse
the text or forge a line. Machine formats stay well-formed."""

from __future__ import annotations

import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from reasoner.cli import main
from reasoner.model.ports import PROTOCOLS
from reasoner.query.map import Connection
from reasoner.repl import Session
from reasoner.report import connectivity as connectivity_report
from reasoner.report.text import escape, join_lines, terminal

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "corpus/microservices-demo/manifests"
SPEC = ROOT / "corpus/microservices-demo/spec.yaml"
EVIL = "\x1b[2J\x1b]0;owned\x07\u202e\r"  # clear screen, set the title, bell, right-to-left override, carriage return
SHOWN = "\\x1b[2J\\x1b]0;owned\\x07\\u202e\\r"
RAW = [chr(c) for c in range(32) if c != 10] + ["\x7f", "\u202e", "\u2028"]


def run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin)


def clean(text: str) -> bool:
    """No control or bidi character but the line breaks of the layout."""
    return not any(c in text for c in RAW)


@pytest.fixture(scope="module")
def evil_dir(tmp_path_factory) -> Path:
    """The demo, its policies in a file whose name holds control characters and a forged line."""
    d = tmp_path_factory.mktemp("evil")
    shutil.copy(DEMO / "kubernetes-manifests.yaml", d)
    shutil.copy(DEMO / "namespace.yaml", d)
    shutil.copy(DEMO / "network-policies.yaml", d / f"pol{EVIL}\nALLOWED forged.yaml")
    return d


def test_escape_shows_control_and_bidi_characters_and_keeps_every_script():
    assert escape("a\x1b[31mb\nc\td\u202ee\u00a0f\U000e0001") == "a\\x1b[31mb\\nc\\td\\u202ee\\xa0f\\U000e0001"
    assert escape("café 日本 ünï 😀") == "café 日本 ünï 😀"
    assert escape(escape(EVIL)) == escape(EVIL) == SHOWN
    assert join_lines(["one\ntwo", "three"]) == "one\\ntwo\nthree"
    assert terminal("one\x1b\ntwo") == "one\\x1b\ntwo"


def test_spec_ids_are_escaped_in_prove_text_and_junit(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text('apiVersion: reasoner/v1\nkind: ComplianceSpec\nrequirements:\n'
                    '- id: "evil\\e[2J\\u202e\\nPROVED  forged"\n'
                    "  deny: {from: {selector: \"app == 'checkoutservice'\"},"
                    " to: {selector: \"app == 'paymentservice'\"}}\n")
    r = run("prove", "--spec", spec, DEMO)
    assert r.exit_code == 1 and clean(r.stdout), r.stdout
    assert "evil\\x1b[2J\\u202e\\nPROVED  forged" in r.stdout
    assert not any(line.startswith("PROVED") for line in r.stdout.splitlines())
    junit = run("prove", "--spec", spec, DEMO, "-o", "junit")
    case = ET.fromstring(junit.stdout).find("testcase")  # XML 1.0 cannot hold ESC: escaped, it parses
    assert case.get("name") == "evil\\x1b[2J\\u202e\\nPROVED  forged"
    data = json.loads(run("prove", "--spec", spec, DEMO, "-o", "json").stdout)
    assert data["results"][0]["id"] == "evil\x1b[2J\u202e\nPROVED  forged"  # JSON keeps the data as it is


def test_file_names_are_escaped_in_lint_can_prove_and_diff(evil_dir, tmp_path):
    shown = f"pol{SHOWN}\\nALLOWED forged.yaml"
    lint = run("lint", evil_dir)
    assert clean(lint.stdout) and shown in lint.stdout, lint.stdout
    can = run("can", "boutique/frontend", "boutique/cartservice", "--port", "7070", "-f", evil_dir)
    assert can.exit_code == 0 and clean(can.stdout) and shown in can.stdout, can.stdout
    prove = run("prove", "--spec", SPEC, evil_dir)
    assert clean(prove.stdout) and shown in prove.stdout
    deny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: boutique}\n" \
           "spec: {podSelector: {}, policyTypes: [Ingress]}\n"
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(evil_dir, new)
    old.mkdir()
    for d in (old, new):
        (d / "deny.yaml").write_text(deny)
    for name in ("kubernetes-manifests.yaml", "namespace.yaml"):
        shutil.copy(DEMO / name, old)
    diff = run("diff", old, new)  # the new version's rules, in the file so named, let flows in
    assert diff.exit_code == 1 and clean(diff.stdout) and shown in diff.stdout, diff.stdout


def test_sarif_and_json_hold_such_file_names_exactly(evil_dir, monkeypatch):
    monkeypatch.chdir(evil_dir)  # the source root: no repository around it
    policies = f"pol{EVIL}\nALLOWED forged.yaml"
    log = json.loads(run("lint", evil_dir, "-o", "sarif").stdout)
    uris = {unquote(loc["physicalLocation"]["artifactLocation"]["uri"])
            for res in log["runs"][0]["results"] for loc in res["locations"]}
    assert uris == {policies}
    files = {f["file"] for f in json.loads(run("lint", evil_dir, "-o", "json").stdout)["findings"]}
    assert str(evil_dir / policies) in files


def test_sarif_holds_such_spec_ids_exactly(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text('apiVersion: reasoner/v1\nkind: ComplianceSpec\nrequirements:\n'
                    '- id: "evil\\e[2J\\u202e\\nPROVED  forged"\n'
                    "  deny: {from: {selector: \"app == 'checkoutservice'\"},"
                    " to: {selector: \"app == 'paymentservice'\"}}\n")
    log = json.loads(run("prove", "--spec", spec, DEMO, "-o", "sarif").stdout)
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == ["evil\x1b[2J\u202e\nPROVED  forged"]


def test_errors_on_stderr_are_one_escaped_line(tmp_path):
    bad = tmp_path / f"bad{EVIL}\nerror: forged.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec: {containers: 7}\n")
    r = run("lint", bad)
    assert r.exit_code == 2 and clean(r.stderr), r.stderr
    assert len(r.stderr.splitlines()) == 1 and f"bad{SHOWN}\\nerror: forged.yaml" in r.stderr


def test_repl_answers_are_escaped(evil_dir):
    session = Session([str(evil_dir)])
    reply = session.execute("policies boutique/frontend")
    assert not reply.error and clean(reply.text) and f"pol{SHOWN}" in reply.text


def test_connectivity_text_and_md_escape_names():
    conns = [Connection("x/a\nALLOWED forged", "y/c\x1b[2J\u202e", {"TCP": [(80, 80)]})]
    for text in (connectivity_report.to_text(conns, ["x/a\nALLOWED forged"], PROTOCOLS),
                 connectivity_report.to_md(conns, PROTOCOLS)):
        assert clean(text) and "x/a\\nALLOWED forged" in text and "y/c\\x1b[2J\\u202e" in text


def test_csv_quotes_and_dot_escapes_names_with_control_characters():
    names = ["x/a\nb", "y/c\x1b[2J\u202e"]
    conns = [Connection(*names, {"TCP": [(80, 80)]})]
    rows = list(csv.reader(io.StringIO(connectivity_report.to_csv(conns))))
    assert rows[1][:2] == names  # quoted, and read back as it was
    dot = connectivity_report.to_dot(conns, names, PROTOCOLS)
    assert clean(dot) and "\\u202e" in dot and all(line.count('"') % 2 == 0 for line in dot.splitlines())


def test_facts_show_selector_constants_escaped(tmp_path):
    policy = tmp_path / "g.yaml"
    policy.write_text('apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: g}\nspec:\n'
                      '  selector: "app == \\"a\\e[31m\\u202eb\\""\n  ingress: [{action: Allow}]\n')
    text = run("facts", "-r", "req_in", policy).stdout
    assert clean(text) and "| app | a\\x1b[31m\\u202eb" in text
    rows = list(csv.reader(io.StringIO(run("facts", "-r", "req_in", "-o", "csv", policy).stdout)))
    assert len(rows) == 2 and rows[1][1] == "app" and "\u202e" in rows[1][2]  # CSV holds the data as it is
