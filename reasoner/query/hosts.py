"""Host endpoints (rules/hosts.dl): one table of their hooks, and what an end of a host endpoint allows, for one
flow (`host_side`, the chain that `can` shows) and for every peer at once (`HostEnds`, the map's)."""

from __future__ import annotations

from reasoner.analysis import Analysis
from reasoner.model.ports import minus
from reasoner.model.ranges import merge
from reasoner.query.chain import ordered_steps
from reasoner.query.verdict import Side, Step, Target

UNTRACKED_IN, PREDNAT_IN, UNTRACKED_OUT = "untracked_in", "prednat_in", "untracked_out"  # rules/hosts.dl's hooks
# the hooks before normal policy at each end of a host endpoint, in the order Felix evaluates them, with their titles
HOOKS = {"ingress": ((UNTRACKED_IN, "untracked"), (PREDNAT_IN, "preDNAT")), "egress": ((UNTRACKED_OUT, "untracked"),)}


def host_side(an: Analysis, side: Side, direction: str, subject: Target, peer: Target,
               proto: str | None, port: int | None) -> None:
    """A host endpoint's end (rules/hosts.dl): failsafe ports, the untracked and preDNAT hooks, a node port's
    backends, then normal policy (tiers, profiles, the host endpoint default)."""
    e = an.engine
    c, q = subject.cls.id, peer.cls.id
    rel = "ingress_ok" if direction == "ingress" else "egress_ok"
    side.allowed = e.holds(rel, c, q, proto, port) if proto is not None else False
    if proto is None:
        side.notes.append("no flow between them is allowed")
        return
    if e.holds("fs_ok", c, direction, q, proto, port):
        side.steps.append(Step("(failsafe)", "Allow", None, f"{proto}/{port} is a Felix failsafe port "
                               f"({'inbound' if direction == 'ingress' else 'outbound'}): open whatever the policy"))
        return
    for hook, title in HOOKS[direction]:
        if not e.holds("ordered", c, hook):
            continue
        steps = ordered_steps(an, hook, c, q, proto, port)
        if steps[-1].tier == "(next)":
            steps[-1] = Step(f"(end of {title} hook)", "Pass", None, "no tier of this hook decided: evaluation goes on")
        side.steps.extend(steps)
        if steps[-1].action == "Deny":
            return
        if steps[-1].action == "Allow":
            if e.holds("nodeport_at", proto, port):
                if hook == UNTRACKED_IN:  # forwarded to a pod: an untracked Allow has no useful effect (§4.9)
                    side.notes.append("the untracked Allow does not decide a node port: the packet goes on to "
                                      "preDNAT policy and DNAT (untracked policy has no useful effect on traffic "
                                      "forwarded to a pod)")
                    continue
                break  # on to DNAT and the backends; the applyOnForward policies are skipped
            side.notes.append(f"accepted by {title} policy: later host endpoint policy is skipped")
            if hook.startswith("untracked"):
                side.notes.append("untracked: the replies are not tracked either; the host endpoint's policy in "
                                  "the other direction must allow them too (not checked here)")
            return
    if direction == "ingress" and e.holds("nodeport_at", proto, port):
        _node_port_notes(an, side, subject, peer, proto, port)
        return
    side.steps.extend(ordered_steps(an, direction, c, q, proto, port))


def _node_port_notes(an: Analysis, side: Side, subject: Target, peer: Target, proto: str, port: int) -> None:
    """The flow is DNATed to a Service's backends and forwarded: each backend's own ingress decides."""
    e = an.engine
    svc_of = an.facts.service_ids
    if e.holds("np_empty", proto, port):
        side.notes.append(f"{proto}/{port} is the node port of a Service that selects no pod: kube-proxy rejects it")
        return
    pre_allowed = e.holds("hook_decides", subject.cls.id, PREDNAT_IN, peer.cls.id, proto, port, "Allow")
    for sid, _p, _port, b, tp in e.ask("np_target", None, proto, port, None, None):
        svc = svc_of[sid]
        local = e.holds("svc_local", sid)
        seen = peer if local else subject
        ok = e.holds("wl_ingress_ok", b, seen.cls.id, proto, tp)
        backend = an.facts.classes[b]
        fid = next((f for f, (h, bb) in an.facts.forwards.items() if h == subject.cls.id and bb == b), None)
        if not set(backend.families) & set(seen.cls.families):
            side.notes.append(f"{backend.name} shares no address family with {seen.name}: not reached")
        if fid is not None and e.holds("ordered", fid, "fwd_in") and pre_allowed:
            side.notes.append(f"the applyOnForward policies of {subject.name} are skipped: preDNAT policy allowed it")
        elif fid is not None and e.holds("ordered", fid, "fwd_in"):  # applyOnForward policy on the forwarded packet
            fwd_ok = e.holds("fwd_ok", fid, peer.cls.id, proto, tp)
            side.notes.append(f"forwarded to {backend.name} on {proto}/{tp}: the applyOnForward policies of "
                              f"{subject.name} {'allow' if fwd_ok else 'DENY'} it (chain below)")
            side.steps.extend(ordered_steps(an, "fwd_in", fid, peer.cls.id, proto, tp))
        for ep in backend.members:
            if svc.selects(ep.namespace, dict(ep.labels)):
                side.notes.append(f"{ep.ref} on {proto}/{tp}, seen from {seen.name}: {'allowed' if ok else 'DENIED'}")
    side.notes.insert(0, f"{proto}/{port} is the node port of Service {svc.ref} (externalTrafficPolicy "
                      f"{svc.external_traffic_policy}): DNATed to its backends and forwarded, so normal host endpoint "
                      f"policy does not see it; every backend's ingress must admit it"
                      + ("" if local else f", from the node's address ({subject.name}, SNAT)") + ":")


