"""What runs reasoner elsewhere: shell completion (`reasoner completion`), the pre-commit hooks
(.pre-commit-hooks.yaml), the GitHub Action (action.yml) and the Dockerfile, each checked against the CLI and
the README's install command."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from support.helpers import cli

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "corpus" / "microservices-demo"
BIN = Path(sys.executable).parent  # where the console script `reasoner` is installed
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def readme_install() -> str:
    """The README's install command: the plain install of Quick start."""
    found = re.search(r"A plain install works as well \(`([^`]+)`", (ROOT / "README.md").read_text())
    assert found, "the README names its plain install command"
    return found.group(1)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


# ---- shell completion -----------------------------------------------------------------------------------

@pytest.mark.parametrize("shell, markers", [
    ("bash", ["complete -o nosort -F _reasoner_completion reasoner", "_REASONER_COMPLETE=bash_complete"]),
    ("zsh", ["#compdef reasoner", "compdef _reasoner_completion reasoner", "_REASONER_COMPLETE=zsh_complete"]),
    ("fish", ["complete --no-files --command reasoner", "_REASONER_COMPLETE=fish_complete"]),
])
def test_completion_prints_the_script_of_the_shell(shell, markers):
    result = cli("completion", shell)
    assert result.exit_code == 0, result.output
    for marker in markers:
        assert marker in result.stdout


def test_completion_of_an_unknown_shell_is_a_usage_error():
    result = cli("completion", "tcsh")
    assert result.exit_code == 2
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.stderr


def test_the_console_script_is_the_name_the_scripts_complete():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["reasoner"] == "reasoner.cli:main"
    assert (BIN / "reasoner").exists()


def _complete(words: str, cword: int) -> list[str]:
    env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(cword), "_REASONER_COMPLETE": "bash_complete"}
    done = subprocess.run([str(BIN / "reasoner")], env=env, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_bash_completion_round_trip_lists_the_commands_and_completes_inputs_as_files():
    assert "plain,connectivity" in _complete("reasoner con", 1)
    assert _complete("reasoner lint -o ", 3) == ["plain,text", "plain,json", "plain,sarif"]
    assert _complete("reasoner lint corp", 2) == ["file,corp"]  # the shell then completes file names
    assert _complete("reasoner can a b -f corp", 5) == ["file,corp"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_the_bash_script_completes_in_bash():
    script = ('source <(reasoner completion bash)\n'
              'COMP_WORDS=(reasoner con); COMP_CWORD=1; _reasoner_completion reasoner\n'
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "--norc", "-c", script], env=env, capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["connectivity"]


# ---- the Dockerfile ------------------------------------------------------------------------------------

def test_the_dockerfile_installs_as_the_readme_says():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    assert next(line for line in lines if line.startswith("FROM ")) == "FROM python:3.11-slim"
    runs = [line.removeprefix("RUN ") for line in lines if line.startswith("RUN ")]
    assert runs == [readme_install()] == ["pip install ."]
    assert 'ENTRYPOINT ["reasoner"]' in lines
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "build"} <= set(ignored)  # no local environment or stale build in the image


# ---- the GitHub Action ---------------------------------------------------------------------------------

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _value(expr: str, context: dict) -> str:
    """`a || b`, `a`, or a quoted literal, in `context` (the names an Actions expression here uses)."""
    for name in expr.split("||"):
        name = name.strip()
        value = name[1:-1] if name.startswith("'") else context[name]
        if value:
            return value
    return ""


def _expand(text: str, context: dict) -> str:
    return EXPRESSION.sub(lambda m: _value(m.group(1), context), text)


def _holds(condition: str, context: dict) -> bool:
    """The conditions the action's steps use: comparisons joined by &&."""
    for clause in EXPRESSION.sub(r"\1", condition).split("&&"):
        left, op, right = re.fullmatch(r"\s*(\S+)\s*(==|!=)\s*(\S+)\s*", clause).groups()
        if (_value(left, context) == _value(right, context)) != (op == "=="):
            return False
    return True


def run_action(tmp_path: Path, inputs: dict, event: str, gh_status: int = 0, commented: bool = True,
               new_dir: str | None = None) -> dict:
    """Run the action's `run:` steps in bash, in order, as a runner does (`uses:` steps and the install are
    checked, not run), in a clone of a repository whose main branch holds the demo and whose work tree opens
    a port (and, with `new_dir`, adds that directory: a copy of the demo). `commented`: the pull request has a
    comment of the action's to edit. Returns each step's exit status (None: skipped), output, and what `gh` was
    asked (`gh`: the last call; `gh_calls`: every call)."""
    origin, work, fake, temp = (tmp_path / n for n in ("origin", "work", "bin", "runner"))
    shutil.copytree(DEMO / "manifests", origin / "deploy")
    shutil.copy(DEMO / "spec.yaml", origin / "spec.yaml")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "demo")
    git(tmp_path, "clone", "-q", str(origin), str(work))
    with open(work / "deploy" / "network-policies.yaml", "a") as f:
        f.write("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
                "metadata: {name: open-payment, namespace: boutique}\n"
                "spec:\n  podSelector: {matchLabels: {app: paymentservice}}\n  ingress: [{}]\n")
    if new_dir:
        shutil.copytree(DEMO / "manifests", work / new_dir)
    fake.mkdir()
    (fake / "gh").write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "$GH_RECORD/args"\n'
                             'echo "$*" >> "$GH_RECORD/calls"\n'
                             + ('' if commented else '[[ " $* " == *" --edit-last "* ]] && exit 1\n')
                             + f'cat "${{@: -1}}" > "$GH_RECORD/body"\nexit {gh_status}\n')
    (fake / "gh").chmod(0o755)
    temp.mkdir()
    context = {f"inputs.{name}": str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    context |= {f"inputs.{name}": value for name, value in inputs.items()}
    context |= {"github.event_name": event, "github.base_ref": "main" if event == "pull_request" else "",
                "github.token": "token", "github.event.pull_request.number": "7",
                "github.server_url": "https://github.com", "github.repository": "org/repo",
                "github.event.pull_request.head.sha": "0123abc",
                "github.action_path": str(ROOT), "runner.temp": str(temp)}
    env = {**os.environ, **GIT_ENV, "RUNNER_TEMP": str(temp), "GH_RECORD": str(temp),
           "PATH": os.pathsep.join([str(fake), str(BIN), os.environ["PATH"]])}
    ran: dict = {}
    for step in ACTION["runs"]["steps"]:
        name = step.get("id") or step.get("name") or step["uses"]
        context[f"steps.{name}.outcome"] = "skipped"
        if "if" in step and not _holds(step["if"], context):
            ran[name] = None
            continue
        if "uses" in step:
            ran[name] = {key: _expand(str(value), context) for key, value in step.get("with", {}).items()}
            context[f"steps.{name}.outcome"] = "success"
            continue
        assert step["shell"] == "bash"
        if step["run"] == readme_install():  # the install: as the README says, from the action's own checkout
            assert _expand(step["working-directory"], context) == str(ROOT)
            ran[name] = "install"
            continue
        script = tmp_path / "step.sh"
        script.write_text(step["run"])
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=work,
                              env={**env, **{k: _expand(str(v), context) for k, v in step.get("env", {}).items()}},
                              capture_output=True, text=True)
        ran[name] = (done.returncode, done.stdout + done.stderr)
        context[f"steps.{name}.outcome"] = "success" if done.returncode == 0 else "failure"
    gh = (temp / "args").read_text().split("\n")[:-1] if (temp / "args").exists() else None
    calls = (temp / "calls").read_text().splitlines() if (temp / "calls").exists() else []
    return {"steps": ran, "temp": temp, "gh": gh, "gh_calls": calls}


