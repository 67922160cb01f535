"""From documents to a `Cluster`: one parser per (apiVersion group, kind), found in `SOURCES`."""

from __future__ import annotations

from typing import Callable

from reasoner.errors import ManifestError
from reasoner.manifests.load import CLUSTER_SCOPED, VERSIONS, Document
from reasoner.model.admin import ANP_TIER, ANP_TIER_ORDER, BANP_TIER, BANP_TIER_ORDER, AdminPolicy
from reasoner.model.calico import (
    DEFAULT_TIER,
    DEFAULT_TIER_ORDER,
    Action,
    CalicoPolicy,
    IPPool,
    NetworkSet,
    Profile,
    StagedPolicy,
    Tier,
)
from reasoner.model.cluster import NAME_LABEL, Cluster, HostEndpoint, Namespace
from reasoner.sources import admin, calico, k8s_core, k8s_networkpolicy
from reasoner.sources.fields import Fields, Invalid
from reasoner.sources.known_fields import KNOWN_FIELDS, check

# (API group, kind) -> parser. The group is apiVersion without its version ("" for the core group).
SOURCES: dict[tuple[str, str], Callable] = {
    ("", "Namespace"): k8s_core.parse_namespace,
    ("", "Pod"): k8s_core.parse_pod,
    ("", "Service"): k8s_core.parse_service,
    ("", "ServiceAccount"): k8s_core.parse_service_account,
    ("", "ReplicationController"): lambda f: k8s_core.parse_workload(f, "ReplicationController"),
    **{("apps", kind): (lambda kind: lambda f: k8s_core.parse_workload(f, kind))(kind)
       for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")},
    ("batch", "Job"): lambda f: k8s_core.parse_workload(f, "Job"),
    ("batch", "CronJob"): lambda f: k8s_core.parse_workload(f, "CronJob"),
    ("networking.k8s.io", "NetworkPolicy"): k8s_networkpolicy.parse_networkpolicy,
    ("policy.networking.k8s.io", "AdminNetworkPolicy"): admin.parse_admin_network_policy,
    ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"): admin.parse_baseline_admin_network_policy,
    **{(group, kind): parser for group in ("projectcalico.org", "crd.projectcalico.org") for kind, parser in {
        "NetworkPolicy": calico.parse_network_policy,
        "GlobalNetworkPolicy": calico.parse_global_network_policy,
        "StagedNetworkPolicy": calico.parse_staged_network_policy,
        "StagedGlobalNetworkPolicy": calico.parse_staged_global_network_policy,
        "StagedKubernetesNetworkPolicy": calico.parse_staged_kubernetes_network_policy,
        "Tier": calico.parse_tier,
        "NetworkSet": calico.parse_network_set,
        "GlobalNetworkSet": calico.parse_global_network_set,
        "Profile": calico.parse_profile,
        "IPPool": calico.parse_ip_pool,
        "HostEndpoint": calico.parse_host_endpoint,
        "FelixConfiguration": calico.parse_felix_configuration,
    }.items()},
}


def build_cluster(docs: list[Document]) -> tuple[Cluster, list[ManifestError]]:
    """Parse every document; collect all errors rather than stopping at the first."""
    cluster = Cluster()
    errors: list[ManifestError] = []
    workloads: list[k8s_core.Workload] = []
    seen: dict[tuple[str, str, str], Document] = {}
    tiered: list[tuple[str, Document]] = []  # the tier each Calico policy, staged or not, names
    for doc in docs:
        if not isinstance(doc.data, dict):
            errors.append(doc.error((), "expected a Kubernetes resource (a mapping with apiVersion and kind)"))
            continue
        api, kind = doc.data.get("apiVersion"), doc.data.get("kind")
        if not isinstance(api, str) and isinstance(kind, str) and any(k == kind for _, k in SOURCES):
            want = " or ".join(f"{g}/{v}" if g else v for g, k in SOURCES if k == kind for v in VERSIONS[g])
            given = "apiVersion" in doc.data and doc.data["apiVersion"] is not None
            errors.append(doc.error(("apiVersion",), f"expected a string (want {want})") if given
                          else doc.error((), f"has no `apiVersion` (want {want})"))
            continue
        if not isinstance(api, str) or not isinstance(kind, str):
            cluster.skipped.append(f"{doc.file}:{doc.line() or 1}: not a Kubernetes resource (no apiVersion/kind)")
            continue
        group = api.rsplit("/", 1)[0] if "/" in api else ""
        parser = SOURCES.get((group, kind))
        if parser is None:
            cluster.skipped.append(f"{doc.file}:{doc.line() or 1}: {kind} ({api}) is not supported; skipped")
            continue
        f = Fields(doc, errors)
        version = api.rsplit("/", 1)[-1]
        if version not in VERSIONS[group]:
            want = " or ".join(f"{group}/{v}" if group else v for v in VERSIONS[group])
            errors.append(doc.error(("apiVersion",), f"unknown apiVersion {api!r} for {kind} (want {want})"))
            continue
        if not check(f, KNOWN_FIELDS[(group, kind)]):
            continue
        reported = len(errors)
        try:
            obj = parser(f)
        except Invalid:
            continue
        if len(errors) > reported:  # bad names or labels, each reported: the resource is not read
            continue
        meta = doc.data.get("metadata") or {}
        cluster_scoped = kind in CLUSTER_SCOPED
        key = (group + "/" + kind if group.endswith("projectcalico.org") else kind,
               "" if cluster_scoped else meta.get("namespace", "default"), meta.get("name"))
        key = (key[0].replace("crd.projectcalico.org", "projectcalico.org"), key[1], key[2])
        if key in seen:
            errors.append(doc.error(("metadata", "name"), f"duplicate {kind}: also defined at "
                                    f"{seen[key].file}:{seen[key].line() or 1}"))
            continue
        seen[key] = doc
        if isinstance(obj, (CalicoPolicy, StagedPolicy)) and obj.tier is not None:
            tiered.append((obj.tier, doc))
        _add(cluster, obj, workloads)
    cluster.tiers.setdefault(DEFAULT_TIER, Tier(DEFAULT_TIER, DEFAULT_TIER_ORDER, Action.DENY, None))
    if cluster.admin_policies:  # the tiers Calico gives them (SEMANTICS §4.2, §6.5)
        cluster.tiers.setdefault(ANP_TIER, Tier(ANP_TIER, ANP_TIER_ORDER, Action.PASS, None))
        cluster.tiers.setdefault(BANP_TIER, Tier(BANP_TIER, BANP_TIER_ORDER, Action.PASS, None))
    for tier, doc in tiered:
        if tier not in cluster.tiers:
            errors.append(doc.error(("spec", "tier"), f"tier {tier!r} does not exist (known: "
                                    f"{', '.join(sorted(cluster.tiers))})"))
    _add_workload_templates(cluster, workloads)
    cluster.workloads = workloads
    _complete_namespaces(cluster)
    return cluster, errors


def _add(cluster: Cluster, obj, workloads: list) -> None:
    from reasoner.model.cluster import Endpoint, Service, ServiceAccount
    from reasoner.model.policy import NetworkPolicy

    if obj is None:
        return
    if isinstance(obj, Namespace):
        cluster.namespaces[obj.name] = obj
    elif isinstance(obj, Endpoint):
        cluster.endpoints.append(obj)
    elif isinstance(obj, k8s_core.Workload):
        workloads.append(obj)
    elif isinstance(obj, Service):
        cluster.services.append(obj)
    elif isinstance(obj, ServiceAccount):
        cluster.service_accounts.append(obj)
    elif isinstance(obj, NetworkPolicy):
        cluster.policies.append(obj)
    elif isinstance(obj, CalicoPolicy):
        cluster.calico_policies.append(obj)
    elif isinstance(obj, StagedPolicy):
        cluster.staged.append(obj)
    elif isinstance(obj, AdminPolicy):
        cluster.admin_policies.append(obj)
        cluster.skipped.extend(obj.warnings())  # rules that fail closed
    elif isinstance(obj, Tier):
        cluster.tiers[obj.name] = obj
    elif isinstance(obj, NetworkSet):
        cluster.network_sets.append(obj)
    elif isinstance(obj, Profile):
        cluster.profiles.append(obj)
    elif isinstance(obj, IPPool):
        cluster.ip_pools.append(obj)
    elif isinstance(obj, HostEndpoint):
        cluster.host_endpoints.append(obj)
    elif isinstance(obj, calico.FelixFailsafe):
        if obj.name == "default":  # the cluster-wide configuration; per-node ones (node.NAME) are not modeled
            cluster.failsafe_inbound, cluster.failsafe_outbound = obj.inbound, obj.outbound
        else:
            cluster.skipped.append(f"{obj.origin}: FelixConfiguration {obj.name} (only `default` is read); skipped")


def _add_workload_templates(cluster: Cluster, workloads: list[k8s_core.Workload]) -> None:
    """A workload stands for its pods unless one of them, or a workload that owns it, is given."""
    names = {(w.endpoint.namespace, w.endpoint.kind, w.endpoint.name) for w in workloads}
    for w in workloads:
        ep = w.endpoint
        if any((ep.namespace, kind, name) in names for kind, name in w.owned_by):
            continue  # e.g. a ReplicaSet of a given Deployment
        selector = dict(w.selector)
        if any(p.namespace == ep.namespace and p.kind == "Pod"
               and all(dict(p.labels).get(k) == v for k, v in selector.items()) for p in cluster.endpoints):
            continue
        if any(e.ref == ep.ref for e in cluster.endpoints):
            continue  # a Pod of the same name is given
        cluster.endpoints.append(ep)


def _complete_namespaces(cluster: Cluster) -> None:
    """Every referenced namespace exists and carries `kubernetes.io/metadata.name` (SEMANTICS §2.7)."""
    referenced = {e.namespace for e in cluster.endpoints} | {p.namespace for p in cluster.policies}
    referenced |= {p.namespace for p in cluster.calico_policies if p.namespace}
    referenced |= {n.namespace for n in cluster.network_sets if n.namespace}
    referenced |= {s.namespace for s in cluster.services} | {a.namespace for a in cluster.service_accounts}
    for name in referenced - cluster.namespaces.keys():
        cluster.namespaces[name] = Namespace(name, (), None)
    for name, ns in list(cluster.namespaces.items()):
        labels = dict(ns.labels)
        labels[NAME_LABEL] = name  # immutable, set by the control plane
        cluster.namespaces[name] = Namespace(name, tuple(sorted(labels.items())), ns.origin)
    cluster.endpoints.sort(key=lambda e: (e.namespace, e.name))
    cluster.host_endpoints.sort(key=lambda h: h.name)
