"""Random Kubernetes clusters (hypothesis): 2–3 namespaces, 2–6 pods with labels, IPs in 10.0.0.0/24 and named
container ports, and 1–4 NetworkPolicies over the same small label vocabulary (selectors lean towards labels that
exist, so that policies select something); as manifest dicts, and written as manifest files."""
from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml
from hypothesis import strategies as st

from support.reference import NAME_LABEL

NS_NAMES = ["alpha", "beta", "gamma"]
POD_KEYS = ["app", "tier", "env"]
NS_KEYS = ["team", "env"]
VALUES = ["a", "b", "c"]
PORT_NAMES = ["http", "dns", "metrics"]
NUMBERS = [53, 80, 443, 8080, 9090]
PROTOCOLS = ["TCP", "UDP", "SCTP"]
RESERVED = {0, 200, 201, 255}  # never a pod IP's last octet (200, 201: the outside ends probed)
EXTERNAL_PROBES = ["10.0.0.0", "10.0.0.200", "10.0.0.201", "10.0.0.255", "10.0.7.7", "192.168.1.1", "8.8.8.8"]


def values_for(key):
    return st.sampled_from(NS_NAMES if key == NAME_LABEL else VALUES)


@st.composite
def label_maps(draw, keys):
    """Mostly one or two labels; sometimes none (NotIn and DoesNotExist select those)."""
    count = draw(st.sampled_from([1, 2, 0, 1, 2]))
    chosen = draw(st.lists(st.sampled_from(keys), unique=True, min_size=count, max_size=count))
    return {k: draw(values_for(k)) for k in chosen}


@st.composite
def label_pairs(draw, keys, present):
    """A (key, value) pair; mostly one that some object carries, so selectors select something."""
    present = [kv for kv in present if kv[0] in keys]
    if present and draw(st.integers(0, 2)) < 2:
        return draw(st.sampled_from(present))
    key = draw(st.sampled_from(keys))
    return key, draw(values_for(key))


@st.composite
def requirements(draw, keys, present):
    key, value = draw(label_pairs(keys, present))
    op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
    req = {"key": key, "operator": op}
    if op in ("In", "NotIn"):
        others = draw(st.lists(values_for(key), unique=True, max_size=1))
        req["values"] = sorted({value, *others})
    return req


@st.composite
def selectors(draw, keys, present):
    """Mostly one requirement, so that a selector picks some objects and leaves others."""
    kind = draw(st.sampled_from(["empty", "expr", "labels", "expr", "both", "exprs"]))
    sel = {}
    if kind in ("labels", "both"):
        key, value = draw(label_pairs(keys, present))
        sel["matchLabels"] = {key: value}
    if kind in ("expr", "both", "exprs"):
        size = 2 if kind == "exprs" else 1
        sel["matchExpressions"] = draw(st.lists(requirements(keys, present), min_size=size, max_size=size))
    if kind == "empty" and draw(st.booleans()):  # present but empty is still `{}`
        sel.update(draw(st.sampled_from([{"matchLabels": {}}, {"matchExpressions": []}])))
    return sel


@st.composite
def ip_blocks(draw, pod_ips):
    kind = draw(st.sampled_from(["sub", "sub", "sub", "pod", "wide"]))
    if kind == "wide":
        cidr = ipaddress.ip_network(draw(st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/16"])))
    else:
        plen = draw(st.sampled_from([24, 25, 26, 27, 28, 30, 32]))
        base = draw(st.sampled_from(pod_ips)) if kind == "pod" else f"10.0.0.{draw(st.integers(0, 255))}"
        cidr = ipaddress.ip_network(f"{base}/{plen}", strict=False)
    excepts = []
    if cidr.prefixlen < 32:
        for _ in range(draw(st.integers(0, 2))):
            inner = max(cidr.prefixlen + 1, 24)
            plen = draw(st.integers(inner, 32))
            within = [ip for ip in pod_ips + EXTERNAL_PROBES if ipaddress.ip_address(ip) in cidr]
            if within and draw(st.integers(0, 2)) < 2:
                base = draw(st.sampled_from(within))
            else:
                base = f"10.0.0.{draw(st.integers(0, 255))}"
            net = ipaddress.ip_network(f"{base}/{plen}", strict=False)
            if net.subnet_of(cidr) and net != cidr:
                excepts.append(str(net))
    block = {"cidr": str(cidr)}
    if excepts or draw(st.booleans()):
        block["except"] = excepts
    return block


@st.composite
def peers(draw, ctx):
    kind = draw(st.sampled_from(["pod", "ns", "both", "ip"]))
    if kind == "ip":
        return {"ipBlock": draw(ip_blocks(ctx["pod_ips"]))}
    peer = {}
    if kind in ("ns", "both"):
        peer["namespaceSelector"] = draw(selectors(NS_KEYS + [NAME_LABEL], ctx["ns_labels"]))
    if kind in ("pod", "both"):
        peer["podSelector"] = draw(selectors(POD_KEYS, ctx["pod_labels"]))
    return peer


@st.composite
def policy_ports(draw):
    kind = draw(st.sampled_from(["empty", "proto", "num", "num", "range", "named", "named"]))
    port = {}
    if kind == "num":
        port["port"] = draw(st.sampled_from(NUMBERS + [1, 65535, 5353]))
    elif kind == "range":
        lo = draw(st.sampled_from(NUMBERS + [1]))
        port["port"] = lo
        port["endPort"] = draw(st.sampled_from([lo, lo + 1, lo + 100, 9090, 65535]).filter(lambda e: e >= lo))
    elif kind == "named":
        port["port"] = draw(st.sampled_from(PORT_NAMES))
    if kind == "proto" or draw(st.booleans()):
        port["protocol"] = draw(st.sampled_from(PROTOCOLS))
    return port


def optional_list(inner, max_size=3):
    """Mostly a non-empty list; sometimes absent (None) or present but empty."""
    return st.sampled_from(["list", "list", "absent", "list", "empty", "list", "empty"]).flatmap(
        lambda kind: st.lists(inner, min_size=1, max_size=max_size) if kind == "list"
        else st.just(None if kind == "absent" else []))


@st.composite
def rules(draw, ctx, peer_key):
    rule = {}
    for key, strategy in ((peer_key, peers(ctx)), ("ports", policy_ports())):
        value = draw(optional_list(strategy))
        if value is not None:
            rule[key] = value
    return rule


@st.composite
def policies(draw, index, ctx):
    """A NetworkPolicy, mostly in a namespace that has pods."""
    namespace = draw(st.sampled_from(ctx["pod_namespaces"] * 3 + ctx["namespaces"]))
    spec = {"podSelector": draw(selectors(POD_KEYS, ctx["pod_labels"]))}
    types = draw(st.sampled_from([None, ["Ingress"], None, ["Egress"], [], ["Ingress", "Egress"], ["Egress", "Ingress"]]))
    if types is not None:
        spec["policyTypes"] = types
    for key, peer_key in (("ingress", "from"), ("egress", "to")):
        value = draw(optional_list(rules(ctx, peer_key)))
        if value is not None:
            spec[key] = value
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"np{index}", "namespace": namespace},
            "spec": spec}


