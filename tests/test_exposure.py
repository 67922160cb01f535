"""Exposure (`connectivity --exposure`, the REPL's `exposure`): what could reach each endpoint, or what it could
reach, beyond the input's endpoints — pods that could be deployed and outside addresses.

tests/data/exposure/cluster.yaml holds one endpoint per hand-checked case: vault/safe behind a default deny,
api/server open to namespaces labelled env=dev (none exists), shop/db open to pods of shop labelled role=admin
(none exists), web/front open to every address outside 10.0.0.0/8 (pods are in 10.244.0.0/16). Each exposure row is
cross-checked with `prove --scope any-workload`: the matching `deny` fails with a witness of that kind, and a
`deny` from a kind with no row is proved.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import ValidationError

from reasoner import api
from reasoner.properties import universe
from reasoner.properties.prove import prove
from reasoner.properties.spec import load_spec
from reasoner.repl import Completer, Session
from support.contracts import validator
from support.helpers import cli, write_docs

DATA = Path(__file__).parent / "data" / "exposure"
VALIDATOR = validator("exposure")


def exposure_json(*args: str) -> list[dict]:
    result = cli("connectivity", "--exposure", "-o", "json", *args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    VALIDATOR.validate(data)
    return data["exposure"]


def ports(row: dict) -> list:
    return [(a["protocol"], a["ports"]) for a in row["allowed"]]


def test_ingress_of_the_hand_checked_cases():
    rows = exposure_json(str(DATA))
    assert [(r["endpoint"], r["direction"], r["from"]["kind"]) for r in rows] == [
        ("api/server", "ingress", "new-namespace"), ("shop/db", "ingress", "new-pod"),
        ("web/front", "ingress", "addresses")]
    api_row, db_row, web_row = rows
    # a new namespace labelled env=dev, any pod in it (the name is the engine's choice: no selector reads names)
    assert api_row["from"] == {"kind": "new-namespace", "namespaceLabels": {"env": "dev"}}
    assert ports(api_row) == [("TCP", [[8080, 8080]])]
    # a new pod of shop labelled role=admin
    assert db_row["from"] == {"kind": "new-pod", "namespace": "shop", "labels": {"role": "admin"}}
    assert ports(db_row) == [("TCP", [[5432, 5432]])]
    # every address but 10.0.0.0/8, as the fewest prefixes
    import ipaddress
    nets = [ipaddress.ip_network(c) for c in web_row["from"]["cidrs"]]
    assert sum(n.num_addresses for n in nets) == 2 ** 32 - 2 ** 24
    assert not any(n.overlaps(ipaddress.ip_network("10.0.0.0/8")) for n in nets)
    assert ports(web_row) == [("TCP", [[443, 443]])]


def test_egress_reaches_the_kinds_that_admit_it():
    rows = exposure_json("--direction", "out", str(DATA))
    assert all(r["direction"] == "egress" and "to" in r and "from" not in r for r in rows)
    web = [r["to"] for r in rows if r["endpoint"] == "web/front"]
    # web's egress goes only to pods labelled app=db in namespaces labelled env=prod: shop/db admits only role=admin
    # and api's pods only env=dev namespaces, so only such pods in a new namespace remain
    assert web == [{"kind": "new-namespace", "labels": {"app": "db"}, "namespaceLabels": {"env": "prod"}}]
    safe = [(r["to"], ports(r)) for r in rows if r["endpoint"] == "vault/safe"]
    # vault/safe's egress is open: any pod in any new namespace, and every address, get all traffic
    anywhere = [p for peer, p in safe if peer == {"kind": "new-namespace"}]
    assert len(anywhere) == 1 and all(v == "all" for _p, v in anywhere[0])
    assert [peer["cidrs"] for peer, _p in safe if peer["kind"] == "addresses"] == [["0.0.0.0/0"]]


def test_text_table_and_filters():
    result = cli("connectivity", "--exposure", str(DATA))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ENDPOINT", "REACHABLE", "FROM", "ALLOWED"]
    assert "any pod in a new namespace labelled env=dev" in lines[1] and lines[1].endswith("TCP 8080")
    assert "new pods in shop labelled role=admin" in lines[2] and lines[2].endswith("TCP 5432")
    assert "0.0.0.0/0 except 10.0.0.0/8" in lines[3] and lines[3].endswith("TCP 443")
    assert "vault/safe" not in result.output
    assert [r["endpoint"] for r in exposure_json("--focus", "shop/db", str(DATA))] == ["shop/db"]
    assert [r["endpoint"] for r in exposure_json("-n", "web", str(DATA))] == ["web/front"]
    assert [r["endpoint"] for r in exposure_json("--port", "8080", str(DATA))] == ["api/server"]
    assert [r["endpoint"] for r in exposure_json("-l", "app == 'db'", str(DATA))] == ["shop/db"]
    assert [r["endpoint"] for r in exposure_json("--by", "namespace", str(DATA))] == ["api/*", "shop/*", "web/*"]
    assert exposure_json("--focus", "vault/safe", str(DATA)) == []
    nothing = cli("connectivity", "--exposure", "--focus", "vault/safe", str(DATA))
    assert nothing.exit_code == 0 and "nothing beyond the input's endpoints can reach" in nothing.output


@pytest.mark.parametrize("args", [("--peer", "shop/db", "--focus", "api/server"), ("-o", "csv"), ("--by", "service")])
def test_options_that_do_not_apply_are_usage_errors(args):
    result = cli("connectivity", "--exposure", *args, str(DATA))
    assert result.exit_code == 2
    assert "--exposure prints text or json" in result.output


def test_too_many_kinds_of_new_pods_is_a_clear_error(monkeypatch):
    real = universe.build_universe
    monkeypatch.setattr(universe, "build_universe", lambda cluster, **kw: real(cluster, limit=2, **kw))
    result = cli("connectivity", "--exposure", str(DATA))
    assert result.exit_code == 2
    assert result.output.startswith("error: any-workload: ") and "Traceback" not in result.output


def test_a_new_namespace_named_by_a_selector_is_shown_by_name(tmp_path):
    path = write_docs(tmp_path, """
        apiVersion: v1
        kind: Namespace
        metadata: {name: app}
        """, """
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: app, labels: {open: "yes"}}
        spec: {containers: [{name: c, image: i}]}
        status: {podIP: 10.244.0.2}
        """, """
        apiVersion: v1
        kind: Pod
        metadata: {name: api, namespace: app}
        spec: {containers: [{name: c, image: i}]}
        status: {podIP: 10.244.0.1}
        """, """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: from-partner, namespace: app}
        spec:
          podSelector: {matchExpressions: [{key: open, operator: DoesNotExist}]}
          ingress:
          - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: partner}}}]
        """)
    rows = exposure_json("--by", "pod", path)
    api_rows = [r["from"] for r in rows if r["endpoint"] == "app/api"]
    assert api_rows == [{"kind": "new-namespace", "namespace": "partner", "namespaceLabels": {}}]
    # every new namespace alike, the one named by a selector too: one row
    web_rows = [r["from"] for r in rows if r["endpoint"] == "app/web"]
    assert {"kind": "new-namespace"} in web_rows
    assert not any(r.get("namespace") == "partner" for r in web_rows)


def test_repl_exposure():
    s = Session([str(DATA)])
    one = s.execute("exposure shop/db")
    assert not one.error
    assert one.text.splitlines()[1].split()[0] == "shop/db" and "role=admin" in one.text
    assert "api/server" not in one.text
    out = s.execute("exposure web/front out")
    assert not out.error and "pods labelled app=db in a new namespace labelled env=prod" in out.text
    every = s.execute("exposure")
    assert every.text == cli("connectivity", "--exposure", str(DATA)).output.rstrip("\n")
    assert s.execute("exposure a/b c/d").error
    assert Completer(s).candidates("exposure shop/db o", "o") == ["out"]
    assert s.execute("exposure nope/nothing").error


def test_the_schema_rejects_what_breaks_the_contract():
    good = {"endpoint": "shop/db", "direction": "ingress", "from": {"kind": "new-pod", "namespace": "shop"},
            "allowed": [{"protocol": "TCP", "ports": [[80, 80]]}]}
    VALIDATOR.validate({"exposure": [good]})
    for bad in ({**good, "from": {"kind": "new-pod"}},  # which namespace
                {**good, "from": {"kind": "addresses"}},  # which addresses
                {**good, "direction": "egress"},  # an egress row says `to`
                {**good, "allowed": []}):
        with pytest.raises(ValidationError):
            VALIDATOR.validate({"exposure": [bad]})


# --------------------------------------------------------------------------------------------------
# Cross-check with prove --scope any-workload
# --------------------------------------------------------------------------------------------------

def statuses(tmp_path: Path, requirements: dict[str, str]) -> dict[str, object]:
    """The result of each `deny` requirement (id -> YAML flow mapping), in any-workload scope."""
    lines = ["apiVersion: reasoner/v1", "kind: ComplianceSpec", "scope: any-workload", "requirements:"]
    lines += [f"  - id: {rid}\n    deny: {body}" for rid, body in requirements.items()]
    (tmp_path / "spec.yaml").write_text("\n".join(lines) + "\n")
    an = api.analyse(api.load([str(DATA)]))
    return {r.requirement.id: r for r in prove(an, load_spec(tmp_path / "spec.yaml"))}


def test_every_exposure_row_is_a_failing_deny_and_every_missing_kind_a_proved_one(tmp_path):
    rows = {(r["endpoint"], r["from"]["kind"]): r for r in exposure_json(str(DATA))}
    assert set(rows) == {("api/server", "new-namespace"), ("shop/db", "new-pod"), ("web/front", "addresses")}
    results = statuses(tmp_path, {
        # the rows: each deny fails, witnessed by a pod (or address) of the row's kind, on the row's ports
        "dev-to-api": '{from: {namespaceSelector: "env == \'dev\'"}, to: {pods: [api/server]}, ports: ["TCP/8080"]}',
        "admin-to-db": '{from: {namespace: shop, selector: "role == \'admin\'"}, to: {pods: [shop/db]}, '
                       'ports: ["TCP/5432"]}',
        "outside-to-front": '{from: {cidr: "8.8.8.0/24"}, to: {pods: [web/front]}, ports: ["TCP/443"]}',
        # no row: proved
        "any-to-safe": '{to: {pods: [vault/safe]}}',
        "dev-to-db": '{from: {namespaceSelector: "env == \'dev\'"}, to: {pods: [shop/db]}}',
        "shop-others-to-db": '{from: {namespace: shop, selector: "!has(role)"}, to: {pods: [shop/db]}}',
        "outside-to-db": '{from: {cidr: "8.8.8.0/24"}, to: {pods: [shop/db]}}',
        "shop-to-api": '{from: {namespace: shop}, to: {pods: [api/server]}}',
        "outside-to-api": '{from: {cidr: "8.8.8.0/24"}, to: {pods: [api/server]}}',
        "pods-to-front": '{from: {namespaceSelector: "all()"}, to: {pods: [web/front]}}',
        "private-to-front": '{from: {cidr: "10.0.0.0/8"}, to: {pods: [web/front]}}',
        # beside a row's ports: proved
        "dev-to-api-elsewhere": '{from: {namespaceSelector: "env == \'dev\'"}, to: {pods: [api/server]}, '
                                'ports: ["TCP/1-8079", "TCP/8081-65535", "UDP/1-65535"]}',
    })
    failed = {rid for rid, r in results.items() if r.status == "violated"}
    assert failed == {"dev-to-api", "admin-to-db", "outside-to-front"}
    assert all(r.status == "proved" for rid, r in results.items() if rid not in failed)
    dev = results["dev-to-api"].witness
    new = dev.new_pods[dev.src]
    assert "newNamespaceLabels" in new and new["newNamespaceLabels"]["env"] == "dev"
    assert (dev.dst, dev.protocol, dev.port) == ("api/server", "TCP", 8080)
    admin = results["admin-to-db"].witness
    assert admin.new_pods[admin.src]["namespace"] == "shop"
    assert admin.new_pods[admin.src]["labels"]["role"] == "admin"
    assert (admin.dst, admin.port) == ("shop/db", 5432)
    front = results["outside-to-front"].witness
    assert front.src.startswith("ip:8.8.8.") and (front.dst, front.port) == ("web/front", 443)


def test_rows_and_representatives_agree():
    """Every representative pod that reaches an endpoint (by `can`, flow by flow, on the widened cluster) is
    described by a row of that endpoint, on the same ports; every row describes some representative that does."""
    from reasoner.query.can import can
    from reasoner.query.exposure import INGRESS, NEW_POD, Exposures

    an = api.analyse(api.load([str(DATA)]))
    ex = Exposures(an, "pod")
    rows = [r for r in ex.rows(None, INGRESS) if r.peer.addresses is None]

    def describes(row, p) -> bool:
        if (row.peer.kind == NEW_POD) != (p.new_namespace is None):
            return False
        if row.peer.kind == NEW_POD and row.peer.namespace != p.namespace:
            return False
        ns_labels = {k: v for k, v in (p.new_namespace or {}).items() if k != "kubernetes.io/metadata.name"}
        return ((row.peer.namespace_labels is None or dict(row.peer.namespace_labels) == ns_labels)
                and (row.peer.labels is None or set(row.peer.labels) <= set(p.labels.items())))

    used = set()
    for ref, p in ex.universe.new_pods.items():
        for dst in ("vault/safe", "api/server", "shop/db", "web/front"):
            verdict = can(ex.wide, ref, dst)
            if not verdict.allowed:
                continue
            mine = [i for i, r in enumerate(rows) if r.endpoint == dst and describes(r, p)]
            assert any(rows[i].allowed == verdict.ports for i in mine), (ref, dst, verdict.ports)
            used.update(i for i in mine if rows[i].allowed == verdict.ports)
    assert used == set(range(len(rows)))


def test_exposure_focus_on_addresses_is_a_usage_error():
    from support.helpers import cli

    demo = Path(__file__).resolve().parents[1] / "corpus" / "microservices-demo" / "manifests"
    r = cli("connectivity", "--exposure", "--focus", "cidr:10.0.0.0/8", str(demo))
    assert r.exit_code == 2 and "--exposure --focus takes an endpoint, not addresses" in r.output
