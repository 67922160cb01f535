"""Benchmark: generate clusters of growing size and time each command as a user runs it.

    python -m reasoner.benchmark                                  # label sets, the default sizes
    python -m reasoner.benchmark --sizes 500x150 2000x600 --calico --commands connectivity,can,diff,lint,prove
    python -m reasoner.benchmark --profile replicas --sizes 1000x300 10000x2000 --nca /path/to/nca

Two profiles of synthetic clusters (PODSxPOLICIES), written to a temporary directory:

  labelsets (default)  pods that differ in their labels, about two pods per distinct label set: Deployments of
                       2-4 replicas (some with a debug pod or a one-pod canary beside them) and StatefulSets
                       (each pod with its own statefulset.kubernetes.io/pod-name), in namespaces of about 24
                       pods; NetworkPolicies of the usual shapes. `--calico`: two tiers whose policies end in
                       Pass, global and namespaced Calico policies (selectors with ||, has(), !has(), in {};
                       nets, notNets; Allow, Deny, Log, Pass), network sets: 36 Calico policies per 500 pods
                       (at least 10).
  replicas             many replicas per workload (about 20), so few endpoint classes; `--calico`: a security
                       tier, a global SSH deny and namespaced policies, 0.1 x the policy count.

For each size and command (`connectivity -o json`, one `can`, `diff` against a copy with some rules changed,
`lint -o json`, `prove --scope any-workload` of a few requirements) it runs `python -m reasoner ...` in a new
process and prints the wall time and the peak memory of that process, with the number of endpoint classes.
With network-config-analyzer's `nca` (on the PATH or given with --nca), `nca --connectivity` and
`nca --semantic_diff` are timed on the same files, and the ratio nca / reasoner printed.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import yaml

# The replicas profile: many replicas per workload, so few endpoint classes.

TIERS = ("web", "api", "worker", "db", "cache")
PORTS = {"web": 8080, "api": 9090, "worker": 7000, "db": 5432, "cache": 6379}


def calico_policies(namespaces: list[str], workloads: list[tuple[str, str, str]], count: int,
                    rnd: random.Random) -> list[dict]:
    """Calico policies of the usual shapes: a security tier with a DNS exception and a Pass, a global deny of
    SSH ahead of the Kubernetes policies, per-namespace Deny/Allow policies, a network set for egress."""
    v3 = "projectcalico.org/v3"
    docs: list[dict] = [
        {"apiVersion": v3, "kind": "Tier", "metadata": {"name": "security"}, "spec": {"order": 100}},
        {"apiVersion": v3, "kind": "GlobalNetworkSet", "metadata": {"name": "partners", "labels": {"peer": "partner"}},
         "spec": {"nets": ["198.51.100.0/24", "203.0.113.0/25"]}},
        {"apiVersion": v3, "kind": "GlobalNetworkPolicy", "metadata": {"name": "security.baseline"},
         "spec": {"tier": "security", "order": 10, "types": ["Ingress", "Egress"],
                  "namespaceSelector": "kubernetes.io/metadata.name != 'kube-system'",
                  "ingress": [{"action": "Deny", "source": {"selector": "quarantine == 'true'"}},
                              {"action": "Pass"}],
                  "egress": [{"action": "Allow", "protocol": "UDP",
                              "destination": {"selector": "k8s-app == 'kube-dns'", "ports": [53]}},
                             {"action": "Allow", "protocol": "TCP",
                              "destination": {"selector": "k8s-app == 'kube-dns'", "ports": [53]}},
                             {"action": "Deny", "destination": {"nets": ["169.254.169.254/32"]}},
                             {"action": "Pass"}]}},
        {"apiVersion": v3, "kind": "GlobalNetworkPolicy", "metadata": {"name": "deny-ssh"},
         "spec": {"order": 10, "selector": "has(app)", "types": ["Ingress"],
                  "ingress": [{"action": "Deny", "protocol": "TCP", "destination": {"ports": [22, "2222:2230"]}}]}},
    ]
    for i in range(max(0, count - 2)):
        ns, app, tier = workloads[rnd.randrange(len(workloads))]
        _ons, other_app, _ot = workloads[rnd.randrange(len(workloads))]
        docs.append({"apiVersion": v3, "kind": "NetworkPolicy", "metadata": {"name": f"cal-{i}", "namespace": ns},
                     "spec": {"order": rnd.choice([50, 500, 1500]), "selector": f"app == '{app}'",
                              "types": ["Ingress", "Egress"],
                              "ingress": [{"action": "Deny", "protocol": "TCP", "source": {"selector": "version == 'v0'"},
                                           "destination": {"ports": ["9000:9100"]}},
                                          {"action": "Allow", "protocol": "TCP",
                                           "source": {"selector": f"app == '{other_app}' || tier == 'web'",
                                                      "namespaceSelector": "all()"},
                                           "destination": {"ports": [PORTS[tier], "http"]}}],
                              "egress": [{"action": "Allow", "protocol": "TCP",
                                          "destination": {"selector": "peer == 'partner'", "namespaceSelector": "global()",
                                                          "ports": [443]}},
                                         {"action": "Allow", "destination": {"selector": f"app == '{other_app}'"}}]}})
    return docs


def host_endpoints(hosts: int, workloads: list[tuple[str, str, str]]) -> list[dict]:
    """`hosts` nodes, each with a HostEndpoint (every tenth a wildcard with the default-allow profile), a NodePort
    Service for every tenth workload, and host protection as Calico's guide has it: preDNAT policies letting the
    cluster's networks in, opening the node ports to an office network and dropping the rest; a normal policy
    for the kubelet API and the hosts' own egress; an untracked policy keeping pods off etcd."""
    docs: list[dict] = []
    for n in range(hosts):
        wild = n % 10 == 9
        spec = {"node": f"node-{n}", "interfaceName": "*" if wild else "eth0",
                "expectedIPs": [f"192.168.{n >> 8}.{n & 255}"]}
        if wild:
            spec["profiles"] = ["projectcalico-default-allow"]
        docs.append({"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
                     "metadata": {"name": f"node-{n}", "labels": {} if wild else {"host-endpoint": "ingress"}},
                     "spec": spec})
    node_ports = []
    for w, (ns, app, tier) in enumerate(workloads[::10]):
        node_ports.append(30000 + w)
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": ns},
                     "spec": {"type": "NodePort", "selector": {"app": app},
                              "externalTrafficPolicy": "Local" if w % 2 else "Cluster",
                              "ports": [{"port": 80, "targetPort": "http", "nodePort": 30000 + w}]}})
    pre = {"preDNAT": True, "applyOnForward": True, "selector": "has(host-endpoint)"}
    gnp = [("allow-cluster-internal", {**pre, "order": 10, "ingress": [
               {"action": "Allow", "source": {"nets": ["10.0.0.0/8", "192.168.0.0/16"]}}]}),
           ("allow-node-ports", {**pre, "order": 11, "ingress": [
               {"action": "Allow", "protocol": "TCP", "source": {"nets": ["203.0.113.0/24"]},
                "destination": {"selector": "has(host-endpoint)", "ports": node_ports[:50] or [30000]}}]}),
           ("drop-other", {**pre, "order": 20, "ingress": [{"action": "Deny"}]}),
           ("host-services", {"selector": "has(host-endpoint)", "order": 100, "types": ["Ingress", "Egress"],
                              "ingress": [{"action": "Allow", "protocol": "TCP",
                                           "source": {"nets": ["192.168.0.0/16"]}, "destination": {"ports": [10250]}}],
                              "egress": [{"action": "Allow"}]}),
           ("no-pods-to-etcd", {"doNotTrack": True, "applyOnForward": True, "selector": "has(host-endpoint)",
                                "order": 1, "ingress": [{"action": "Deny", "protocol": "TCP",
                                                         "source": {"nets": ["10.0.0.0/8"]},
                                                         "destination": {"ports": [4001]}}]})]
    for name, spec in gnp:
        docs.append({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": name},
                     "spec": spec})
    return docs


