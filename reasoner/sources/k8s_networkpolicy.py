"""`networking.k8s.io/v1` NetworkPolicy: validation as the API server does it, then defaulting.

Validation (k8s pkg/apis/networking/validation): a peer needs a field; ipBlock excludes selectors;
`except` entries are strict subsets of `cidr`; ports 1-65535; `endPort` only with a numeric `port` and
not below it; named ports follow the IANA service-name syntax; selector keys and values are label keys and
values (see `fields`). Defaulting (pkg/apis/networking/v1/defaults.go): protocol TCP; policyTypes [Ingress]
plus Egress iff `spec.egress` is non-empty.
"""

from __future__ import annotations

from reasoner.manifests.load import FieldPath
from reasoner.model.cidr import Cidr
from reasoner.model.origin import Origin
from reasoner.model.policy import Direction, IPBlockPeer, NetworkPolicy, PodPeer, PortSpec, Protocol, Rule
from reasoner.model.selector import LabelSelector, Op, Requirement
from reasoner.sources.fields import Fields, Invalid, directions
from reasoner.sources.k8s_core import name_and_namespace

OPS = {op.value: op for op in Op}


def parse_label_selector(f: Fields, path: FieldPath) -> LabelSelector:
    """`matchLabels` and `matchExpressions`, AND-ed (metav1.LabelSelector)."""
    f.get(path, dict, {})
    reqs: set[Requirement] = set()
    for key, value in f.str_map(path + ("matchLabels",)).items():
        reqs.add(Requirement(key, Op.IN, frozenset([value])))
    for i, _ in enumerate(f.get(path + ("matchExpressions",), list, [])):
        at = path + ("matchExpressions", i)
        f.get(at, dict, required=True)
        key = f.label_key(at + ("key",), f.get(at + ("key",), str, required=True))
        op_text = f.get(at + ("operator",), str, required=True)
        op = OPS.get(op_text)
        if op is None:
            raise f.fail(at + ("operator",), f"invalid selector operator {op_text!r} "
                                             "(want In, NotIn, Exists or DoesNotExist)")
        values = f.get(at + ("values",), list, [])
        for j, v in enumerate(values):
            if isinstance(v, str):
                f.label_value(at + ("values", j), v)
            else:
                f.report(at + ("values", j), f"expected a string, got {v!r} (quote it)")
        if op in (Op.IN, Op.NOT_IN) and not values:
            raise f.fail(at + ("values",), f"operator {op.value} needs at least one value")
        if op in (Op.EXISTS, Op.DOES_NOT_EXIST) and values:
            raise f.fail(at + ("values",), f"operator {op.value} takes no values")
        reqs.add(Requirement(key, op, frozenset(v for v in values if isinstance(v, str))))
    return LabelSelector(frozenset(reqs))


def _cidr(f: Fields, path: FieldPath) -> Cidr:
    text = f.get(path, str, required=True)
    try:
        return Cidr.parse(text)
    except ValueError:
        raise f.fail(path, f"{text!r} is not a CIDR (want e.g. 10.0.0.0/8 or fd00::/8)") from None


def _peer(f: Fields, at: FieldPath):
    f.get(at, dict, required=True)
    has_pod, has_ns, has_ip = (f.has(at + (k,)) for k in ("podSelector", "namespaceSelector", "ipBlock"))
    if has_ip:
        if has_pod or has_ns:
            raise f.fail(at, "ipBlock may not be combined with podSelector or namespaceSelector")
        block = at + ("ipBlock",)
        f.get(block, dict, required=True)
        cidr = _cidr(f, block + ("cidr",))
        excepts = []
        for j, _ in enumerate(f.cidr_list(block + ("except",))):
            ex = _cidr(f, block + ("except", j))
            if not (cidr.contains(ex) and (ex.lo, ex.hi) != (cidr.lo, cidr.hi)):
                raise f.fail(block + ("except", j),
                             f"{f.raw(block + ('except', j))!r} must be a strict subset of cidr "
                             f"{f.raw(block + ('cidr',))!r}")
            excepts.append(ex)
        return IPBlockPeer(cidr, tuple(excepts))
    if not (has_pod or has_ns):
        raise f.fail(at, "must specify a peer: podSelector, namespaceSelector or ipBlock")
    return PodPeer(parse_label_selector(f, at + ("namespaceSelector",)) if has_ns else None,
                   parse_label_selector(f, at + ("podSelector",)) if has_pod else None)


def _port(f: Fields, at: FieldPath) -> PortSpec:
    f.get(at, dict, required=True)
    proto_text = f.get(at + ("protocol",), str, "TCP")
    if proto_text not in Protocol.__members__:
        raise f.fail(at + ("protocol",), f"unknown protocol {proto_text!r} (want TCP, UDP or SCTP)")
    protocol = Protocol[proto_text]
    port = f.raw(at + ("port",))
    has_end = f.has(at + ("endPort",))
    if port is None or not f.has(at + ("port",)):
        if has_end:
            raise f.fail(at + ("endPort",), "endPort needs a numeric port")
        return PortSpec(protocol)
    if isinstance(port, bool) or not isinstance(port, (int, str)):
        raise f.fail(at + ("port",), "expected a port number or a port name")
    if isinstance(port, str):
        if has_end:
            raise f.fail(at + ("endPort",), f"endPort may not be used with the named port {port!r}")
        return PortSpec(protocol, name=f.port_name(at + ("port",), port))
    if not 1 <= port <= 65535:
        raise f.fail(at + ("port",), f"port {port} is out of range (want 1-65535)")
    end = port
    if has_end:
        end = f.get(at + ("endPort",), int)
        if not 1 <= end <= 65535:
            raise f.fail(at + ("endPort",), f"endPort {end} is out of range (want 1-65535)")
        if end < port:
            raise f.fail(at + ("endPort",), f"endPort {end} is below port {port}")
    return PortSpec(protocol, port, end)


def _rules(f: Fields, direction: Direction) -> tuple[Rule, ...]:
    key, peers_key = ("ingress", "from") if direction is Direction.INGRESS else ("egress", "to")
    out = []
    for i, _ in enumerate(f.get(("spec", key), list, [])):
        at = ("spec", key, i)
        if f.raw(at) is not None:  # a bare `-` item is read as the empty rule `{}`
            f.get(at, dict, required=True)
        # k8s: absent or empty `from`/`to` matches all peers; absent or empty `ports` all ports and protocols
        peer_items = f.get(at + (peers_key,), list, [])
        port_items = f.get(at + ("ports",), list, [])
        peers = tuple(_peer(f, at + (peers_key, j)) for j in range(len(peer_items))) or None
        ports = tuple(_port(f, at + ("ports", j)) for j in range(len(port_items))) or None
        out.append(Rule(direction, i, peers, ports, Origin(f.doc.file, f.doc.line(at))))
    return tuple(out)


def parse_networkpolicy(f: Fields) -> NetworkPolicy:
    name, ns = name_and_namespace(f)
    f.get(("spec",), dict, {})
    pod_selector = parse_label_selector(f, ("spec", "podSelector"))
    ingress = _rules(f, Direction.INGRESS)
    egress = _rules(f, Direction.EGRESS)
    types = directions(f, ("spec", "policyTypes"))
    if not types:  # k8s defaulting: [Ingress] plus Egress iff spec.egress is non-empty
        types = {Direction.INGRESS} | ({Direction.EGRESS} if egress else set())
    return NetworkPolicy(ns, name, pod_selector, frozenset(types), ingress, egress,
                         Origin(f.doc.file, f.doc.line(("metadata",))))


__all__ = ["parse_networkpolicy", "parse_label_selector", "Invalid"]
