"""Services and DNS names: `can` to a service agrees with `can` on its backing pods and target ports."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from reasoner.cli import main

DEMO = "corpus/microservices-demo/manifests"


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("name", ["emailservice", "emailservice.boutique", "emailservice.boutique.svc",
                                  "emailservice.boutique.svc.cluster.local", "svc:boutique/emailservice"])
def test_every_dns_form_agrees_with_the_backend_on_its_target_port(name):
    r = run("can", "boutique/checkoutservice", name, "--port", "5000", "-f", DEMO, "-o", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["service"] == "boutique/emailservice"
    (b,) = data["backends"]
    assert (b["backend"], b["servicePort"], b["targetPort"]) == ("boutique/emailservice", 5000, 8080)
    direct = run("can", "boutique/checkoutservice", "boutique/emailservice", "--port", "8080", "-f", DEMO)
    assert direct.exit_code == 0 and b["allowed"]


def test_a_denied_service_is_denied_on_its_backend():
    r = run("can", "boutique/frontend", "emailservice.boutique", "--port", "5000", "-f", DEMO)
    assert r.exit_code == 1 and r.stdout.startswith("DENIED")
    assert run("can", "boutique/frontend", "boutique/emailservice", "--port", "8080", "-f", DEMO).exit_code == 1


SVC = """
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 9090}]}]}
status: {podIP: 10.1.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: web-3, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.1.0.3}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop, labels: {app: client}}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.1.0.9}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  clusterIP: 10.96.0.20
  ports: [{port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{ports: [{port: 8080}]}]
"""


def test_named_target_ports_resolve_per_backend_and_cluster_ip_names_the_service(tmp_path):
    (tmp_path / "a.yaml").write_text(SVC)
    r = run("can", "shop/client", "ip:10.96.0.20", "--port", "80", "-f", str(tmp_path), "-o", "json")
    assert r.exit_code == 1, r.output  # web-2 listens on 9090, which the policy does not admit
    data = json.loads(r.stdout)
    got = {b["backend"]: (b["targetPort"], b["allowed"]) for b in data["backends"]}
    assert got == {"shop/web-1": (8080, True), "shop/web-2": (9090, False), "shop/web-3": (None, False)}
    text = run("can", "shop/client", "web", "--port", "80", "-f", str(tmp_path)).stdout
    assert text.startswith("PARTIAL") and "NOT REACHED" in text
    pod = run("can", "shop/client", "10-1-0-1.shop.pod.cluster.local", "--port", "8080", "-f", str(tmp_path))
    assert pod.exit_code == 0, pod.output
    lint = json.loads(run("lint", "-o", "json", "--fail-on", "never", str(tmp_path)).stdout)
    (f,) = [f for f in lint["findings"] if f["kind"] == "unresolved-target-port"]
    assert "shop/web-3" in f["message"] and f["line"]


@pytest.mark.parametrize("args,needle", [
    (["boutique/frontend", "nosuch.boutique", "--port", "80"], "no service boutique/nosuch"),
    (["boutique/frontend", "emailservice.boutique", "--port", "81"], "has no port 81"),
    (["svc:boutique/emailservice", "boutique/frontend"], "does not send traffic"),
])
def test_bad_service_questions_are_clear_errors(args, needle):
    r = run("can", *args, "-f", DEMO)
    assert r.exit_code == 2 and needle in r.stderr, r.output


def test_prove_takes_services_as_peers(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("""apiVersion: reasoner/v1
kind: ComplianceSpec
requirements:
  - id: email-only-from-checkout
    only: {to: {service: boutique/emailservice}, from: {service: boutique/checkoutservice}}
  - id: email-only-from-frontend
    only: {to: {service: boutique/emailservice}, from: {service: boutique/frontend}}
  - id: bad
    deny: {to: {service: boutique/nosuch}}
""")
    r = run("prove", "--spec", str(spec), DEMO, "-o", "json")
    assert r.exit_code == 2 and "unknown service 'boutique/nosuch'" in r.stderr
    spec.write_text(spec.read_text().rsplit("  - id: bad", 1)[0])
    r = run("prove", "--spec", str(spec), DEMO, "-o", "json")
    res = {x["id"]: x for x in json.loads(r.stdout)["results"]}
    assert res["email-only-from-checkout"]["status"] == "proved"
    assert res["email-only-from-frontend"]["status"] == "violated"
    assert res["email-only-from-frontend"]["witness"]["src"] == "boutique/checkoutservice"


def test_egress_nat_is_explained_where_it_matters(tmp_path):
    (tmp_path / "a.yaml").write_text("""
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pods}
spec: {cidr: 10.244.0.0/16, natOutgoing: true}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.244.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop}
spec: {containers: [{name: c, image: i}]}
status: {podIP: 10.244.0.6}
""")
    out = run("can", "shop/web", "ip:8.8.8.8", "--port", "443", "-f", str(tmp_path)).stdout
    assert "NATed to its node's address (IPPool pods natOutgoing" in out and "before NAT" in out
    inside = run("can", "shop/web", "shop/db", "--port", "443", "-f", str(tmp_path)).stdout
    assert "NAT" not in inside
    within_pool = run("can", "shop/web", "ip:10.244.9.9", "--port", "443", "-f", str(tmp_path)).stdout
    assert "NAT" not in within_pool


@pytest.mark.parametrize("scenario", ["corpus/services-dns/manifests", DEMO])
def test_the_map_by_service_agrees_with_can_on_every_service_port(scenario):
    from reasoner import api
    from reasoner.query.services import can_service, service_map

    an = api.analyse(api.load([scenario]))
    rows = {(r.src, r.service.ref): r for r in service_map(an)}
    checked = 0
    for svc in an.cluster.services:
        for ep in an.cluster.endpoints:
            for sp in svc.ports:
                v = can_service(an, ep.ref, svc, sp.protocol, sp.port)
                if not v.backends:
                    continue
                row = rows.get((ep.ref, svc.ref))
                assert v.allowed == (row is not None and sp in row.allowed), (ep.ref, svc.ref, sp.port)
                checked += 1
    assert checked > 20
    r = run("connectivity", "--by", "service", "-o", "json", scenario)
    assert r.exit_code == 0 and json.loads(r.stdout)["services"]
