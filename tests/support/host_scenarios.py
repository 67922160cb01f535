"""Random small host endpoint scenarios (hypothesis), as plain dicts, and their manifests: two pods (x/a backs a
NodePort Service and may have a NetworkPolicy), two host endpoints, random GlobalNetworkPolicies of every hook in
one tier (Allow/Deny/Pass rules with protocol, port ranges and nets), random profiles and failsafe configuration."""
from __future__ import annotations

from hypothesis import strategies as st

PODS = {"x/a": "10.0.0.1", "x/b": "10.0.0.2"}
HOSTS = {"hep:h1": "192.168.0.1", "hep:h2": "192.168.0.2"}
NETS = ["10.0.0.0/24", "203.0.113.0/24", "192.168.0.0/24", "10.0.0.1/32"]
PORTS = [(22, 22), (80, 80), (30080, 30080), (8000, 9000), (20, 30), (8080, 8080)]
DEFAULT_IN = [("TCP", 22, None), ("UDP", 68, None), ("TCP", 179, None), ("TCP", 2379, None), ("TCP", 2380, None),
              ("TCP", 5473, None), ("TCP", 6443, None), ("TCP", 6666, None), ("TCP", 6667, None)]
DEFAULT_OUT = [("UDP", 53, None), ("UDP", 67, None), ("TCP", 179, None), ("TCP", 2379, None), ("TCP", 2380, None),
               ("TCP", 5473, None), ("TCP", 6443, None), ("TCP", 6666, None), ("TCP", 6667, None)]


@st.composite
def rules(draw) -> list:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        rule = {"action": draw(st.sampled_from(["Allow", "Deny", "Pass"]))}
        if draw(st.booleans()):
            rule["protocol"] = draw(st.sampled_from(["TCP", "UDP"]))
            if rule["protocol"] == "TCP" and draw(st.booleans()):
                rule["ports"] = draw(st.lists(st.sampled_from(PORTS), min_size=1, max_size=2, unique=True))
        if draw(st.booleans()):
            rule["nets"] = draw(st.lists(st.sampled_from(NETS), min_size=1, max_size=2, unique=True))
        out.append(rule)
    return out


@st.composite
def scenarios(draw) -> dict:
    policies = []
    for i in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["normal", "preDNAT", "untracked"]))
        types = ["ingress"] if kind == "preDNAT" else draw(st.sampled_from([["ingress"], ["egress"],
                                                                             ["ingress", "egress"]]))
        policies.append({"name": f"p{i}", "hook": kind, "order": draw(st.integers(0, 50)) * 10 + i,
                         "forward": kind != "normal" or draw(st.booleans()),
                         "selector": draw(st.sampled_from(["all()", "role == 'node'"])), "types": types,
                         "ingress": draw(rules()) if "ingress" in types else [],
                         "egress": draw(rules()) if "egress" in types else []})
    profiles = {"allow": {"ingress": [{"action": "Allow"}], "egress": [{"action": "Allow"}]},
                "custom": {"ingress": draw(rules()), "egress": draw(rules())}}
    hosts = {}
    for name in HOSTS:
        hosts[name] = {"labels": {"role": "node"} if draw(st.booleans()) else {}, "wildcard": draw(st.booleans()),
                       "profiles": draw(st.lists(st.sampled_from(["allow", "custom"]), max_size=2, unique=True))}
    custom_fs = draw(st.booleans())
    return {"policies": policies, "profiles": profiles, "hosts": hosts, "local": draw(st.booleans()),
            "pod_policy": draw(st.sampled_from([None, "192.168.0.0/24", "203.0.113.0/24", "10.0.0.0/24"])),
            "failsafe_in": [("TCP", 80, "203.0.113.0/24"), ("UDP", 68, None)] if custom_fs else DEFAULT_IN,
            "failsafe_out": [] if custom_fs else DEFAULT_OUT}


