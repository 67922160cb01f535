"""Inputs: files, directories, stdin; multi-document YAML, JSON, `kind: List`, helm template output; kinds."""

from __future__ import annotations

import io
import json

from click.testing import CliRunner

from reasoner import api
from reasoner.cli import main

POD = "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}, labels: {{app: {name}}}}}\n"


def refs(cluster) -> list[str]:
    return [e.ref for e in cluster.endpoints]


def test_multi_document_yaml_and_nested_directories(tmp_path):
    (tmp_path / "a.yaml").write_text(POD.format(name="a", ns="x") + "---\n" + POD.format(name="b", ns="x"))
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "c.yml").write_text(POD.format(name="c", ns="y"))
    (tmp_path / "notes.txt").write_text("not a manifest")
    assert refs(api.load([tmp_path])) == ["x/a", "x/b", "y/c"]


def test_json_file_and_bare_json_array(tmp_path):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x"}}
    (tmp_path / "one.json").write_text(json.dumps(pod, indent=2))
    (tmp_path / "many.json").write_text(json.dumps([dict(pod, metadata={"name": "b", "namespace": "x"})]))
    assert refs(api.load([tmp_path])) == ["x/a", "x/b"]


def test_kind_list_as_kubectl_prints_it(tmp_path):
    text = ("apiVersion: v1\nkind: List\nitems:\n- " + POD.format(name="a", ns="x").replace("\n", "\n  ")
            + "\n- " + POD.format(name="b", ns="y").replace("\n", "\n  ") + "\nmetadata: {resourceVersion: ''}\n")
    (tmp_path / "l.yaml").write_text(text)
    assert refs(api.load([tmp_path])) == ["x/a", "y/b"]


def test_typed_lists_such_as_pod_list():
    text = "apiVersion: v1\nkind: PodList\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a, namespace: x}}\n"
    assert refs(api.load(["-"], stdin=io.StringIO(text))) == ["x/a"]


def test_line_numbers_inside_a_list_point_at_the_item(tmp_path):
    text = ("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n"
            "- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {name: p}\n"
            "  spec:\n    ingress:\n    - ports:\n      - port: 0\n")
    (tmp_path / "l.yaml").write_text(text)
    result = CliRunner().invoke(main, ["connectivity", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path / 'l.yaml'}:13: NetworkPolicy default/p: spec.ingress[0].ports[0].port" in result.stderr


def test_helm_template_output_with_source_comments_and_empty_documents():
    text = ("---\n# Source: chart/templates/ns.yaml\n---\n# Source: chart/templates/pod.yaml\n"
            + POD.format(name="a", ns="x") + "---\n\n")
    assert refs(api.load(["-"], stdin=io.StringIO(text))) == ["x/a"]


def test_standard_input_through_the_cli():
    result = CliRunner().invoke(main, ["connectivity", "-o", "json", "-"],
                                input=POD.format(name="a", ns="x") + "---\n" + POD.format(name="b", ns="x"))
    assert result.exit_code == 0, result.output
    pairs = {(c["src"], c["dst"]) for c in json.loads(result.stdout)["connections"]}
    outside = {(p, w) for p in ("x/a", "x/b") for w in ("cidr:0.0.0.0/0", "cidr:::/0")}  # no policy: open to all
    assert pairs == {("x/a", "x/b"), ("x/b", "x/a")} | outside | {(w, p) for p, w in outside}


WORKLOADS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: report}}
        spec: {containers: [{name: c, image: i}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {serviceAccountName: db, containers: [{name: c, image: i}]}
"""


def test_workload_templates_are_endpoints_when_no_pods_are_given():
    cluster = api.load(["-"], stdin=io.StringIO(WORKLOADS))
    assert refs(cluster) == ["shop/db", "shop/report", "shop/web"]
    web = cluster.endpoint("shop/web")
    assert web.kind == "Deployment" and dict(web.labels) == {"app": "web"} and web.ports[0].name == "http"
    assert cluster.endpoint("shop/db").service_account == "db"
    assert cluster.endpoint("shop/web").ips == ()


def test_workload_template_gives_way_to_its_pods():
    text = WORKLOADS + "---\n" + "apiVersion: v1\nkind: Pod\nmetadata: {name: web-7f9c-abcde, namespace: shop, labels: {app: web}}\n"
    assert refs(api.load(["-"], stdin=io.StringIO(text))) == ["shop/db", "shop/report", "shop/web-7f9c-abcde"]


def test_finished_pods_are_not_endpoints_and_pod_addresses_are_read():
    text = (POD.format(name="a", ns="x") + "status: {phase: Succeeded, podIP: 10.0.0.1}\n---\n"
            + POD.format(name="b", ns="x") + "status: {phase: Running, podIP: 10.0.0.2, podIPs: [{ip: 10.0.0.2}, {ip: 'fd00::2'}]}\n")
    cluster = api.load(["-"], stdin=io.StringIO(text))
    assert refs(cluster) == ["x/b"]
    assert cluster.endpoint("x/b").ips == ("10.0.0.2", "fd00::2")


def test_referenced_namespaces_exist_with_the_name_label():
    cluster = api.load(["-"], stdin=io.StringIO(POD.format(name="a", ns="x")
                                                + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: y, labels: {t: 1x}}\n"))
    assert dict(cluster.namespaces["x"].labels) == {"kubernetes.io/metadata.name": "x"}
    assert dict(cluster.namespaces["y"].labels) == {"kubernetes.io/metadata.name": "y", "t": "1x"}


def test_default_namespace_when_metadata_has_none():
    assert refs(api.load(["-"], stdin=io.StringIO("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"))) == ["default/a"]


def test_services_and_service_accounts_are_kept():
    text = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {app: web}\n"
            "  ports: [{name: http, port: 80, targetPort: http}]\n---\n"
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: shop, labels: {team: a}}\n")
    cluster = api.load(["-"], stdin=io.StringIO(text))
    assert cluster.services[0].ports[0].target_port == "http"
    assert cluster.service_accounts[0].name == "web"


def test_duplicate_resource_is_an_error():
    from reasoner.errors import ManifestErrors

    text = POD.format(name="a", ns="x") + "---\n" + POD.format(name="a", ns="x")
    try:
        api.load(["-"], stdin=io.StringIO(text))
    except ManifestErrors as exc:
        assert "duplicate Pod" in str(exc)
    else:
        raise AssertionError("duplicate accepted")
