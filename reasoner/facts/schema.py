"""Every base relation asserted into the engine, declared once with its columns and meaning."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relation:
    columns: tuple[str, ...]
    doc: str


RELATIONS: dict[str, Relation] = {
    # inventory
    "namespace": Relation(("Ns",), "A namespace (object id)."),
    "ns_name": Relation(("Ns", "Name"), "The name of a namespace."),
    "label": Relation(("Obj", "Key", "Val"), "A label of a namespace or an endpoint class."),
    "endpoint": Relation(("C",), "An endpoint class: pods alike to every policy, or an external address atom."),
    "internal": Relation(("C",), "The class is made of pods (or workload templates)."),
    "external": Relation(("C",), "The class is an address atom outside the inventory."),
    "podnet": Relation(("C",), "The class's pods are on the pod network (not hostNetwork): selectable."),
    "class_ns": Relation(("C", "Ns"), "The namespace of a pod class."),
    "class_port": Relation(("C", "Name", "Proto", "Port"), "A named container port of the class's pods."),
    "class_atom": Relation(("C", "A"), "The class's addresses lie in address atom A."),
    "class_family": Relation(("C", "Fam"), "The class can have addresses of IP family Fam (4 or 6)."),
    "atom_range": Relation(("A", "Fam", "Lo", "Hi"), "Address atom A is the interval Lo..Hi of family Fam."),
    "proto": Relation(("P",), "A concrete protocol a flow can have (TCP, UDP, SCTP, ICMP, ICMPv6, OTHER)."),
    "proto_meet": Relation(("P1", "P2", "P"), "P is the intersection of protocol sets P1 and P2 ('*' = all)."),
    # selectors
    "podsel": Relation(("Sel",), "Sel is used as a pod selector (policy podSelector, peer podSelector)."),
    "nssel": Relation(("Sel",), "Sel is used as a namespaceSelector."),
    "sel_gen": Relation(("Sel", "Key", "Val"), "Index hint: Sel requires Key=Val, so candidates are looked up by label."),
    "sel_nogen": Relation(("Sel",), "Index hint: Sel has no one-value In requirement; candidates are scanned."),
    "sel_req": Relation(("Sel", "Req"), "Requirement Req is part of selector Sel (AND)."),
    "req_in": Relation(("Req", "Key", "Val"), "Req is `Key In [.., Val, ..]`."),
    "req_notin": Relation(("Req", "Key", "Val"), "Req is `Key NotIn [.., Val, ..]`."),
    "req_exists": Relation(("Req", "Key"), "Req is `Key Exists`."),
    "req_absent": Relation(("Req", "Key"), "Req is `Key DoesNotExist`."),
    "req_positive": Relation(("Req",), "Req is In or Exists: it fails on an absent key."),
    # policies
    "policy": Relation(("Pol",), "A NetworkPolicy."),
    "pol_ns": Relation(("Pol", "Ns"), "The policy's namespace."),
    "pol_podsel": Relation(("Pol", "Sel"), "The policy's spec.podSelector."),
    "pol_type": Relation(("Pol", "Dir"), "The policy governs direction Dir ('ingress'/'egress'), after defaulting."),
    "pol_rule": Relation(("Pol", "Dir", "R"), "R is a rule of the policy's Dir list."),
    "rule_index": Relation(("R", "Index"), "The 0-based position of R in its list."),
    "rule_all_peers": Relation(("R",), "R has no from/to: it matches every peer."),
    "rule_peer": Relation(("R", "Peer"), "Peer is one entry of R's from/to (OR)."),
    "peer_same_ns": Relation(("Peer", "Ns"), "The peer has no namespaceSelector: pods of the policy's namespace Ns."),
    "peer_nssel": Relation(("Peer", "Sel"), "The peer's namespaceSelector."),
    "peer_podsel": Relation(("Peer", "Sel"), "The peer's podSelector (absent: the empty selector, every pod)."),
    "peer_cidr": Relation(("Peer", "Cidr"), "The peer's ipBlock.cidr."),
    "peer_except": Relation(("Peer", "Cidr"), "One of the peer's ipBlock.except."),
    "cidr_range": Relation(("Cidr", "Fam", "Lo", "Hi"), "A CIDR as the interval Lo..Hi of family Fam."),
    "rule_all_ports": Relation(("R",), "R has no ports: every protocol and port."),
    "rule_port": Relation(("R", "E"), "E is one entry of R's ports (OR)."),
    "port_range": Relation(("E", "Proto", "Lo", "Hi"), "Port entry E: protocol and inclusive port range."),
    "port_named": Relation(("E", "Proto", "Name"), "Port entry E: a named port of a protocol."),
}
