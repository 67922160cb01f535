"""`can` about a workload: the first line says what every pod allows; the workload a pod belongs to is read
from its ownerReferences, a ReplicaSet's name giving its Deployment only by the pod's `pod-template-hash`; and
the names of a question are checked once."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from reasoner.cli import main
from reasoner.query import endpoints
from reasoner.repl import Session
from support.helpers import analyse, pod


def write(tmp_path: Path, *docs: str) -> str:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "all.yaml").write_text("\n---\n".join(textwrap.dedent(d) for d in docs))
    return str(tmp_path)


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def owned(ns: str, name: str, owner: str, labels: str, ip: str, kind: str = "ReplicaSet") -> str:
    return f"""
    apiVersion: v1
    kind: Pod
    metadata:
      name: {name}
      namespace: {ns}
      labels: {labels}
      ownerReferences: [{{apiVersion: apps/v1, kind: {kind}, name: {owner}, uid: u}}]
    status: {{podIP: {ip}}}
    """


def ingress(name: str, selector: str, port: int, protocol: str) -> str:
    return f"""
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {{name: {name}, namespace: kube-system}}
    spec:
      podSelector: {{matchLabels: {selector}}}
      ingress:
      - ports: [{{port: {port}, protocol: {protocol}}}]
    """


# dns-1 admits TCP/53; dns-2 admits TCP/53 and UDP/53 (its second policy): the pods answer differently
DNS = [pod("x", "a", {"app": "a"}, "10.0.1.2"),
       owned("kube-system", "coredns-5d78c9869d-aaaaa", "coredns-5d78c9869d",
             "{k8s-app: kube-dns, pod-template-hash: 5d78c9869d}", "10.0.0.10"),
       owned("kube-system", "coredns-5d78c9869d-bbbbb", "coredns-5d78c9869d",
             "{k8s-app: kube-dns, pod-template-hash: 5d78c9869d, extra: udp}", "10.0.0.11"),
       ingress("dns-tcp", "{k8s-app: kube-dns}", 53, "TCP")]


def test_the_first_line_says_what_every_pod_allows_when_the_pods_differ(tmp_path):
    path = write(tmp_path, *DNS, ingress("dns-udp", "{extra: udp}", 53, "UDP"))
    r = run("can", "x/a", "kube-system/coredns", "-f", path)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == ("ALLOWED  x/a -> kube-system/coredns[Deployment]  what every pod allows: "
                                        "TCP/53 only; 2 of 2 pods allow some traffic")
    data = json.loads(run("can", "x/a", "kube-system/coredns", "-f", path, "-o", "json").stdout)
    assert data["allowed_traffic"] == [{"protocol": "TCP", "ports": [[53, 53]]}]
    assert [p["allowed_traffic"] for p in data["pods"]] == [
        [{"protocol": "TCP", "ports": [[53, 53]]}],
        [{"protocol": "TCP", "ports": [[53, 53]]}, {"protocol": "UDP", "ports": [[53, 53]]}]]


DENY_ALL_INGRESS = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: kube-system}
spec: {podSelector: {matchLabels: {extra: none}}, policyTypes: [Ingress]}
"""


def dns_pods(first: str, second: str) -> list[str]:
    """The two pods of the coredns Deployment, their label `extra` set to `first` and `second`."""
    return [pod("x", "a", {"app": "a"}, "10.0.1.2"),
            owned("kube-system", "coredns-5d78c9869d-aaaaa", "coredns-5d78c9869d",
                  f"{{k8s-app: kube-dns, pod-template-hash: 5d78c9869d, extra: {first}}}", "10.0.0.10"),
            owned("kube-system", "coredns-5d78c9869d-bbbbb", "coredns-5d78c9869d",
                  f"{{k8s-app: kube-dns, pod-template-hash: 5d78c9869d, extra: {second}}}", "10.0.0.11")]


