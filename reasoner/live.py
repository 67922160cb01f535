"""Reading a running cluster (read-only) with the official Kubernetes Python client, and snapshots of it.

Every kind the engine models is listed with one GET per kind (`list` calls only; nothing is written): core
Namespaces, Pods, Services and ServiceAccounts, NetworkPolicies, the Calico resources through their CRDs
(`crd.projectcalico.org/v1`), and AdminNetworkPolicies. A kind the cluster does not serve (its CRD is not
installed: 404) is skipped with a warning; an unreachable cluster or a refused request is an error.
`reasoner snapshot` writes what was read as one YAML file per kind, which every command reads offline.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reasoner.errors import UsageError
from reasoner.manifests.load import Document, parse_text, read_text


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
    Kind("crd.projectcalico.org/v1", "StagedNetworkPolicy", "stagednetworkpolicies", True),
    Kind("crd.projectcalico.org/v1", "StagedGlobalNetworkPolicy", "stagedglobalnetworkpolicies", False),
    Kind("crd.projectcalico.org/v1", "StagedKubernetesNetworkPolicy", "stagedkubernetesnetworkpolicies", True),
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
# Seconds to wait for the API server to accept the connection, then for each answer; `REASONER_KUBE_TIMEOUT`
# ("READ" or "CONNECT,READ") overrides them. A request that times out is not retried.
TIMEOUT = (10.0, 60.0)
TIMEOUT_VARIABLE = "REASONER_KUBE_TIMEOUT"


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
    for file in (kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config").split(os.pathsep):
        file = os.path.expanduser(file)
        if file and os.path.isfile(file):  # read as manifests are: text that is not UTF-8 or YAML is an error
            docs = parse_text(read_text(file), file)
            if docs and (len(docs) > 1 or docs[0].prefix or not isinstance(docs[0].data, dict)):
                raise UsageError(f"kubeconfig {file}: expected one mapping (apiVersion: v1, kind: Config, "
                                 "clusters, users, contexts)")
    settings = type.__call__(client.Configuration)  # a fresh one, not a copy of the process-wide default
    try:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=settings)
    except ConfigException as exc:
        raise UsageError(f"kubeconfig: {_first_line(exc)}") from None
    except OSError as exc:
        raise UsageError(f"kubeconfig: cannot read {kubeconfig or '~/.kube/config'}: {exc}") from None
    except (TypeError, AttributeError, KeyError, IndexError, ValueError) as exc:  # a field of the wrong shape
        raise UsageError(f"kubeconfig: not a valid kubeconfig ({type(exc).__name__}: {_first_line(exc)})") from None
    settings.retries = 0
    return client.ApiClient(configuration=settings), client


def _first_line(exc: Exception) -> str:
    lines = str(exc).splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def timeouts() -> tuple[float, float]:
    """(connect, read) seconds: `TIMEOUT`, or as `REASONER_KUBE_TIMEOUT` sets them."""
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return TIMEOUT
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(0 < v < float("inf") for v in values):
        raise UsageError(f"{TIMEOUT_VARIABLE}={text!r}: expected READ or CONNECT,READ seconds (e.g. 10,60)")
    return (values[0], values[-1]) if len(values) == 2 else (TIMEOUT[0], values[0])


def read_cluster(kubeconfig: str | None = None, context: str | None = None) -> Reading:
    """List every modeled kind. Raises UsageError when the cluster cannot be read."""
    timeout = timeouts()
    api, client = _client(kubeconfig, context)
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import ConnectTimeoutError, HTTPError, MaxRetryError, NewConnectionError, ReadTimeoutError

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
            cause = exc.reason if isinstance(exc, MaxRetryError) else exc
            if isinstance(cause, ConnectTimeoutError) and not isinstance(cause, NewConnectionError):  # its subclass
                raise UsageError(f"{host}: the cluster did not accept the connection within {timeout[0]:g} s "
                                 f"(set {TIMEOUT_VARIABLE}=CONNECT,READ seconds to wait longer)") from None
            if isinstance(cause, ReadTimeoutError):
                raise UsageError(f"{host}: listing {kind.plural} ({kind.api_version}) got no answer within "
                                 f"{timeout[1]:g} s (set {TIMEOUT_VARIABLE}=CONNECT,READ seconds to wait longer)"
                                 ) from None
            raise UsageError(f"{host}: the cluster is unreachable ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200]})") from None
        except ValueError:
            raise UsageError(f"{host}: listing {kind.plural} returned something that is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise UsageError(f"{host}: listing {kind.plural} returned no list")
        for i, item in enumerate(data["items"]):
            if not isinstance(item, dict):
                raise UsageError(f"{host}: listing {kind.plural} ({kind.api_version}) returned item {i} that is "
                                 "not an object")
        reading.objects[kind] = [_clean(item, kind) for item in data["items"]]
    return reading


def _clean(item: dict, kind: Kind) -> dict:
    """An object as a manifest: apiVersion and kind set (list items omit them), server-side noise dropped.
    Fields of the wrong type are kept as they are, for the usual checks to report."""
    meta = item.get("metadata") or {}
    if isinstance(meta, dict):
        meta = {k: v for k, v in meta.items() if k not in _DROP_META}
        annotations = meta.get("annotations") or {}
        if isinstance(annotations, dict):
            annotations = {k: v for k, v in annotations.items()
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
