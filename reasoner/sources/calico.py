"""Calico resources, `projectcalico.org/v3` and `crd.projectcalico.org/v1`: Tier, NetworkPolicy,
GlobalNetworkPolicy, their staged forms (StagedNetworkPolicy, StagedGlobalNetworkPolicy,
StagedKubernetesNetworkPolicy), NetworkSet, GlobalNetworkSet, Profile, HostEndpoint, IPPool, FelixConfiguration.

Validation follows Calico's validator where it matters for meaning (SEMANTICS §3.7): known actions;
numeric ports and notPorts need protocol TCP, UDP or SCTP; ICMP matches need protocol ICMP/ICMPv6 and
a code needs a type; selectors must parse (errors give the column in the selector string); `order` is a
finite number; ports and protocol numbers written as strings are ASCII digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reasoner.manifests.load import FieldPath
from reasoner.model.calico import (
    DEFAULT_TIER,
    DEFAULT_TIER_ORDER,
    PROTOCOL_NUMBERS,
    Action,
    CalicoPolicy,
    CalicoRule,
    EntityRule,
    FailsafePort,
    IcmpMatch,
    IPPool,
    NetworkSet,
    PortMatch,
    Profile,
    ServiceAccountMatch,
    StagedPolicy,
    Tier,
)
from reasoner.model.calico_selector import CalicoSelector, SelectorSyntaxError, parse_selector
from reasoner.model.cidr import Cidr
from reasoner.model.cluster import ContainerPort, HostEndpoint
from reasoner.model.numbers import ascii_int
from reasoner.model.origin import Origin
from reasoner.model.policy import Direction
from reasoner.model.ports import PORTED
from reasoner.sources.fields import Fields, directions, show
from reasoner.sources.k8s_core import name_and_namespace
from reasoner.sources.k8s_networkpolicy import parse_networkpolicy

ACTIONS = {a.value: a for a in Action}
PORT_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?")  # used with fullmatch
PORT_RANGE = re.compile(r"([0-9]+):([0-9]+)")
PORTED_WRITTEN = {"TCP", "UDP", "SCTP", "6", "17", "132"}  # a ported protocol, by name or number


def selector(f: Fields, path: FieldPath, default: str | None = None,
             global_ok: bool = False) -> CalicoSelector | None:
    """The selector at `path`; `global()` is valid only in a rule's namespaceSelector (`global_ok`, SEMANTICS §3.7)."""
    text = f.get(path, str, default)
    if text is None:
        return None
    try:
        parsed = parse_selector(text)
    except SelectorSyntaxError as exc:
        raise f.fail(path, f"bad selector {show(text, 80)}: column {exc.column}: {exc.message}") from None
    if parsed.has_global and not global_ok:
        raise f.fail(path, f"bad selector {show(text, 80)}: global() is only valid in a rule's namespaceSelector")
    return parsed


def protocol(f: Fields, path: FieldPath) -> str | None:
    value = f.raw(path) if f.has(path) else None
    if value is None:
        return None
    if isinstance(value, bool):
        raise f.fail(path, "expected a protocol name or number")
    number = value if isinstance(value, int) else ascii_int(value) if isinstance(value, str) else None
    if number is not None:
        if not 1 <= number <= 255:
            raise f.fail(path, f"protocol number {show(number)} is out of range (want 1-255)")
        by_number = {v: k for k, v in PROTOCOL_NUMBERS.items()}
        return by_number.get(number, str(number))
    if isinstance(value, str):
        for name in PROTOCOL_NUMBERS:
            if value.lower() == name.lower():
                return name
    raise f.fail(path, f"unknown protocol {show(value)} (want TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 1-255)")


