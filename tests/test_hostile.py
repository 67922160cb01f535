"""Hostile and malformed input through every command: each case gives a correct answer (exit 0 or 1) or a clear
error (exit 2 with `error: ` lines naming the file and line), never a traceback, a hang or nonsense accepted.

The cases are generated deterministically from a small valid cluster (a namespace, two pods, a service and one
policy of each kind): every field of every object is replaced in turn by values of the wrong type, out of range
or absurd (in the namespace, pods and service plus that object), and hand-written cases cover the YAML layer
(BOMs, tabs, duplicate keys, aliases, bytes that are not UTF-8), selectors, ports, CIDRs, ICMP, compliance specs
and command-line arguments.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reasoner.cli import main

# ---------------------------------------------------------------------------------------------------- the cluster

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "shop", "labels": {"kubernetes.io/metadata.name": "shop", "team": "store"}}}
WEB = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
       "spec": {"serviceAccountName": "web",
                "containers": [{"name": "web", "image": "web:1",
                                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]},
       "status": {"podIP": "10.0.0.10"}}
DB = {"apiVersion": "v1", "kind": "Pod",
      "metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}},
      "spec": {"containers": [{"name": "db", "image": "db:1",
                               "ports": [{"name": "pg", "containerPort": 5432, "protocol": "TCP"}]}]},
      "status": {"podIP": "10.0.0.20"}}
SERVICE = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "db", "namespace": "shop"},
           "spec": {"selector": {"app": "db"}, "clusterIP": "10.96.0.20",
                    "ports": [{"name": "pg", "port": 5432, "targetPort": "pg", "protocol": "TCP"}]}}
K8S_NP = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "db", "namespace": "shop"},
          "spec": {"podSelector": {"matchLabels": {"app": "db"},
                                   "matchExpressions": [{"key": "app", "operator": "In", "values": ["db"]}]},
                   "policyTypes": ["Ingress", "Egress"],
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}},
                                          "namespaceSelector": {}},
                                         {"ipBlock": {"cidr": "10.1.0.0/16", "except": ["10.1.1.0/24"]}}],
                                "ports": [{"protocol": "TCP", "port": 5432, "endPort": 5433}]}],
                   "egress": [{"to": [{"podSelector": {}}], "ports": [{"protocol": "UDP", "port": "dns"}]}]}}
CALICO_NP = {"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
             "metadata": {"name": "web", "namespace": "shop"},
             "spec": {"order": 100, "selector": "app == 'web'", "types": ["Ingress", "Egress"],
                      "ingress": [{"action": "Allow", "protocol": "TCP",
                                   "source": {"selector": "app == 'db'", "nets": ["10.2.0.0/16"],
                                              "notNets": ["10.2.3.0/24"]},
                                   "destination": {"ports": [80, "8000:8080", "http"]}}],
                      "egress": [{"action": "Deny", "protocol": "ICMP", "icmp": {"type": 8, "code": 0}},
                                 {"action": "Allow", "destination": {"namespaceSelector": "team == 'store'",
                                                                     "serviceAccounts": {"names": ["db"]}}}]}}
GNP = {"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
       "metadata": {"name": "deny-feed"},
       "spec": {"order": 10.5, "namespaceSelector": "all()", "types": ["Egress"],
                "egress": [{"action": "Deny", "protocol": "UDP", "notProtocol": "TCP",
                            "destination": {"selector": "role == 'feed'", "notPorts": [53]}},
                           {"action": "Pass"}]}}
NETWORKSET = {"apiVersion": "projectcalico.org/v3", "kind": "NetworkSet",
              "metadata": {"name": "feed", "namespace": "shop", "labels": {"role": "feed"}},
              "spec": {"nets": ["198.51.100.0/28", "2001:db8::/64"]}}
ANP = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
       "metadata": {"name": "monitoring"},
       "spec": {"priority": 10,
                "subject": {"pods": {"namespaceSelector": {"matchLabels": {"team": "store"}},
                                     "podSelector": {"matchLabels": {"app": "db"}}}},
                "ingress": [{"name": "scrape", "action": "Allow",
                             "from": [{"namespaces": {"matchLabels": {"team": "store"}}}],
                             "ports": [{"portNumber": {"protocol": "TCP", "port": 9090}},
                                       {"namedPort": "pg"},
                                       {"portRange": {"protocol": "UDP", "start": 1000, "end": 2000}}]}],
                "egress": [{"name": "out", "action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}]}}

BASE = [NAMESPACE, WEB, DB, SERVICE, K8S_NP, CALICO_NP, GNP, NETWORKSET, ANP]
LABELS = ["ns", "pod", "pod-db", "svc", "np", "cnp", "gnp", "nset", "anp"]


def dump(docs) -> str:
    return "---\n".join(yaml.safe_dump(doc, sort_keys=False, allow_unicode=False, width=1 << 30) for doc in docs)


# ------------------------------------------------------------------------------------------------------ the cases

@dataclass
class Case:
    id: str
    files: dict[str, bytes] | Callable[[], dict[str, bytes]] = field(default_factory=dict)  # name -> content
    argv: tuple[str, ...] = ()  # arguments after the command, {d} is the input directory, {old} a valid copy
    commands: tuple[str, ...] = ("connectivity",)
    invalid: bool = False  # exit 0 or 1 would be nonsense accepted
    generated: bool = False  # by the field walk


# Hostile values in a fixed order; each field gets a rotating window of them.
LONG = "x" * 100_000


def deep(n: int):
    value: object = "x"
    for _ in range(n):
        value = [value]
    return value


VALUES: list[tuple[str, object]] = [
    ("null", None), ("empty", ""), ("long", LONG), ("neg", -1), ("huge", 2 ** 64), ("float", 1.5),
    ("true", True), ("unicode-digits", "\u0663\u0660"), ("control", "a\x00\x07b"), ("list", ["junk"]),
    ("map", {"a": "b"}), ("emptylist", []), ("emptymap", {}), ("deep", deep(60)), ("zero", 0),
    ("nan", float("nan")), ("listofjunk", [1, None, {"x": []}]), ("fullwidth", "\uff18\uff10"),
]


def wrong_type(orig, new) -> bool:
    """True when `new` is of a type no valid value of a field holding `orig` can have."""
    if new is None or new == "" or new == [] or new == {}:
        return False
    if isinstance(orig, dict):
        return not isinstance(new, dict)
    if isinstance(orig, list):
        return not isinstance(new, list)
    if isinstance(orig, str):
        return isinstance(new, (list, dict, bool))
    if isinstance(orig, bool):
        return not isinstance(new, bool)
    if isinstance(orig, (int, float)):
        return isinstance(new, (list, dict, bool))
    return False


def unread(path) -> bool:
    """A field the engine does not read (a container's name and image): any value is accepted there."""
    return "containers" in path and path[-1] in ("name", "image")


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from paths(sub, (*prefix, index))


def replaced(doc, path, new):
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return doc


def field_cases() -> list[Case]:
    cases = []
    counter = 0
    for index, subject in enumerate(BASE):
        for path in paths(subject):
            if not path or path in (("apiVersion",), ("kind",)) or any(isinstance(p, int) and p > 0 for p in path):
                continue  # the second item of a list is checked as the first is
            orig = subject
            for key in path:
                orig = orig[key]
            for j in range(2):
                name, new = VALUES[(counter * 2 + j) % len(VALUES)]
                dotted = ".".join(str(p) for p in path)

                def files(index=index, subject=subject, path=path, new=new):  # built when the case runs
                    docs = [*BASE[:4], replaced(subject, path, new)] if index >= 4 else \
                        [*BASE[:index], replaced(subject, path, new), *BASE[index + 1:4]]
                    return {"c.yaml": dump(docs).encode()}
                cases.append(Case(f"{LABELS[index]}.{dotted}={name}", files,
                                  invalid=wrong_type(orig, new) and not unread(path), generated=True))
            counter += 1
    return cases


def with_policy(kind_doc: dict, edit) -> bytes:
    doc = copy.deepcopy(kind_doc)
    edit(doc)
    return dump([NAMESPACE, WEB, DB, SERVICE, doc]).encode()


def setter(path, new):
    def edit(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = new
    return edit


def deleter(path):
    def edit(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return edit


VALID = dump(BASE).encode()
CORE = dump([NAMESPACE, WEB, DB, SERVICE])
SMALL = (CORE + "---\n" + dump([K8S_NP])).encode()  # what the specs and the command lines run against


def raw_cases() -> list[Case]:
    pod = dump([WEB])
    c = []

    def add(name, content, invalid=True, **kw):
        c.append(Case(f"raw.{name}", {"c.yaml": content if isinstance(content, bytes) else content.encode()},
                      invalid=invalid, **kw))

    add("empty-file", b"", invalid=False)
    add("dashes-only", b"---\n", invalid=False)
    add("many-dashes", b"---\n---\n---\n...\n", invalid=False)
    add("bom", b"\xef\xbb\xbf" + VALID, invalid=False)
    add("utf16-bom", "\ufeff".encode("utf-16") + VALID.decode().encode("utf-16-le"), invalid=False)
    add("latin1-bytes", VALID.replace(b"app: web", b"app: w\xe9b", 1))
    add("nul-byte", VALID.replace(b"app: web", b"app: w\x00b", 1))
    add("tab-indent", CORE + "---\n" + "apiVersion: v1\nkind: Namespace\nmetadata:\n\tname: x\n")
    add("duplicate-key", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  name: b\n")
    add("duplicate-label", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels:\n"
        "    x: '1'\n    x: '2'\n")
    add("alias-ok", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata: &m\n  name: other\n---\n"
        "apiVersion: v1\nkind: Namespace\nmetadata: *m\n")
    add("alias-undefined", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata: *nope\n")
    add("billion-laughs", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels:\n"
        "    a: &a [x,x,x,x,x,x,x,x,x]\n    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n    f: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n")
    add("recursive-alias", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata: &m\n  name: a\n  self: *m\n")
    add("merge-key", CORE + "---\nbase: &b {apiVersion: v1, kind: Namespace}\n---\n<<: *b\nmetadata: {name: m}\n",
        invalid=False)
    add("json-array-junk", b'[1, "two", null, {"kind": 3}, [[]]]')
    add("json-junk-scalar", b"42", invalid=False)  # no Kubernetes object: skipped with a warning
    add("json-string", b'"apiVersion: v1"', invalid=False)
    add("unknown-kind", CORE + "---\napiVersion: v1\nkind: Frobnicator\nmetadata: {name: x}\n", invalid=False)
    add("kind-missing", CORE + "---\napiVersion: v1\nmetadata: {name: x}\nspec: {}\n")
    add("kind-int", CORE + "---\napiVersion: v1\nkind: 5\nmetadata: {name: x}\n")
    add("metadata-missing", CORE + "---\napiVersion: v1\nkind: Pod\nspec: {containers: []}\n")
    add("metadata-null", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n")
    add("name-missing", CORE + "---\napiVersion: v1\nkind: Pod\nmetadata: {namespace: shop}\nspec: {containers: []}\n")
    add("name-uppercase", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: Shop}\n")
    add("name-slash", CORE + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: a/b, namespace: shop}\n"
        "spec: {containers: []}\n")
    add("list-of-junk", CORE + "---\napiVersion: v1\nkind: List\nitems: [1, two, null]\n")
    add("typed-list-junk", CORE + "---\napiVersion: v1\nkind: PodList\nitems:\n- " + pod.replace("\n", "\n  ")
        + "\n- 7\n")
    add("typed-list-wrong-kind", CORE + "---\napiVersion: v1\nkind: PodList\nitems:\n- {apiVersion: v1, "
        "kind: Namespace, metadata: {name: other}}\n", invalid=False)
    add("list-items-map", CORE + "---\napiVersion: v1\nkind: List\nitems: {a: b}\n")
    add("list-items-null", CORE + "---\napiVersion: v1\nkind: List\nitems:\n", invalid=False)
    add("deep-flow-nesting", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: d, labels: "
        + "[" * 1000 + "]" * 1000 + "}\n")
    add("deep-block-nesting", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: d\n  annotations:\n"
        + "".join("  " * (i + 2) + f"k{i}:\n" for i in range(300)) + "  " * 302 + "x: y\n", invalid=False)
    add("long-line", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + LONG + "\n")
    add("long-label-value", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels: {k: "
        + LONG + "}\n")
    add("control-chars", CORE + '---\napiVersion: v1\nkind: Namespace\nmetadata: {name: "a\\x01b"}\n')
    add("unterminated", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: [\n")
    add("python-tag", CORE + "---\n!!python/object/apply:os.system ['true']\n")
    add("custom-tag", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata: !foo {name: a}\n", invalid=False)
    add("binary-tag", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: !!binary aGVsbG8=}\n")
    add("timestamp-name", CORE + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: 2001-12-14}\n")
    add("crlf", VALID.replace(b"\n", b"\r\n"), invalid=False)
    add("cr-only", VALID.replace(b"\n", b"\r"), invalid=False)
    add("huge-int-order", CORE + "---\n" + dump([{**CALICO_NP, "spec": {**CALICO_NP["spec"],
                                                                         "order": 10 ** 400}}]))
    add("inf-order", CORE + "---\n" + dump([{**CALICO_NP, "spec": {**CALICO_NP["spec"]}}]).replace(
        "order: 100", "order: .inf"))
    add("nan-priority", CORE + "---\n" + dump([ANP]).replace("priority: 10", "priority: .nan"))
    c.append(Case("raw.json-file", {"c.json": json.dumps(BASE).encode()}, invalid=False))
    c.append(Case("raw.json-bad", {"c.json": b'{"apiVersion": "v1", "kind": "Namespace", "metadata": '}, invalid=True))
    c.append(Case("raw.two-files-same-object", {"a.yaml": CORE.encode(), "b.yaml": dump([NAMESPACE]).encode()},
                  invalid=False))
    c.append(Case("raw.no-manifests", {"values.yaml": b"replicas: 3\n"}, invalid=False))
    return c


def policy_cases() -> list[Case]:
    c = []

    def add(name, doc, edit, invalid=True):
        c.append(Case(name, {"c.yaml": with_policy(doc, edit)}, invalid=invalid))

    np_port = ("spec", "ingress", 0, "ports", 0)
    for value, invalid in [(0, True), (65536, True), ("20:30", True), (-80, True), ("", True), ("8080", True),
                           ("http", False), ("a" * 16, True), ("-http", True), (True, True), (80.0, True)]:
        add(f"np.port={value!r}"[:60], K8S_NP, setter((*np_port, "port"), value), invalid)
    add("np.endPort<port", K8S_NP, setter((*np_port, "endPort"), 100))
    add("np.endPort=65536", K8S_NP, setter((*np_port, "endPort"), 65536))
    add("np.endPort-no-port", K8S_NP, deleter((*np_port, "port")))
    for proto, invalid in [("tcp", True), ("Tcp", True), ("SCTP", False), ("ICMP", True), ("6", True), (6, True)]:
        add(f"np.protocol={proto!r}", K8S_NP, setter((*np_port, "protocol"), proto), invalid)
    ipb = ("spec", "ingress", 0, "from", 1, "ipBlock")
    for cidr, invalid in [("10.1.0.0/33", True), ("10.1.0.1/16", False), ("0.0.0.0/0", False), ("::/0", False),
                          ("2001:db8::/129", True), ("10.1.0.0", True), ("300.1.0.0/16", True), ("", True),
                          ("10.1.0.0/016", False), ("010.001.0.0/16", True), ("fe80::1%eth0/64", True),
                          ("\u0661\u0660.1.0.0/16", True)]:
        add(f"np.cidr={cidr!r}", K8S_NP, setter((*ipb, "cidr"), cidr), invalid)
    add("np.except-v6-in-v4", K8S_NP, setter((*ipb, "except"), ["2001:db8::/64"]))
    add("np.except-host-bits", K8S_NP, setter((*ipb, "except"), ["10.1.1.1/24"]), invalid=False)
    sel = ("spec", "podSelector")
    add("np.matchExpressions-operator-lower", K8S_NP, setter((*sel, "matchExpressions", 0, "operator"), "in"))
    add("np.matchExpressions-key-empty", K8S_NP, setter((*sel, "matchExpressions", 0, "key"), ""))
    add("np.matchExpressions-value-list", K8S_NP, setter((*sel, "matchExpressions", 0, "values"), [["db"]]))
    add("np.matchExpressions-value-map", K8S_NP, setter((*sel, "matchExpressions", 0, "values"), [{"a": "b"}]))
    add("np.label-key-bad", K8S_NP, setter((*sel, "matchLabels"), {"a b": "c"}))
    add("np.label-value-long", K8S_NP, setter((*sel, "matchLabels"), {"a": "b" * 64}))
    add("np.label-key-10000", K8S_NP, setter((*sel, "matchLabels"), {f"k{i}": "v" for i in range(10_000)}),
        invalid=False)
    add("np.policyTypes-bad", K8S_NP, setter(("spec", "policyTypes"), ["ingress"]))
    add("np.policyTypes-dup", K8S_NP, setter(("spec", "policyTypes"), ["Ingress", "Ingress"]), invalid=False)
    add("np.spec-missing", K8S_NP, deleter(("spec",)), invalid=False)
    add("np.namespace-missing", K8S_NP, deleter(("metadata", "namespace")), invalid=False)

    cports = ("spec", "ingress", 0, "destination", "ports")
    for value, invalid in [([0], False), ([65536], True), (["30:20"], True), (["20:30:40"], True), (["1:"], True),
                           (["0:10"], False), ([-1], True), (["http:https"], True), (["80-90"], False),
                           (["  80"], True), ([1.5], True), (["\u0668\u0660"], True), ([None], True),
                           ([80] * 1000, False), (["1:65535"], False)]:
        add(f"cnp.ports={str(value)[:30]}", CALICO_NP, setter(cports, value), invalid)
    for proto, invalid in [("tcp", False), ("Tcp", False), ("icmpv6", False), ("UDPLite", False), (256, True),
                           (-1, True), (0, False), ("TCP/80", True), ("", True), ("\u0666", True)]:
        add(f"cnp.protocol={proto!r}", CALICO_NP, setter(("spec", "ingress", 0, "protocol"), proto), invalid)
    icmp = ("spec", "egress", 0, "icmp")
    for value, invalid in [({"type": 300}, True), ({"type": 8, "code": 256}, True), ({"code": 0}, True),
                           ({"type": -1}, True), ({"type": "8"}, True), ({"type": 255}, True)]:
        add(f"cnp.icmp={value}", CALICO_NP, setter(icmp, value), invalid)
    add("cnp.icmp-with-tcp", CALICO_NP, setter(("spec", "egress", 0, "protocol"), "TCP"))
    add("cnp.ports-without-protocol", CALICO_NP, deleter(("spec", "ingress", 0, "protocol")))
    add("cnp.ports-with-udp-named", CALICO_NP, setter(("spec", "ingress", 0, "protocol"), "ICMP"))
    for net, invalid in [("10.2.0.1/16", False), ("::/0", False), ("0.0.0.0/0", False), ("10.2.0.0/40", True),
                         ("nonsense", True), ("10.2.0.0/-1", True)]:
        add(f"cnp.nets={net!r}", CALICO_NP, setter(("spec", "ingress", 0, "source", "nets"), [net]), invalid)
    for action, invalid in [("allow", True), ("Log", False), ("Drop", True), ("", True)]:
        add(f"cnp.action={action!r}", CALICO_NP, setter(("spec", "ingress", 0, "action"), action), invalid)
    selectors = [
        ("unclosed-quote", "app == 'web", True), ("bad-op", "app === 'web'", True), ("empty-parens", "()", True),
        ("trailing-and", "app == 'web' &&", True), ("has-typo", "hass(app)", True), ("bare-word", "web", True),
        ("10000-terms", " || ".join(f"app == 'v{i}'" for i in range(10_000)), False),
        ("1000-parens", "(" * 1000 + "all()" + ")" * 1000, False),
        ("1000-unbalanced", "(" * 1000 + "all()", True), ("nul", "app == 'w\x00b'", False),
        ("unicode-key", "\u00e4pp == 'web'", True), ("in-empty", "app in {}", False),
        ("not-not", "!!has(app)", False), ("long-value", "app == '" + "v" * 100_000 + "'", False),
        ("double-quote-mix", "app == \"web'", True), ("global-in-selector", "global()", True),
    ]
    for name, text, invalid in selectors:
        add(f"cnp.selector.{name}", CALICO_NP, setter(("spec", "selector"), text), invalid)
    add("gnp.namespaceSelector.syntax", GNP, setter(("spec", "namespaceSelector"), "team = 'x'"))
    add("gnp.types-bad", GNP, setter(("spec", "types"), ["egress"]))
    add("gnp.order-string", GNP, setter(("spec", "order"), "first"))
    add("gnp.order-negative", GNP, setter(("spec", "order"), -5), invalid=False)
    add("gnp.tier-unknown", GNP, setter(("spec", "tier"), "nosuch"))
    add("gnp.name-tier-mismatch", GNP, setter(("spec", "tier"), "default"), invalid=False)
    add("gnp.doNotTrack-and-preDNAT", GNP, setter(("spec", "doNotTrack"), "yes"))
    add("nset.nets-v6-host-bits", NETWORKSET, setter(("spec", "nets"), ["2001:db8::1/64"]), invalid=False)
    add("nset.nets-bad", NETWORKSET, setter(("spec", "nets"), ["2001:db8:::/64"]))
    add("nset.nets-10000", NETWORKSET, setter(("spec", "nets"), [f"10.{i // 250}.{i % 250}.0/24"
                                                                 for i in range(10_000)]), invalid=False)
    for port, invalid in [({"portNumber": {"protocol": "TCP", "port": 0}}, True),
                          ({"portNumber": {"protocol": "tcp", "port": 80}}, True),
                          ({"portNumber": {"port": 80}}, False),
                          ({"portRange": {"protocol": "TCP", "start": 200, "end": 100}}, True),
                          ({"portRange": {"protocol": "TCP", "start": 1, "end": 65536}}, True),
                          ({"namedPort": ""}, True), ({"namedPort": 80}, True),
                          ({"portNumber": {"protocol": "TCP", "port": 80}, "namedPort": "pg"}, True), ({}, True)]:
        add(f"anp.port={json.dumps(port)}"[:70], ANP, setter(("spec", "ingress", 0, "ports", 0), port), invalid)
    add("anp.priority=1001", ANP, setter(("spec", "priority"), 1001))
    add("anp.priority=-1", ANP, setter(("spec", "priority"), -1))
    add("anp.action-Pass-lower", ANP, setter(("spec", "ingress", 0, "action"), "pass"))
    add("anp.subject-both", ANP, setter(("spec", "subject", "namespaces"), {}))
    add("anp.subject-none", ANP, setter(("spec", "subject"), {}))
    add("anp.networks-in-ingress", ANP, setter(("spec", "ingress", 0, "from", 0), {"networks": ["10.0.0.0/8"]}),
        invalid=False)  # fails closed, with a warning
    add("anp.networks-bad", ANP, setter(("spec", "egress", 0, "to", 0, "networks"), ["10.0.0.0/99"]))
    add("anp.rule-name-long", ANP, setter(("spec", "ingress", 0, "name"), "r" * 200))
    add("anp.101-rules", ANP, setter(("spec", "ingress"), [copy.deepcopy(ANP["spec"]["ingress"][0])] * 101))
    svcp = ("spec", "ports", 0)
    for key, value, invalid in [("port", 0, True), ("port", 65536, True), ("targetPort", 0, True),
                                ("targetPort", "Bad_Name", True), ("protocol", "tcp", True), ("nodePort", 70000, True),
                                ("port", "5432", True)]:
        c.append(Case(f"svc.{key}={value!r}", {"c.yaml": dump([NAMESPACE, WEB, DB, replaced(
            SERVICE, (*svcp, key), value)]).encode()}, invalid=invalid))
    for key, value, invalid in [("clusterIP", "10.96.0.300", True), ("clusterIP", "None", False),
                                ("clusterIP", "2001:db8::1", False), ("selector", {"app": 5}, True)]:
        c.append(Case(f"svc.{key}={value!r}", {"c.yaml": dump([NAMESPACE, WEB, DB, replaced(
            SERVICE, ("spec", key), value)]).encode()}, invalid=invalid))
    podc = ("spec", "containers", 0, "ports", 0)
    for key, value, invalid in [("containerPort", 0, True), ("containerPort", 65536, True), ("name", "HTTP", True),
                                ("name", "a" * 16, True), ("protocol", "udp", True), ("hostPort", -1, False)]:
        c.append(Case(f"pod.port.{key}={value!r}", {"c.yaml": dump([NAMESPACE, replaced(WEB, (*podc, key), value),
                                                                   DB, SERVICE]).encode()}, invalid=invalid))
    for ip, invalid in [("10.0.0.300", True), ("10.0.0.10/24", True), ("::ffff:10.0.0.10", False), ("", False),
                        ("fe80::1%eth0", False)]:
        c.append(Case(f"pod.podIP={ip!r}", {"c.yaml": dump([NAMESPACE, replaced(WEB, ("status", "podIP"), ip), DB,
                                                            SERVICE]).encode()}, invalid=invalid))
    c.append(Case("pod.duplicate", {"c.yaml": dump([NAMESPACE, WEB, WEB, DB]).encode()}, invalid=True))
    c.append(Case("pod.same-ip", {"c.yaml": dump([NAMESPACE, WEB, replaced(DB, ("status", "podIP"), "10.0.0.10")
                                                  ]).encode()}, invalid=False))
    c.append(Case("pod.label-value-bool", {"c.yaml": dump([NAMESPACE, replaced(WEB, ("metadata", "labels", "app"),
                                                                               True), DB]).encode()}, invalid=True))
    c.append(Case("ns.name-253", {"c.yaml": dump([replaced(NAMESPACE, ("metadata", "name"), "n" * 254), WEB]
                                                 ).encode()}, invalid=True))
    return c


SPEC_HEAD = "apiVersion: reasoner/v1\nkind: ComplianceSpec\nrequirements:\n"


def spec_cases() -> list[Case]:
    specs = [
        ("ok", SPEC_HEAD + "- id: a\n  deny: {from: {selector: \"app == 'web'\"}, to: {selector: \"app == 'db'\"}}\n",
         False),
        ("id-missing", SPEC_HEAD + "- deny: {from: {namespace: shop}}\n", True),
        ("id-int", SPEC_HEAD + "- id: 5\n  deny: {from: {namespace: shop}}\n", True),
        ("id-empty", SPEC_HEAD + "- id: ''\n  deny: {from: {namespace: shop}}\n", True),
        ("id-dup", SPEC_HEAD + "- id: a\n  deny: {from: {namespace: shop}}\n- id: a\n  deny: {to: {namespace: shop}}\n",
         True),
        ("id-newline", SPEC_HEAD + "- id: \"a\\nb\"\n  deny: {from: {namespace: shop}}\n", False),
        ("unknown-key", SPEC_HEAD + "- id: a\n  deny: {from: {namespace: shop}}\n  colour: red\n", True),
        ("unknown-peer-key", SPEC_HEAD + "- id: a\n  deny: {from: {namespce: shop}}\n", True),
        ("two-kinds", SPEC_HEAD + "- id: a\n  deny: {from: {namespace: shop}}\n  allow: {to: {namespace: shop}}\n",
         True),
        ("no-kind", SPEC_HEAD + "- id: a\n", True),
        ("bad-port", SPEC_HEAD + "- id: a\n  deny: {ports: [\"TCP/70000\"]}\n", True),
        ("bad-port-range", SPEC_HEAD + "- id: a\n  deny: {ports: [\"TCP/90-80\"]}\n", True),
        ("bad-proto", SPEC_HEAD + "- id: a\n  deny: {ports: [\"TCPX/80\"]}\n", True),
        ("port-int", SPEC_HEAD + "- id: a\n  deny: {ports: [80]}\n", True),  # TCP/80 or protocol 80? refused
        ("port-unicode", SPEC_HEAD + "- id: a\n  deny: {ports: [\"TCP/\u0668\u0660\"]}\n", True),
        ("proto-300", SPEC_HEAD + "- id: a\n  deny: {ports: [\"300\"]}\n", True),
        ("selector-typo", SPEC_HEAD + "- id: a\n  deny: {from: {selector: \"app = 'web'\"}}\n", True),
        ("selector-unclosed", SPEC_HEAD + "- id: a\n  deny: {from: {selector: \"app == 'web\"}}\n", True),
        ("selector-int", SPEC_HEAD + "- id: a\n  deny: {from: {selector: 5}}\n", True),
        ("cidr-bad", SPEC_HEAD + "- id: a\n  deny: {to: {cidr: [\"10.0.0.0/40\"]}}\n", True),
        ("cidr-string", SPEC_HEAD + "- id: a\n  deny: {to: {cidr: \"10.0.0.0/8\"}}\n", False),
        ("pods-bad", SPEC_HEAD + "- id: a\n  deny: {to: {pods: [\"noslash\"]}}\n", False),
        ("service-bad", SPEC_HEAD + "- id: a\n  deny: {to: {service: \"a/b/c\"}}\n", True),
        ("directions-bad", SPEC_HEAD + "- id: a\n  isolated: {selector: all(), directions: [inbound]}\n", True),
        ("directions-string", SPEC_HEAD + "- id: a\n  isolated: {selector: all(), directions: ingress}\n", True),
        ("scope-bad", "apiVersion: reasoner/v1\nkind: ComplianceSpec\nscope: everything\nrequirements: []\n", True),
        ("kind-bad", "apiVersion: reasoner/v1\nkind: NetworkPolicy\nrequirements: []\n", True),
        ("requirements-map", "apiVersion: reasoner/v1\nkind: ComplianceSpec\nrequirements: {a: b}\n", True),
        ("requirements-missing", "apiVersion: reasoner/v1\nkind: ComplianceSpec\n", True),
        ("podCIDRs-bad", "apiVersion: reasoner/v1\nkind: ComplianceSpec\npodCIDRs: [bogus]\nrequirements: []\n",
         True),
        ("empty", "", True),
        ("junk-list", "[1, 2, 3]\n", True),
        ("bytes", "\xff\xfe", True),
        ("deep", SPEC_HEAD + "- id: a\n  deny: {from: " + "[" * 500 + "]" * 500 + "}\n", True),
    ]
    cases = []
    for name, text, invalid in specs:
        data = text.encode("latin-1") if name == "bytes" else text.encode()
        cases.append(Case(f"spec.{name}", {"c.yaml": SMALL, "../spec.yaml": data},
                          argv=("--spec", "{d}/../spec.yaml", "{d}"), commands=("prove",), invalid=invalid))
    return cases


def argv_cases() -> list[Case]:
    files = {"c.yaml": SMALL}
    argvs = [
        ("can.unknown-src", "can", ("nosuch/pod", "shop/db", "-f", "{d}"), True),
        ("can.unknown-dst-svc", "can", ("shop/web", "svc:shop/nosuch", "-f", "{d}"), True),
        ("can.empty-src", "can", ("", "shop/db", "-f", "{d}"), True),
        ("can.bad-ip", "can", ("shop/web", "ip:10.0.0.300", "-f", "{d}"), True),
        ("can.bad-cidr", "can", ("shop/web", "cidr:10.0.0.0/99", "-f", "{d}"), True),
        ("can.port-0", "can", ("shop/web", "shop/db", "--port", "0", "-f", "{d}"), True),
        ("can.port-65536", "can", ("shop/web", "shop/db", "--port", "65536", "-f", "{d}"), True),
        ("can.port-neg", "can", ("shop/web", "shop/db", "--port", "-1", "-f", "{d}"), True),
        ("can.port-word", "can", ("shop/web", "shop/db", "--port", "http", "-f", "{d}"), True),
        ("can.port-huge", "can", ("shop/web", "shop/db", "--port", str(2 ** 70), "-f", "{d}"), True),
        ("can.port-unicode", "can", ("shop/web", "shop/db", "--port", "\u0668\u0660", "-f", "{d}"), True),
        ("can.protocol-bad", "can", ("shop/web", "shop/db", "--port", "80", "--protocol", "TPC", "-f", "{d}"), True),
        ("can.protocol-300", "can", ("shop/web", "shop/db", "--protocol", "300", "-f", "{d}"), True),
        ("can.protocol-lower", "can", ("shop/web", "shop/db", "--port", "80", "--protocol", "udp", "-f", "{d}"),
         False),
        ("can.icmp-type-300", "can", ("shop/web", "shop/db", "--protocol", "ICMP", "--icmp-type", "300", "-f", "{d}"),
         True),
        ("can.icmp-code-no-type", "can", ("shop/web", "shop/db", "--protocol", "ICMP", "--icmp-code", "1", "-f",
                                          "{d}"), True),
        ("can.icmp-type-tcp", "can", ("shop/web", "shop/db", "--protocol", "TCP", "--icmp-type", "3", "-f", "{d}"),
         True),
        ("can.port-icmp", "can", ("shop/web", "shop/db", "--protocol", "ICMP", "--port", "80", "-f", "{d}"), True),
        ("can.port-47", "can", ("shop/web", "shop/db", "--protocol", "47", "--port", "80", "-f", "{d}"), True),
        ("can.missing-file", "can", ("shop/web", "shop/db", "-f", "{d}/nosuch.yaml"), True),
        ("can.control-name", "can", ("shop/w\x1b[31meb", "shop/db", "-f", "{d}"), True),
        ("can.long-name", "can", ("shop/" + "w" * 100_000, "shop/db", "-f", "{d}"), True),
        ("prove.timeout-nan", "prove", ("--check", "default-deny", "--timeout", "nan", "{d}"), True),
        ("prove.timeout-inf", "prove", ("--check", "default-deny", "--timeout", "inf", "{d}"), True),
        ("prove.timeout-0", "prove", ("--check", "default-deny", "--timeout", "0", "{d}"), True),
        ("prove.timeout-neg", "prove", ("--check", "default-deny", "--timeout", "-1", "{d}"), True),
        ("prove.budget-nan", "prove", ("--check", "default-deny", "--scope", "any-workload", "--budget", "nan",
                                       "{d}"), True),
        ("prove.no-spec-no-check", "prove", ("{d}",), True),
        ("prove.spec-and-check", "prove", ("--spec", "{d}/c.yaml", "--check", "default-deny", "{d}"), True),
        ("prove.isolation-no-namespace", "prove", ("--check", "isolation", "{d}"), True),
        ("prove.isolation-bad-namespace", "prove", ("--check", "isolation", "--namespace", "Bad NS!", "{d}"), False),
        ("prove.spec-missing", "prove", ("--spec", "{d}/nosuch.yaml", "{d}"), True),
        ("prove.spec-is-dir", "prove", ("--spec", "{d}", "{d}"), True),
        ("prove.spec-is-manifest", "prove", ("--spec", "{d}/c.yaml", "{d}"), True),
        ("lint.budget-nan", "lint", ("--scope", "any-workload", "--budget", "nan", "{d}"), True),
        ("lint.budget-neg", "lint", ("--scope", "any-workload", "--budget", "-5", "{d}"), True),
        ("lint.budget-zero", "lint", ("--scope", "any-workload", "--budget", "0", "{d}"), True),
        ("diff.budget-inf", "diff", ("--scope", "any-workload", "--budget", "inf", "{old}", "{d}"), True),
        ("diff.bad-git", "diff", ("git:no-such-rev-xyz:deploy/", "{d}"), True),
        ("diff.git-colon-only", "diff", ("git:", "{d}"), True),
        ("diff.inventory-missing", "diff", ("--inventory", "{d}/nosuch", "{old}", "{d}"), True),
        ("facts.relation-unknown", "facts", ("-r", "nosuch", "{d}"), True),
        ("facts.relation-injection", "facts", ("-r", "allowed(X) <= applies(X)", "{d}"), True),
        ("facts.relation-empty", "facts", ("-r", "", "{d}"), True),
        ("connectivity.exclude-all", "connectivity", ("--exclude", "*", "{d}"), False),
        ("connectivity.exclude-bad-glob", "connectivity", ("--exclude", "[", "{d}"), False),
        ("connectivity.dev-null", "connectivity", ("/dev/null",), False),
        ("connectivity.missing", "connectivity", ("{d}/nosuch",), True),
        ("connectivity.cluster-no-live", "connectivity", ("--kubeconfig", "{d}/c.yaml", "cluster:"), True),
        ("connectivity.cluster-bad-context", "connectivity", ("--context", "nosuch", "--kubeconfig", "{d}/c.yaml",
                                                              "cluster:nosuch"), True),
        ("snapshot.into-file", "snapshot", ("{d}/c.yaml",), True),
        ("snapshot.bad-kubeconfig", "snapshot", ("--kubeconfig", "{d}/c.yaml", "{d}/out"), True),
        ("snapshot.missing-kubeconfig", "snapshot", ("--kubeconfig", "{d}/nosuch", "{d}/out"), True),
    ]
    repl = [
        ("repl.can-unknown", "can nosuch/x shop/db", True),
        ("repl.can-bad-port", "can shop/web shop/db 70000/TCP", True),
        ("repl.can-bad-proto", "can shop/web shop/db 80/TPC", True),
        ("repl.can-port-only-slash", "can shop/web shop/db /", True),
        ("repl.can-too-many", "can shop/web shop/db 80/TCP extra", True),
        ("repl.why-missing-dst", "why shop/web", True),
        ("repl.endpoints-bad-selector", "endpoints app = 'web'", True),
        ("repl.endpoints-parens", "endpoints " + "(" * 1000 + "all()" + ")" * 1000, False),
        ("repl.endpoints-10000", "endpoints " + " || ".join(f"app == 'v{i}'" for i in range(10_000)), False),
        ("repl.query-unknown", "?- nosuch(X)", True),
        ("repl.query-injection", "?- applies(X, Y)) + (import os", True),
        ("repl.query-arity", "?- applies(X)", True),
        ("repl.query-unterminated", "?- applies(X, Y", True),
        ("repl.set-bad", "set scope everything", True),
        ("repl.prove-missing", "prove /nonexistent/spec.yaml", True),
        ("repl.load-missing", "load /nonexistent/dir", True),
        ("repl.diff-missing", "diff /nonexistent/dir", True),
        ("repl.unknown-command", "frobnicate", True),
        ("repl.control-chars", "can \x00\x1b[2J shop/db", True),
        ("repl.unbalanced-quote", "endpoints app == 'web", True),
        ("repl.policies-unknown", "policies nosuch/x", True),
        ("repl.help-unknown", "help nosuch", True),
    ]
    cases = [Case(f"argv.{name}", dict(files), argv=argv, commands=(command,), invalid=invalid)
             for name, command, argv, invalid in argvs]
    namespace_list = dump([NAMESPACE, WEB, DB, replaced(SERVICE, ("metadata", "namespace"), ["shop"])]).encode()
    cases += [Case(f"argv.{command}.namespace-list", {"c.yaml": namespace_list}, argv=argv, commands=(command,),
                   invalid=True) for command, argv in [("diff", ("{old}", "{d}")), ("diff", ("{d}", "{old}")),
                                                       ("connectivity", ("{d}",))]]
    cases += [Case(f"argv.{name}", dict(files), argv=("{d}", "-e", line), commands=("repl",), invalid=invalid)
              for name, line, invalid in repl]
    return cases


# Every command on a manifest case: how it is invoked ({d}: the case's directory, {old}: the valid cluster).
COMMANDS = {
    "connectivity": ("connectivity", "{d}"),
    "connectivity-json": ("connectivity", "-o", "json", "{d}"),
    "can": ("can", "shop/web", "shop/db", "--port", "5432", "-f", "{d}"),
    "lint": ("lint", "-o", "json", "{d}"),
    "prove-check": ("prove", "--check", "default-deny", "{d}"),
    "prove-spec": ("prove", "--spec", "{spec}", "{d}"),
    "diff": ("diff", "{old}", "{d}"),
    "facts": ("facts", "-r", "applies", "{d}"),
    "repl": ("repl", "{d}", "-e", "can shop/web shop/db 5432/TCP", "-e", "endpoints all()"),
    "lint-sarif": ("lint", "-o", "sarif", "{d}"),
}


OTHERS = ("can", "lint", "prove-check", "prove-spec", "diff", "facts", "repl", "connectivity-json", "lint-sarif")


def all_cases() -> list[Case]:
    """Each case goes through connectivity and, in turn, other commands: three for each hand-written case that
    must be refused (refusing is quick), one for each other hand-written case and every third generated case."""
    cases = field_cases() + raw_cases() + policy_cases()
    turn = 0
    for index, case in enumerate(cases):
        others = (index % 3 == 0) if case.generated else 3 if case.invalid else 1
        case.commands = ("connectivity", *(OTHERS[(turn + k) % len(OTHERS)] for k in range(others)))
        turn += others
    return cases + spec_cases() + argv_cases()


# Cases that fail today, by cause (each is reported; strict: a fix makes the case pass and the mark must go).
KNOWN = {
}
REASONS = {case_id: reason for reason, ids in KNOWN.items() for case_id in ids}


def param(case: Case, command: str):
    reason = REASONS.get(case.id)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(case, command, id=f"{command}:{case.id}"[:150], marks=marks)


CASES = all_cases()
PARAMS = [param(case, command) for case in CASES for command in case.commands]

SPEC = SPEC_HEAD + "- id: web-not-db\n  deny: {from: {selector: \"app == 'web'\"}, to: {selector: \"app == 'db'\"}}\n"


@pytest.fixture(scope="module")
def valid_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("valid")
    (root / "c.yaml").write_bytes(VALID)
    (root / "spec.yaml").write_text(SPEC)
    return root


def invoke(case: Case, command: str, tmp: Path, valid: Path):
    d = tmp / "in"
    d.mkdir()
    for name, content in (case.files() if callable(case.files) else case.files).items():
        (d / name).write_bytes(content)
    argv = COMMANDS[command] if command in COMMANDS and not case.argv else (command, *case.argv)
    subst = {"d": str(d), "old": str(valid / "c.yaml"), "spec": str(valid / "spec.yaml")}
    for key, value in subst.items():
        argv = [a.replace("{" + key + "}", value) for a in argv]
    return CliRunner().invoke(main, argv, catch_exceptions=True)


def verdict(case: Case, command: str, result) -> str | None:
    """None when the outcome is acceptable, else why not."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        tail = "".join(traceback.format_exception(result.exception)[-3:])
        return f"traceback: {tail}"
    stderr = result.stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    others = [line for line in lines if not line.startswith(("error: ", "warning: ", "  "))]
    if result.exit_code == 2:
        if not errors and not any(line.startswith(("Usage:", "Error: ")) for line in lines):
            return f"exit 2 without an error line: {stderr[:300]!r}"
        if others and not any(line.startswith(("Usage:", "Error: ", "Try ")) for line in lines):
            return f"exit 2 with stray lines: {others[:3]!r}"
        if not case.argv and errors and re.search(r"\.(yaml|json)\b", errors[0]) and not re.search(
                r"\.(yaml|json):\d+: ", errors[0]):
            return f"error names no file:line: {errors[0][:300]!r}"
        return None
    if result.exit_code in (0, 1):
        if errors and command != "repl":
            return f"exit {result.exit_code} with an error line: {errors[0][:200]!r}"
        if others:
            return f"stray stderr: {others[:3]!r}"
        refused = command == "repl" and case.argv and errors  # a scripted command failed; the session went on
        if case.invalid and not refused:
            return f"invalid input accepted (exit {result.exit_code}): {result.stdout[:200]!r}"
        return None
    return f"exit status {result.exit_code}: {stderr[:300]!r}"


@pytest.mark.parametrize("case,command", PARAMS)
def test_hostile_input_is_answered_or_refused_clearly(case, command, valid_dir):
    with tempfile.TemporaryDirectory() as tmp:  # lighter than tmp_path over a thousand cases
        result = invoke(case, command, Path(tmp), valid_dir)
    problem = verdict(case, command, result)
    assert problem is None, problem


def test_a_witness_of_a_protocol_by_number_is_of_that_protocol(tmp_path):
    """`ports: ['47']` speaks of protocol 47 only: the violating flow shown must be of protocol 47."""
    (tmp_path / "c.yaml").write_bytes(SMALL)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC_HEAD + "- id: a\n  deny: {from: {pods: [shop/web]}, ports: ['47']}\n")
    result = CliRunner().invoke(main, ["prove", "-o", "json", "--spec", str(spec), str(tmp_path / "c.yaml")])
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["results"][0]["witness"]["protocol"] == "47"
