"""Facts of rules/peers.dl: the peers of Kubernetes (and admin) rules (peer_same_ns, peer_nssel, peer_podsel,
peer_cidr, peer_except), and every CIDR the input names (cidr_range), which peers.dl places over the address atoms.
"""

from __future__ import annotations

from reasoner.facts.selectors import selector
from reasoner.facts.state import Emitter
from reasoner.model.cidr import Cidr
from reasoner.model.policy import IPBlockPeer, PodPeer
from reasoner.model.selector import LabelSelector


def cidr(em: Emitter, c: Cidr) -> int:
    cid = em.cidrs.get(c)
    if cid is None:
        cid = em.cidrs[c] = next(em.ids)
        em.add("cidr_range", cid, c.family, c.lo, c.hi)
    return cid


def peer(em: Emitter, peer: IPBlockPeer | PodPeer, ns: int | None) -> int:
    """The id of a Kubernetes rule's peer; equal peers (in one namespace, for those of the policy's own) share
    one, so that what a peer matches (peer_match) is evaluated once for all the rules that name it. `ns`: the
    policy's namespace (None for an admin policy, whose pod peers always have a namespace selector)."""
    if isinstance(peer, IPBlockPeer):
        key: tuple = ("ipBlock", cidr(em, peer.cidr), tuple(sorted({cidr(em, ex) for ex in peer.excepts})))
    else:  # k8s: no podSelector means every pod of the selected namespaces, as the empty selector does
        pods = selector(em, peer.pod_selector or LabelSelector(), "podsel")
        key = (("pods", ns, pods) if peer.namespace_selector is None else
               ("pods in", selector(em, peer.namespace_selector, "nssel"), pods))
    peer_id = em.peers.get(key)
    if peer_id is not None:
        return peer_id
    peer_id = em.peers[key] = next(em.ids)
    if key[0] == "ipBlock":
        em.add("peer_cidr", peer_id, key[1])
        for ex in key[2]:
            em.add("peer_except", peer_id, ex)
    else:
        if key[0] == "pods":
            em.add("peer_same_ns", peer_id, ns)
        else:
            em.add("peer_nssel", peer_id, key[1])
        em.add("peer_podsel", peer_id, key[2])
    return peer_id