def ranges_towards(items, q: int) -> dict[str, list[tuple[int, int]]]:
    """From a plan's [(ports, peers)] per protocol, the ports given to peer q."""
    out: dict[str, list[tuple[int, int]]] = {}
    for p, lst in items.items():
        ranges = [r for ports, peers in lst if peers >> q & 1 for r in ports]
        if ranges:
            out[p] = merge(ranges)
    return out


class HostEnds:
    """What a host endpoint's ends allow (rules/hosts.dl `hep_in_ok`, `hep_out_ok`, composed over port ranges):
    failsafe ports; then untracked policy; then, inbound, a node port goes to its backends unless preDNAT policy
    denies it, other ports to preDNAT policy, then normal policy (tiers, profiles, the default Deny).

    A node port's backends are checked from the plan's ends: each backend's ingress from the client
    (externalTrafficPolicy Local) or the host endpoint (Cluster) on its target port, and the forwarding host
    endpoint's applyOnForward policies (`fwd_in`) from the client. One `can` pair is explained by `host_side`
    from the flow-level relations instead."""

    def __init__(self, an: Analysis, plan):
        e = an.engine
        self.plan = plan
        self.classes = {c.id for c in an.facts.classes if c.host}
        self.node_ports: dict[str, set[int]] = {}
        self.targets: dict[tuple[str, int], list[tuple[int, int, bool]]] = {}  # (P, node port) -> (B, TP, local)
        local = {sid for (sid,) in e.ask("svc_local", None)}
        for sid, p, port, b, tp in e.ask("np_target", None, None, None, None, None):
            self.node_ports.setdefault(p, set()).add(port)
            self.targets.setdefault((p, port), []).append((b, tp, sid in local))
        for p, port in e.ask("np_empty", None, None):  # no backend: rejected
            self.node_ports.setdefault(p, set()).add(port)
            self.targets.setdefault((p, port), [])
        self.families = {c.id: set(c.families) for c in an.facts.classes}
        self._admits: dict[tuple, bool] = {}  # (backend, seen source, protocol, target port) -> admitted
        self.failsafe: dict[tuple[int, str, int], list[tuple[str, int]]] = {}
        for h, d, q, p, port in e.ask("fs_ok", None, None, None, None, None):
            self.failsafe.setdefault((h, d, q), []).append((p, port))
        self.forward = {(h, b): f for f, h, b in e.ask("fwd", None, None, None)}
        self.forwarding = {f for f, _d in e.ask("ordered", None, "fwd_in")}

    def _decides(self, h: int, q: int, hook: str, p: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(ports allowed, ports denied) of protocol p for peer q by the tiers of host endpoint h at a hook (the
        rest goes on to the next stage)."""
        if (h, hook) not in self.plan.ordered:
            return [], []
        allow, deny = [], []
        for ports, allowed, denied in self.plan.regions(h, hook).get(p, ()):
            if allowed >> q & 1:
                allow.extend(ports)
            elif denied >> q & 1:
                deny.extend(ports)
        return merge(allow), merge(deny)

    def _np_ok(self, h: int, q: int, p: str, port: int, pre_allowed: bool) -> bool:
        """Every backend behind node port p/port admits the forwarded flow from q through h (and there is one); the
        applyOnForward policies too, unless preDNAT policy allowed it."""
        if not self.targets[(p, port)]:
            return False
        for b, tp, local in self.targets[(p, port)]:
            seen = q if local else h
            if not self.families[b] & self.families[seen]:
                return False
            key = (b, seen, p, tp)
            ok = self._admits.get(key)
            if ok is None:
                ok = self._admits[key] = any(lo <= tp <= hi for lo, hi in
                                             (self.plan.towards(b, "ingress")[seen] or {}).get(p, ()))
            if not ok:
                return False
            f = self.forward.get((h, b))
            if not pre_allowed and f in self.forwarding and not any(
                    lo <= tp <= hi for lo, hi in ranges_towards(self.plan.end(f, "fwd_in"), q).get(p, ())):
                return False
        return True

    def allows(self, h: int, q: int, direction: str) -> dict[str, list[tuple[int, int]]]:
        """What host endpoint h's `direction` end allows towards peer q, per protocol."""
        protocols = self.plan.protocols
        normal = ranges_towards(self.plan.end(h, direction), q)
        failsafe: dict[str, list[tuple[int, int]]] = {}
        for p, port in self.failsafe.get((h, direction, q), []):
            failsafe.setdefault(p, []).append((port, port))
        out: dict[str, list[tuple[int, int]]] = {}
        for p in protocols:
            ua, ud = self._decides(h, q, UNTRACKED_IN if direction == "ingress" else UNTRACKED_OUT, p)
            rest = normal.get(p, [])
            if direction == "ingress":
                pa, pd = self._decides(h, q, PREDNAT_IN, p)
                nps = [(n, n) for n in sorted(self.node_ports.get(p, ()))]
                open_nps = minus(nps, merge(pd + ud))  # the others are denied before DNAT
                np_ok = [(n, n) for lo, hi in open_nps for n in range(lo, hi + 1)
                         if self._np_ok(h, q, p, n, any(a <= n <= b for a, b in pa))]
                rest = merge(np_ok + minus(pa + minus(rest, pd), nps))
                ua = minus(ua, nps)  # an untracked Allow does not decide a node port (forwarded to a pod)
            ranges = merge(failsafe.get(p, []) + ua + minus(rest, ud))
            if ranges:
                out[p] = ranges
        return out
