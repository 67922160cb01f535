"""The fields each kind may have, at the levels the engine reads: a field the API server's strict decoding
would reject (a typo such as `spec.podSelectr` or `ingres`) is an error, not silently ignored.

A level is `Closed` (every field must be known) or `Open` (only the listed fields are checked further: the
parts of objects the engine does not model, such as a Pod's containers beyond their ports). A field's
schema is None (not checked), a level, or `[level]` (a list of such items). Values of the wrong type are
left to the parsers, which name the type they expect.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Union

from reasoner.manifests.load import FieldPath
from reasoner.sources.fields import Fields, show


@dataclass(frozen=True)
class Level:
    fields: dict[str, Any]
    closed: bool


def Closed(**fields: Any) -> Level:  # noqa: N802 - reads as a type in the tables below
    return Level(fields, True)


def Open(**fields: Any) -> Level:  # noqa: N802
    return Level(fields, False)


Schema = Union[Level, list, None]

OBJECT_META = Closed(
    name=None, generateName=None, namespace=None, selfLink=None, uid=None, resourceVersion=None, generation=None,
    creationTimestamp=None, deletionTimestamp=None, deletionGracePeriodSeconds=None, labels=None, annotations=None,
    ownerReferences=None, finalizers=None, managedFields=None, clusterName=None,
)
LABEL_SELECTOR = Closed(matchLabels=None, matchExpressions=[Closed(key=None, operator=None, values=None)])

# --- core/v1, apps/v1, batch/v1: only the parts the engine reads are checked -----------------------------------
CONTAINER = Open(ports=[Closed(name=None, containerPort=None, protocol=None, hostPort=None, hostIP=None)])
POD_SPEC = Open(containers=[CONTAINER], initContainers=[CONTAINER])
POD_TEMPLATE = Closed(metadata=OBJECT_META, spec=POD_SPEC)
WORKLOAD_SPEC = Open(selector=LABEL_SELECTOR, template=POD_TEMPLATE)
SERVICE_SPEC = Open(ports=[Closed(name=None, protocol=None, appProtocol=None, port=None, targetPort=None,
                                  nodePort=None)])


def _top(spec: Schema = None, **more: Any) -> Level:
    return Closed(apiVersion=None, kind=None, metadata=OBJECT_META, spec=spec, status=None, **more)


# --- networking.k8s.io/v1 NetworkPolicy: every level --------------------------------------------------------------
NP_PEER = Closed(podSelector=LABEL_SELECTOR, namespaceSelector=LABEL_SELECTOR,
                 ipBlock=Closed(cidr=None, **{"except": None}))
NP_PORT = Closed(protocol=None, port=None, endPort=None)
NETWORK_POLICY = _top(Closed(
    podSelector=LABEL_SELECTOR, policyTypes=None,
    ingress=[Closed(ports=[NP_PORT], **{"from": [NP_PEER]})],
    egress=[Closed(ports=[NP_PORT], to=[NP_PEER])],
))

# --- policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy, BaselineAdminNetworkPolicy -----------------------------
ANP_PODS = Closed(namespaceSelector=LABEL_SELECTOR, podSelector=LABEL_SELECTOR)
ANP_PEER = Closed(namespaces=LABEL_SELECTOR, pods=ANP_PODS, nodes=LABEL_SELECTOR, networks=None, domainNames=None)
ANP_PORT = Closed(portNumber=Closed(protocol=None, port=None), namedPort=None,
                  portRange=Closed(protocol=None, start=None, end=None))
ANP_SUBJECT = Closed(namespaces=LABEL_SELECTOR, pods=ANP_PODS)


def _anp(priority: bool) -> Level:
    rule = dict(name=None, action=None, ports=[ANP_PORT])
    spec = dict(subject=ANP_SUBJECT, ingress=[Closed(**rule, **{"from": [ANP_PEER]})],
                egress=[Closed(**rule, to=[ANP_PEER])])
    return _top(Closed(**spec, priority=None) if priority else Closed(**spec))


# --- Calico (projectcalico.org/v3, crd.projectcalico.org/v1) -------------------------------------------------------
ENTITY = Closed(nets=None, notNets=None, selector=None, notSelector=None, namespaceSelector=None, ports=None,
                notPorts=None, serviceAccounts=Closed(names=None, selector=None),
                services=Closed(name=None, namespace=None))
ICMP = Closed(type=None, code=None)
CALICO_RULE = Closed(action=None, protocol=None, notProtocol=None, icmp=ICMP, notICMP=ICMP, ipVersion=None,
                     source=ENTITY, destination=ENTITY, http=None, metadata=Closed(annotations=None))
POLICY_FIELDS = dict(order=None, tier=None, selector=None, serviceAccountSelector=None, types=None,
                     ingress=[CALICO_RULE], egress=[CALICO_RULE], performanceHints=None,
                     doNotTrack=None, preDNAT=None, applyOnForward=None)  # the last three: named in their own error
CALICO = {
    "NetworkPolicy": _top(Closed(**POLICY_FIELDS)),
    "GlobalNetworkPolicy": _top(Closed(**POLICY_FIELDS, namespaceSelector=None)),
    "StagedNetworkPolicy": _top(Closed(**POLICY_FIELDS, stagedAction=None)),
    "StagedGlobalNetworkPolicy": _top(Closed(**POLICY_FIELDS, namespaceSelector=None, stagedAction=None)),
    "StagedKubernetesNetworkPolicy": _top(Closed(**NETWORK_POLICY.fields["spec"].fields, stagedAction=None)),
    "Tier": _top(Closed(order=None, defaultAction=None)),
    "NetworkSet": _top(Closed(nets=None, allowedEgressDomains=None)),
    "GlobalNetworkSet": _top(Closed(nets=None, allowedEgressDomains=None)),
    "Profile": _top(Closed(ingress=[CALICO_RULE], egress=[CALICO_RULE], labelsToApply=None)),
    "HostEndpoint": _top(Closed(node=None, interfaceName=None, expectedIPs=None, profiles=None,
                                ports=[Closed(name=None, port=None, protocol=None)])),
    "IPPool": _top(Open()),
    "FelixConfiguration": _top(Open(failsafeInboundHostPorts=[Closed(protocol=None, port=None, net=None)],
                                    failsafeOutboundHostPorts=[Closed(protocol=None, port=None, net=None)])),
}

# (API group, kind) -> schema, for every kind of `registry.SOURCES`
KNOWN_FIELDS: dict[tuple[str, str], Level] = {
    ("", "Namespace"): _top(None),
    ("", "Pod"): _top(POD_SPEC),
    ("", "Service"): _top(SERVICE_SPEC),
    ("", "ServiceAccount"): _top(None, secrets=None, imagePullSecrets=None, automountServiceAccountToken=None),
    ("", "ReplicationController"): _top(Open(selector=None, template=POD_TEMPLATE)),
    **{("apps", kind): _top(WORKLOAD_SPEC) for kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")},
    ("batch", "Job"): _top(WORKLOAD_SPEC),
    ("batch", "CronJob"): _top(Open(jobTemplate=Closed(metadata=OBJECT_META, spec=WORKLOAD_SPEC))),
    ("networking.k8s.io", "NetworkPolicy"): NETWORK_POLICY,
    ("policy.networking.k8s.io", "AdminNetworkPolicy"): _anp(priority=True),
    ("policy.networking.k8s.io", "BaselineAdminNetworkPolicy"): _anp(priority=False),
    **{(group, kind): schema for group in ("projectcalico.org", "crd.projectcalico.org")
       for kind, schema in CALICO.items()},
}


def check(f: Fields, schema: Schema, path: FieldPath = ()) -> bool:
    """Record an error for every unknown field under `path`; True when there is none."""
    value = f.raw(path)
    if isinstance(schema, list) and isinstance(value, list):
        return all([check(f, schema[0], path + (i,)) for i in range(len(value))])
    if not isinstance(schema, Level) or not isinstance(value, dict):
        return True
    ok = True
    known = schema.fields
    for key in value:
        if key in known:
            ok = check(f, known[key], path + (key,)) and ok
        elif schema.closed:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            f.errors.append(f.doc.error(path + (key,), f"unknown field {show(key)} ({hint})"))
            ok = False
    return ok
