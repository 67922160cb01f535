"""What a question about one flow answers: the endpoints as resolved (`Target`), each end's chain (`Side`: the
policies that isolate it, the rules that admit the flow, the steps of an ordered evaluation), and the `Verdict`.
Values only: reasoner/report/can.py renders them."""

from __future__ import annotations

from dataclasses import dataclass, field

from reasoner.facts.classes import EndpointClass
from reasoner.model.policy import NetworkPolicy
from reasoner.model.ports import ports_json
from reasoner.results import RuleRef


@dataclass(frozen=True)
class Target:
    """A resolved query endpoint: its display name and its class."""

    name: str
    cls: EndpointClass


@dataclass(frozen=True)
class Step:
    """One step of an ordered evaluation: a tier and what it did (a rule's action, its default, or a Pass)."""

    tier: str
    action: str  # Allow, Deny, Pass, or Log (a Log rule that matched and let evaluation go on)
    rule: RuleRef | None  # None: the tier's defaultAction (end of tier), or the profile
    note: str = ""

    def to_json(self) -> dict:
        out = {"tier": self.tier, "action": self.action, "note": self.note}
        if self.rule is not None:
            out.update(self.rule.to_json())
        return out

    def __str__(self) -> str:
        where = str(self.rule) if self.rule is not None else self.note
        return f"tier {self.tier}: {self.action}  {where}"


@dataclass
class Side:
    """One end of the flow: egress at the source or ingress at the destination."""

    direction: str
    endpoint: str
    isolating: list[NetworkPolicy] = field(default_factory=list)
    allowing: list[RuleRef] = field(default_factory=list)
    allowed: bool = False
    notes: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)  # ordered (Calico) evaluation, when it applies

    def to_json(self) -> dict:
        return {"direction": self.direction, "endpoint": self.endpoint, "allowed": self.allowed,
                "steps": [st.to_json() for st in self.steps],
                "isolated": bool(self.isolating),
                "policies": [{"kind": p.kind, "namespace": p.namespace, "name": p.name,
                              "file": p.origin.file, "line": p.origin.line} for p in self.isolating],
                "allowed_by": [r.to_json() for r in self.allowing], "notes": self.notes}


@dataclass
class Verdict:
    src: str
    dst: str
    protocol: str | None
    port: int | None
    allowed: bool
    egress: Side
    ingress: Side
    ports: dict[str, object]  # any-port queries: what is allowed
    protocols: tuple[str, ...]  # the protocol classes of the analysis (see FactBase.protocols)

    def to_json(self) -> dict:
        out = {"allowed": self.allowed, "src": self.src, "dst": self.dst, "protocol": self.protocol,
               "port": self.port, "chain": {"egress": self.egress.to_json(), "ingress": self.ingress.to_json()}}
        if self.protocol is None:
            out["allowed_traffic"] = ports_json(self.ports)
        return out


