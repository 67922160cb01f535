"""`policy.networking.k8s.io/v1alpha1` AdminNetworkPolicy and BaselineAdminNetworkPolicy, validated as the
CRD does where it matters for meaning: priority 0-1000, the BANP is named `default`, one subject, one field
per peer and per port, actions, port ranges with start < end, at most 100 rules per direction, 1-100 peers and
ports (when given) per rule, rule names of at most 100 characters, 1-25 networks per peer."""

from __future__ import annotations

from reasoner.manifests.load import FieldPath
from reasoner.model.admin import AdminPolicy, AdminRule
from reasoner.model.calico import Action
from reasoner.model.cidr import Cidr
from reasoner.model.origin import Origin
from reasoner.model.policy import Direction, IPBlockPeer, PodPeer, PortSpec, Protocol
from reasoner.model.selector import LabelSelector
from reasoner.sources.fields import Fields
from reasoner.sources.k8s_core import name_and_namespace
from reasoner.sources.k8s_networkpolicy import parse_label_selector

PEERS = ("namespaces", "pods", "nodes", "networks", "domainNames")
MAX_ITEMS = 100  # the CRD's limit on rules per direction, peers and ports per rule, and a rule name's length
MAX_NETWORKS = 25  # CIDRs in a `networks` peer


def _one_of(f: Fields, at: FieldPath, keys: tuple[str, ...], what: str) -> str:
    present = [k for k in keys if f.has(at + (k,))]
    if len(present) != 1:
        raise f.fail(at, f"{what} needs exactly one of {', '.join(keys)}")
    return present[0]


def _pods(f: Fields, at: FieldPath) -> tuple[LabelSelector, LabelSelector]:
    f.get(at, dict, required=True)
    return (parse_label_selector(f, at + ("namespaceSelector",)), parse_label_selector(f, at + ("podSelector",)))


def _port(f: Fields, at: FieldPath) -> tuple[PortSpec, ...]:
    key = _one_of(f, at, ("portNumber", "portRange", "namedPort"), "a port")
    if key == "namedPort":
        name = f.port_name(at + (key,), f.get(at + (key,), str, required=True))
        # resolved on the destination pod, whatever the protocol of the container port of that name
        return tuple(PortSpec(p, name=name) for p in Protocol)
    body = at + (key,)
    proto_text = f.get(body + ("protocol",), str, "TCP")
    if proto_text not in Protocol.__members__:
        raise f.fail(body + ("protocol",), f"unknown protocol {proto_text!r} (want TCP, UDP or SCTP)")
    if key == "portNumber":
        port = f.get(body + ("port",), int, required=True)
        if not 1 <= port <= 65535:
            raise f.fail(body + ("port",), f"port {port} is out of range (want 1-65535)")
        return (PortSpec(Protocol[proto_text], port, port),)
    start, end = f.get(body + ("start",), int, required=True), f.get(body + ("end",), int, required=True)
    if not (1 <= start < end <= 65535):
        raise f.fail(body, f"portRange {start}-{end}: want 1 <= start < end <= 65535")
    return (PortSpec(Protocol[proto_text], start, end),)


