"""The ComplianceSpec (`prove --spec`): requirements over peers and ports, validated with line numbers.

```yaml
apiVersion: reasoner/v1
kind: ComplianceSpec
scope: inventory
requirements:
  - id: dev-cannot-reach-prod
    deny: {from: {namespaceSelector: "env == 'dev'"}, to: {namespaceSelector: "env == 'prod'"}}
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from reasoner.errors import Location, ManifestError, ManifestErrors
from reasoner.manifests.load import parse_text, read_text
from reasoner.model.calico import parse_protocol
from reasoner.model.calico_selector import CalicoSelector, SelectorSyntaxError, parse_selector
from reasoner.model.cidr import Cidr
from reasoner.model.ports import PORTED
from reasoner.properties import SCOPES
from reasoner.sources.fields import Fields, Invalid

KINDS = ("deny", "allow", "only", "isolated")
PEER_KEYS = ("namespace", "namespaceSelector", "selector", "serviceAccount", "pods", "cidr", "nets", "service")


@dataclass(frozen=True)
class Peer:
    """`from`/`to`: every key given must hold; no key (or no peer) means any endpoint or address."""

    namespace: str | None = None
    namespace_selector: CalicoSelector | None = None
    selector: CalicoSelector | None = None
    service_account: str | None = None
    pods: tuple[str, ...] | None = None
    cidrs: tuple[Cidr, ...] | None = None
    service: str | None = None  # NS/NAME: the service's backing pods

    @property
    def any(self) -> bool:
        return self == Peer()

    def __str__(self) -> str:
        parts = []
        if self.namespace is not None:
            parts.append(f"namespace {self.namespace}")
        if self.namespace_selector is not None:
            parts.append(f"namespaces {self.namespace_selector.text}")
        if self.selector is not None:
            parts.append(f"pods {self.selector.text}")
        if self.service_account is not None:
            parts.append(f"service account {self.service_account}")
        if self.pods is not None:
            parts.append(", ".join(self.pods))
        if self.cidrs is not None:
            parts.append(", ".join(str(c) for c in self.cidrs))
        if self.service is not None:
            parts.append(f"the backends of service {self.service}")
        return "; ".join(parts) or "anything"


@dataclass(frozen=True)
class PortRange:
    protocol: str  # TCP, UDP, SCTP, ICMP, ICMPv6, or a number
    lo: int = 0
    hi: int = 65535


@dataclass(frozen=True)
class Requirement:
    id: str
    kind: str
    src: Peer
    dst: Peer
    ports: tuple[PortRange, ...] | None  # None: all traffic
    directions: tuple[str, ...] = ()  # isolated
    selected: Peer = Peer()  # isolated: the endpoints it is about
    file: str = ""
    line: int | None = None
    description: str = ""  # the spec's free text, else what the requirement claims, in words

    def claim(self) -> str:
        """What the requirement claims, in one sentence."""
        if self.description:
            return self.description
        ports = "all traffic" if self.ports is None else ", ".join(
            p.protocol if (p.lo, p.hi) == (0, 65535) else f"{p.protocol}/{p.lo}" + (f"-{p.hi}" if p.hi != p.lo else "")
            for p in self.ports)
        if self.kind == "isolated":
            return f"every endpoint of ({self.selected}) has a policy for {' and '.join(self.directions)} ({ports})"
        src, dst = f"({self.src})", f"({self.dst})"
        return {"deny": f"no flow from {src} to {dst} is allowed ({ports})",
                "allow": f"every flow from {src} to {dst} is allowed ({ports})",
                "only": f"every allowed flow to {dst} comes from {src} ({ports})",
                "only-out": f"every allowed flow from {src} goes to {dst} ({ports})"}[self.kind]


@dataclass
class Spec:
    scope: str
    requirements: list[Requirement] = field(default_factory=list)
    file: str = ""
    pod_cidrs: list[Cidr] | None = None  # any-workload: where new pods get addresses (None: anywhere)

    def pod_selectors(self) -> list[CalicoSelector]:
        """The selectors of the requirements' peers over pods (their namespace selectors read namespaces)."""
        return [p.selector for r in self.requirements for p in (r.src, r.dst, r.selected) if p.selector is not None]


def default_deny() -> Requirement:
    """The built-in check `--check default-deny`: every endpoint isolated in both directions."""
    return Requirement("default-deny", "isolated", Peer(), Peer(), None, ("ingress", "egress"), Peer(), "--check", None)


def _selector(f: Fields, path) -> CalicoSelector:
    text = f.get(path, str, required=True)
    try:
        return parse_selector(text)
    except SelectorSyntaxError as exc:
        raise f.fail(path, f"bad selector {text!r}: column {exc.column}: {exc.message}") from None


def _peer(f: Fields, path) -> Peer:
    if not f.has(path):
        return Peer()
    f.get(path, dict)
    for key in f.raw(path):
        if key not in PEER_KEYS:
            raise f.fail(path + (key,), f"unknown peer field {key!r} (want one of {', '.join(PEER_KEYS)})")
    pods = None
    if f.has(path + ("pods",)):
        pods = tuple(f.get(path + ("pods", i), str, required=True) for i in range(len(f.get(path + ("pods",), list))))
    cidrs = None
    for key in ("cidr", "nets"):
        if f.has(path + (key,)):
            items = f.raw(path + (key,))
            items = items if isinstance(items, list) else [items]
            out = []
            for i, item in enumerate(items):
                try:
                    out.append(Cidr.parse(str(item)))
                except ValueError:
                    raise f.fail(path + (key, i), f"{item!r} is not a CIDR") from None
            cidrs = tuple(out)
    return Peer(f.get(path + ("namespace",), str),
                _selector(f, path + ("namespaceSelector",)) if f.has(path + ("namespaceSelector",)) else None,
                _selector(f, path + ("selector",)) if f.has(path + ("selector",)) else None,
                f.get(path + ("serviceAccount",), str), pods, cidrs, _service(f, path + ("service",)))


