"""A brute-force reference evaluator of Kubernetes NetworkPolicy on single concrete flows.

Written straight from SEMANTICS.md §2.8 ("Reference semantics"), on plain dicts, and
deliberately independent of the `reasoner` package: it is the oracle that the property-based
tests in `tests/test_differential.py` compare the engine against. It favours obviousness over speed;
every function is a direct transcription of one line of §2.8.

Scope: Kubernetes `networking.k8s.io/v1` NetworkPolicy only (no Calico, no ANP/BANP), pods on
the pod network with one IPv4 address, and external addresses. Nodes and the "ingress from the
pod's own node is always allowed" exception are not modelled (no node is ever an endpoint here).

Cluster shape (see `cluster_from_manifests`):

    {"namespaces": {"ns": {"labels": {...}}},                         # metadata.name label defaulted
     "pods": {"ns/name": {"namespace", "name", "labels", "ip",
                          "ports": [{"name", "containerPort", "protocol"}]}},
     "policies": [<NetworkPolicy manifest dict>, ...]}
"""
from __future__ import annotations

import ipaddress

NAME_LABEL = "kubernetes.io/metadata.name"
PORT_PROTOCOLS = ("TCP", "UDP", "SCTP")


# ---------------------------------------------------------------------------------------------
# Building the cluster from parsed manifests


def _items(docs):
    """Yield every object, expanding `kind: List` / `*List` wrappers."""
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if "items" in doc and str(doc.get("kind", "")).endswith("List"):
            yield from _items(doc["items"] or [])
        else:
            yield doc


def cluster_from_manifests(docs) -> dict:
    """Namespaces, pods and NetworkPolicies out of parsed manifest dicts; other kinds ignored."""
    cluster = {"namespaces": {}, "pods": {}, "policies": []}
    for obj in _items(docs):
        kind, meta = obj.get("kind"), obj.get("metadata") or {}
        if kind == "Namespace":
            add_namespace(cluster, meta["name"], meta.get("labels") or {})
        elif kind == "Pod":
            spec, status = obj.get("spec") or {}, obj.get("status") or {}
            ports = []
            for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                for cp in container.get("ports") or []:
                    if cp.get("name"):
                        ports.append({"name": cp["name"], "containerPort": int(cp["containerPort"]),
                                      "protocol": cp.get("protocol") or "TCP"})
            add_pod(cluster, meta.get("namespace") or "default", meta["name"],
                    meta.get("labels") or {}, status.get("podIP"), ports)
        elif kind == "NetworkPolicy":
            ns = meta.get("namespace") or "default"
            cluster["policies"].append(dict(obj, metadata=dict(meta, namespace=ns)))
            add_namespace(cluster, ns, None)
    return cluster


def add_namespace(cluster, name, labels):
    """Declare a namespace (labels=None only makes sure it exists); the name label is defaulted."""
    ns = cluster["namespaces"].setdefault(name, {"labels": {NAME_LABEL: name}})
    if labels is not None:
        ns["labels"] = dict(labels)
        ns["labels"][NAME_LABEL] = name  # set by the control plane, immutable (§2.7)


def add_pod(cluster, namespace, name, labels, ip, ports=()):
    add_namespace(cluster, namespace, None)
    cluster["pods"][f"{namespace}/{name}"] = {
        "namespace": namespace, "name": name, "labels": dict(labels), "ip": ip,
        "ports": [dict(p) for p in ports]}


# ---------------------------------------------------------------------------------------------
# §2.6 LabelSelector


