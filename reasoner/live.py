"""Reading a running cluster (read-only) with the official Kubernetes Python client, and snapshots of it.

Every kind the engine models is listed with one GET per kind (`list` calls only; nothing is written): core
Namespaces, Pods, Services and ServiceAccounts, NetworkPolicies, the Calico resources through their CRDs
(`crd.projectcalico.org/v1`), and AdminNetworkPolicies. A kind the cluster does not serve (its CRD is not
installed: 404) is skipped with a warning; an unreachable cluster or a refused request is an error.
`reasoner snapshot` writes what was read as one YAML file per kind, which every command reads offline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reasoner.errors import UsageError
from reasoner.manifests.load import Document


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def path(self) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        return f"{base}/{self.plural}"


KINDS = (
    Kind("v1", "Namespace", "namespaces", False),
    Kind("v1", "Pod", "pods", True),
    Kind("v1", "Service", "services", True),
    Kind("v1", "ServiceAccount", "serviceaccounts", True),
    Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", True),
    Kind("crd.projectcalico.org/v1", "Tier", "tiers", False),
    Kind("crd.projectcalico.org/v1", "NetworkPolicy", "networkpolicies", True),
    Kind("crd.projectcalico.org/v1", "GlobalNetworkPolicy", "globalnetworkpolicies", False),
    Kind("crd.projectcalico.org/v1", "NetworkSet", "networksets", True),
    Kind("crd.projectcalico.org/v1", "GlobalNetworkSet", "globalnetworksets", False),
    Kind("crd.projectcalico.org/v1", "HostEndpoint", "hostendpoints", False),
    Kind("crd.projectcalico.org/v1", "Profile", "profiles", False),
    Kind("crd.projectcalico.org/v1", "IPPool", "ippools", False),
    Kind("crd.projectcalico.org/v1", "FelixConfiguration", "felixconfigurations", False),
    Kind("policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicy", "adminnetworkpolicies", False),
    Kind("policy.networking.k8s.io/v1alpha1", "BaselineAdminNetworkPolicy", "baselineadminnetworkpolicies", False),
)
# Fields that only a live object has and that no policy question needs.
_DROP_META = ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink",
              "ownerReferences")


# Set by `reasoner --kubeconfig/--context`; `cluster:` inputs without a context of their own use them.
SETTINGS: dict[str, str | None] = {"kubeconfig": None, "context": None}


def is_cluster(path: str) -> bool:
    return path == "cluster:" or path.startswith("cluster:")


def read_token(path: str) -> "Reading":
    """`cluster:` (the current context, or --context) or `cluster:CONTEXT`."""
    context = path.split(":", 1)[1] or SETTINGS["context"]
    return read_cluster(SETTINGS["kubeconfig"], context)


@dataclass
class Reading:
    source: str  # "cluster <context>"
    objects: dict[Kind, list[dict]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # kinds the cluster does not serve


def _client(kubeconfig: str | None, context: str | None):
    try:
        from kubernetes import client, config
        from kubernetes.config.config_exception import ConfigException
    except ImportError:
        raise UsageError("reading a live cluster needs the Kubernetes client: pip install 'reasoner[live]'") from None
    try:
        api = config.new_client_from_config(config_file=kubeconfig, context=context)
    except ConfigException as exc:
        raise UsageError(f"kubeconfig: {exc}") from None
    except OSError as exc:
        raise UsageError(f"kubeconfig: cannot read {kubeconfig or '~/.kube/config'}: {exc}") from None
    return api, client


def read_cluster(kubeconfig: str | None = None, context: str | None = None, timeout: float = 20.0) -> Reading:
    """List every modeled kind. Raises UsageError when the cluster cannot be read."""
    api, client = _client(kubeconfig, context)
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    host = api.configuration.host
    reading = Reading(f"cluster {context or host}")
    core, net, custom = client.CoreV1Api(api), client.NetworkingV1Api(api), client.CustomObjectsApi(api)
    lists = {"namespaces": core.list_namespace, "pods": core.list_pod_for_all_namespaces,
             "services": core.list_service_for_all_namespaces,
             "serviceaccounts": core.list_service_account_for_all_namespaces}
    for kind in KINDS:
        try:
            if kind.api_version == "v1":
                data = json.loads(lists[kind.plural](_preload_content=False, _request_timeout=timeout).data)
            elif kind.api_version == "networking.k8s.io/v1":
                data = json.loads(net.list_network_policy_for_all_namespaces(
                    _preload_content=False, _request_timeout=timeout).data)
            else:
                group, version = kind.api_version.split("/")
                data = custom.list_cluster_custom_object(group, version, kind.plural, _request_timeout=timeout)
        except ApiException as exc:
            if exc.status == 404:
                reading.skipped.append(f"{kind.kind} ({kind.api_version}): not served by the cluster; skipped")
                continue
            reason = "access denied" if exc.status in (401, 403) else (exc.reason or "error")
            raise UsageError(f"{host}: listing {kind.plural} ({kind.api_version}) failed: HTTP {exc.status} "
                             f"{reason}") from None
        except (HTTPError, OSError) as exc:
            raise UsageError(f"{host}: the cluster is unreachable ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200]})") from None
        except ValueError:
            raise UsageError(f"{host}: listing {kind.plural} returned something that is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise UsageError(f"{host}: listing {kind.plural} returned no list")
        reading.objects[kind] = [_clean(item, kind) for item in data["items"]]
    return reading


def _clean(item: dict, kind: Kind) -> dict:
    """An object as a manifest: apiVersion and kind set (list items omit them), server-side noise dropped."""
    meta = {k: v for k, v in (item.get("metadata") or {}).items() if k not in _DROP_META}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != "kubectl.kubernetes.io/last-applied-configuration"}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta}
    for key in ("spec", "status"):
        if key in item and (key != "status" or kind.kind == "Pod"):
            out[key] = item[key]
    return out


def documents(reading: Reading) -> list[Document]:
    """The objects read, as documents for the usual pipeline (named `cluster <context>:<plural>`)."""
    docs = []
    for kind, items in reading.objects.items():
        for i, item in enumerate(items):
            docs.append(Document(f"{reading.source}:{kind.plural}.{kind.api_version.split('/')[0]}[{i}]", item))
    return docs


def write_snapshot(reading: Reading, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, items in reading.objects.items():
        if not items:
            continue
        group = kind.api_version.split("/")[0].replace(".", "-")
        path = directory / f"{kind.plural}.{group}.yaml"
        header = f"# {kind.kind} ({kind.api_version}) read from {reading.source}\n"
        path.write_text(header + yaml.safe_dump_all(items, sort_keys=False), encoding="utf-8")
        written.append(path)
    return written