def test_the_action_lints_proves_uploads_comments_the_diff_and_fails_on_a_violation(tmp_path):
    run = run_action(tmp_path, {"paths": "deploy/", "spec": "spec.yaml"}, "pull_request")
    steps, temp = run["steps"], run["temp"]
    assert steps["Install reasoner"] == "install"
    for what, status in (("lint", "0"), ("prove", "1")):  # the demo's spec has requirements that fail
        assert steps[what][0] == 0, steps[what][1]
        assert (temp / "reasoner" / f"{what}.status").read_text().strip() == status
        assert json.loads((temp / "reasoner" / f"{what}.sarif").read_text())["version"] == "2.1.0"
    uploads = [v for k, v in steps.items() if k.startswith("Upload")]
    assert [(u["sarif_file"], u["category"]) for u in uploads] == [
        (str(temp / "reasoner" / "lint.sarif"), "reasoner-lint"), (str(temp / "reasoner" / "prove.sarif"), "reasoner-prove")]
    assert steps["diff"][0] == 0, steps["diff"][1]
    assert run["gh"] == ["pr", "comment", "7", "--edit-last", "--body-file", str(temp / "reasoner" / "comment.md")]
    body = (temp / "body").read_text()
    assert body.startswith("### reasoner diff `main` → this pull request (`deploy/`)")
    assert "boutique/paymentservice" in body and "newly allowed" in body.lower()
    base_sha = subprocess.run(["git", "rev-parse", "main"], cwd=tmp_path / "origin", capture_output=True,
                              text=True, check=True).stdout.strip()
    # the new rule links to the pull request's line, the rule that decided before to the base commit's
    assert "](https://github.com/org/repo/blob/0123abc/deploy/network-policies.yaml#L" in body
    assert f"](https://github.com/org/repo/blob/{base_sha}/deploy/network-policies.yaml#L" in body
    code, log = steps["Verdict"]
    assert code == 1 and "::error::reasoner prove failed" in log and "reasoner lint failed" not in log


