"""How a group of endpoints or addresses of a diff is named for a reviewer: `ns/*`, workloads, a label set,
pods, host endpoints, new pods (any-workload) and the fewest CIDR prefixes (`describe`); and as the endpoint names of
the JSON contract (`endpoints`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reasoner.query.addresses import addresses_text, fewest_prefixes, own_addresses

if TYPE_CHECKING:
    from reasoner.diff.compare import DiffResult
    from reasoner.diff.joint import Joint


class _Names:
    """What the endpoints of both versions are called in the new version: their workloads (by ownerReferences,
    `query.endpoints.owner_chain`), their labels, and the endpoints of each namespace and workload."""

    def __init__(self, result: DiffResult):
        from reasoner.query.endpoints import owner_chain

        cluster = result.new.cluster if result.new is not None else None
        self.by_ns = {ns: set(names) for ns, names in result.by_ns.items()}
        self.labels: dict[str, dict[str, str]] = {}
        self.owner: dict[str, str] = {}
        self.owned: dict[str, set[str]] = {}
        self.spare: dict[int, list[tuple[int, int]]] = {}  # the endpoints' own addresses
        for ep in cluster.endpoints if cluster is not None else ():
            if ep.name not in self.by_ns.get(ep.namespace, ()):
                continue
            self.labels[ep.ref] = dict(ep.labels)
            chain = owner_chain(cluster, ep) if ep.kind == "Pod" else []
            if chain:
                kind, name = chain[-1]
                self.owner[ep.ref] = f"{ep.namespace}/{name}[{kind}]"
                self.owned.setdefault(self.owner[ep.ref], set()).add(ep.ref)
        if cluster is not None:
            self.spare = own_addresses(cluster)

    def namespace(self, ns: str, names: set[str]) -> str:
        """Endpoints of one namespace: `ns/*` when they are all of it, else the shortest of their workloads and
        pods, and a label set they are exactly the endpoints of in `ns`."""
        everyone = self.by_ns.get(ns, set())
        if len(names) > 1 and names == everyone:
            return f"{ns}/* ({_pods(len(names))})"
        refs = {f"{ns}/{n}" for n in names}
        workloads = sorted({w for r in refs if (w := self.owner.get(r)) is not None and self.owned[w] <= refs})
        rest = sorted(r.split("/", 1)[1] for r in refs if self.owner.get(r) not in workloads)
        items = workloads + ([f"{ns}/{rest[0]}"] if len(rest) == 1 else [f"{ns}/{{{', '.join(rest)}}}"] if rest else [])
        listed = ", ".join(items)
        if len(workloads) + len(rest) > 4:
            shown = (workloads + [f"{ns}/{r}" for r in rest])[:3]
            listed = f"{', '.join(shown)}, … {len(workloads) + len(rest) - 3} more in {ns}"
        by_labels = self._labels(ns, refs, everyone)
        if by_labels is not None and (len(by_labels) < len(", ".join(items)) or len(items) > 4):
            return by_labels
        return listed

    def _labels(self, ns: str, refs: set[str], everyone: set[str]) -> str | None:
        """`k=v in ns (N pods)`: the fewest labels (one, else all they share) that exactly these endpoints of `ns`
        carry; None when there is none."""
        if len(refs) < 2 or any(r not in self.labels for r in refs):
            return None
        common = set.intersection(*(set(self.labels[r].items()) for r in refs))
        for chosen in [*({kv} for kv in sorted(common)), common]:
            if not chosen:
                continue
            matched = {f"{ns}/{n}" for n in everyone if chosen <= set(self.labels.get(f"{ns}/{n}", {}).items())}
            if matched == refs:
                return f"{','.join(f'{k}={v}' for k, v in sorted(chosen))} in {ns} ({_pods(len(refs))})"
        return None


def _pods(n: int) -> str:
    return f"{n} pod{'s' if n != 1 else ''}"


def describe(group: list[Joint], result: DiffResult) -> str:
    """A set of endpoints or addresses as a reviewer says it (`_Names.namespace`): `ns/*`, workloads
    (`ns/name[Kind]`), `k=v in ns (N pods)`, pods; host endpoints; new pods (any-workload) by namespace and labels;
    addresses as the fewest CIDR prefixes (`addresses_text`, the endpoints' own addresses counting as either)."""
    if result.naming is None:
        result.naming = _Names(result)
    names = result.naming
    new_pods = result.new_pods
    by_ns: dict[str, set[str]] = {}
    kinds: list[str] = []
    hosts: list[str] = []
    for j in group:
        for m in j.members:
            if new_pods and m in new_pods:
                p = new_pods[m]
                labels = ", ".join(f"{k}={v}" for k, v in sorted(p.labels.items())) or "no labels"
                where = f"new namespace {p.namespace}" if p.new_namespace is not None else p.namespace
                text = f"new pods in {where} with {labels}"
                if text not in kinds:
                    kinds.append(text)
                continue
            if m.startswith("hep:"):
                hosts.append(m)
                continue
            ns, name = m.split("/", 1)
            by_ns.setdefault(ns, set()).add(name)
    parts = sorted(set(hosts))
    parts.extend(names.namespace(ns, members) for ns, members in sorted(by_ns.items()))
    if kinds:
        parts.append("; ".join(kinds) if len(kinds) <= 3
                     else f"{'; '.join(kinds[:2])}; … {len(kinds) - 2} more kinds")
    nets = fewest_prefixes(((j.family, j.lo, j.hi) for j in group if j.external), names.spare)
    if nets:
        parts.append(addresses_text(nets))
    return "; ".join(parts)


def _nets(group: list[Joint]) -> list[str]:
    """The addresses of a group, as the fewest CIDR prefixes."""
    return [str(p) for p in fewest_prefixes((j.family, j.lo, j.hi) for j in group if j.external)]


def endpoints(group: list[Joint]) -> list[str]:
    """A group as endpoint names: its endpoints, then its addresses as `cidr:PREFIX`."""
    return [m for j in group for m in j.members] + [f"cidr:{n}" for n in _nets(group)]


__all__ = ["describe", "endpoints"]