def ports(f: Fields, path: FieldPath) -> tuple[PortMatch, ...]:
    out = []
    for i, item in enumerate(f.get(path, list, [])):
        at = path + (i,)
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise f.fail(at, "expected a port number, a range 'lo:hi' or a port name")
        n = item if isinstance(item, int) else ascii_int(item)
        span = PORT_RANGE.fullmatch(item) if isinstance(item, str) else None
        if n is not None:
            if not 0 <= n <= 65535:
                raise f.fail(at, f"port {show(n)} is out of range (want 0-65535)")
            out.append(PortMatch(n, n))
        elif span:
            lo, hi = int(span[1]), int(span[2])
            if not (0 <= lo <= 65535 and 0 <= hi <= 65535):
                raise f.fail(at, f"{item!r} is out of range (want ports 0-65535)")
            if lo > hi:
                raise f.fail(at, f"{item!r} is not a range: {lo} is above {hi}")
            out.append(PortMatch(lo, hi))
        elif PORT_NAME.fullmatch(item):
            out.append(PortMatch(name=item))
        else:
            raise f.fail(at, f"{item!r} is not a port, a range 'lo:hi' or a port name")
    return tuple(out)


def cidrs(f: Fields, path: FieldPath) -> tuple[Cidr, ...]:
    out = []
    for i, item in enumerate(f.cidr_list(path)):
        if not isinstance(item, str):
            raise f.fail(path + (i,), "expected a CIDR string")
        try:
            out.append(Cidr.parse(item))
        except ValueError:
            raise f.fail(path + (i,), f"{item!r} is not a CIDR or an IP address") from None
    return tuple(out)


def entity(f: Fields, path: FieldPath, rule_protocol: str | None, policy_ns: str | None = None) -> EntityRule:
    if not f.has(path):
        return EntityRule()
    f.get(path, dict)
    service = None
    if f.has(path + ("services",)):  # SEMANTICS §3.6.3
        at = path + ("services",)
        f.get(at, dict)
        name = f.get(at + ("name",), str, required=True)
        ns = f.get(at + ("namespace",), str) or policy_ns
        if not ns:
            raise f.fail(at + ("namespace",), "give the service's namespace (a GlobalNetworkPolicy has none to default to)")
        for other in ("selector", "notSelector", "namespaceSelector", "nets", "notNets", "serviceAccounts"):
            if f.has(path + (other,)):
                raise f.fail(path + (other,), f"`{other}` cannot be combined with `services` in one entity")
        if path[-1] == "destination":
            for other in ("ports", "notPorts"):
                if f.has(path + (other,)):
                    raise f.fail(path + (other,), "destination `services` matches the service's own target ports: "
                                                  f"`{other}` cannot be combined with it")
        service = (ns, name)
    sa = None
    if f.has(path + ("serviceAccounts",)):
        at = path + ("serviceAccounts",)
        f.get(at, dict)
        names = f.get(at + ("names",), list, [])
        for i, n in enumerate(names):
            if not isinstance(n, str):
                raise f.fail(at + ("names", i), "expected a service account name")
        sa = ServiceAccountMatch(tuple(names), selector(f, at + ("selector",)))
    nsel = selector(f, path + ("namespaceSelector",), global_ok=True)
    if nsel is not None and nsel.has_global and nsel.canonical != "global()":
        raise f.fail(path + ("namespaceSelector",), "a namespaceSelector that combines global() with other terms "
                                                    "is not supported yet (use global() alone)")
    rule = EntityRule(cidrs(f, path + ("nets",)), cidrs(f, path + ("notNets",)), selector(f, path + ("selector",)),
                      selector(f, path + ("notSelector",)), nsel, sa,
                      ports(f, path + ("ports",)), ports(f, path + ("notPorts",)), service)
    for key, items in (("ports", rule.ports), ("notPorts", rule.not_ports)):
        if any(p.name is None for p in items) and (rule_protocol is None or rule_protocol not in PORTED_WRITTEN):
            raise f.fail(path + (key,), f"numeric {key} need protocol TCP, UDP or SCTP in the rule "
                                        f"(have {rule_protocol or 'none'})")
    return rule