def rule_yaml(rule: dict, direction: str) -> str:
    parts = [f"action: {rule['action']}"]
    if "protocol" in rule:
        parts.append(f"protocol: {rule['protocol']}")
    peer, local = ("source", "destination") if direction == "ingress" else ("destination", "source")
    peer_fields, local_fields = [], []
    if "nets" in rule:
        peer_fields.append(f"nets: [{', '.join(rule['nets'])}]")
    if "ports" in rule:
        ports = ", ".join(f"{lo}" if lo == hi else f"'{lo}:{hi}'" for lo, hi in rule["ports"])
        (local_fields if direction == "ingress" else peer_fields).append(f"ports: [{ports}]")
    if peer_fields:
        parts.append(f"{peer}: {{{', '.join(peer_fields)}}}")
    if local_fields:
        parts.append(f"{local}: {{{', '.join(local_fields)}}}")
    return "{" + ", ".join(parts) + "}"


def manifests(scn: dict) -> str:
    docs = ["apiVersion: v1\nkind: Namespace\nmetadata: {name: x}"]
    for ref, ip in PODS.items():
        name = ref.split("/")[1]
        docs.append(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: x, labels: {{app: {name}}}}}\n"
                    "spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}\n"
                    f"status: {{podIP: {ip}}}")
    docs.append("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: x}\nspec:\n  type: NodePort\n"
                f"  externalTrafficPolicy: {'Local' if scn['local'] else 'Cluster'}\n  selector: {{app: a}}\n"
                "  ports: [{port: 80, targetPort: http, nodePort: 30080}]")
    if scn["pod_policy"]:
        docs.append("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: x}\nspec:\n"
                    "  podSelector: {matchLabels: {app: a}}\n"
                    f"  ingress: [{{from: [{{ipBlock: {{cidr: {scn['pod_policy']}}}}}], ports: [{{port: 8080}}]}}]")
    for ref, ip in HOSTS.items():
        h = scn["hosts"][ref]
        profiles = [("projectcalico-default-allow" if p == "allow" else "custom") for p in h["profiles"]]
        docs.append(f"apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {{name: {ref[4:]}, labels: "
                    f"{h['labels']}}}\nspec: {{node: {ref[4:]}, interfaceName: {'*' if h['wildcard'] else 'eth0'!r}, "
                    f"expectedIPs: [{ip}], profiles: {profiles}}}")
    custom = scn["profiles"]["custom"]
    docs.append("apiVersion: projectcalico.org/v3\nkind: Profile\nmetadata: {name: custom}\nspec:\n"
                f"  ingress: [{', '.join(rule_yaml(r, 'ingress') for r in custom['ingress'])}]\n"
                f"  egress: [{', '.join(rule_yaml(r, 'egress') for r in custom['egress'])}]")
    if scn["failsafe_in"] is not DEFAULT_IN:
        fs_in = ", ".join(f"{{protocol: {p.lower()}, port: {n}" + (f", net: {net}}}" if net else "}")
                          for p, n, net in scn["failsafe_in"])
        docs.append("apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\n"
                    f"spec: {{failsafeInboundHostPorts: [{fs_in}], failsafeOutboundHostPorts: []}}")
    for pol in scn["policies"]:
        lines = [f"apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: {pol['name']}}}",
                 f"spec:\n  order: {pol['order']}\n  selector: \"{pol['selector']}\"",
                 f"  types: [{', '.join(t.capitalize() for t in pol['types'])}]"]
        if pol["hook"] != "normal":
            lines.append(f"  {'preDNAT' if pol['hook'] == 'preDNAT' else 'doNotTrack'}: true")
        if pol["forward"]:
            lines.append("  applyOnForward: true")
        for d in ("ingress", "egress"):
            if pol[d]:
                lines.append(f"  {d}: [{', '.join(rule_yaml(r, d) for r in pol[d])}]")
        docs.append("\n".join(lines))
    return "\n---\n".join(docs)