def sel(selector, labels) -> bool:
    """metav1.LabelSelector on a label map; `{}` matches everything."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for req in selector.get("matchExpressions") or []:
        key, op, values = req["key"], req["operator"], req.get("values") or []
        present = key in labels
        if op == "In":
            ok = present and labels[key] in values
        elif op == "NotIn":
            ok = not present or labels[key] not in values
        elif op == "Exists":
            ok = present
        elif op == "DoesNotExist":
            ok = not present
        else:
            raise ValueError(f"unknown operator {op!r}")
        if not ok:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# §2.1 defaulting and §2.8


def policy_types(policy) -> list:
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        return list(types)
    return ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def applies(policy, pod, direction) -> bool:
    spec = policy.get("spec") or {}
    return (policy["metadata"]["namespace"] == pod["namespace"]
            and sel(spec.get("podSelector") or {}, pod["labels"])
            and direction in policy_types(policy))


def isolated(cluster, pod, direction) -> bool:
    return any(applies(p, pod, direction) for p in cluster["policies"])


def _net(cidr):
    return ipaddress.ip_network(cidr, strict=False)  # normalise to the network address (§2.4)


def peer_ok(cluster, policy, peer, remote) -> bool:
    """`remote` is a pod dict or {"ip": "..."} for an address no pod owns."""
    if "ipBlock" in peer and peer["ipBlock"] is not None:
        block = peer["ipBlock"]
        addr = ipaddress.ip_address(remote["ip"])
        return addr in _net(block["cidr"]) and all(addr not in _net(e) for e in block.get("except") or [])
    if "namespace" not in remote:  # an external address is never a pod peer
        return False
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    if ns_sel is None:
        ns_ok = remote["namespace"] == policy["metadata"]["namespace"]
    else:
        ns_ok = sel(ns_sel, cluster["namespaces"][remote["namespace"]]["labels"])
    return ns_ok and (pod_sel is None or sel(pod_sel, remote["labels"]))


def port_ok(pt, protocol, dport, dstpod) -> bool:
    if protocol != (pt.get("protocol") or "TCP"):
        return False
    port = pt.get("port")
    if port is None:
        return True
    if isinstance(port, int):
        return port <= dport <= (pt.get("endPort") or port)
    # named port: resolved on the destination pod; never matches a non-pod destination
    return dstpod is not None and any(
        cp["name"] == port and cp["protocol"] == protocol and cp["containerPort"] == dport
        for cp in dstpod["ports"])


def rule_ok(cluster, policy, rule, direction, remote, protocol, dport, dstpod) -> bool:
    peers = rule.get("from" if direction == "Ingress" else "to") or []
    ports = rule.get("ports") or []
    return ((not peers or any(peer_ok(cluster, policy, peer, remote) for peer in peers))
            and (not ports or any(port_ok(pt, protocol, dport, dstpod) for pt in ports)))


def allow_dir(cluster, pod, direction, remote, protocol, dport) -> bool:
    if not isolated(cluster, pod, direction):
        return True
    key = "ingress" if direction == "Ingress" else "egress"
    dstpod = pod if direction == "Ingress" else (remote if "namespace" in remote else None)
    for policy in cluster["policies"]:
        if not applies(policy, pod, direction):
            continue
        for rule in (policy.get("spec") or {}).get(key) or []:
            if rule_ok(cluster, policy, rule or {}, direction, remote, protocol, dport, dstpod):
                return True
    return False


def endpoint(cluster, name) -> dict:
    """`ns/pod`, `ip:A.B.C.D` or a bare address; an address owned by a pod is that pod."""
    if name in cluster["pods"]:
        return cluster["pods"][name]
    addr = name[3:] if name.startswith("ip:") else name
    ipaddress.ip_address(addr)  # raises on anything else (e.g. an unknown pod name)
    for pod in cluster["pods"].values():
        if pod["ip"] == addr:
            return pod
    return {"ip": addr}


def allowed(cluster, src, dst, protocol, port=None) -> bool:
    """Is a new connection src → dst (protocol, destination port) allowed? Port is None for ICMP etc."""
    protocol = protocol.upper()
    if protocol not in PORT_PROTOCOLS:
        port = None
    elif not isinstance(port, int):
        raise ValueError(f"{protocol} flow needs a destination port")
    s, d = endpoint(cluster, src), endpoint(cluster, dst)
    egress = "namespace" not in s or allow_dir(cluster, s, "Egress", d, protocol, port)
    ingress = "namespace" not in d or allow_dir(cluster, d, "Ingress", s, protocol, port)
    return egress and ingress