def icmp(f: Fields, path: FieldPath, rule_protocol: str | None) -> IcmpMatch | None:
    if not f.has(path):
        return None
    f.get(path, dict)
    if rule_protocol not in ("ICMP", "ICMPv6"):
        raise f.fail(path, "ICMP matches need protocol ICMP or ICMPv6")
    t = f.get(path + ("type",), int)
    c = f.get(path + ("code",), int)
    if t is None:
        if c is not None:
            raise f.fail(path + ("code",), "an ICMP code needs a type")
        raise f.fail(path + ("type",), "missing required field (expected an integer)")
    if not 0 <= t <= 254:
        raise f.fail(path + ("type",), f"ICMP type {t} is out of range (want 0-254)")
    if c is not None and not 0 <= c <= 255:
        raise f.fail(path + ("code",), f"ICMP code {c} is out of range (want 0-255)")
    return IcmpMatch(t, c)


def rules(f: Fields, direction: Direction, policy_ns: str | None = None) -> tuple[CalicoRule, ...]:
    key = "ingress" if direction is Direction.INGRESS else "egress"
    out = []
    for i, _ in enumerate(f.get(("spec", key), list, [])):
        at = ("spec", key, i)
        f.get(at, dict, required=True)
        action_text = f.get(at + ("action",), str, required=True)
        action = ACTIONS.get(action_text)
        if action is None:
            raise f.fail(at + ("action",), f"unknown action {action_text!r} (want Allow, Deny, Log or Pass)")
        proto = protocol(f, at + ("protocol",))
        ip_version = f.get(at + ("ipVersion",), int)
        if ip_version not in (None, 4, 6):
            raise f.fail(at + ("ipVersion",), f"ipVersion must be 4 or 6, not {ip_version}")
        out.append(CalicoRule(
            direction, i, action, proto, protocol(f, at + ("notProtocol",)), icmp(f, at + ("icmp",), proto),
            icmp(f, at + ("notICMP",), proto), ip_version, entity(f, at + ("source",), proto, policy_ns),
            entity(f, at + ("destination",), proto, policy_ns), f.has(at + ("http",)), Origin(f.doc.file, f.doc.line(at))))
    return tuple(out)


def _policy(f: Fields, kind: str) -> CalicoPolicy:
    namespaced = kind == "NetworkPolicy"
    name, ns = name_and_namespace(f, namespaced)
    tier = f.get(("spec", "tier"), str) or DEFAULT_TIER
    order = f.number(("spec", "order"))
    ingress = rules(f, Direction.INGRESS, ns if namespaced else None)
    egress = rules(f, Direction.EGRESS, ns if namespaced else None)
    types = directions(f, ("spec", "types"))
    if not types:  # Calico defaulting (api/pkg/defaults): egress rules alone give [Egress] (SEMANTICS §3.2)
        types = ({Direction.INGRESS} if ingress or not egress else set()) | ({Direction.EGRESS} if egress else set())
    do_not_track = bool(f.get(("spec", "doNotTrack"), bool, False))
    pre_dnat = bool(f.get(("spec", "preDNAT"), bool, False))
    forward = bool(f.get(("spec", "applyOnForward"), bool, False))
    for key, on in (("doNotTrack", do_not_track), ("preDNAT", pre_dnat), ("applyOnForward", forward)):
        if on and namespaced:  # host endpoint fields: only GlobalNetworkPolicy has them (SEMANTICS §3.1)
            raise f.fail(("spec", key), f"{key} is a GlobalNetworkPolicy field (host endpoints are not namespaced)")
    # Calico's validator (SEMANTICS §3.7): preDNAT xor doNotTrack; either needs applyOnForward; preDNAT: ingress only
    if do_not_track and pre_dnat:
        raise f.fail(("spec", "preDNAT"), "preDNAT and doNotTrack cannot both be true")
    if (do_not_track or pre_dnat) and not forward:
        raise f.fail(("spec", "applyOnForward"), "applyOnForward must be true when "
                     + ("preDNAT" if pre_dnat else "doNotTrack") + " is true")
    if pre_dnat and (egress or Direction.EGRESS in types):
        raise f.fail(("spec", "egress") if egress else ("spec", "types"),
                     "a preDNAT policy applies to ingress only: no egress rules or Egress type")
    return CalicoPolicy(
        kind, ns if namespaced else None, name, tier, order,
        selector(f, ("spec", "selector"), "") or parse_selector(""),
        None if namespaced else selector(f, ("spec", "namespaceSelector")),
        selector(f, ("spec", "serviceAccountSelector")), frozenset(types), ingress, egress,
        "preDNAT" if pre_dnat else "untracked" if do_not_track else "normal",
        Origin(f.doc.file, f.doc.line(("metadata",))), forward)