def test_pods_that_allow_nothing_in_common_say_so(tmp_path):
    udp = ingress("dns-udp", "{extra: udp}", 53, "UDP")
    path = write(tmp_path / "both", *dns_pods("tcp", "udp"), ingress("dns-tcp", "{extra: tcp}", 53, "TCP"), udp)
    r = run("can", "x/a", "kube-system/coredns", "-f", path)  # TCP/53 to one pod, UDP/53 to the other
    assert r.exit_code == 1, r.output  # no flow reaches every pod: a gate must not read this as allowed
    assert r.stdout.splitlines()[0] == ("DENIED  x/a -> kube-system/coredns[Deployment]  what every pod allows: "
                                        "nothing; 2 of 2 pods allow some traffic")
    assert json.loads(run("can", "x/a", "kube-system/coredns", "-f", path, "-o", "json").stdout)["allowed"] is False
    path = write(tmp_path / "one", *dns_pods("none", "udp"), DENY_ALL_INGRESS, udp)
    r = run("can", "x/a", "kube-system/coredns", "-f", path)  # nothing to one pod, UDP/53 to the other
    assert r.exit_code == 1, r.output
    assert r.stdout.splitlines()[0] == ("DENIED  x/a -> kube-system/coredns[Deployment]  what every pod allows: "
                                        "nothing; 1 of 2 pods allow some traffic")
    data = json.loads(run("can", "x/a", "kube-system/coredns", "-f", path, "-o", "json").stdout)
    assert data["allowed_traffic"] == []


def test_pods_that_answer_alike_keep_the_single_answer_wording(tmp_path):
    path = write(tmp_path, *DNS)
    lines = run("can", "x/a", "kube-system/coredns", "-f", path).stdout.splitlines()
    assert lines[0] == "ALLOWED  x/a -> kube-system/coredns[Deployment]  TCP/53 only: 2 of 2 pods allowed"
    assert "every pod gets the same answer" in lines[1]


def test_a_replicaset_name_gives_a_deployment_only_by_the_pods_template_hash():
    an = analyse(owned("default", "web-7f9c8-aaaaa", "web-7f9c8", "{app: web, pod-template-hash: 7f9c8}", "10.0.0.1"),
                 owned("default", "web-v2-bbbbb", "web-v2", "{app: web}", "10.0.0.2"),  # a ReplicaSet of its own
                 owned("default", "web-v3-ccccc", "web-v3", "{app: web, pod-template-hash: other}", "10.0.0.3"))
    web = endpoints.workload(an.cluster, "default/web")
    assert (web.kind, web.pods) == ("Deployment", ("default/web-7f9c8-aaaaa",))
    assert endpoints.workload(an.cluster, "default/web-v2").pods == ("default/web-v2-bbbbb",)
    assert endpoints.workload(an.cluster, "default/web-v3").kind == "ReplicaSet"
    names = endpoints.endpoint_names(an.cluster, services=False)
    assert "default/web" in names and "default/web-v2" in names and "default/web-v" not in names


def counting(monkeypatch) -> list[str]:
    seen: list[str] = []
    check = endpoints.check_endpoint

    def spy(cluster, text, *args, **kwargs):
        seen.append(text)
        return check(cluster, text, *args, **kwargs)
    monkeypatch.setattr(endpoints, "check_endpoint", spy)
    return seen


def test_the_names_of_a_question_about_a_workload_are_checked_once(tmp_path, monkeypatch):
    path = write(tmp_path, *DNS)
    seen = counting(monkeypatch)
    r = run("can", "x/a", "kube-system/coredns", "--port", "53", "-f", path)
    assert r.exit_code == 0, r.output
    assert seen == ["x/a", "kube-system/coredns"]  # before the rules run, and not again
    seen.clear()
    reply = Session([path]).execute("can kube-system/coredns x/a")
    assert not reply.error, reply.text
    assert seen == ["kube-system/coredns", "x/a"]
    r = run("can", "x/crat", "kube-system/coredns", "-f", path)  # the check itself still runs
    assert r.exit_code == 2 and "unknown endpoint 'x/crat'" in r.stderr
