"""Reading a live cluster that misbehaves: bad kubeconfigs, malformed list answers and an API server that never
answers are clear errors (exit 2), never a traceback or a hang."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

pytest.importorskip("kubernetes")

from reasoner.cli import main  # noqa: E402

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "http://127.0.0.1:{port}"}}
users:
- name: me
  user: {{token: t0ken}}
contexts:
- name: c
  context: {{cluster: c, user: me}}
current-context: c
"""


def run(*args):
    return CliRunner().invoke(main, list(args))


def clean_error(result, *words):
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("content,words", [
    (b"- a\n- b\n", ("kubeconfig", "expected one mapping")),
    (b"\x00\x01\xff\xfe binary \x89PNG\r\n", ("kubeconfig",)),
    (b"apiVersion: v1\nclusters: [\n", ("kubeconfig", "malformed YAML")),
    (b"contexts: 5\ncurrent-context: x\n", ("kubeconfig", "not a valid kubeconfig")),
    (b"clusters: [1]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
     ("kubeconfig", "not a valid kubeconfig")),
    (b"42\n", ("kubeconfig", "expected one mapping")),
])
def test_a_malformed_kubeconfig_is_a_clear_error(tmp_path, content, words):
    path = tmp_path / "kubeconfig"
    path.write_bytes(content)
    clean_error(run("--kubeconfig", str(path), "connectivity", "cluster:"), *words)


class Answers(BaseHTTPRequestHandler):
    """Every list is empty except the ones in `bodies`; the Calico and ANP resources are not served."""

    bodies: dict[str, object] = {}

    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0]
        if path in Answers.bodies:
            self._send(200, Answers.bodies[path])
        elif path.startswith("/apis/crd.projectcalico.org") or path.startswith("/apis/policy.networking"):
            self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})
        else:
            self._send(200, {"kind": "List", "items": []})

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def answering(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(port=server.server_address[1]))
    yield path
    server.shutdown()
    Answers.bodies = {}


POD = {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"containers": [{"name": "c"}]}}


@pytest.mark.parametrize("items,words", [
    ([1], ("listing pods", "item 0", "not an object")),
    ([POD, "text"], ("listing pods", "item 1", "not an object")),
    ([{**POD, "metadata": "web"}], ("pods", "metadata", "expected a mapping")),
    ([{**POD, "metadata": {"name": "web", "labels": {"app@b": "x"}}}], ("metadata.labels.app@b", "invalid label key")),
])
def test_malformed_list_items_are_clear_errors(answering, items, words):
    Answers.bodies = {"/api/v1/pods": {"kind": "PodList", "items": items}}
    clean_error(run("--kubeconfig", str(answering), "connectivity", "cluster:"), *words)


def test_list_items_with_fields_the_engine_does_not_read_are_read(answering):
    Answers.bodies = {"/api/v1/pods": {"kind": "PodList", "items": [
        {**POD, "metadata": {"name": "web", "namespace": "shop", "annotations": ["not", "a", "map"]}}]}}
    r = run("--kubeconfig", str(answering), "connectivity", "cluster:")
    assert r.exit_code == 0 and r.exception is None, r.output
    assert "shop/web" in r.stdout


@pytest.fixture
def silent(tmp_path):
    """An API server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)  # read nothing, answer nothing

    threading.Thread(target=accept, daemon=True).start()
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG.format(port=listener.getsockname()[1]))
    yield path
    stop.set()
    listener.close()
    for conn in held:
        conn.close()


def test_a_server_that_never_answers_times_out(silent, monkeypatch):
    monkeypatch.setenv("REASONER_KUBE_TIMEOUT", "1,0.3")
    line = clean_error(run("--kubeconfig", str(silent), "connectivity", "cluster:"), "no answer within 0.3 s",
                       "REASONER_KUBE_TIMEOUT")
    assert "listing namespaces" in line  # the first request: it is not retried


@pytest.mark.parametrize("value", ["soon", "0", "1,2,3", "-5", "inf", "nan"])
def test_a_bad_timeout_setting_is_a_usage_error(answering, monkeypatch, value):
    monkeypatch.setenv("REASONER_KUBE_TIMEOUT", value)
    clean_error(run("--kubeconfig", str(answering), "connectivity", "cluster:"), "REASONER_KUBE_TIMEOUT")


def test_the_default_timeouts_are_used_without_the_setting(monkeypatch):
    from reasoner import live

    monkeypatch.delenv("REASONER_KUBE_TIMEOUT", raising=False)
    assert live.timeouts() == live.TIMEOUT == (10.0, 60.0)
    monkeypatch.setenv("REASONER_KUBE_TIMEOUT", "90")
    assert live.timeouts() == (10.0, 90.0)
