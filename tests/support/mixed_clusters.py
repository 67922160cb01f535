"""Random small clusters (hypothesis) mixing Kubernetes NetworkPolicies, Calico policies in up to two extra tiers,
network sets and admin policies, as manifest dicts."""
from __future__ import annotations

from hypothesis import strategies as st

from support.k8s_clusters import label_maps
from support.k8s_clusters import policies as k8s_policies
from support.reference import NAME_LABEL

NAMESPACES = ["alpha", "beta", "gamma"]
POD_KEYS = ["app", "tier", "env"]
VALUES = ["a", "b", "c"]
SET_ROLES = ["x", "y"]
PORT_NAMES = ["http", "dns", "metrics"]
NUMBERS = [53, 80, 443, 8080, 9090]
V6_POD = "fd00::10"
NETS4 = ["10.0.0.0/24", "10.0.0.0/28", "192.168.1.0/24", "0.0.0.0/0"]  # few: each bound adds address atoms
NETS6 = ["fd00::/64", "::/0"]
SET_NETS = ["192.168.1.0/24", "10.0.0.0/28", "fd00::/64"]
TIERS = [("security", 100), ("platform", 200), ("late", 2000000)]  # the default tier's order: 1 000 000


# named container ports (and an unnamed one), mostly TCP or UDP
container_ports = st.lists(
    st.fixed_dictionaries({"name": st.sampled_from(PORT_NAMES), "containerPort": st.sampled_from(NUMBERS[:4])},
                          optional={"protocol": st.sampled_from(["TCP", "UDP", "UDP"] * 3 + ["SCTP"])})
    | st.fixed_dictionaries({"containerPort": st.sampled_from(NUMBERS)}),
    max_size=3, unique_by=lambda p: p.get("name", ""))


@st.composite
def calico_terms(draw, present):
    """One term of a Calico selector over pod labels, mostly over a label some pod has."""
    if present and draw(st.integers(0, 3)) < 3:
        key, value = draw(st.sampled_from(present))
    else:
        key = draw(st.sampled_from(POD_KEYS))
        value = draw(st.sampled_from(VALUES + SET_ROLES))
    other = draw(st.sampled_from(VALUES))
    form = draw(st.sampled_from(["eq", "eq", "ne", "has", "nothas", "in", "notin"]))
    return {"eq": f"{key} == '{value}'", "ne": f"{key} != '{value}'", "has": f"has({key})",
            "nothas": f"!has({key})", "in": f"{key} in {{'{value}', '{other}'}}",
            "notin": f"{key} not in {{'{value}'}}"}[form]


@st.composite
def calico_selectors(draw, present):
    """A Calico selector over pod labels: one term, two joined by && or ||, or all()."""
    kind = draw(st.sampled_from(["one", "one", "one", "and", "or", "all"]))
    if kind == "all":
        return "all()"
    first = draw(calico_terms(present))
    if kind == "one":
        return first
    return f"{first} {'&&' if kind == 'and' else '||'} {draw(calico_terms(present))}"


@st.composite
def calico_ports(draw, numeric: bool):
    items = []
    for _ in range(draw(st.integers(1, 2))):
        kind = draw(st.sampled_from(["num", "range", "named"] if numeric else ["named"]))
        if kind == "num":
            items.append(draw(st.sampled_from(NUMBERS[:4])))
        elif kind == "range":
            items.append(draw(st.sampled_from(["80:443", "8000:9000"])))
        else:
            items.append(draw(st.sampled_from(PORT_NAMES)))
    return items


@st.composite
def entities(draw, ctx, peer: bool, numeric: bool, namespaced: bool):
    """An EntityRule: on the peer's end a selector, notSelector, namespaceSelector, nets, notNets (often none:
    every peer); on the subject's own end sometimes a selector; ports on the destination."""
    ent = {}
    if peer:
        kind = draw(st.sampled_from(["none", "sel", "sel", "nets", "ns", "sel+nets", "notsel", "set"]))
        if kind in ("sel", "sel+nets"):
            ent["selector"] = draw(calico_selectors(ctx["pod_labels"]))
        if kind == "set":
            ent["selector"] = f"role == '{draw(st.sampled_from(SET_ROLES))}'"
            if namespaced and draw(st.booleans()):
                ent["namespaceSelector"] = "global()"
        if kind == "notsel":
            ent["notSelector"] = draw(calico_selectors(ctx["pod_labels"]))
        if kind == "ns":
            ent["namespaceSelector"] = draw(st.sampled_from(
                ["all()", "team == 'a'", "has(env)", f"kubernetes.io/metadata.name == '{ctx['namespaces'][1]}'"]))
            if draw(st.booleans()):
                ent["selector"] = draw(calico_selectors(ctx["pod_labels"]))
        if kind in ("nets", "sel+nets"):
            pool = NETS4 + ctx["pod_nets"] + (NETS6 if ctx["v6"] else [])
            ent["nets"] = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
        if kind == "nets" and draw(st.booleans()):
            ent["notNets"] = draw(st.lists(st.sampled_from(ctx["pod_nets"] + ["10.0.0.0/28"]), min_size=1,
                                           max_size=2, unique=True))
    elif draw(st.integers(0, 4)) == 0:
        ent["selector"] = draw(calico_selectors(ctx["pod_labels"]))
    return ent


