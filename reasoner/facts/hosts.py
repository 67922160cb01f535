"""Facts of rules/hosts.dl: Calico host endpoints (hep, hep_noip, hep_wild; their labels through calico_view),
their tiers (each profile position, then the host endpoint default: hep_end), the tiers of the preDNAT and
untracked hooks, Felix's failsafe ports (failsafe_port, fs_net, fs_anynet), and Services' node ports (np_target,
np_empty, svc_local, svc_cluster) with the forwarding evaluations to their backends (fwd).
"""

from __future__ import annotations

from reasoner.facts.classes import EndpointClass
from reasoner.facts.peers import cidr
from reasoner.facts.state import Emitter
from reasoner.model.cluster import HostEndpoint, backends, target_port
from reasoner.model.policy import Direction

HOST_DEFAULT_TIER = "(host endpoint default)"
HOOK_DIRECTIONS = {("preDNAT", Direction.INGRESS): "prednat_in", ("untracked", Direction.INGRESS): "untracked_in",
                   ("untracked", Direction.EGRESS): "untracked_out"}


def hook_direction(hook: str, d: Direction) -> str:
    """The evaluation a rule of a policy of `hook` takes part in: ingress/egress, or a host endpoint hook."""
    return d.value if hook == "normal" else HOOK_DIRECTIONS[(hook, d)]


def host_class(em: Emitter, cls: EndpointClass) -> None:
    """A host endpoint: selectable by Calico selectors through its labels (own and its profiles'), never
    by Kubernetes ones (no namespace, not on the pod network); its named ports are `spec.ports`."""
    fb = em.fb
    hep = cls.members[0]
    assert isinstance(hep, HostEndpoint)  # a host endpoint's class holds it alone (build_classes)
    fb.class_of[hep.ref] = cls
    em.add("hep", cls.id)
    if not hep.ips:
        em.add("hep_noip", cls.id)
    if hep.wildcard:
        em.add("hep_wild", cls.id)
    for p in {(p.name, p.protocol, p.port) for p in hep.ports}:
        em.add("class_port", cls.id, *p)
    view = next(em.ids)
    em.add("calico_view", cls.id, view)
    em.add("view_of", view, cls.id)
    fb.calico_labels[cls.id] = dict(cls.labels)
    for k, v in cls.labels:
        em.add("label", view, k, v)


def host_tiers(em: Emitter, after: int) -> None:
    """After every tier, a host endpoint's profiles, in its order, one tier per position (a profile's rules
    decide, or pass to the next); then the host endpoint's default: Deny (SEMANTICS §4.1, §4.5)."""
    depth = max((len(h.profiles) for h in em.fb.cluster.host_endpoints), default=0)
    for k in range(1, depth + 1):
        tid = em.fb.tier_ids[f"(profile {k})"] = next(em.ids)
        em.add("tier_rank", tid, after + k - 1)
        em.add("tier_default", tid, "Pass")
    tid = em.fb.tier_ids[HOST_DEFAULT_TIER] = next(em.ids)
    em.add("tier_rank", tid, after + depth)
    em.add("tier_default", tid, "Deny")
    em.add("hep_end", tid)


def hook_tier(em: Emitter, tier: str, hook: str) -> int:
    """The tier as it runs at a preDNAT or untracked hook: same rank; its end passes on (SEMANTICS §4.9)."""
    name = f"{tier} ({hook})"
    tid = em.fb.tier_ids.get(name)
    if tid is None:
        tid = em.fb.tier_ids[name] = next(em.ids)
        em.add("tier_rank", tid, em.tier_rank[tier])
        em.add("tier_default", tid, "Pass")
    return tid


def failsafe(em: Emitter) -> None:
    """Felix's failsafe ports, open on every host endpoint (SEMANTICS §4.9)."""
    cluster = em.fb.cluster
    for inbound, direction in ((True, "ingress"), (False, "egress")):
        for fp in cluster.failsafe(inbound):
            eid = next(em.ids)
            em.add("failsafe_port", eid, direction, em.fb.proto_rep.get(fp.protocol, fp.protocol), fp.port)
            if fp.net is None:
                em.add("fs_anynet", eid)
            else:
                em.add("fs_net", eid, cidr(em, fp.net))


def node_ports(em: Emitter) -> None:
    """For each node port of a Service: the backends and their target ports, and whether the client's address
    is kept (externalTrafficPolicy Local) or replaced by the node's (Cluster) (SEMANTICS §1.6)."""
    fb = em.fb
    cluster = fb.cluster
    behind: set[int] = set()
    for svc in cluster.services:
        ports = [sp for sp in svc.ports if sp.node_port is not None]
        if not ports:
            continue
        sid = next(em.ids)
        fb.service_ids[sid] = svc
        em.add("svc_local" if svc.external_traffic_policy == "Local" else "svc_cluster", sid)
        eps = backends(cluster, svc)
        if svc.selector is not None and not eps:  # kube-proxy rejects traffic to a Service without endpoints
            for sp in ports:
                em.add("np_empty", fb.proto_rep.get(sp.protocol, sp.protocol), sp.node_port)
        for ep in eps:
            cls = fb.class_of.get(ep.ref)
            for sp in ports:
                tp = target_port(sp, ep)
                if cls is not None and tp is not None:
                    behind.add(cls.id)
                    em.add("np_target", sid, fb.proto_rep.get(sp.protocol, sp.protocol), sp.node_port, cls.id, tp)
    # the forwarding evaluations: host endpoint H passing traffic on to backend B (its named ports, families)
    for h in (c for c in fb.classes if c.host):
        for b in sorted(behind):
            fid = next(em.ids)
            fb.forwards[fid] = (h.id, b)
            em.add("fwd", fid, h.id, b)
            backend = fb.classes[b]
            for fam in backend.families:
                em.add("class_family", fid, fam)
            for p in {(p.name, p.protocol, p.port) for p in backend.members[0].ports if p.name}:
                em.add("class_port", fid, *p)