def parse_network_policy(f: Fields) -> CalicoPolicy:
    return _policy(f, "NetworkPolicy")


def parse_global_network_policy(f: Fields) -> CalicoPolicy:
    return _policy(f, "GlobalNetworkPolicy")


STAGED_ACTIONS = ("Set", "Delete", "Learn", "Ignore")


def _staged(f: Fields, kind: str, enforce, namespaced: bool, delete_keeps: tuple[str, ...]) -> StagedPolicy:
    """A staged policy: its spec is that of the enforced kind (`enforce` parses it, with the same validation)
    plus `stagedAction`, default Set. With Delete, the spec holds nothing but `delete_keeps` (Calico's validator)."""
    action = f.get(("spec", "stagedAction"), str, "Set") or "Set"
    if action not in STAGED_ACTIONS:
        raise f.fail(("spec", "stagedAction"), f"unknown stagedAction {show(action)} "
                                               "(want Set, Delete, Learn or Ignore)")
    tier = (f.get(("spec", "tier"), str) or DEFAULT_TIER) if kind != "StagedKubernetesNetworkPolicy" else None
    if action == "Delete":
        kept = ("stagedAction", *delete_keeps)
        for key in f.get(("spec",), dict, {}):
            if key not in kept:
                raise f.fail(("spec", key), f"must be left out when stagedAction is Delete (only {', '.join(kept)} "
                                            "may be given)")
        name, ns = name_and_namespace(f, namespaced)
        policy = None
    else:
        policy = enforce(f)
        name, ns = policy.name, policy.namespace
    return StagedPolicy(kind, ns if namespaced else None, name, action, tier, policy,
                        Origin(f.doc.file, f.doc.line(("metadata",))))


def parse_staged_network_policy(f: Fields) -> StagedPolicy:
    return _staged(f, "StagedNetworkPolicy", parse_network_policy, True, ("tier", "types"))


def parse_staged_global_network_policy(f: Fields) -> StagedPolicy:
    return _staged(f, "StagedGlobalNetworkPolicy", parse_global_network_policy, False, ("tier", "types"))


def parse_staged_kubernetes_network_policy(f: Fields) -> StagedPolicy:
    return _staged(f, "StagedKubernetesNetworkPolicy", parse_networkpolicy, True, ())


def parse_tier(f: Fields) -> Tier:
    name, _ = name_and_namespace(f, namespaced=False)
    order = f.number(("spec", "order"))
    action_text = f.get(("spec", "defaultAction"), str, "Deny")
    if action_text not in ("Deny", "Pass"):
        raise f.fail(("spec", "defaultAction"), f"unknown defaultAction {action_text!r} (want Deny or Pass)")
    # a Tier stored without order gets 1 000 000, like the default tier (SEMANTICS §4.2)
    return Tier(name, order if order is not None else DEFAULT_TIER_ORDER, ACTIONS[action_text],
                Origin(f.doc.file, f.doc.line(("metadata",))))


def _network_set(f: Fields, namespaced: bool) -> NetworkSet:
    name, ns = name_and_namespace(f, namespaced)
    return NetworkSet(ns if namespaced else None, name, tuple(sorted(f.str_map(("metadata", "labels")).items())),
                      cidrs(f, ("spec", "nets")), Origin(f.doc.file, f.doc.line(("metadata",))))


def parse_network_set(f: Fields) -> NetworkSet:
    return _network_set(f, True)


def parse_global_network_set(f: Fields) -> NetworkSet:
    return _network_set(f, False)


def parse_profile(f: Fields) -> Profile:
    name, _ = name_and_namespace(f, namespaced=False)
    return Profile(name, tuple(sorted(f.str_map(("spec", "labelsToApply")).items())),
                   Origin(f.doc.file, f.doc.line(("metadata",))), rules(f, Direction.INGRESS),
                   rules(f, Direction.EGRESS))