@st.composite
def calico_rules(draw, ctx, direction: str, namespaced: bool):
    rule = {"action": draw(st.sampled_from(["Allow", "Allow", "Allow", "Deny", "Deny", "Pass", "Pass", "Log"]))}
    # SCTP and ICMP seldom: each protocol a rule names adds a copy of the port atoms to check
    proto = draw(st.sampled_from([None, None, "TCP", "TCP", "TCP", "UDP", 17] * 3 + ["SCTP", "ICMP"]))
    if proto is not None:
        rule["protocol"] = proto
    elif draw(st.integers(0, 4)) == 0:
        rule["notProtocol"] = draw(st.sampled_from(["TCP", "UDP"]))
    if proto == "ICMP" and draw(st.booleans()):
        rule[draw(st.sampled_from(["icmp", "notICMP"]))] = draw(st.sampled_from([{"type": 8}, {"type": 8, "code": 0},
                                                                                 {"type": 0}]))
    if draw(st.integers(0, 6)) == 0:
        rule["ipVersion"] = draw(st.sampled_from([4, 6] if ctx["v6"] else [4]))
    numeric = proto in ("TCP", "UDP", "SCTP", 17)
    source = draw(entities(ctx, direction == "ingress", numeric, namespaced))
    destination = draw(entities(ctx, direction == "egress", numeric, namespaced))
    if (numeric or draw(st.integers(0, 3)) == 0) and draw(st.integers(0, 2)) < 2:
        destination[draw(st.sampled_from(["ports", "ports", "notPorts"]))] = draw(calico_ports(numeric))
    for key, ent in (("source", source), ("destination", destination)):
        if ent:
            rule[key] = ent
    return rule


@st.composite
def calico_policies(draw, index, ctx):
    """A Calico NetworkPolicy or GlobalNetworkPolicy; the first one mostly selects every pod or many."""
    namespaced = draw(st.integers(0, 2)) < 2
    tier = draw(st.sampled_from(["default", "default"] + ctx["tiers"]))
    spec = {"selector": draw(st.sampled_from(["all()", "all()", "has(app)", "!has(tier)"]) if index == 0
                             else calico_selectors(ctx["pod_labels"]))}
    meta = {"name": f"c{index}"}
    if namespaced:
        meta["namespace"] = draw(st.sampled_from(ctx["pod_namespaces"]))
    elif draw(st.booleans()):
        spec["namespaceSelector"] = draw(st.sampled_from(["all()", "team == 'a'", "!has(team)"]))
    if tier != "default" or draw(st.booleans()):
        spec["tier"] = tier
    order = draw(st.sampled_from([None, 10, 100, 100, 1000, 1500]))
    if order is not None:
        spec["order"] = order
    directions = draw(st.sampled_from([["ingress"], ["egress"], ["ingress", "egress"]]))
    for d in directions:
        spec[d] = draw(st.lists(calico_rules(ctx, d, namespaced), min_size=d == directions[0], max_size=4))
        if draw(st.integers(0, 2)) == 0:  # a last rule for every flow, as tiers often end
            spec[d].append({"action": draw(st.sampled_from(["Pass", "Deny", "Deny", "Pass", "Allow"]))})
    if draw(st.booleans()):
        spec["types"] = [d.capitalize() for d in directions]
    kind = "NetworkPolicy" if namespaced else "GlobalNetworkPolicy"
    return {"apiVersion": "projectcalico.org/v3", "kind": kind, "metadata": meta, "spec": spec}


@st.composite
def network_sets(draw, index, ctx):
    namespaced = draw(st.booleans())
    meta = {"name": f"set{index}", "labels": {"role": draw(st.sampled_from(SET_ROLES))}}
    if namespaced:
        meta["namespace"] = draw(st.sampled_from(ctx["namespaces"]))
    nets = draw(st.lists(st.sampled_from(SET_NETS if ctx["v6"] else SET_NETS[:-1]), min_size=1, max_size=2,
                         unique=True))
    return {"apiVersion": "projectcalico.org/v3", "kind": "NetworkSet" if namespaced else "GlobalNetworkSet",
            "metadata": meta, "spec": {"nets": nets}}


@st.composite
def admin_selectors(draw, ctx, keys):
    if not ctx[keys] or draw(st.integers(0, 3)) == 0:
        return {}
    key, value = draw(st.sampled_from(ctx[keys]))
    return {"matchLabels": {key: value}}


