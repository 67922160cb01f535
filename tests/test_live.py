"""Reading a running cluster, against a local fake of the Kubernetes API that serves recorded list responses
(tests/data/fake-api: the calico-security-tier-dns scenario as a cluster would list it, plus a host endpoint and
the default FelixConfiguration; the AdminNetworkPolicy CRDs are not installed there, so those kinds answer 404)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("kubernetes")

from reasoner.cli import main  # noqa: E402

RECORDED = Path(__file__).resolve().parent / "data" / "fake-api"


class FakeAPI(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []
    status: int | None = None  # force every answer to this status

    def do_GET(self):  # noqa: N802
        FakeAPI.seen.append(("GET", self.path))
        path = RECORDED / (self.path.split("?")[0].strip("/").replace("/", "_") + ".json")
        if FakeAPI.status is not None:
            self._send(FakeAPI.status, {"kind": "Status", "code": FakeAPI.status, "reason": "Forbidden"})
        elif self.headers.get("Authorization") != "Bearer t0ken":
            self._send(401, {"kind": "Status", "code": 401, "reason": "Unauthorized"})
        elif path.is_file():
            self._send(200, json.loads(path.read_text()))
        else:
            self._send(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

    def do_POST(self):  # noqa: N802 - never called: reading is read-only
        FakeAPI.seen.append(("POST", self.path))
        self._send(405, {})

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
def kubeconfig(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeAPI.seen.clear()
    FakeAPI.status = None
    path = tmp_path / "kubeconfig"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: {{server: "http://127.0.0.1:{server.server_address[1]}"}}
- name: gone
  cluster: {{server: "http://127.0.0.1:9"}}
users:
- name: me
  user: {{token: t0ken}}
contexts:
- name: fake
  context: {{cluster: fake, user: me}}
- name: gone
  context: {{cluster: gone, user: me}}
current-context: fake
""")
    yield path
    server.shutdown()


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_live_cluster_answers_like_the_manifests(kubeconfig):
    r = run("--kubeconfig", str(kubeconfig), "can", "shop/api-7d4b9c-ax6", "ip:203.0.113.10", "--port", "443",
            "-f", "cluster:")
    offline = run("can", "shop/api", "ip:203.0.113.10", "--port", "443", "-f", "corpus/calico-security-tier-dns/manifests")
    assert r.exit_code == offline.exit_code, r.output + offline.output
    assert "AdminNetworkPolicy" in r.stderr and "not served" in r.stderr  # absent CRDs: a warning, not an error
    assert all(method == "GET" for method, _ in FakeAPI.seen)  # read-only
    assert ("GET", "/apis/crd.projectcalico.org/v1/globalnetworkpolicies") in FakeAPI.seen


def test_snapshot_then_offline_gives_the_same_map(kubeconfig, tmp_path):
    snap = tmp_path / "snap"
    r = run("--kubeconfig", str(kubeconfig), "snapshot", str(snap))
    assert r.exit_code == 0, r.output
    assert (snap / "pods.v1.yaml").is_file() and (snap / "globalnetworkpolicies.crd-projectcalico-org.yaml").is_file()
    text = (snap / "pods.v1.yaml").read_text()
    assert "managedFields" not in text and "resourceVersion" not in text
    live = json.loads(run("--kubeconfig", str(kubeconfig), "connectivity", "-o", "json", "cluster:fake").stdout)
    offline = json.loads(run("connectivity", "-o", "json", str(snap)).stdout)
    assert live == offline and live["connections"]
    assert run("diff", str(snap), str(snap)).exit_code == 0


def test_unreachable_cluster_and_refused_requests_are_clear_errors(kubeconfig):
    r = run("--kubeconfig", str(kubeconfig), "--context", "gone", "connectivity", "cluster:")
    assert r.exit_code == 2 and "unreachable" in r.stderr and "Traceback" not in r.output
    FakeAPI.status = 403
    r = run("--kubeconfig", str(kubeconfig), "connectivity", "cluster:")
    assert r.exit_code == 2 and "HTTP 403" in r.stderr
    r = run("--kubeconfig", str(kubeconfig), "--context", "nosuch", "connectivity", "cluster:")
    assert r.exit_code == 2 and "kubeconfig" in r.stderr


def test_host_endpoints_and_failsafe_ports_are_read_from_the_cluster(kubeconfig, tmp_path):
    base = ("--kubeconfig", str(kubeconfig), "can")
    assert run(*base, "ip:198.51.100.7", "hep:node-1-eth0", "--port", "22", "-f", "cluster:").exit_code == 0
    # the FelixConfiguration replaced the default failsafe ports: 6443 is not one any more; no policy: Deny
    assert run(*base, "ip:198.51.100.7", "hep:node-1-eth0", "--port", "6443", "-f", "cluster:").exit_code == 1
    assert ("GET", "/apis/crd.projectcalico.org/v1/hostendpoints") in FakeAPI.seen
    snap = tmp_path / "snap"
    assert run("--kubeconfig", str(kubeconfig), "snapshot", str(snap)).exit_code == 0
    assert "node-1-eth0" in (snap / "hostendpoints.crd-projectcalico-org.yaml").read_text()
    assert run("can", "ip:198.51.100.7", "hep:node-1-eth0", "--port", "6443", "-f", str(snap)).exit_code == 1