def parse_host_endpoint(f: Fields) -> HostEndpoint:
    """A HostEndpoint (SEMANTICS §4.9): `node`, and `interfaceName` ("*": every interface) or `expectedIPs`."""
    name, _ = name_and_namespace(f, namespaced=False)
    f.get(("spec",), dict, required=True)
    node = f.get(("spec", "node"), str, required=True)
    interface = f.get(("spec", "interfaceName"), str) or None
    ips: list[str] = []
    for i, _ in enumerate(f.get(("spec", "expectedIPs"), list, [])):
        text = f.get(("spec", "expectedIPs", i), str, required=True)
        try:
            Cidr.of_ip(text)
        except ValueError:
            raise f.fail(("spec", "expectedIPs", i), f"{text!r} is not an IP address") from None
        ips.append(text)
    if interface is None and not ips:
        raise f.fail(("spec",), "a host endpoint needs interfaceName or expectedIPs (neither is given)")
    profiles = tuple(f.get(("spec", "profiles", i), str, required=True)
                     for i, _ in enumerate(f.get(("spec", "profiles"), list, [])))
    ports = []
    for i, _ in enumerate(f.get(("spec", "ports"), list, [])):
        at = ("spec", "ports", i)
        port_name = f.get(at + ("name",), str, required=True)
        number = f.get(at + ("port",), int, required=True)
        if not 1 <= number <= 65535:
            raise f.fail(at + ("port",), f"port {number} is out of range (want 1-65535)")
        proto = protocol(f, at + ("protocol",))
        if proto not in PORTED:
            raise f.fail(at + ("protocol",), "expected TCP, UDP or SCTP (a named port needs a protocol with ports)")
        ports.append(ContainerPort(port_name, proto, number))
    return HostEndpoint(name, node, interface, tuple(ips), tuple(sorted(f.str_map(("metadata", "labels")).items())),
                        profiles, tuple(ports), Origin(f.doc.file, f.doc.line(("metadata",))))


@dataclass(frozen=True)
class FelixFailsafe:
    """The failsafe ports a FelixConfiguration sets (None: not set, Felix's defaults stay)."""

    name: str
    inbound: tuple[FailsafePort, ...] | None
    outbound: tuple[FailsafePort, ...] | None
    origin: Origin


def _failsafe(f: Fields, key: str) -> tuple[FailsafePort, ...] | None:
    if not f.has(("spec", key)):
        return None
    out = []
    for i, _ in enumerate(f.get(("spec", key), list, [])):
        at = ("spec", key, i)
        f.get(at, dict, required=True)
        proto = (f.get(at + ("protocol",), str, "tcp") or "tcp").upper()
        if proto not in ("TCP", "UDP"):
            raise f.fail(at + ("protocol",), f"unknown protocol {proto!r} (want tcp or udp)")
        number = f.get(at + ("port",), int, required=True)
        if not 0 <= number <= 65535:
            raise f.fail(at + ("port",), f"port {number} is out of range (want 0-65535)")
        net = None
        text = f.get(at + ("net",), str)
        if text:
            try:
                net = Cidr.parse(text)
            except ValueError:
                raise f.fail(at + ("net",), f"{text!r} is not a CIDR") from None
        out.append(FailsafePort(proto, number, net))
    return tuple(out)


def parse_felix_configuration(f: Fields) -> FelixFailsafe:
    name, _ = name_and_namespace(f, namespaced=False)
    return FelixFailsafe(name, _failsafe(f, "failsafeInboundHostPorts"), _failsafe(f, "failsafeOutboundHostPorts"),
                         Origin(f.doc.file, f.doc.line(("metadata",))))


def parse_ip_pool(f: Fields) -> IPPool:
    name, _ = name_and_namespace(f, namespaced=False)
    text = f.get(("spec", "cidr"), str, required=True)
    try:
        cidr = Cidr.parse(text)
    except ValueError:
        raise f.fail(("spec", "cidr"), f"{text!r} is not a CIDR") from None
    return IPPool(name, cidr, bool(f.get(("spec", "natOutgoing"), bool, False)),
                  bool(f.get(("spec", "disabled"), bool, False)), Origin(f.doc.file, f.doc.line(("metadata",))))