def generate_replicas(pods: int, policies: int, seed: int = 1, calico: int = 0, hosts: int = 0) -> list[dict]:
    """A cluster of `pods` pods in about pods/20 workloads, `policies` NetworkPolicies, `calico` Calico
    policies (none by default) and `hosts` host endpoints with node ports and host protection (none)."""
    rnd = random.Random(seed)
    n_workloads = max(4, pods // 20)
    n_ns = max(2, n_workloads // 10)
    docs: list[dict] = []
    namespaces = [f"ns{i}" for i in range(n_ns)]
    for i, ns in enumerate(namespaces):
        docs.append({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": ns, "labels": {"team": f"team{i % 7}", "env": rnd.choice(["dev", "prod"])}}})
    docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    workloads = []
    for w in range(n_workloads):
        ns = namespaces[w % n_ns]
        tier = TIERS[w % len(TIERS)]
        workloads.append((ns, f"{tier}-{w}", tier))
    ip = 0
    for w, (ns, app, tier) in enumerate(workloads):
        replicas = max(1, pods // n_workloads + (1 if w < pods % n_workloads else 0))
        for r in range(replicas):
            ip += 1
            docs.append({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": f"{app}-{r}", "namespace": ns,
                                      "labels": {"app": app, "tier": tier, "version": f"v{w % 3}"}},
                         "spec": {"serviceAccountName": app, "containers": [{
                             "name": "main", "image": "example/app",
                             "ports": [{"name": "http", "containerPort": PORTS[tier]},
                                       {"name": "metrics", "containerPort": 9100}]}]},
                         "status": {"phase": "Running", "podIP": f"10.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}"}})
    docs.append({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "coredns-0", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
                 "spec": {"containers": [{"name": "coredns", "image": "coredns",
                                          "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                                    {"name": "dns-tcp", "containerPort": 53}]}]},
                 "status": {"phase": "Running", "podIP": "10.255.0.10"}})
    shapes = ["same-ns", "cross-ns", "named", "range", "ipblock", "egress-dns", "egress-to"]
    for p in range(policies):
        ns, app, tier = workloads[rnd.randrange(len(workloads))]
        other_ns, other_app, other_tier = workloads[rnd.randrange(len(workloads))]
        shape = "deny-ns" if p < n_ns else shapes[p % len(shapes)]
        meta = {"name": f"pol-{p}", "namespace": namespaces[p] if shape == "deny-ns" else ns}
        spec: dict = {"podSelector": {"matchLabels": {"app": app}}}
        if shape == "deny-ns":
            spec = {"podSelector": {}, "policyTypes": ["Ingress"]}
        elif shape == "same-ns":
            spec["ingress"] = [{"from": [{"podSelector": {"matchLabels": {"tier": rnd.choice(TIERS)}}}],
                                "ports": [{"port": PORTS[tier]}]}]
        elif shape == "cross-ns":
            spec["ingress"] = [{"from": [{"namespaceSelector": {"matchLabels": {"team": f"team{rnd.randrange(7)}"}},
                                          "podSelector": {"matchExpressions": [
                                              {"key": "tier", "operator": "In", "values": [other_tier, "web"]}]}}],
                                "ports": [{"port": PORTS[tier]}, {"port": 9100}]}]
        elif shape == "named":
            spec["ingress"] = [{"from": [{"podSelector": {"matchLabels": {"app": other_app}}},
                                         {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": other_ns}}}],
                                "ports": [{"port": "http"}, {"port": "metrics"}]}]
        elif shape == "range":
            spec["ingress"] = [{"from": [{"podSelector": {"matchExpressions": [
                                   {"key": "version", "operator": "NotIn", "values": ["v0"]}]}}],
                                "ports": [{"port": 8000, "endPort": 9000}, {"protocol": "UDP", "port": 5000}]}]
        elif shape == "ipblock":
            octet = rnd.randrange(2)
            spec["ingress"] = [{"from": [{"ipBlock": {"cidr": f"10.{octet}.0.0/16",
                                                      "except": [f"10.{octet}.{rnd.randrange(4)}.0/24"]}}]}]
        elif shape == "egress-dns":
            spec["policyTypes"] = ["Egress"]
            spec["egress"] = [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                       "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                               "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                              {"to": [{"podSelector": {"matchLabels": {"app": other_app}}}]}]
        else:
            spec["policyTypes"] = ["Egress"]
            spec["egress"] = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                               "ports": [{"port": 443}]},
                              {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"tier": other_tier}}}]}]
        docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": spec})
    if calico:
        docs.extend(calico_policies(namespaces, workloads, calico, rnd))
    if hosts:
        docs.extend(host_endpoints(hosts, workloads))
    return docs


def mutate(docs: list[dict], changes: int, seed: int = 3) -> list[dict]:
    """A second version of `docs` with `changes` rules changed: a numeric port widened by an endPort."""
    import copy

    rnd = random.Random(seed)
    out = copy.deepcopy(docs)
    candidates = [(d, item) for d in out if d["kind"] == "NetworkPolicy"
                  for rule in d["spec"].get("ingress", []) + d["spec"].get("egress", [])
                  for item in rule.get("ports", []) if isinstance(item.get("port"), int) and "endPort" not in item]
    for d, item in rnd.sample(candidates, min(changes, len(candidates))):
        item["endPort"] = item["port"] + 5
    return out


# The label-set profile: pods that differ in their labels, as a cluster of Deployments and StatefulSets has them.

# app: (tier or None, named container ports (name, port, protocol), run as a StatefulSet)
APPS = {
    "frontend": ("web", (("http", 8080, "TCP"),), False),
    "gateway": ("web", (("https", 8443, "TCP"), ("metrics", 9100, "TCP")), False),
    "web": ("web", (("http", 80, "TCP"), ("metrics", 9100, "TCP")), False),
    "api": ("backend", (("http", 8080, "TCP"), ("grpc", 9090, "TCP"), ("metrics", 9100, "TCP")), False),
    "auth": ("backend", (("grpc", 9090, "TCP"), ("metrics", 9100, "TCP")), False),
    "payments": ("backend", (("https", 8443, "TCP"), ("metrics", 9100, "TCP")), False),
    "orders": ("backend", (("http", 8080, "TCP"), ("grpc", 9090, "TCP")), False),
    "inventory": ("backend", (("http", 8081, "TCP"), ("grpc", 9091, "TCP")), False),
    "cache": ("data", (("redis", 6379, "TCP"),), True),
    "db": ("data", (("pg", 5432, "TCP"), ("metrics", 9187, "TCP")), True),
    "mongo": ("data", (("mongo", 27017, "TCP"),), True),
    "queue": ("data", (("amqp", 5672, "TCP"), ("mgmt", 15672, "TCP")), True),
    "search": ("data", (("http", 9200, "TCP"), ("transport", 9300, "TCP")), True),
    "worker": (None, (("metrics", 9100, "TCP"),), False),
    "statsd": (None, (("statsd", 8125, "UDP"),), False),
    "batch": (None, (), False),
}
MONITORING = {"prometheus": (("web", 9090, "TCP"),), "grafana": (("http", 3000, "TCP"),),
              "alertmanager": (("web", 9093, "TCP"),), "kube-state-metrics": (("metrics", 8080, "TCP"),)}
TEAMS = ("checkout", "catalog", "identity", "search", "analytics", "shipping", "ml", "billing", "support", "growth",
         "platform", "payments")
ENVS = ("prod", "dev", "staging")
PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


def dns_ports() -> list[dict]:  # new objects at each use: shared ones would be YAML aliases, and change together
    return [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def kube_dns() -> dict:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}


class LabelSetCluster:
    """Builds the documents of one label-set cluster; `workloads[ns]` keeps (app, tier, ports, statefulset name or
    None) of what runs in each application namespace, for the policies to refer to."""

    def __init__(self, rnd: random.Random):
        self.rnd = rnd
        self.docs: list[dict] = []
        self.ip = 10
        self.namespaces: dict[str, dict[str, str]] = {}
        self.workloads: dict[str, list[tuple[str, str | None, tuple, str | None]]] = {}

    def hash(self) -> str:
        return f"{self.rnd.getrandbits(36):09x}"

    def suffix(self) -> str:
        return "".join(self.rnd.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))

    def namespace(self, name: str, labels: dict[str, str]) -> None:
        self.namespaces[name] = {"kubernetes.io/metadata.name": name, **labels}
        self.docs.append({"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": name, "labels": self.namespaces[name]}})

    def pod(self, ns: str, name: str, labels: dict[str, str], ports: tuple, owner: tuple[str, str],
            account: str) -> None:
        ip = f"10.{244 + (self.ip >> 16)}.{self.ip >> 8 & 255}.{self.ip & 255}"
        self.ip += 1
        container = {"name": account, "image": f"registry.example.com/{account}:v1"}
        if ports:
            container["ports"] = [{"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports]
        self.docs.append({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": name, "namespace": ns, "labels": labels, "ownerReferences": [
                              {"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "controller": True,
                               "uid": str(uuid.UUID(int=self.rnd.getrandbits(128)))}]},
                          "spec": {"nodeName": f"node-{self.ip % 20}", "serviceAccountName": account,
                                   "containers": [container]},
                          "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})

    def deployment(self, ns: str, name: str, labels: dict[str, str], replicas: int, ports: tuple,
                   account: str, debug: bool = False) -> int:
        """`replicas` pods of one ReplicaSet (one label set; with `debug`, the last pod carries debug=true)."""
        h = self.hash()
        for r in range(replicas):
            extra = {"debug": "true"} if debug and r == replicas - 1 else {}
            self.pod(ns, f"{name}-{h}-{self.suffix()}", {**labels, "pod-template-hash": h, **extra}, ports,
                     ("ReplicaSet", f"{name}-{h}"), account)
        return replicas

    def statefulset(self, ns: str, name: str, labels: dict[str, str], replicas: int, ports: tuple) -> int:
        """`replicas` pods, each with its own label set (the per-pod labels a StatefulSet sets)."""
        h = f"{name}-{self.hash()}"
        for r in range(replicas):
            self.pod(ns, f"{name}-{r}", {**labels, "controller-revision-hash": h,
                                         "statefulset.kubernetes.io/pod-name": f"{name}-{r}",
                                         "apps.kubernetes.io/pod-index": str(r)},
                     ports, ("StatefulSet", name), labels["app"])
        return replicas

    def application(self, ns: str, env: str, app: str, budget: int) -> int:
        """One application in `ns`, at most `budget` pods: a StatefulSet, or a Deployment (some with a debug pod)
        with now and then a one-pod canary (version v2, track canary) beside it."""
        tier, ports, stateful = APPS[app]
        labels = {"app": app, **({"tier": tier} if tier else {}), "env": env, "version": "v1"}
        rnd = self.rnd
        if stateful and rnd.random() < 0.4:
            name = app if all(w[3] != app for w in self.workloads[ns]) else f"{app}-{len(self.workloads[ns])}"
            self.workloads[ns].append((app, tier, ports, name))
            return self.statefulset(ns, name, labels, min(budget, rnd.choice([2, 3])), ports)
        self.workloads[ns].append((app, tier, ports, None))
        made = self.deployment(ns, app, labels, min(budget, rnd.choice([2, 2, 3, 3, 4])), ports, app,
                               debug=rnd.random() < 0.1)
        if made < budget and rnd.random() < 0.2:
            made += self.deployment(ns, f"{app}-v2", {**labels, "version": "v2", "track": "canary"}, 1, ports, app)
        return made


def generate_labelsets(pods: int, policies: int, seed: int = 1, calico: int = 0) -> list[dict]:
    """A cluster of `pods` pods in which about two pods share each label set, in namespaces of about 24 pods,
    `policies` Kubernetes NetworkPolicies and `calico` Calico policies (none by default): see `labelset_policies`
    and `labelset_calico`."""
    rnd = random.Random(seed)
    c = LabelSetCluster(rnd)
    c.namespace("kube-system", {"team": "platform", "env": "prod"})
    c.namespace("monitoring", {"team": "monitoring", "env": "prod"})
    made = c.deployment("kube-system", "coredns", {"k8s-app": "kube-dns", "env": "prod", "version": "v1"},
                        min(2, pods), (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")),
                        "kube-dns")
    for app, ports in MONITORING.items():
        made += c.deployment("monitoring", app, {"app": app, "env": "prod", "version": "v1"},
                             min(2, pods - made), ports, app)
    n_ns = max(2, round((pods - made) / 24))
    names = []
    for i in range(n_ns):
        team, env = TEAMS[i % len(TEAMS)], ENVS[(i * 7 // 3) % len(ENVS)]
        name = f"{team}-{env}-{i}"
        c.namespace(name, {"team": team, "env": env, **({"compliance": ("pci", "sox", "hipaa")[i % 3]}
                                                         if i % 4 == 1 else {})})
        c.workloads[name] = []
        names.append(name)
    for i, ns in enumerate(names):
        quota = (pods - made) // (n_ns - i)  # what is left, spread over the namespaces left
        apps = rnd.sample(sorted(APPS), rnd.randint(6, 10))
        k = 0
        while quota > 0:
            got = c.application(ns, c.namespaces[ns]["env"], apps[k % len(apps)], quota)
            quota -= got
            made += got
            k += 1
    c.docs.extend(labelset_policies(c, names, policies))
    if calico:
        c.docs.extend(labelset_calico(c, names, calico))
    return c.docs


def labelset_policies(c: LabelSetCluster, names: list[str], count: int) -> list[dict]:
    """`count` NetworkPolicies: a default deny and a DNS exception in each namespace (while the count lasts),
    then, in turn, allow from one app to another (numeric and named ports), egress to an app in a namespace
    picked by labels, from a load balancer's ipBlock with except, HTTPS egress outside the private ranges,
    port ranges from a team's namespaces, one app's isolation (ingress from the web tier, egress to an app and
    DNS), matchExpressions on pods and namespaces, Prometheus scraping named ports, to the first pod of a
    StatefulSet by its pod-name label, canary egress, and from the same namespace."""
    rnd = c.rnd
    docs: list[dict] = []

    def app_sel(app: str) -> dict:
        return {"matchLabels": {"app": app}}

    def to_port(ports: tuple, named: bool) -> list[dict]:
        name, number, protocol = ports[0]
        return [{"protocol": protocol, "port": name if named else number}]

    def shape(kind: str, ns: str) -> tuple[str, dict] | None:
        here = [w for w in c.workloads[ns] if w[2]]  # with container ports
        if not here:
            kind = "same-ns"
        if kind == "same-ns":
            return ("allow-same-namespace", {"podSelector": {}, "policyTypes": ["Ingress"],
                                             "ingress": [{"from": [{"podSelector": {}}]}]})
        a, b = rnd.choice(c.workloads[ns]), rnd.choice(here)
        if kind in ("numeric", "named"):
            return (f"allow-{a[0]}-to-{b[0]}", {
                "podSelector": app_sel(b[0]), "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": app_sel(a[0])}], "ports": to_port(b[2], kind == "named")}]})
        if kind == "cross-ns":
            other = rnd.choice(names)
            far = rnd.choice([w for w in c.workloads[other] if w[2]] or here)
            labels = {k: c.namespaces[other][k] for k in ("team", "env")}
            return (f"allow-egress-{a[0]}-to-{other}-{far[0]}", {
                "podSelector": app_sel(a[0]), "policyTypes": ["Egress"],
                "egress": [{"to": [{"namespaceSelector": {"matchLabels": labels}, "podSelector": app_sel(far[0])}],
                            "ports": to_port(far[2], False)}]})
        if kind == "ipblock":
            return (f"allow-lb-to-{b[0]}", {
                "podSelector": app_sel(b[0]), "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"ipBlock": {"cidr": "203.0.113.0/24",
                                                   "except": [f"203.0.113.{rnd.choice([0, 64, 128])}/26"]}}],
                             "ports": to_port(b[2], False)}]})
        if kind == "https-out":
            return ("allow-egress-internet-https", {
                "podSelector": {"matchLabels": {"tier": rnd.choice(["web", "backend"])}}, "policyTypes": ["Egress"],
                "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE)}}],
                            "ports": [{"protocol": "TCP", "port": 443}]}]})
        if kind == "range":
            lo = rnd.choice([8000, 9000, 30000])
            return (f"allow-port-range-{b[0]}", {
                "podSelector": app_sel(b[0]), "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": rnd.choice(TEAMS)}}}],
                             "ports": [{"protocol": "TCP", "port": lo, "endPort": lo + rnd.choice([10, 100])}]}]})
        if kind == "isolation":
            return (f"{b[0]}-isolation", {
                "podSelector": app_sel(b[0]), "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": "web"}}}],
                             "ports": [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": "grpc"}]}],
                "egress": [{"to": [{"podSelector": app_sel(a[0])}]},
                           {"to": [{"namespaceSelector": {}, "podSelector": kube_dns()["podSelector"]}],
                            "ports": dns_ports()[:1]}]})
        if kind == "expressions":
            return ("allow-from-prod-staging", {
                "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "backend"]}]},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                                           {"key": "env", "operator": "In", "values": ["prod", "staging"]},
                                           {"key": "team", "operator": "NotIn", "values": [rnd.choice(TEAMS)]}]},
                                       "podSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}}],
                             "ports": [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 8443}]}]})
        if kind == "scrape":
            return ("allow-prometheus-scrape", {
                "podSelector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["batch"]}]},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "monitoring"}},
                                       "podSelector": app_sel("prometheus")}],
                             "ports": [{"protocol": "TCP", "port": "metrics"}]}]})
        if kind == "primary":
            sets = [w for w in c.workloads[ns] if w[3]]
            if not sets:
                return None
            db = rnd.choice(sets)
            return (f"allow-{a[0]}-to-{db[3]}-primary", {
                "podSelector": {"matchLabels": {"statefulset.kubernetes.io/pod-name": f"{db[3]}-0"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": app_sel(a[0])}], "ports": to_port(db[2], False)}]})
        # canary
        return ("restrict-canary-egress", {
            "podSelector": {"matchLabels": {"track": "canary"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": {"tier": "data"}}}]},
                       {"to": [kube_dns()], "ports": dns_ports()}]})

    kinds = ["numeric", "named", "cross-ns", "ipblock", "https-out", "range", "isolation", "expressions", "scrape",
             "primary", "canary", "same-ns"]
    for p in range(count):
        if p < 2 * len(names):
            ns = names[p // 2]
            name, spec = (("default-deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}) if p % 2 == 0
                          else ("allow-dns", {"podSelector": {}, "policyTypes": ["Egress"],
                                              "egress": [{"to": [kube_dns()], "ports": dns_ports()}]}))
        else:
            ns = rnd.choice(names)
            k = p
            while (got := shape(kinds[k % len(kinds)], ns)) is None:
                k += 1
            name, spec = got
        docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                     "metadata": {"name": f"{name}-{p}", "namespace": ns}, "spec": spec})
    return docs


def labelset_calico(c: LabelSetCluster, names: list[str], count: int) -> list[dict]:
    """Two tiers (security, platform) whose policies end in Pass, network sets, and `count` Calico policies: first
    global ones (dev kept from prod, the metadata API blocked, a threat feed logged and denied, ICMP echo denied
    to all but debug pods, canaries held to the data tier, HTTPS out but not to private ranges, the web tier to
    Prometheus, scraping passed on, egress to external databases, DNS), then namespaced policies in both tiers
    and the default one (cross-environment allows with selectors using ||, has() and in {}, front ends to one
    app, data-tier protection with notSelector, egress to partner networks) with every fourth a global policy
    per team (namespace isolation, admin ports denied, web ingress not from dev)."""
    v3 = "projectcalico.org/v3"
    rnd = c.rnd
    docs: list[dict] = [
        {"apiVersion": v3, "kind": "Tier", "metadata": {"name": "security"}, "spec": {"order": 100}},
        {"apiVersion": v3, "kind": "Tier", "metadata": {"name": "platform"}, "spec": {"order": 200}},
        {"apiVersion": v3, "kind": "GlobalNetworkSet", "metadata": {"name": "external-databases",
                                                                     "labels": {"role": "external-db"}},
         "spec": {"nets": ["203.0.113.0/26", "198.51.100.16/28"]}},
        {"apiVersion": v3, "kind": "GlobalNetworkSet", "metadata": {"name": "threat-feed",
                                                                     "labels": {"feed": "blocklist"}},
         "spec": {"nets": ["192.0.2.0/24", "100.64.12.0/22"]}},
    ]
    partners = names[:3]
    for i, ns in enumerate(partners):
        docs.append({"apiVersion": v3, "kind": "NetworkSet",
                     "metadata": {"name": "partner-apis", "namespace": ns, "labels": {"role": "partner-api"}},
                     "spec": {"nets": [f"198.18.{i}.0/24"]}})
    dns = [{"action": "Allow", "protocol": proto,
            "destination": {"namespaceSelector": "kubernetes.io/metadata.name == 'kube-system'",
                            "selector": "k8s-app == 'kube-dns'", "ports": [53]}} for proto in ("UDP", "TCP")]
    core = [
        ("security.deny-dev-to-prod", {"selector": "env == 'prod'", "types": ["Ingress"], "ingress": [
            {"action": "Deny", "source": {"namespaceSelector": "env == 'dev'"}}, {"action": "Pass"}]}),
        ("platform.block-metadata-api", {"selector": "all()", "types": ["Egress"], "egress": [
            {"action": "Deny", "protocol": "TCP", "destination": {"nets": ["169.254.169.254/32"], "ports": [80]}},
            {"action": "Pass"}]}),
        ("security.log-and-deny-threats", {"selector": "has(app)", "types": ["Ingress"], "ingress": [
            {"action": "Log", "source": {"selector": "feed == 'blocklist'"}},
            {"action": "Deny", "source": {"selector": "feed == 'blocklist'"}}, {"action": "Pass"}]}),
        ("platform.deny-icmp-echo", {"selector": "has(tier) && !has(debug)", "types": ["Ingress"], "ingress": [
            {"action": "Deny", "protocol": "ICMP", "icmp": {"type": 8}}, {"action": "Pass"}]}),
        ("canary-restrict", {"selector": "track == 'canary' || version == 'v2'", "types": ["Ingress", "Egress"],
                             "ingress": [{"action": "Allow", "source": {"selector": "tier in {'web','backend'}"}}],
                             "egress": [{"action": "Allow", "destination": {"selector": "tier == 'data'"}},
                                        {"action": "Deny", "destination": {"nets": ["0.0.0.0/0"]}}]}),
        ("egress-internet-https", {"selector": "tier == 'web' || tier == 'backend'", "types": ["Egress"], "egress": [
            {"action": "Allow", "protocol": "TCP",
             "destination": {"nets": ["0.0.0.0/0"], "notNets": list(PRIVATE), "ports": [443]}}]}),
        ("platform.allow-web-to-prometheus", {
            "selector": "app == 'prometheus' && env in {'prod','staging'}", "types": ["Ingress"], "ingress": [
                {"action": "Allow", "protocol": "TCP", "source": {"selector": "tier == 'web'"},
                 "destination": {"ports": [9090, "9000:9100"]}}, {"action": "Pass"}]}),
        ("security.pass-monitoring-scrape", {"selector": "has(app)", "types": ["Ingress"], "ingress": [
            {"action": "Pass", "protocol": "TCP",
             "source": {"namespaceSelector": "team == 'monitoring'", "selector": "app == 'prometheus'"},
             "destination": {"ports": [9100, "metrics"]}}, {"action": "Pass"}]}),
        ("allow-external-db", {"selector": "tier == 'backend'", "types": ["Egress"], "egress": [
            {"action": "Allow", "protocol": "TCP",
             "destination": {"selector": "role == 'external-db'", "ports": [5432, 3306]}}]}),
        ("allow-dns-egress", {"selector": "all()", "types": ["Egress"], "egress": dns}),
    ]

    def namespaced(k: int, ns: str) -> tuple[str, dict]:
        apps = sorted({w[0] for w in c.workloads[ns]}) or ["none"]
        a, b = rnd.choice(apps), rnd.choice(apps)
        if k == 0:
            return ("allow-cross-env", {"selector": f"app == '{a}' || app == '{b}'", "types": ["Ingress"], "ingress": [
                {"action": "Allow", "protocol": "TCP",
                 "source": {"namespaceSelector": "env in {'prod','staging'} && has(team)", "selector": "has(tier)"},
                 "destination": {"ports": ["8000:8100", 5432]}},
                {"action": "Pass", "protocol": "TCP", "source": {"namespaceSelector": "team == 'monitoring'"}},
                {"action": "Pass"}]})
        if k == 1:
            return (f"allow-frontend-to-{a}", {"selector": f"app == '{a}'", "types": ["Ingress", "Egress"],
                                               "ingress": [{"action": "Allow", "protocol": "TCP",
                                                            "source": {"selector": "app == 'frontend'"},
                                                            "destination": {"ports": ["http", 8080]}},
                                                           {"action": "Pass"}],
                                               "egress": [{"action": "Allow", "protocol": "TCP",
                                                           "destination": {"selector": "tier == 'data'",
                                                                           "ports": [5432, 6379]}},
                                                          {"action": "Pass"}]})
        if k == 2 or ns not in partners:
            return ("protect-data-tier", {"selector": "tier == 'data'", "types": ["Ingress"], "ingress": [
                {"action": "Allow", "source": {"selector": "tier == 'backend'"}},
                {"action": "Deny", "source": {"notSelector": "tier == 'backend'"}}]})
        return ("allow-partner-egress", {"selector": f"app == '{a}' && !has(debug)", "types": ["Egress"], "egress": [
            {"action": "Allow", "protocol": "TCP",
             "destination": {"selector": "role == 'partner-api'", "ports": [443]}},
            {"action": "Deny", "destination": {"nets": ["198.18.0.0/15"]}}]})

    def per_team(k: int, team: str) -> tuple[str, dict]:
        if k == 0:
            return (f"security.{team}-namespace-isolation", {
                "namespaceSelector": f"team == '{team}'", "selector": "all()", "types": ["Ingress"], "ingress": [
                    {"action": "Allow", "source": {"namespaceSelector": f"team in {{'{team}','monitoring'}}"}},
                    {"action": "Deny"}]})
        if k == 1:
            return (f"platform.{team}-deny-admin-ports", {
                "namespaceSelector": f"team == '{team}'", "selector": "has(app) && app != 'batch'",
                "types": ["Ingress"], "ingress": [
                    {"action": "Deny", "protocol": "TCP", "destination": {"ports": [22, 3389, "2375:2376"]}},
                    {"action": "Pass"}]})
        return (f"security.{team}-web-not-from-dev", {
            "namespaceSelector": f"team == '{team}'", "selector": "tier == 'web'", "types": ["Ingress"], "ingress": [
                {"action": "Allow", "protocol": "TCP", "source": {"notSelector": "env == 'dev'"},
                 "destination": {"notPorts": [22, 3389]}}, {"action": "Pass"}]})

    for i in range(count):
        if i < len(core):
            name, spec = core[i]
            kind, meta = "GlobalNetworkPolicy", {}
        elif i % 4 == 0:
            j = i // 4
            name, spec = per_team(j % 3, TEAMS[j // 3 % len(TEAMS)])
            name = f"{name}-{i}"
            kind, meta = "GlobalNetworkPolicy", {}
        else:
            ns = names[i % len(names)]
            name, spec = namespaced(i % 5 % 4, ns)  # cross-environment allows twice as often
            if i % 3 == 0:
                name = f"platform.{name}"
            name = f"{name}-{i}"
            kind, meta = "NetworkPolicy", {"namespace": ns}
        tier = name.split(".", 1)[0] if "." in name else None
        spec = {**({"tier": tier} if tier else {}), "order": 10 * (i + 1), **spec}
        docs.append({"apiVersion": v3, "kind": kind, "metadata": {"name": name, **meta}, "spec": spec})
    return docs


def write(docs: list[dict], directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)  # a cluster of an earlier run (--keep)
    directory.mkdir(parents=True)
    chunk = 500
    for i in range(0, len(docs), chunk):
        (directory / f"part-{i // chunk:04d}.yaml").write_text(yaml.safe_dump_all(docs[i:i + chunk], sort_keys=False))


def compliance_spec(docs: list[dict], count: int, seed: int = 2) -> dict:
    """A ComplianceSpec of `count` requirements over the generated apps and namespaces: deny, allow, only and
    isolated in turn, two in three on TCP ports 1-9000."""
    rnd = random.Random(seed)
    apps = sorted({d["metadata"]["labels"]["app"] for d in docs
                   if d["kind"] == "Pod" and "app" in d["metadata"]["labels"]})
    namespaces = sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Namespace")
    reqs = []
    for i in range(count):
        kind = ("deny", "allow", "only", "isolated")[i % 4]
        a = {"selector": f"app == '{rnd.choice(apps)}'"}
        b = {"namespace": rnd.choice(namespaces), "selector": f"app == '{rnd.choice(apps)}'"}
        body = {"from": a, "to": b} if kind != "isolated" else {**b, "directions": ["ingress", "egress"]}
        if i % 3:
            body["ports"] = ["TCP/1-9000"]
        reqs.append({"id": f"r{i}", kind: body})
    return {"apiVersion": "reasoner/v1", "kind": "ComplianceSpec", "requirements": reqs}


def can_query(docs: list[dict]) -> tuple[str, str, int]:
    """(source pod, destination pod, port) for one `can`: a web-tier pod to another app's pod of its namespace
    on that pod's first TCP container port."""
    pods = [d for d in docs if d["kind"] == "Pod"]

    def port(d: dict) -> int | None:
        return next((p["containerPort"] for c in d["spec"]["containers"] for p in c.get("ports", [])
                     if p.get("protocol", "TCP") == "TCP"), None)

    def ref(d: dict) -> str:
        return f"{d['metadata']['namespace']}/{d['metadata']['name']}"

    for src in pods:
        labels = src["metadata"]["labels"]
        if labels.get("tier") != "web":
            continue
        for dst in pods:
            if (dst["metadata"]["namespace"] == src["metadata"]["namespace"] and port(dst)
                    and dst["metadata"]["labels"].get("app") != labels.get("app")):
                return ref(src), ref(dst), port(dst)
    return ref(pods[0]), ref(pods[-1]), port(pods[-1]) or 80


def endpoint_classes(directory: Path) -> int:
    """The endpoint classes of the cluster in `directory` (pods and host endpoints; not address atoms)."""
    from reasoner import api
    from reasoner.facts.classes import build_classes

    classes, _atoms = build_classes(api.load([directory]))
    return sum(1 for c in classes if c.external is None)


def measure(argv: list[str], limit: float) -> dict:
    """Run `argv` (standard output discarded) and return its wall `seconds` (None when killed at `limit`),
    `peak_mib` (its maximum resident set), `exit` status and the `stderr` tail."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(limit, kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # interrupted: leave no child behind
            kill()
            os.wait4(proc.pid, 0)
            raise
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-4000:].decode(errors="replace")
    timed_out = expired.is_set() and proc.returncode == -signal.SIGKILL
    return {"seconds": None if timed_out else seconds, "peak_mib": usage.ru_maxrss / 1024, "exit": proc.returncode,
            "stderr": tail}


def reasoner_argv(command: str, directory: Path, changed: Path, spec: Path, scope: str,
                  query: tuple[str, str, int]) -> list[str]:
    base = [sys.executable, "-m", "reasoner"]
    if command == "connectivity":
        return base + ["connectivity", "-o", "json", str(directory)]
    if command == "can":
        src, dst, port = query
        return base + ["can", src, dst, "--port", str(port), "-f", str(directory)]
    if command == "diff":
        return base + ["diff", str(directory), str(changed), "-o", "json"]
    if command == "lint":
        return base + ["lint", "-o", "json", str(directory)]
    return base + ["prove", "--spec", str(spec), "--scope", scope, "-o", "json", str(directory)]


def nca_argv(nca: str, command: str, directory: Path, changed: Path) -> list[str] | None:
    """network-config-analyzer's counterpart of `command` on the same files (None: it has none)."""
    lists = ["--pod_list", str(directory), "--ns_list", str(directory), "--output_format", "txt"]
    if command == "connectivity":
        return [nca, "--connectivity", str(directory)] + lists
    if command == "diff":
        return [nca, "--semantic_diff", str(changed), "--base_np_list", str(directory)] + lists
    return None


COLUMNS = (("pods", 6), ("policies", 8), ("calico", 6), ("classes", 7), ("command", 12), ("seconds", 9),
           ("peak MiB", 8), ("exit", 4), ("nca s", 9), ("ratio", 6))


def header() -> str:
    return " ".join(f"{name:>{width}}" if i != 4 else f"{name:<{width}}" for i, (name, width) in enumerate(COLUMNS))


def seconds_text(run: dict | None, limit: float) -> str:
    if run is None:
        return "-"
    if run["seconds"] is None:
        return f"> {limit:g} s"
    if run["exit"] not in (0, 1):
        return "fails"
    return f"{run['seconds']:.2f}"


def ratio_text(ours: dict, peer: dict | None, limit: float) -> str:
    """nca seconds / reasoner seconds; a bound when one of them ran out of time."""
    if peer is None or (peer["seconds"] is not None and peer["exit"] not in (0, 1)) or ours["exit"] not in (0, 1):
        return "-"
    if ours["seconds"] is None:
        return "-" if peer["seconds"] is None else f"<{peer['seconds'] / limit:.2g}"
    if peer["seconds"] is None:
        return f">{limit / ours['seconds']:.2g}"
    return f"{peer['seconds'] / ours['seconds']:.2g}"


def format_row(row: dict, limit: float) -> str:
    """One line of the table for `row` (a size, a command, its run and the peer's)."""
    run, peer = row["run"], row.get("peer")
    cells = (row["pods"], row["policies"], row["calico"], row["classes"], row["command"], seconds_text(run, limit),
             f"{run['peak_mib']:.0f}", run["exit"], seconds_text(peer, limit), ratio_text(run, peer, limit))
    return " ".join(f"{cell!s:>{width}}" if i != 4 else f"{cell!s:<{width}}"
                    for i, (cell, (_name, width)) in enumerate(zip(cells, COLUMNS)))


def failure(run: dict | None, limit: float) -> str | None:
    """The last lines of what a run that failed (not one that ran out of time) wrote on standard error."""
    if run is None or run["seconds"] is None or run["exit"] in (0, 1):
        return None
    lines = [line for line in run["stderr"].splitlines() if line.strip()]
    errors = [line for line in lines if "rror" in line]
    return " | ".join((errors or lines)[-3:])[-600:] or f"exit status {run['exit']}"


def calico_count(profile: str, pods: int, policies: int, calico: float | None) -> int:
    """How many Calico policies `--calico` asks for: given bare (None), 36 per 500 pods (at least 10) for label
    sets, 0.1 x the policy count for replicas; given a FRACTION, FRACTION x the policy count (0: none)."""
    if calico is None:
        return max(10, round(36 * pods / 500)) if profile == "labelsets" else round(0.1 * policies)
    return round(calico * policies)


COMMANDS = ("connectivity", "can", "diff", "lint", "prove")


def commands(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    wrong = [c for c in names if c not in COMMANDS]
    if wrong or not names:
        raise argparse.ArgumentTypeError(f"unknown command {', '.join(wrong) or '(none)'} "
                                         f"(want a comma-separated list of {', '.join(COMMANDS)})")
    return names


def size(text: str) -> tuple[int, int]:
    try:
        pods, policies = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (want PODSxPOLICIES, e.g. 1000x300)") from None
    if pods < 20 or policies < 0:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (want at least 20 pods)")
    return pods, policies


def prepare() -> None:
    """Time the commands as an installed tool runs: its modules byte-compiled (as `pip install` leaves them; an
    editable checkout under PYTHONDONTWRITEBYTECODE would compile every module again in every timed process, about
    0.17 s) and the parsed rules in the user's cache (written by the first run on a machine)."""
    from reasoner.engine.datalog import Engine

    compileall.compile_dir(str(Path(__file__).resolve().parent), quiet=1)
    Engine([]).close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m reasoner.benchmark", description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 2)[2],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=["labelsets", "replicas"], default="labelsets",
                    help="labelsets: about two pods per label set; replicas: about 20 replicas per workload")
    ap.add_argument("--sizes", nargs="+", type=size, default=[(500, 150), (1000, 300), (2000, 600), (5000, 1500)],
                    metavar="PODSxPOLICIES", help="e.g. 1000x300 (default: 500x150 1000x300 2000x600 5000x1500)")
    ap.add_argument("--seed", type=int, default=1, help="of the generated clusters (default 1)")
    ap.add_argument("--calico", nargs="?", const=None, default=0.0, type=float, metavar="FRACTION",
                    help="add Calico policies: bare, the profile's count (labelsets: 36 per 500 pods; replicas: "
                         "0.1 x the policy count); with FRACTION, that fraction of the policy count")
    ap.add_argument("--hosts", type=int, default=0, metavar="N",
                    help="replicas profile: add N host endpoints, NodePort Services for a tenth of the workloads, "
                         "and host protection policies (preDNAT, normal, doNotTrack)")
    ap.add_argument("--commands", type=commands, default=["connectivity", "can", "diff", "lint"],
                    metavar="LIST", help=f"comma-separated, of {', '.join(COMMANDS)} "
                                         "(default: connectivity,can,diff,lint)")
    ap.add_argument("--limit", type=float, default=600, metavar="SECONDS",
                    help="kill a command (or nca) after this long and print `> SECONDS s` (default 600)")
    ap.add_argument("--changes", type=int, default=10, metavar="N", help="rules changed for `diff` (default 10)")
    ap.add_argument("--requirements", type=int, default=4, metavar="N",
                    help="generated requirements for `prove` (default 4)")
    ap.add_argument("--scope", choices=["inventory", "any-workload"], default="any-workload",
                    help="scope of `prove` (default any-workload)")
    ap.add_argument("--nca", default=shutil.which("nca"), metavar="PATH",
                    help="network-config-analyzer's `nca` (default: found on the PATH)")
    ap.add_argument("--no-nca", action="store_true", help="do not time network-config-analyzer")
    ap.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="write the generated clusters here instead of a "
                                                              "temporary directory, and keep them")
    args = ap.parse_args(argv)
    if args.hosts and args.profile != "replicas":
        ap.error("--hosts applies to --profile replicas")
    nca = None if args.no_nca else args.nca
    prepare()
    print(header(), flush=True)
    rows: list[dict] = []
    reported: set[tuple[str, str]] = set()
    for pods, policies in args.sizes:
        base = args.keep or Path(tempfile.mkdtemp(prefix="reasoner-bench-"))
        calico = calico_count(args.profile, pods, policies, args.calico)
        directory, changed = base / f"{pods}x{policies}", base / f"{pods}x{policies}-changed"
        spec = base / f"{pods}x{policies}-spec.yaml"
        if args.profile == "labelsets":
            docs = generate_labelsets(pods, policies, args.seed, calico)
        else:
            docs = generate_replicas(pods, policies, args.seed, calico, args.hosts)
        write(docs, directory)
        if "diff" in args.commands:
            write(mutate(docs, args.changes), changed)
        if "prove" in args.commands:
            spec.write_text(yaml.safe_dump(compliance_spec(docs, args.requirements), sort_keys=False))
        classes = endpoint_classes(directory)
        query = can_query(docs)
        for command in args.commands:
            cmd = reasoner_argv(command, directory, changed, spec, args.scope, query)
            run = measure(cmd, args.limit)
            peer_cmd = nca_argv(nca, command, directory, changed) if nca else None
            peer = measure(peer_cmd, args.limit) if peer_cmd else None
            row = {"pods": pods, "policies": policies, "calico": calico, "classes": classes, "command": command,
                   "argv": ["python", *cmd[1:]], "run": run, "peer_argv": peer_cmd, "peer": peer}
            rows.append(row)
            print(format_row(row, args.limit), flush=True)
            for who, r in (("reasoner", run), ("nca", peer)):
                text = failure(r, args.limit)
                if text and (who, text) not in reported:  # the same error of nca once, not at every size
                    reported.add((who, text))
                    print(f"       {who} {command} failed (exit {r['exit']}): {text}", flush=True)
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({"profile": args.profile, "seed": args.seed, "limit": args.limit,
                                         "rows": [figures(row) for row in rows]}, indent=2) + "\n")


def figures(row: dict) -> dict:
    """`row` for --json: the size, the command lines, per run seconds (null past the limit), peak MiB and exit
    status, and the ratio nca / reasoner seconds (null unless both finished)."""
    def run(r: dict | None) -> dict | None:
        return None if r is None else {k: r[k] for k in ("seconds", "peak_mib", "exit")}

    ours, peer = row["run"], row["peer"]
    done = peer is not None and all(r["seconds"] is not None and r["exit"] in (0, 1) for r in (ours, peer))
    return {**{k: row[k] for k in ("pods", "policies", "calico", "classes", "command", "argv", "peer_argv")},
            "reasoner": run(ours), "nca": run(peer), "ratio": peer["seconds"] / ours["seconds"] if done else None}


if __name__ == "__main__":
    main()
