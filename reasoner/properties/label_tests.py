"""What policy and the spec can ask of a pod that does not exist yet: the tests that selectors make of it.

Each `Test` is one question about a new pod: its labels (and those of its namespace and service account)
compared with constants, its namespace's name or its service account's name; with where its answer can matter,
at which end of a flow and for flows whose other end lies where (`project`). Two new pods that answer every
test alike are indistinguishable to every rule and to every requirement (properties/universe.py). Not
collected: tests of addresses (address atoms stand for them) and of named ports (new pods declare none).
"""

from __future__ import annotations

from dataclasses import dataclass

from reasoner.model.cluster import Cluster
from reasoner.model.policy import PodPeer
from reasoner.model.selector import LabelSelector, Op

SRC, DST = "src", "dst"
BOTH = frozenset({SRC, DST})


@dataclass(frozen=True)
class Test:
    """One question about a new pod. `view`: which labels it reads — `pod` (its own, k8s selectors),
    `calico` (Calico's view of the pod), `ns` (namespace labels, k8s), `ns-calico`, `sa-calico`,
    `sa-name`, `ns-name`. `scope`: the namespaces where it can matter (None: any; a name; or a selector on
    the namespace, `LabelSelector` or `CalicoSelector`); a test that cannot matter only costs time.

    Where a flow's verdict can depend on it: `roles`, the ends of a flow at which the pod is tested (`src`: a
    policy's egress subject, a peer of an ingress rule, a Calico rule's `source`; `dst`: the converse);
    `guard` (end, namespace): only for flows whose other end `end` is in `namespace` (the policy's, when it is
    that end's subject); `subject`: it decides whether a policy applies to the pod."""

    view: str
    what: object  # LabelSelector | CalicoSelector | tuple[str, ...] (names)
    scope: object = None
    roles: frozenset = BOTH
    guard: tuple | None = None
    subject: bool = False


def _ends(types) -> frozenset:
    """The ends of a flow at which a policy of these types tests its subject."""
    from reasoner.model.policy import Direction

    return frozenset(({DST} if Direction.INGRESS in types else set()) | ({SRC} if Direction.EGRESS in types else set()))


def service_selector(pairs) -> LabelSelector:
    """A Service's selector (key, value pairs, all to hold) as a pod LabelSelector."""
    from reasoner.model.selector import Requirement

    return LabelSelector(frozenset(Requirement(k, Op.IN, frozenset({v})) for k, v in pairs))


def collect_tests(cluster: Cluster, extra: list[Test] = ()) -> list[Test]:
    tests: list[Test] = list(extra)

    def k8s_peer(peer, own_ns, role, guard):
        if not isinstance(peer, PodPeer):
            return
        if peer.namespace_selector is not None:
            tests.append(Test("ns", peer.namespace_selector, None, role, guard))
        if peer.pod_selector is not None:
            tests.append(Test("pod", peer.pod_selector, peer.namespace_selector or own_ns, role, guard))

    src, dst = frozenset({SRC}), frozenset({DST})
    for pol in cluster.policies:
        tests.append(Test("pod", pol.pod_selector, pol.namespace, _ends(pol.types), subject=True))
        for rule in pol.ingress:
            for peer in rule.peers or ():
                k8s_peer(peer, pol.namespace, src, (DST, pol.namespace))
        for rule in pol.egress:
            for peer in rule.peers or ():
                k8s_peer(peer, pol.namespace, dst, (SRC, pol.namespace))
    for apol in cluster.admin_policies:
        roles = _ends(apol.types)
        tests.append(Test("ns", apol.namespace_selector, None, roles, subject=True))
        tests.append(Test("pod", apol.pod_selector, apol.namespace_selector, roles, subject=True))
        for arule in apol.ingress:
            for peer in arule.peers or ():
                k8s_peer(peer, None, src, None)
        for arule in apol.egress:
            for peer in arule.peers or ():
                k8s_peer(peer, None, dst, None)
    for cpol in cluster.calico_policies:
        scope = cpol.namespace if cpol.namespace else cpol.namespace_selector
        roles = _ends(cpol.types)
        tests.append(Test("calico", cpol.selector, scope, roles, subject=True))
        if cpol.namespace_selector is not None:
            tests.append(Test("ns-calico", cpol.namespace_selector, None, roles, subject=True))
        if cpol.service_account_selector is not None:
            tests.append(Test("sa-calico", cpol.service_account_selector, scope, roles, subject=True))
        for crules, subject_end in ((cpol.ingress, DST), (cpol.egress, SRC)):
            guard = (subject_end, cpol.namespace) if cpol.namespace else None
            for crule in crules:
                for ent, role in ((crule.source, src), (crule.destination, dst)):
                    rscope = ent.namespace_selector if ent.namespace_selector is not None else cpol.namespace
                    if ent.namespace_selector is not None:
                        tests.append(Test("ns-calico", ent.namespace_selector, None, role, guard))
                    for sel in (ent.selector, ent.not_selector):
                        if sel is not None:
                            tests.append(Test("calico", sel, rscope, role, guard))
                    if ent.service is not None:  # a Service's backends: its namespace's pods matching its selector
                        svc = cluster.service(*ent.service)
                        if svc is not None and svc.selector is not None:
                            tests.append(Test("pod", service_selector(svc.selector), svc.namespace, role, guard))
                    if ent.service_accounts is not None:
                        if ent.service_accounts.selector is not None:
                            tests.append(Test("sa-calico", ent.service_accounts.selector, rscope, role, guard))
                        if ent.service_accounts.names:
                            tests.append(Test("sa-name", tuple(ent.service_accounts.names), rscope, role, guard))
    return tests


def project(tests: list[Test], role: str, other_namespaces: frozenset[str] | None,
            subjects_only: bool = False) -> list[Test]:
    """The tests that can decide a flow at which the new pod stands at `role`, when the flow's other end lies in
    one of `other_namespaces` (None: anywhere); `subjects_only`: only those that decide which policies apply."""
    out = []
    for t in tests:
        if role not in t.roles or (subjects_only and not t.subject):
            continue
        if t.guard is not None and t.guard[0] != role and t.guard[1] is not None and other_namespaces is not None \
                and t.guard[1] not in other_namespaces:
            continue
        out.append(t)
    return out


def spec_tests(peers, services: dict | None = None) -> list[Test]:
    """The tests that the spec's peers make of an endpoint (`services`: NS/NAME -> selector pairs)."""
    out = []
    for p in peers:
        if p.namespace is not None:
            out.append(Test("ns-name", (p.namespace,)))
        if p.namespace_selector is not None:
            out.append(Test("ns-calico", p.namespace_selector))
        if p.selector is not None:
            out.append(Test("calico", p.selector))
        if p.service_account is not None:
            out.append(Test("sa-name", (p.service_account,)))
        if p.service is not None:  # its backends: the pods of its namespace matching its selector
            ns, _, name = p.service.partition("/")
            out.append(Test("ns-name", (ns,)))
            selector = services.get(p.service) if services else None
            if selector:
                out.append(Test("pod", service_selector(selector), ns))
    return out