def _service(f: Fields, path) -> str | None:
    text = f.get(path, str)
    if text is not None and (text.count("/") != 1 or not all(text.split("/"))):
        raise f.fail(path, f"{text!r}: want NAMESPACE/NAME")
    return text


PORT = re.compile(r"^(?P<proto>[A-Za-z0-9]+)(/(?P<lo>[0-9]+)(-(?P<hi>[0-9]+))?)?$")


def parse_ports(f: Fields, path) -> tuple[PortRange, ...] | None:
    if not f.has(path):
        return None
    out = []
    for i, item in enumerate(f.get(path, list)):
        if isinstance(item, int) and not isinstance(item, bool):  # `ports: [22]` reads like port 22 of TCP: say which
            raise f.fail(path + (i,), f"{item} alone is ambiguous: write TCP/{item} (or UDP/{item}, SCTP/{item}) for a "
                                      f"port, or '{item}' (quoted) for IP protocol {item}")
        m = PORT.match(str(item))
        if not m:
            raise f.fail(path + (i,), f"{item!r} is not a port (want e.g. TCP/5432, TCP/8000-8080, UDP, ICMP)")
        proto = parse_protocol(m["proto"])
        if proto is None:
            raise f.fail(path + (i,), f"unknown protocol {m['proto']!r} (want TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite "
                                      f"or 0-255)")
        if m["lo"] is None:
            out.append(PortRange(proto))
            continue
        if proto not in PORTED:
            raise f.fail(path + (i,), f"{proto} has no ports")
        lo, hi = int(m["lo"]), int(m["hi"] or m["lo"])
        if not (1 <= lo <= hi <= 65535):
            raise f.fail(path + (i,), f"{item!r}: ports are 1-65535, low to high")
        out.append(PortRange(proto, lo, hi))
    return tuple(out)


def load_spec(path: str | Path) -> Spec:
    file = str(path)
    try:
        docs = parse_text(read_text(path), file)
    except ManifestError as exc:
        raise ManifestErrors([exc]) from None
    errors: list[ManifestError] = []
    if len(docs) != 1 or not isinstance(docs[0].data, dict):
        raise ManifestErrors([ManifestError(Location(file, 1), "expected one ComplianceSpec document")])
    doc = docs[0]
    f = Fields(doc, errors)
    spec = Spec("inventory", file=file)
    try:
        if f.get(("kind",), str) != "ComplianceSpec":
            raise f.fail(("kind",), "expected kind: ComplianceSpec")
        spec.scope = f.get(("scope",), str, "inventory")
        if spec.scope not in SCOPES:
            raise f.fail(("scope",), f"unknown scope {spec.scope!r} (want inventory or any-workload)")
        if f.has(("podCIDRs",)):
            spec.pod_cidrs = []
            for i, item in enumerate(f.get(("podCIDRs",), list)):
                try:
                    spec.pod_cidrs.append(Cidr.parse(str(item)))
                except ValueError:
                    raise f.fail(("podCIDRs", i), f"{item!r} is not a CIDR") from None
        for key in f.raw(()):
            if key not in ("apiVersion", "kind", "metadata", "scope", "podCIDRs", "requirements"):
                raise f.fail((key,), f"unknown field {key!r} (want apiVersion, kind, scope, podCIDRs, requirements)")
        seen: set[str] = set()
        for i, _ in enumerate(f.get(("requirements",), list, required=True)):
            at = ("requirements", i)
            try:
                spec.requirements.append(_requirement(f, at, seen))
            except Invalid:
                continue
    except Invalid:
        pass
    if errors:
        raise ManifestErrors(errors)
    return spec


def _requirement(f: Fields, at, seen: set[str]) -> Requirement:
    f.get(at, dict, required=True)
    rid = f.get(at + ("id",), str, required=True)
    if not rid:
        raise f.fail(at + ("id",), "expected a requirement id, got an empty string")
    if rid in seen:
        raise f.fail(at + ("id",), f"duplicate requirement id {rid!r}")
    seen.add(rid)
    kinds = [k for k in f.raw(at) if k not in ("id", "description")]
    if len(kinds) != 1 or kinds[0] not in KINDS:
        raise f.fail(at, f"expected one requirement kind ({', '.join(KINDS)}), got {', '.join(map(str, kinds)) or 'none'}")
    kind = kinds[0]
    body = at + (kind,)
    f.get(body, dict, required=True)
    line = f.doc.line(at)
    description = f.get(at + ("description",), str, "")
    if kind == "isolated":
        dirs = f.get(body + ("directions",), list, ["ingress", "egress"])
        for j, d in enumerate(dirs):
            if d not in ("ingress", "egress"):
                raise f.fail(body + ("directions", j), f"unknown direction {d!r} (want ingress or egress)")
        selected = Peer(selector=_selector(f, body + ("selector",))) if f.has(body + ("selector",)) else Peer()
        sel_ns = f.get(body + ("namespace",), str)
        if sel_ns is not None:
            selected = Peer(namespace=sel_ns, selector=selected.selector)
        return Requirement(rid, kind, Peer(), Peer(), parse_ports(f, body + ("ports",)), tuple(dirs), selected,
                           f.doc.file, line, description)
    for key in f.raw(body):
        if key not in ("from", "to", "ports"):
            raise f.fail(body + (key,), f"unknown field {key!r} (want from, to, ports)")
    return Requirement(rid, kind, _peer(f, body + ("from",)), _peer(f, body + ("to",)),
                       parse_ports(f, body + ("ports",)), file=f.doc.file, line=line, description=description)
