"""Host endpoints: the engine (`can`, i.e. `flow_allowed`, and the connectivity map) against a brute-force
reference of SEMANTICS §4.9 / §4.5 / §1.6, on random small scenarios.

The reference below is written from SEMANTICS alone, on plain dicts, and does not import `reasoner`: Felix's
order for a flow into a host endpoint (failsafe ports; untracked policy, never on a wildcard host endpoint;
for a node port, preDNAT policy then the backend's own ingress with the client's or the node's address; else
preDNAT policy, then normal policy: the tier, the profiles, Deny; a node port's forwarded packet also meets the
applyOnForward policies) and out of one (failsafe; untracked; normal). The scenarios (support/host_scenarios.py): two pods (one backs a NodePort Service and may have a NetworkPolicy), two host
endpoints, random GlobalNetworkPolicies of every hook in one tier (Allow/Deny/Pass rules with protocol, port
ranges and nets), random profiles and failsafe configuration.

Deterministic: seed 4, 60 examples, no database. The seed was picked because those examples tell the engine apart
from each of four deliberately wrong variants of rules/hosts.dl (externalTrafficPolicy Local read as Cluster,
untracked policy on wildcard host endpoints, outbound failsafe ports used inbound, applyOnForward policy ignored on
forwarded node port traffic). Longer hunts: `REASONER_HOST_EXAMPLES=300 REASONER_HOST_SEED=N pytest -m slow tests/test_host_differential.py`.
"""
from __future__ import annotations

import io
import ipaddress
import os

import pytest
from hypothesis import HealthCheck, given, seed, settings

from reasoner import api
from reasoner.query.can import can
from reasoner.query.map import class_connections
from support.host_scenarios import HOSTS, PODS, manifests, scenarios

OUTSIDE = {"ip:203.0.113.7": "203.0.113.7", "ip:198.51.100.9": "198.51.100.9"}
PROBES = [("TCP", 22), ("TCP", 23), ("TCP", 80), ("TCP", 8080), ("TCP", 30080), ("TCP", 30081), ("UDP", 53),
          ("UDP", 68), ("UDP", 80)]

SETTINGS = settings(max_examples=int(os.environ.get("REASONER_HOST_EXAMPLES", "60")), deadline=None,
                    database=None, suppress_health_check=list(HealthCheck))


# ---- the reference ----------------------------------------------------------------------------------------------