def _rules(f: Fields, direction: Direction, banp: bool) -> tuple[AdminRule, ...]:
    key, peers_key = ("ingress", "from") if direction is Direction.INGRESS else ("egress", "to")
    out = []
    items = f.get(("spec", key), list, [])
    if len(items) > MAX_ITEMS:
        raise f.fail(("spec", key), f"has {len(items)} rules; at most {MAX_ITEMS} are allowed")
    for i, _ in enumerate(items):
        at = ("spec", key, i)
        f.get(at, dict, required=True)
        rule_name = f.get(at + ("name",), str)
        if rule_name is not None and len(rule_name) > MAX_ITEMS:
            raise f.fail(at + ("name",), f"a rule name is at most {MAX_ITEMS} characters (has {len(rule_name)})")
        action_text = f.get(at + ("action",), str, required=True)
        allowed = ("Allow", "Deny") if banp else ("Allow", "Deny", "Pass")
        if action_text not in allowed:
            raise f.fail(at + ("action",), f"unknown action {action_text!r} (want {', '.join(allowed)})")
        action = Action(action_text)
        peers: list = []
        unknown: str | None = None  # the first peer field not evaluated
        peer_items = f.get(at + (peers_key,), list, required=True)
        if not 1 <= len(peer_items) <= MAX_ITEMS:
            raise f.fail(at + (peers_key,), f"needs 1 to {MAX_ITEMS} peers (has {len(peer_items)})")
        for j, _ in enumerate(peer_items):
            pat = at + (peers_key, j)
            kind = _one_of(f, pat, PEERS, "a peer")
            if kind == "namespaces":
                peers.append(PodPeer(parse_label_selector(f, pat + (kind,)), LabelSelector()))
            elif kind == "pods":
                ns_sel, pod_sel = _pods(f, pat + (kind,))
                peers.append(PodPeer(ns_sel, pod_sel))
            elif kind == "networks" and direction is Direction.EGRESS:
                networks = f.get(pat + (kind,), list, required=True)
                if not 1 <= len(networks) <= MAX_NETWORKS:
                    raise f.fail(pat + (kind,), f"needs 1 to {MAX_NETWORKS} CIDRs (has {len(networks)})")
                for k, text in enumerate(networks):
                    try:
                        peers.append(IPBlockPeer(Cidr.parse(str(text)), ()))
                    except ValueError:
                        raise f.fail(pat + (kind, k), f"{text!r} is not a CIDR") from None
            else:  # nodes, domainNames, or a peer of the wrong direction: not modeled, fail closed (§6.2)
                unknown = unknown or kind
        port_items = f.get(at + ("ports",), list)
        if port_items is not None and not 1 <= len(port_items) <= MAX_ITEMS:
            raise f.fail(at + ("ports",), f"needs 1 to {MAX_ITEMS} ports when given (has {len(port_items)})")
        ports = tuple(p for j in range(len(port_items or ())) for p in _port(f, at + ("ports", j))) or None
        written = action
        nothing = unknown is not None and action is Action.ALLOW
        if unknown and not nothing:  # Deny/Pass fail closed: "deny all", every flow (SEMANTICS §6.2, §4.7)
            peers, ports, action = None, None, Action.DENY
        out.append(AdminRule(direction, i, rule_name, action,
                             tuple(peers) if peers is not None else None, ports, nothing,
                             Origin(f.doc.file, f.doc.line(at)), unknown, written))
    return tuple(out)


def _policy(f: Fields, kind: str) -> AdminPolicy:
    name, _ = name_and_namespace(f, namespaced=False)
    banp = kind == "BaselineAdminNetworkPolicy"
    priority = None
    if banp:
        if name != "default":
            raise f.fail(("metadata", "name"), "a BaselineAdminNetworkPolicy must be named default")
    else:
        priority = f.get(("spec", "priority"), int, required=True)
        if not 0 <= priority <= 1000:
            raise f.fail(("spec", "priority"), f"priority {priority} is out of range (want 0-1000)")
    subject = ("spec", "subject")
    f.get(subject, dict, required=True)
    which = _one_of(f, subject, ("namespaces", "pods"), "the subject")
    if which == "namespaces":
        ns_sel, pod_sel = parse_label_selector(f, subject + ("namespaces",)), LabelSelector()
    else:
        ns_sel, pod_sel = _pods(f, subject + ("pods",))
    return AdminPolicy(kind, name, priority, ns_sel, pod_sel, _rules(f, Direction.INGRESS, banp),
                       _rules(f, Direction.EGRESS, banp), Origin(f.doc.file, f.doc.line(("metadata",))))


def parse_admin_network_policy(f: Fields) -> AdminPolicy:
    return _policy(f, "AdminNetworkPolicy")


def parse_baseline_admin_network_policy(f: Fields) -> AdminPolicy:
    return _policy(f, "BaselineAdminNetworkPolicy")