def test_the_first_push_comments_and_a_new_manifest_directory_is_diffed_from_nothing(tmp_path):
    run = run_action(tmp_path, {"paths": "added/", "lint": "false", "fail-on": "never"}, "pull_request",
                     commented=False, new_dir="added")
    code, log = run["steps"]["diff"]
    assert code == 0, log
    body = (run["temp"] / "body").read_text()
    assert "boutique/frontend" in body and "newly" in body.lower()
    comment = str(run["temp"] / "reasoner" / "comment.md")
    assert run["gh_calls"] == [f"pr comment 7 --edit-last --body-file {comment}", f"pr comment 7 --body-file {comment}"]


def test_the_action_goes_on_when_it_cannot_comment(tmp_path):
    run = run_action(tmp_path, {"paths": "deploy/", "lint": "false", "fail-on": "never"}, "pull_request", gh_status=1)
    code, log = run["steps"]["Comment on the pull request"]
    assert run["gh"] and code == 0 and "::warning::could not comment on pull request 7" in log


def test_the_action_on_a_push_without_a_spec_only_lints_and_with_fail_on_never_passes(tmp_path):
    run = run_action(tmp_path, {"paths": "deploy/ spec.yaml", "fail-on": "never"}, "push")
    steps = run["steps"]
    assert steps["lint"][0] == 0, steps["lint"][1]
    assert steps["prove"] is None and steps["diff"] is None and steps["Verdict"] is None
    assert run["gh"] is None


def test_every_reasoner_command_line_of_the_action_is_one_the_cli_takes():
    """Besides running the steps: each `reasoner ...` line names a command and options the CLI has."""
    lines = [line.strip() for step in ACTION["runs"]["steps"] for line in step.get("run", "").splitlines()
             if line.strip().startswith("reasoner ")]
    assert [line.split()[1] for line in lines] == ["lint", "prove", "diff"]
    for line in lines:
        words = line.split(">")[0].split()[1:]
        options = [w for w in words if w.startswith("-")]
        help_text = cli(words[0], "--help").stdout
        for option in options:
            assert re.search(rf"(^|[ ,]){re.escape(option)}[ ,\n]", help_text), (line, option)


# ---- pre-commit ------------------------------------------------------------------------------------------

HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())


def test_the_pre_commit_hooks_run_the_commands_on_manifests():
    hooks = {h["id"]: h for h in HOOKS}
    assert set(hooks) == {"reasoner-lint", "reasoner-prove"}
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["entry"].startswith("reasoner ")
        for name, matched in (("deploy/app.yaml", True), ("a.yml", True), ("list.json", True), ("app.py", False)):
            assert bool(re.search(hook["files"], name)) == matched
    assert hooks["reasoner-lint"]["pass_filenames"] is True and hooks["reasoner-lint"]["require_serial"] is True
    assert hooks["reasoner-prove"]["pass_filenames"] is False  # a proof needs the spec and the whole input


def _pre_commit(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


@pytest.mark.slow  # pre-commit builds a virtualenv and pip-installs this repository in it: .ci/run runs it
def test_pre_commit_runs_the_hooks_of_this_repository(tmp_path):
    source = tmp_path / "source"  # the work tree as it is (tracked and new files), committed in a repository
    files = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in files:
        if name and not name.startswith(("tests/", "corpus/")) and (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, source / name)
    git(source, "init", "-q")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "this work tree")
    rev = git(source, "rev-parse", "HEAD").strip()

    repo, home = tmp_path / "repo", tmp_path / "home"
    shutil.copytree(DEMO / "manifests", repo / "deploy")
    shutil.copy(DEMO / "spec.yaml", repo / "spec.yaml")
    (repo / "package.json").write_text('{"name": "not a manifest"}\n')
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    done = _pre_commit(repo, home, "try-repo", str(source), "reasoner-lint", "--all-files")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"reasoner lint\.+Passed", done.stdout)

    (repo / "deploy" / "never.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: never, namespace: boutique}\n"
        "spec:\n  podSelector:\n    matchExpressions:\n      - {key: app, operator: In, values: [frontend]}\n"
        "      - {key: app, operator: DoesNotExist}\n  policyTypes: [Ingress]\n")
    git(repo, "add", "-A")
    done = _pre_commit(repo, home, "try-repo", str(source), "reasoner-lint", "--all-files")
    assert done.returncode == 1
    assert re.search(r"reasoner lint\.+Failed", done.stdout) and "vacuous-policy" in done.stdout

    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": str(source), "rev": rev, "hooks": [
        {"id": "reasoner-prove", "args": ["--spec", "spec.yaml", "deploy/"]}]}]}))
    git(repo, "add", "-A")
    done = _pre_commit(repo, home, "run", "--all-files")
    assert done.returncode == 1  # the demo's spec has requirements that fail
    assert re.search(r"reasoner prove\.+Failed", done.stdout)
    assert "PROVED    redis-only-from-cart" in done.stdout and "VIOLATED  payment-from-frontend-broken" in done.stdout