def in_net(ip: str, net: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(net)


def rule_matches(rule: dict, proto: str, port: int, peer_ip: str) -> bool:
    if rule.get("protocol") and rule["protocol"] != proto:
        return False
    if rule.get("ports") and not (proto == "TCP" and any(lo <= port <= hi for lo, hi in rule["ports"])):
        return False
    return not rule.get("nets") or any(in_net(peer_ip, n) for n in rule["nets"])


def run_tier(policies: list, direction: str, proto: str, port: int, peer_ip: str, default: str) -> str | None:
    """One tier (§4.1): None if no policy applies; else the first Allow/Deny/Pass match, or the default."""
    applying = sorted((p for p in policies if direction in p["types"]), key=lambda p: p["order"])
    if not applying:
        return None
    for pol in applying:
        for rule in pol[direction]:
            if rule_matches(rule, proto, port, peer_ip):
                return rule["action"]
    return default


def selects(pol: dict, host: dict) -> bool:
    return pol["selector"] == "all()" or host["labels"].get("role") == "node"


def hook(scn: dict, host: dict, kind: str, direction: str, proto: str, port: int, peer_ip: str) -> str | None:
    """Allow, Deny, or None (no decision: the tier passes on) at a preDNAT or untracked hook."""
    if kind == "untracked" and host["wildcard"]:
        return None
    pols = [p for p in scn["policies"] if p["hook"] == kind and selects(p, host)]
    out = run_tier(pols, direction, proto, port, peer_ip, "Pass")
    return out if out in ("Allow", "Deny") else None


def normal(scn: dict, host: dict, direction: str, proto: str, port: int, peer_ip: str) -> bool:
    pols = [p for p in scn["policies"] if p["hook"] == "normal" and selects(p, host)]
    out = run_tier(pols, direction, proto, port, peer_ip, "Deny")
    if out in ("Allow", "Deny"):
        return out == "Allow"
    for name in host["profiles"]:  # no tier applied, or it passed: the profiles in order (§4.5)
        for rule in scn["profiles"][name][direction]:
            if rule_matches(rule, proto, port, peer_ip):
                if rule["action"] in ("Allow", "Deny"):
                    return rule["action"] == "Allow"
                break  # Pass: the next profile
    return False


def failsafe(scn: dict, direction: str, proto: str, port: int, peer_ip: str) -> bool:
    entries = scn["failsafe_in" if direction == "ingress" else "failsafe_out"]
    return any(p == proto and n == port and (net is None or in_net(peer_ip, net)) for p, n, net in entries)


def pod_end(scn: dict, pod: str, direction: str, peer_ip: str, proto: str, port: int) -> bool:
    """A pod's end (§4.1, §4.6): the default tier holds the normal GlobalNetworkPolicies that select it (all())
    and x/a's NetworkPolicy (order 1000, one Allow rule); no policy: not isolated; all passed: the profile allows."""
    pols = [p for p in scn["policies"] if p["hook"] == "normal" and p["selector"] == "all()"]
    if pod == "x/a" and scn["pod_policy"] is not None:
        pols.append({"order": 1000, "types": ["ingress"], "egress": [],
                     "ingress": [{"action": "Allow", "protocol": "TCP", "ports": [(8080, 8080)],
                                  "nets": [scn["pod_policy"]]}]})
    return run_tier(pols, direction, proto, port, peer_ip, "Deny") in (None, "Allow", "Pass")


def pod_ingress(scn: dict, pod: str, peer_ip: str, proto: str, port: int) -> bool:
    return pod_end(scn, pod, "ingress", peer_ip, proto, port)


def host_end(scn: dict, name: str, direction: str, peer_ip: str, proto: str, port: int) -> bool:
    """Host endpoint `name`'s end: failsafe ports, untracked policy, inbound a node port or preDNAT policy, then
    normal policy."""
    host = scn["hosts"][name]
    if failsafe(scn, direction, proto, port, peer_ip):
        return True
    raw = hook(scn, host, "untracked", direction, proto, port, peer_ip)
    node_port = direction == "ingress" and proto == "TCP" and port == 30080
    if raw == "Deny" or raw == "Allow" and not node_port:  # forwarded to a pod, an untracked Allow does nothing
        return raw == "Allow"
    if direction == "ingress":
        pre = hook(scn, host, "preDNAT", "ingress", proto, port, peer_ip)
        if node_port:  # DNAT to x/a:8080, forwarded (§1.6)
            if pre == "Deny":
                return False
            forward = [p for p in scn["policies"] if p["hook"] == "normal" and p["forward"] and selects(p, host)]
            # §4.9: the applyOnForward policies see the client's address; a preDNAT Allow skips them
            if pre != "Allow" and run_tier(forward, "ingress", "TCP", 8080, peer_ip, "Deny") == "Deny":
                return False
            seen = peer_ip if scn["local"] else HOSTS[name]
            return pod_ingress(scn, "x/a", seen, "TCP", 8080)
        if pre is not None:
            return pre == "Allow"
    return normal(scn, host, direction, proto, port, peer_ip)


def address(name: str) -> str:
    return {**PODS, **HOSTS, **OUTSIDE}[name]


def reference(scn: dict, src: str, dst: str, proto: str, port: int) -> bool:
    if src in HOSTS:
        out_ok = host_end(scn, src, "egress", address(dst), proto, port)
    elif src in PODS:
        out_ok = pod_end(scn, src, "egress", address(dst), proto, port)
    else:
        out_ok = True
    if dst in HOSTS:
        in_ok = host_end(scn, dst, "ingress", address(src), proto, port)
    elif dst in PODS:
        in_ok = pod_ingress(scn, dst, address(src), proto, port)
    else:
        in_ok = True
    return out_ok and in_ok


def pairs():
    ends = [*PODS, *HOSTS, *OUTSIDE]
    for src in ends:
        for dst in ends:
            if src != dst and (src in HOSTS or dst in HOSTS):
                yield src, dst


@pytest.mark.slow  # a cross-check of its own: .ci/run runs it (pytest -m slow)
@seed(int(os.environ.get("REASONER_HOST_SEED", "4")))
@SETTINGS
@given(scenarios())
def test_host_endpoint_verdicts_agree_with_the_reference(scn):
    text = manifests(scn)
    an = api.analyse(api.load(["-"], stdin=io.StringIO(text)))
    conns = {(c.src.id, c.dst.id): c.allowed for c in class_connections(an)}
    for src, dst in pairs():
        for proto, port in PROBES:
            want = reference(scn, src, dst, proto, port)
            got = can(an, src, dst, proto, port).allowed
            assert got == want, f"can {src} {dst} {proto}/{port}: engine {got}, reference {want}\n{text}"
            if src in OUTSIDE or dst in OUTSIDE:
                continue  # the map lists outside addresses only where some rule mentions them
            s, d = an.facts.class_of[src].id, an.facts.class_of[dst].id
            ranges = conns.get((s, d), {}).get(proto)
            in_map = ranges == "all" or any(lo <= port <= hi for lo, hi in ranges or ())
            assert in_map == want, f"map {src} {dst} {proto}/{port}: {ranges}, reference {want}\n{text}"