@st.composite
def admin_peers(draw, ctx, direction):
    kind = draw(st.sampled_from(["namespaces", "pods", "networks"] if direction == "egress"
                                else ["namespaces", "pods"]))
    if kind == "namespaces":
        return {"namespaces": draw(admin_selectors(ctx, "ns_labels"))}
    if kind == "pods":
        return {"pods": {"namespaceSelector": draw(admin_selectors(ctx, "ns_labels")),
                         "podSelector": draw(admin_selectors(ctx, "pod_labels"))}}
    return {"networks": draw(st.lists(st.sampled_from(NETS4 + ctx["pod_nets"]), min_size=1, max_size=2,
                                      unique=True))}


@st.composite
def admin_policies(draw, ctx, baseline: bool):
    spec = {}
    if draw(st.booleans()):
        spec["subject"] = {"namespaces": draw(admin_selectors(ctx, "ns_labels"))}
    else:
        spec["subject"] = {"pods": {"namespaceSelector": draw(admin_selectors(ctx, "ns_labels")),
                                    "podSelector": draw(admin_selectors(ctx, "pod_labels"))}}
    actions = ["Allow", "Deny"] if baseline else ["Allow", "Deny", "Pass"]
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        rules = []
        for i in range(draw(st.integers(0, 2))):
            rule = {"name": f"{direction}{i}", "action": draw(st.sampled_from(actions)),
                    peers_key: draw(st.lists(admin_peers(ctx, direction), min_size=1, max_size=2))}
            if draw(st.booleans()):
                ports = []
                for _ in range(draw(st.integers(1, 2))):
                    kind = draw(st.sampled_from(["portNumber", "portRange", "namedPort"]))
                    proto = draw(st.sampled_from(["TCP", "UDP"]))
                    if kind == "portNumber":
                        ports.append({kind: {"protocol": proto, "port": draw(st.sampled_from(NUMBERS))}})
                    elif kind == "portRange":
                        end = draw(st.sampled_from([443, 9090]))
                        ports.append({kind: {"protocol": proto, "start": 80, "end": end}})
                    else:
                        ports.append({kind: draw(st.sampled_from(PORT_NAMES))})
                rule["ports"] = ports
            rules.append(rule)
        if rules:
            spec[direction] = rules
    if baseline:
        return {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "BaselineAdminNetworkPolicy",
                "metadata": {"name": "default"}, "spec": spec}
    spec["priority"] = draw(st.integers(1, 3))
    return {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
            "metadata": {"name": f"anp{spec['priority']}"}, "spec": spec}


@st.composite
def clusters(draw):
    """Manifest dicts: Namespaces, Pods, Tiers, network sets, Kubernetes, Calico and admin policies."""
    namespaces = NAMESPACES[: draw(st.integers(2, 3))]
    docs = []
    for ns in namespaces:
        labels = draw(label_maps(["team", "env"]))
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    count = draw(st.integers(3, 6))
    octets = draw(st.lists(st.integers(1, 254).filter(lambda o: o not in (200, 201)), min_size=count,
                           max_size=count, unique=True))
    ips = [f"10.0.0.{o}" for o in octets]
    v6 = draw(st.integers(0, 3)) == 0
    if v6:
        ips[-1] = V6_POD  # one IPv6-only pod
    for i, ip in enumerate(ips):
        container = {"name": "main", "image": "example/app:1"}
        ports = draw(container_ports)
        if ports:
            container["ports"] = ports
        docs.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": f"p{i}", "namespace": draw(st.sampled_from(namespaces)),
                                  "labels": draw(label_maps(POD_KEYS))},
                     "spec": {"containers": [container]},
                     "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})
    pods = [d for d in docs if d["kind"] == "Pod"]
    ctx = {"namespaces": namespaces, "v6": v6,
           "pod_ips": [ip for ip in ips if ":" not in ip],
           "pod_nets": [f"{ips[0]}/32"],  # one pod's address as a net: enough to cut a pod out of a block
           "pod_namespaces": sorted({p["metadata"]["namespace"] for p in pods}),
           "pod_labels": sorted({kv for p in pods for kv in p["metadata"]["labels"].items()}),
           "ns_labels": sorted({kv for d in docs if d["kind"] == "Namespace"
                                for kv in {**d["metadata"]["labels"], NAME_LABEL: d["metadata"]["name"]}.items()})}
    tiers = draw(st.lists(st.sampled_from(TIERS), max_size=2, unique=True))
    ctx["tiers"] = [name for name, _order in tiers]
    for name, order in tiers:
        docs.append({"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": name},
                     "spec": {"order": order, "defaultAction": draw(st.sampled_from(["Deny", "Pass", "Pass"]))}})
    for i in range(draw(st.integers(0, 2))):
        docs.append(draw(network_sets(i, ctx)))
    for i in range(draw(st.sampled_from([0, 1, 1]))):
        docs.append(draw(k8s_policies(i, ctx)))
    for i in range(draw(st.integers(1, 4))):
        docs.append(draw(calico_policies(i, ctx)))
    if draw(st.integers(0, 3)) == 0:
        docs.append(draw(admin_policies(ctx, baseline=False)))
    if draw(st.integers(0, 4)) == 0:
        docs.append(draw(admin_policies(ctx, baseline=True)))
    return docs
