"""Inputs as people have them, and hostile ones: typed lists, several errors a file, duplicate keys, --exclude,
files without Kubernetes objects, Helm templates, --skip-invalid, git:REV:PATH, options after the command,
alias bombs, deep nesting, base-60 numbers, bytes that are not UTF-8, over-long paths, unreadable directories."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reasoner import api, live
from reasoner.cli import main
from reasoner.errors import ManifestErrors
from reasoner.manifests import load

DATA = Path(__file__).parent / "data" / "inputs"
PODS = (DATA / "rendered" / "shop.yaml").read_text()
DENY_ALL = ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
            "metadata: {name: deny-all, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n")


def run(*args: str, input: str | bytes | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def errors_of(text: str, file: str = "-") -> list[str]:
    with pytest.raises(ManifestErrors) as exc:
        api.load([file], stdin=io.StringIO(text))
    return [str(e) for e in exc.value.errors]


# --------------------------------------------------------------------------------------------------
# Typed lists
# --------------------------------------------------------------------------------------------------

def test_items_of_a_typed_list_take_its_kind_and_api_version(tmp_path):
    (tmp_path / "pods.yaml").write_text(PODS)
    policies = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList", "metadata": {},
                "items": [{"metadata": {"name": "deny-all", "namespace": "shop"},
                           "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}]}
    (tmp_path / "netpol.json").write_text(json.dumps(policies))
    result = run("can", "shop/client", "shop/web", "--port", "80", "-f", str(tmp_path))
    assert result.exit_code == 1, result.output
    assert "not a Kubernetes resource" not in result.stderr


def test_an_item_of_a_typed_list_keeps_its_own_kind():
    text = ("apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a, namespace: x}\n"
            "- {apiVersion: v1, kind: Namespace, metadata: {name: y}}\n")
    cluster = api.load(["-"], stdin=io.StringIO(text))
    assert [e.ref for e in cluster.endpoints] == ["x/a"] and "y" in cluster.namespaces


# --------------------------------------------------------------------------------------------------
# Every error of a file; duplicate keys
# --------------------------------------------------------------------------------------------------

def test_a_file_reports_each_malformed_document(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(PODS + "---\nkind: Pod\nmetadata: {name: [x\n---\n" + PODS + "---\na: b: c\n")
    result = run("connectivity", str(f))
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert [line.split(":")[2] for line in lines] == ["10", "20"], result.stderr  # where the bracket opens


def test_a_file_reports_each_invalid_object(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(DENY_ALL.replace("{}, policyTypes", "{matchLabels: 3}, policyTypes") + "---\n"
                 + DENY_ALL.replace("deny-all", "other").replace("[Ingress]", "[Sideways]"))
    result = run("connectivity", str(f))
    assert result.exit_code == 2
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 2, result.stderr


@pytest.mark.parametrize("libyaml", [True, False])
def test_a_character_yaml_does_not_allow_is_one_error_at_its_line(monkeypatch, libyaml):
    """A NUL byte (a reader error, placed by an offset: libyaml's in UTF-8 bytes, PyYAML's in characters) is
    reported once, at its line, also after text that is not ASCII and on a `---` line."""
    if not libyaml:
        pure = type("PureLoader", (yaml.SafeLoader,), {"yaml_implicit_resolvers": load._Loader.yaml_implicit_resolvers})
        monkeypatch.setattr(load, "_Loader", pure)
        monkeypatch.setattr(load, "_BYTE_POSITIONS", False)
    elif not load._BYTE_POSITIONS:
        pytest.skip("PyYAML without libyaml")
    for text, line, code in [("a: é€😀\n---\nb: 1\n---\nc: x\x00y\n", 5, "0000"), ("a: 1\n--- \x01\nb: 2\n", 2, "0001")]:
        (error,) = errors_of(text)
        assert error.startswith(f"<stdin>:{line}: malformed YAML: unacceptable character #x{code}: ")
        assert error.endswith(" characters are not allowed")  # without the offset after it


@pytest.mark.parametrize("libyaml", [True, False])
@pytest.mark.parametrize("broken, line", [("metadata: {name: a, namespace: x\n", 2),
                                          ("metadata:\n  name: 'a\n", 3), ("metadata: {name: [a\n\n\n", 2)])
def test_an_unclosed_bracket_or_quote_is_an_error_where_it_opens(monkeypatch, libyaml, broken, line):
    if not libyaml:
        pure = type("PureLoader", (yaml.SafeLoader,), {"yaml_implicit_resolvers": load._Loader.yaml_implicit_resolvers})
        monkeypatch.setattr(load, "_Loader", pure)
    elif not load._BYTE_POSITIONS:
        pytest.skip("PyYAML without libyaml")
    with pytest.raises(ManifestErrors) as exc:
        load.parse_text("kind: Pod\n" + broken + "---\nkind: Pod\nmetadata: {name: [b\n", "f.yaml")
    lines = [e.location.line for e in exc.value.errors]
    assert lines == [line, 4 + broken.count("\n")], [str(e) for e in exc.value.errors]


def test_a_duplicate_key_is_an_error_at_the_second_key():
    # `cat a.yaml b.yaml` without `---`: the second object would silently replace the first
    text = PODS.split("---\n")[0] + PODS.split("---\n")[1]
    [error] = errors_of(text)
    assert error.startswith("<stdin>:4: ") and "duplicate key 'apiVersion' (first at line 1)" in error


def test_a_duplicate_key_in_json_is_an_error(tmp_path):
    f = tmp_path / "pod.json"
    f.write_text('{"apiVersion": "v1", "kind": "Pod",\n "metadata": {"name": "a"},\n "metadata": {"name": "b"}}')
    [error] = errors_of("", str(f))
    assert error.startswith(f"{f}:3: ") and "duplicate key 'metadata'" in error
    f.write_text('{"apiVersion": "v1",\t"kind": "Pod", "kind": "Pod"}')  # tabs: read as JSON only
    [error] = errors_of("", str(f))
    assert "duplicate key 'kind'" in error


# --------------------------------------------------------------------------------------------------
# Directories as people have them: --exclude, files without objects, Helm templates, --skip-invalid
# --------------------------------------------------------------------------------------------------

def test_files_without_kubernetes_objects_are_skipped_with_one_line(tmp_path):
    tree = tmp_path / "repo"
    shutil.copytree(DATA, tree)
    (tree / "chart" / "templates" / "deployment.yaml").unlink()
    result = run("connectivity", str(tree))
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith("warning: skipped 3 files that hold no Kubernetes object: ")
    assert all(name in warnings[0] for name in ("Chart.yaml", "values.yaml", "kustomization.yaml"))
    assert "shop/client" in result.stdout


def test_an_unrendered_helm_template_is_one_error_that_says_so():
    result = run("connectivity", str(DATA))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {DATA / 'chart' / 'templates' / 'deployment.yaml'}: an unrendered Helm template (`{{{{ ... }}}}`): "
        "render the chart first, e.g. `helm template CHART | reasoner ... -`"]


@pytest.mark.parametrize("glob", ["chart", "chart/*", "templates", "deployment.yaml", "*/templates/*.yaml"])
def test_exclude_matches_the_relative_path_or_the_name(glob):
    result = run("connectivity", str(DATA), "--exclude", glob)
    assert result.exit_code == 0, result.output
    assert "shop/web" in result.stdout


def test_exclude_is_repeatable_and_matches_files_given_by_name():
    files = [str(p) for p in sorted(DATA.rglob("*.yaml"))]
    result = run("connectivity", *files, "--exclude", "deployment.yaml", "--exclude", "*.json")
    assert result.exit_code == 0, result.output


def _commands(d: str, spec: str) -> dict[str, list[str]]:
    return {
        "connectivity": ["connectivity", d],
        "can": ["can", "shop/client", "shop/web", "-f", d],
        "lint": ["lint", "--fail-on", "never", d],
        "facts": ["facts", d],
        "prove": ["prove", "--spec", spec, d],
        "diff": ["diff", d, d],
        "repl": ["repl", d, "-e", "can shop/client shop/web"],
    }


@pytest.mark.parametrize("command", ["connectivity", "can", "lint", "facts", "prove", "diff", "repl"])
def test_every_command_that_reads_paths_takes_exclude_and_skip_invalid(command, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("apiVersion: reasoner/v1\nkind: ComplianceSpec\nrequirements:\n"
                    "- id: open\n  allow: {from: {namespace: shop}, to: {namespace: shop}}\n")
    args = _commands(str(DATA), str(spec))[command]
    assert run(*args).exit_code == 2
    excluded = run(*args, "--exclude", "templates")
    assert excluded.exit_code == 0, excluded.output
    skipped = run(*args, "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    assert "an unrendered Helm template" in skipped.stderr
    assert "skipped 1 invalid file (--skip-invalid)" in skipped.stderr


def test_skip_invalid_leaves_out_files_with_invalid_objects_and_counts_them(tmp_path):
    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "a.yaml").write_text(DENY_ALL.replace("[Ingress]", "[Sideways]"))
    (tmp_path / "b.yaml").write_text("kind: Pod\nmetadata: {name: [\n")
    (tmp_path / "c.yaml").write_text(DENY_ALL)
    result = run("can", "shop/client", "shop/web", "--port", "80", "-f", str(tmp_path), "--skip-invalid")
    assert result.exit_code == 1, result.output  # c.yaml is read: denied
    assert f"warning: skipped 2 invalid files (--skip-invalid): {tmp_path / 'a.yaml'}, {tmp_path / 'b.yaml'}" \
        in result.stderr
    assert sum(line.startswith(f"warning: {tmp_path / 'a.yaml'}") for line in result.stderr.splitlines()) == 1


# --------------------------------------------------------------------------------------------------
# Unreadable directories and files, over-long paths
# --------------------------------------------------------------------------------------------------

def test_an_unreadable_subdirectory_is_an_error_or_a_counted_warning(tmp_path, monkeypatch):
    (tmp_path / "pods.yaml").write_text(PODS)
    locked = tmp_path / "policies"
    locked.mkdir()
    (locked / "deny.yaml").write_text(DENY_ALL)
    scandir = os.scandir

    def refuse(path):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(load.os, "scandir", refuse)
    result = run("can", "shop/client", "shop/web", "-f", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == f"error: {locked}: cannot read directory: Permission denied\n"
    result = run("can", "shop/client", "shop/web", "-f", str(tmp_path), "--skip-invalid")
    assert result.exit_code == 0
    assert f"skipped 1 invalid file (--skip-invalid): {locked}" in result.stderr


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="permissions do not bind root")
def test_a_directory_without_permissions_is_an_error(tmp_path):
    (tmp_path / "pods.yaml").write_text(PODS)
    locked = tmp_path / "policies"
    locked.mkdir()
    (locked / "deny.yaml").write_text(DENY_ALL)
    locked.chmod(0)
    try:
        result = run("can", "shop/client", "shop/web", "-f", str(tmp_path))
    finally:
        locked.chmod(0o755)
    assert result.exit_code == 2 and f"error: {locked}: cannot read directory" in result.stderr


@pytest.mark.parametrize("args", [["connectivity", "x" * 5000], ["repl", "x" * 5000, "-e", "quit"],
                                  ["diff", "x" * 5000, str(DATA / "rendered")],
                                  ["prove", "--spec", "x" * 5000, str(DATA / "rendered")]])
def test_an_over_long_path_is_an_error(args):
    result = run(*args)
    assert result.exit_code == 2 and "cannot read: File name too long" in result.stderr, result.output


# --------------------------------------------------------------------------------------------------
# git:REV:PATH
# --------------------------------------------------------------------------------------------------

def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "pods.yaml").write_text(PODS)
    (deploy / "politique-entrée.yaml").write_text(DENY_ALL)  # git quotes this name unless -z
    (tmp_path / "docs").mkdir()
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "v1")
    return tmp_path


def test_git_path_is_read_from_the_repository_root_with_non_ascii_names(repo, monkeypatch):
    monkeypatch.chdir(repo / "docs")
    result = run("diff", "git:HEAD:deploy", str(repo / "deploy"))
    assert result.exit_code == 0, result.output
    assert "equivalent" in result.stdout.lower()


def test_git_dot_path_is_read_from_the_current_directory(repo, monkeypatch):
    monkeypatch.chdir(repo / "deploy")
    assert run("diff", "git:HEAD:./", ".").exit_code == 0
    assert run("diff", "git:HEAD:../deploy/", ".").exit_code == 0
    result = run("diff", "git:HEAD:deploy", ".")  # from the root, not from deploy/deploy
    assert result.exit_code == 0, result.output
    result = run("diff", "git:HEAD:../..", ".")
    assert result.exit_code == 2 and "leaves the repository" in result.stderr


def test_git_path_takes_exclude(repo, monkeypatch):
    monkeypatch.chdir(repo)
    (repo / "deploy" / "politique-entrée.yaml").unlink()
    assert run("diff", "git:HEAD:deploy", "deploy").exit_code == 1
    result = run("diff", "git:HEAD:deploy", "deploy", "--exclude", "politique-*")
    assert result.exit_code == 0, result.output
    assert run("diff", "git:HEAD:", "deploy").exit_code == 1
    result = run("diff", "git:HEAD:", "deploy", "--exclude", "politique-*")  # a name, in a subdirectory
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------------------------------
# Options of the main command after the command
# --------------------------------------------------------------------------------------------------

def test_context_and_kubeconfig_after_the_command(tmp_path, monkeypatch):
    seen = {}

    def read_cluster(kubeconfig=None, context=None, timeout=20.0):
        seen.update(kubeconfig=kubeconfig, context=context)
        return live.Reading("cluster test")

    monkeypatch.setattr(live, "read_cluster", read_cluster)
    monkeypatch.setitem(live.SETTINGS, "kubeconfig", None)
    monkeypatch.setitem(live.SETTINGS, "context", None)
    cfg = tmp_path / "config"
    result = run("lint", "cluster:", "--context", "prod", "--kubeconfig", str(cfg))
    assert result.exit_code == 0, result.output
    assert seen == {"kubeconfig": str(cfg), "context": "prod"}
    result = run("--context", "staging", "connectivity", "cluster:")
    assert result.exit_code == 0, result.output
    assert seen["context"] == "staging"


# --------------------------------------------------------------------------------------------------
# Hostile input: alias bombs, recursion, depth
# --------------------------------------------------------------------------------------------------

BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10))


def test_a_billion_laughs_is_an_error_not_gigabytes(tmp_path):
    f = tmp_path / "bomb.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n"
                 + "".join("  " + line + "\n" for line in BOMB.splitlines()))
    [error] = errors_of("", str(f))
    assert error.startswith(f"{f}:") and "too many aliases" in error
    result = run("connectivity", "-", input=BOMB)
    assert result.exit_code == 2 and "<stdin>:" in result.stderr and "too many aliases" in result.stderr
    result = run("prove", "--spec", str(f), str(DATA / "rendered"))
    assert result.exit_code == 2 and "too many aliases" in result.stderr


def test_the_line_map_holds_every_field_path_and_no_other():
    [doc] = load.parse_text("kind: X\nspec:\n  ports: [80, 443]\n  peers:\n  - a\n", "f.yaml")
    assert doc.lines == {(): 1, ("kind",): 1, ("spec",): 2, ("spec", "ports"): 3, ("spec", "ports", 0): 3,
                         ("spec", "ports", 1): 3, ("spec", "peers"): 4, ("spec", "peers", 0): 5}


def test_aliases_within_the_limit_share_their_node():
    text = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: &l {app: a}\n  annotations: *l\n")
    [doc] = load.parse_text(text, "f.yaml")
    assert doc.data["metadata"]["annotations"] == {"app": "a"}


def test_merge_keys_still_merge():
    text = "base: &b {app: web, tier: 1}\nlabels:\n  <<: *b\n  tier: 2\n"
    [doc] = load.parse_text(text, "f.yaml")
    assert doc.data["labels"] == {"app": "web", "tier": 2}


def test_a_recursive_alias_is_a_located_error():
    [error] = errors_of("apiVersion: v1\nkind: Pod\nmetadata: &m\n  name: *m\n")
    assert error.startswith("<stdin>:4: ") and "recursive" in error


@pytest.mark.parametrize("text, line", [("[" * 5000 + "]" * 5000, 1),
                                        ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 3000)), 101)])
def test_deep_nesting_is_a_located_error(text, line):
    [error] = errors_of(text)
    assert error == f"<stdin>:{line}: nested deeper than {load.MAX_DEPTH} levels"


@pytest.mark.parametrize("text", ['{"a":\t' * 3000 + "1" + "}" * 3000, '{"a":\t' * 150 + "1" + "}" * 150])
def test_deep_json_is_an_error(tmp_path, text):
    f = tmp_path / "deep.json"
    f.write_text(text)
    [error] = errors_of("", str(f))
    assert error.endswith(f"nested deeper than {load.MAX_DEPTH} levels")


def test_nesting_up_to_the_limit_is_read():
    [doc] = load.parse_text("apiVersion: v1\nkind: X\nx: " + "[" * (load.MAX_DEPTH - 1) + "]" * (load.MAX_DEPTH - 1),
                            "f.yaml")
    assert doc.data["kind"] == "X"


# --------------------------------------------------------------------------------------------------
# Numbers as Kubernetes reads them
# --------------------------------------------------------------------------------------------------

CALICO = """apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: web-in, namespace: shop}
spec:
  selector: app == 'web'
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      ports: [20:30]
"""


def test_an_unquoted_calico_port_range_is_a_range_not_a_base_60_number(tmp_path):
    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "policy.yaml").write_text(CALICO)
    result = run("can", "shop/client", "shop/web", "--port", "25", "-f", str(tmp_path))
    assert result.exit_code == 0, result.output
    [doc] = load.parse_text("a: 1:30\nb: 0x1f\nc: 017\nd: 1_000\ne: 1.5\nf: 1:30.5\n", "f.yaml")
    assert doc.data == {"a": "1:30", "b": 31, "c": 15, "d": 1000, "e": 1.5, "f": "1:30.5"}


# --------------------------------------------------------------------------------------------------
# Bytes that are not UTF-8
# --------------------------------------------------------------------------------------------------

def test_standard_input_that_is_not_utf8_names_the_byte():
    text = b"apiVersion: v1\nkind: Pod\nmetadata: {name: caf\xe9}\n"
    result = run("connectivity", "-", input=text)
    assert result.exit_code == 2
    assert result.stderr == f"error: <stdin>:3: not UTF-8 text: byte 0xe9 at offset {text.index(0xe9)}\n"


def test_a_manifest_and_a_spec_that_are_not_utf8(tmp_path):
    f = tmp_path / "pods.yaml"
    f.write_bytes(PODS.encode() + b"# \xff\n")
    result = run("connectivity", str(f))
    assert result.exit_code == 2 and f"{f}:8: not UTF-8 text: byte 0xff at offset {len(PODS) + 2}" in result.stderr
    spec = tmp_path / "spec.yaml"
    text = b"apiVersion: reasoner/v1\nkind: ComplianceSpec # \x80\n"
    spec.write_bytes(text)
    result = run("prove", "--spec", str(spec), str(DATA / "rendered"))
    assert result.exit_code == 2
    assert f"{spec}:2: not UTF-8 text: byte 0x80 at offset {text.index(0x80)}" in result.stderr


def test_utf16_with_a_byte_order_mark_is_read(tmp_path):
    f = tmp_path / "pods.yaml"
    f.write_bytes(PODS.encode("utf-16"))  # Windows PowerShell's `>`
    assert [e.ref for e in api.load([f]).endpoints] == ["shop/client", "shop/web"]


def test_a_kubeconfig_that_is_not_utf8_names_the_byte(tmp_path, monkeypatch):
    pytest.importorskip("kubernetes")
    cfg = tmp_path / "config"
    text = b"apiVersion: v1\nkind: Config\ncurrent-context: \xfe\n"
    cfg.write_bytes(text)
    monkeypatch.setitem(live.SETTINGS, "kubeconfig", None)
    result = run("lint", "cluster:", "--kubeconfig", str(cfg))
    assert result.exit_code == 2
    assert result.stderr == f"error: {cfg}:3: not UTF-8 text: byte 0xfe at offset {text.index(0xfe)}\n"


def test_an_integer_too_long_for_python_is_an_error_at_its_line():
    text = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: x}\nspec:\n  order: " + "1" * 5000
    (message,) = errors_of(text)
    assert message.startswith("<stdin>:5: cannot read '111") and "(5000 characters) as a number" in message


# --------------------------------------------------------------------------------------------------
# Many broken documents: each read once, errors capped
# --------------------------------------------------------------------------------------------------

def test_many_broken_documents_are_each_read_once_and_the_errors_capped(monkeypatch):
    text = "---\na: b: c\n" * 300
    read = []
    stream = load._stream

    def counting(chunk, file, base):
        read.append(len(chunk))
        return stream(chunk, file, base)

    monkeypatch.setattr(load, "_stream", counting)
    errors = errors_of(text)
    assert sum(read) <= 2 * len(text)  # the whole text once, then each document once: no re-reading the rest
    assert [e.split(": ", 1)[0] for e in errors[:load.MAX_ERRORS]] == [f"<stdin>:{2 * i}"
                                                                      for i in range(1, load.MAX_ERRORS + 1)]
    assert all(": malformed YAML: mapping values are not allowed" in e for e in errors[:load.MAX_ERRORS])
    assert errors[load.MAX_ERRORS:] == [f"<stdin>: ... and {300 - load.MAX_ERRORS} more errors in this file"]


# --------------------------------------------------------------------------------------------------
# Objects without kind or apiVersion
# --------------------------------------------------------------------------------------------------

def test_a_misspelt_kind_is_an_error_not_a_file_skipped(tmp_path):
    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "deny.yaml").write_text(DENY_ALL.replace("kind:", "knid:"))
    result = run("can", "shop/client", "shop/web", "--port", "80", "-f", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"error: {tmp_path / 'deny.yaml'}:1: resource shop/deny-all: has no `kind` "
                             "(a Kubernetes object needs apiVersion and kind)\n")


def test_a_typed_list_without_api_version_is_an_error(tmp_path):
    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "deny.yaml").write_text("kind: NetworkPolicyList\nitems:\n- metadata: {name: deny-all, namespace: shop}"
                                        "\n  spec: {podSelector: {}, policyTypes: [Ingress]}\n")
    result = run("can", "shop/client", "shop/web", "--port", "80", "-f", str(tmp_path))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {tmp_path / 'deny.yaml'}:3: NetworkPolicy shop/deny-all: has no "
                                    "`apiVersion` (want networking.k8s.io/v1 or "), result.stderr


def test_tool_files_and_mappings_without_object_fields_are_still_skipped(tmp_path):
    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "values-prod.yaml").write_text("metadata: {team: shop}\nspec: {replicas: 2}\n")
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: shop\n")
    (tmp_path / "settings.yaml").write_text("replicas: 2\n")
    result = run("connectivity", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "warning: skipped 3 files that hold no Kubernetes object" in result.stderr


def test_files_without_kind_that_are_no_objects_are_skipped(tmp_path):
    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "devfile.yaml").write_text("schemaVersion: 2.2.0\nmetadata: {name: my-app}\n")
    (tmp_path / "prod-values.yaml").write_text("metadata: {team: shop}\nspec: {replicas: 2}\n")
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "default-values.yaml").write_text("apiVersion: v1\nspec: {replicas: 1}\n")
    (tmp_path / "other.yaml").write_text("apiVersion: example.com/v1\nmetadata: {name: x}\n")
    (tmp_path / "bind.yaml").write_text("bind: 0.0.0.0\nmetadata: {name: x}\n")  # one letter from `kind`: a word
    result = run("connectivity", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "warning: skipped 5 files that hold no Kubernetes object" in result.stderr


@pytest.mark.parametrize("text", [DENY_ALL.replace("kind:", "Kind:"), DENY_ALL.replace("kind:", "kidn:"),
                                  "apiVersion: networking.k8s.io/v1\nmetadata: {name: deny-all, namespace: shop}\n",
                                  "apiVersion: v1\nmetadata: {name: deny-all, namespace: shop}\n",
                                  "knid: NetworkPolicy\nmetadata: {name: deny-all, namespace: shop}\n"])
def test_a_document_meant_as_an_object_without_kind_is_an_error(text):
    assert errors_of(text) == ["<stdin>:1: resource shop/deny-all: has no `kind` (a Kubernetes object needs "
                               "apiVersion and kind)"]


def test_items_of_a_list_that_are_not_mappings_are_errors():
    text = "apiVersion: v1\nkind: PodList\nitems:\n- 3\n-\n- x\n"
    assert errors_of(text) == [f"<stdin>:{line}: PodList default/<unnamed>: items[{i}]: expected a resource "
                               f"(a mapping), got {got}" for i, (line, got) in enumerate([(4, 3), (5, "null"),
                                                                                          (6, "'x'")])]


@pytest.mark.parametrize("value, word", [("!!timestamp 2001-13-45", "a timestamp"),
                                         ("!!timestamp soon", "a timestamp"), ("!!bool maybe", "a boolean")])
def test_a_tagged_value_that_cannot_be_read_names_its_tag(value, word):
    (message,) = errors_of(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: a}}\nx: {value}\n")
    assert message.startswith(f"<stdin>:4: cannot read '{value.split()[1]}' as {word}")


# --------------------------------------------------------------------------------------------------
# --exclude on files named, inputs all excluded; symbolic links
# --------------------------------------------------------------------------------------------------

def test_exclude_does_not_match_the_folders_above_a_file_named(tmp_path):
    folder = tmp_path / "rv"
    folder.mkdir()
    (tmp_path / "pods.yaml").write_text(PODS)
    (folder / "deny.yaml").write_text(DENY_ALL)
    args = ["can", "shop/client", "shop/web", "--port", "80", "-f", str(tmp_path / "pods.yaml"), "-f"]
    assert run(*args, str(folder / "deny.yaml"), "--exclude", "rv").exit_code == 1  # read: denied
    assert run(*args, str(folder), "--exclude", "rv").exit_code == 1  # nor above a directory given
    assert run(*args, str(folder / "deny.yaml"), "--exclude", "deny.yaml").exit_code == 0  # its name: left out


def test_inputs_all_excluded_are_an_error(tmp_path):
    (tmp_path / "pods.yaml").write_text(PODS)
    result = run("connectivity", str(tmp_path / "pods.yaml"), "--exclude", "*.yaml")
    assert result.exit_code == 2 and result.stderr == "error: every input was excluded by --exclude\n"
    result = run("connectivity", str(tmp_path), "--exclude", "*.yaml", "--skip-invalid")
    assert result.exit_code == 2 and result.stderr == "error: every input was excluded by --exclude\n"


def test_a_directory_all_excluded_says_so(tmp_path):
    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "charts").mkdir()
    (tmp_path / "charts" / "values.yaml").write_text("replicas: 2\n")
    result = run("connectivity", str(tmp_path / "pods.yaml"), str(tmp_path / "charts"), "--exclude", "values.yaml")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"warning: {tmp_path / 'charts'}: --exclude leaves nothing in it to read\n"


def test_symbolic_links_are_followed_and_cycles_skipped(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "deny.yaml").write_text(DENY_ALL)
    (tmp_path / "top").mkdir()
    (tmp_path / "top" / "pods.yaml").write_text(PODS)
    (tmp_path / "top" / "policies").symlink_to("../real")
    (tmp_path / "real" / "up").symlink_to("../top")
    result = run("can", "shop/client", "shop/web", "--port", "80", "-f", str(tmp_path / "top"))
    assert result.exit_code == 1, result.output  # the deny-all behind the link is read
    assert (f"warning: {tmp_path / 'top' / 'policies' / 'up'}: skipped, the same directory as {tmp_path / 'top'} "
            "(read there)") in result.stderr


@pytest.mark.parametrize("order", [("current", "releases"), ("releases", "current")])
def test_a_link_to_a_directory_and_the_directory_are_read_once_and_named_right(tmp_path, monkeypatch, order):
    (tmp_path / "releases" / "v5").mkdir(parents=True)
    (tmp_path / "releases" / "v5" / "deny.yaml").write_text(DENY_ALL)
    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "current").symlink_to("releases/v5")
    scandir = os.scandir

    def ordered(path):  # entries in either order, so that the link or the directory is met first
        return sorted(scandir(path), key=lambda e: order.index(e.name) if e.name in order else -1)
    monkeypatch.setattr(load.os, "scandir", ordered)
    docs, errors, notes = load.read_paths([tmp_path])
    [read] = [Path(d.file).parent for d in docs if d.file.endswith("deny.yaml")]
    [other] = {tmp_path / "current", tmp_path / "releases" / "v5"} - {read}
    assert not errors and notes == [f"{other}: skipped, the same directory as {read} (read there)"]


def test_a_walk_is_bounded_by_a_number_of_entries(tmp_path, monkeypatch):
    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "big").mkdir()
    for i in range(5):
        (tmp_path / "big" / f"f{i}.txt").write_text("")
    monkeypatch.setattr(load, "MAX_WALK_ENTRIES", 5)
    result = run("connectivity", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == (f"error: {tmp_path}: more than 5 entries under {tmp_path} (a link to a large tree? "
                             "use --exclude)\n")
    assert run("connectivity", str(tmp_path), "--exclude", "f[0-2].txt").exit_code == 2  # entries are still visited
    monkeypatch.setattr(load, "MAX_WALK_ENTRIES", 7)
    assert run("connectivity", str(tmp_path)).exit_code == 0


def test_a_dangling_link_is_an_error_or_a_counted_warning(tmp_path):
    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "policies").symlink_to("gone")
    result = run("connectivity", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path / 'policies'}: a symbolic link to gone, which does not exist\n"
    result = run("connectivity", str(tmp_path), "--skip-invalid")
    assert result.exit_code == 0
    assert f"skipped 1 invalid file (--skip-invalid): {tmp_path / 'policies'}" in result.stderr


def test_a_dangling_link_that_would_not_be_read_is_no_error(tmp_path):
    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "sl").mkdir()
    (tmp_path / "sl" / "README.md").symlink_to("/nonexistent/README.md")
    (tmp_path / "sl" / "gone.yaml").symlink_to("/nonexistent/gone.yaml")
    result = run("connectivity", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == (f"error: {tmp_path / 'sl' / 'gone.yaml'}: a symbolic link to /nonexistent/gone.yaml, "
                             "which does not exist\n")
    result = run("connectivity", str(tmp_path), "--exclude", "gone.yaml")
    assert result.exit_code == 0 and result.stderr == "", result.output


def test_a_git_path_all_excluded_says_so(repo, monkeypatch):
    monkeypatch.chdir(repo)
    result = run("diff", "git:HEAD:deploy", "deploy", "--exclude", "*.yaml")
    assert result.exit_code == 2
    assert result.stderr == ("error: git:HEAD:deploy: --exclude leaves out every .yaml, .yml or .json file at deploy "
                             "in HEAD\n")


def test_read_options_are_arguments_of_the_readers(tmp_path):
    from reasoner.diff import versions as diff
    from reasoner.repl import Session

    (tmp_path / "pods.yaml").write_text(PODS)
    (tmp_path / "deny.yaml").write_text(DENY_ALL.replace("[Ingress]", "[Sideways]"))
    options = load.ReadOptions(exclude=("deny.yaml",))
    docs, _ = diff.read_version(str(tmp_path), options)
    assert {d.file for d in docs} == {str(tmp_path / "pods.yaml")}
    _, warnings = diff.read_version(str(tmp_path), load.ReadOptions(skip_invalid=True))
    assert f"skipped 1 invalid file (--skip-invalid): {tmp_path / 'deny.yaml'}" in warnings
    assert Session([str(tmp_path)], options=options).execute("can shop/client shop/web").text
    assert api.load([str(tmp_path)], options=options).files == [str(tmp_path / "pods.yaml")]