@st.composite
def container_ports(draw):
    names = draw(st.lists(st.sampled_from(PORT_NAMES), unique=True, max_size=3))
    ports = []
    for name in names:
        cp = {"name": name, "containerPort": draw(st.sampled_from(NUMBERS + [5353, 8443]))}
        protocol = draw(st.sampled_from([None, "TCP", "UDP", "UDP", "SCTP"]))
        if protocol:
            cp["protocol"] = protocol
        ports.append(cp)
    if draw(st.booleans()):  # an unnamed port takes no part in named-port resolution
        ports.append({"containerPort": draw(st.sampled_from(NUMBERS))})
    return ports


@st.composite
def scenarios(draw):
    """A list of manifest dicts: Namespaces, Pods, NetworkPolicies."""
    namespaces = NS_NAMES[: draw(st.integers(2, 3))]
    docs = []
    for ns in namespaces:
        labels = draw(label_maps(NS_KEYS))
        if draw(st.integers(0, 3)) == 3:  # usually missing: the engine must default it
            labels[NAME_LABEL] = ns
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    count = draw(st.integers(2, 6))
    octets = draw(st.lists(st.integers(1, 254).filter(lambda o: o not in RESERVED),
                           min_size=count, max_size=count, unique=True))
    pod_ips = [f"10.0.0.{o}" for o in octets]
    for i, ip in enumerate(pod_ips):
        spec = {"containers": []}
        # usually one container; sometimes a sidecar or an init container with ports of its own,
        # whose names may repeat the main container's (a name then resolves to every match, §2.5)
        for field, name in (("containers", "main"), ("containers", "sidecar"), ("initContainers", "init")):
            if name != "main" and draw(st.integers(0, 4)) < 4:
                continue
            container = {"name": name, "image": "example/app:1"}
            ports = draw(container_ports())
            if ports:
                container["ports"] = ports
            spec.setdefault(field, []).append(container)
        docs.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"p{i}", "namespace": draw(st.sampled_from(namespaces)),
                                  "labels": draw(label_maps(POD_KEYS))},
                     "spec": spec,
                     "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})
    pods = [d for d in docs if d["kind"] == "Pod"]
    ctx = {"namespaces": namespaces, "pod_ips": pod_ips,
           "pod_namespaces": sorted({p["metadata"]["namespace"] for p in pods}),
           "pod_labels": sorted({kv for p in pods for kv in p["metadata"]["labels"].items()}),
           "ns_labels": sorted({kv for d in docs if d["kind"] == "Namespace"
                                for kv in {**d["metadata"]["labels"], NAME_LABEL: d["metadata"]["name"]}.items()})}
    for i in range(draw(st.integers(1, 4))):
        docs.append(draw(policies(i, ctx)))
    return docs


def write_manifests(docs, directory: Path):
    groups = {"namespaces.yaml": [d for d in docs if d["kind"] == "Namespace"],
              "pods.yaml": [d for d in docs if d["kind"] == "Pod"]}
    for doc in docs:
        if doc["kind"] == "NetworkPolicy":
            groups[f"policies/{doc['metadata']['name']}.yaml"] = [doc]
    for name, group in groups.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all(group, sort_keys=False))
