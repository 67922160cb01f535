"""The values that results are made of: references to the policies and rules they name (`PolicyRef`, `RuleRef`),
the concrete flows that show them (`Witness`), lint's `Finding`s and the table of their kinds (`FINDINGS`), and
the words for a proof's status and a diff's change. Values only: reasoner/report/ renders them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Mapping

from reasoner.errors import Location
from reasoner.model.origin import Origin


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


SEVERITY = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.INFO: 1}  # most severe highest


class Status(StrEnum):
    """What `prove` found for a requirement."""

    PROVED = "proved"
    VIOLATED = "violated"
    UNKNOWN = "unknown"  # the solver gave up, or the pods that could be deployed were too many


class ChangeKind(StrEnum):
    """How a flow's verdict changed between two versions (`diff`)."""

    NEWLY_ALLOWED = "newly-allowed"
    NEWLY_DENIED = "newly-denied"


@dataclass(frozen=True)
class PolicyRef:
    """A policy (or the Tier or Service a finding is about) and where it is written (None: nowhere)."""

    kind: str
    namespace: str | None
    name: str
    file: str | None = None
    line: int | None = None

    @classmethod
    def of(cls, pol) -> PolicyRef:
        """Of a policy of the model (anything with kind, namespace, name and origin)."""
        return cls(pol.kind, pol.namespace, pol.name, pol.origin.file, pol.origin.line)

    @property
    def ref(self) -> str:
        """`namespace/name`, or the name of a cluster-wide one."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def to_json(self) -> dict:
        """The contract's policyRef (common.schema.json)."""
        return {"kind": self.kind, "namespace": self.namespace, "name": self.name}

    def __str__(self) -> str:
        return f"{self.kind} {self.ref}"


@dataclass(frozen=True)
class RuleRef:
    """A rule: its policy, direction and index (0-based, in the manifest's list), and where it is written."""

    policy: PolicyRef
    direction: str
    index: int
    file: str
    line: int | None

    @classmethod
    def of(cls, pol, rule) -> RuleRef:
        """Of a policy of the model and one of its rules."""
        return cls(PolicyRef.of(pol), rule.direction.value, rule.index, rule.origin.file, rule.origin.line)

    @property
    def name(self) -> str:
        """`GlobalNetworkPolicy f-rules ingress[1]`."""
        return f"{self.policy} {self.direction}[{self.index}]"

    def to_json(self) -> dict:
        """The contract's reference to a rule: its policyRef and ruleRef, its file and line."""
        return {"policy": self.policy.to_json(), "rule": {"direction": self.direction, "index": self.index},
                "file": self.file, "line": self.line}

    def __str__(self) -> str:
        return f"{self.name} ({Origin(self.file, self.line)})"


@dataclass(frozen=True)
class Witness:
    """A concrete flow that shows a result: a conflicting rule's (with its verdict), a violation's, a change's."""

    src: str
    dst: str
    protocol: str
    port: int | None  # TCP, UDP and SCTP only
    icmp_type: int | None = None  # a change of some ICMP types: the type and code of the flow
    icmp_code: int | None = None
    allowed: bool | None = None  # lint: the flow's verdict
    new_pods: Mapping[str, dict] = field(default_factory=dict, hash=False)  # any-workload: the pods it names that
    # could be deployed, each as NewPod.describe() says it

    def __str__(self) -> str:
        """`shop/web -> shop/db TCP/5432`."""
        return f"{self.src} -> {self.dst} {self.protocol}" + (f"/{self.port}" if self.port is not None else "")


@dataclass(frozen=True)
class Evidence:
    """What backs a finding: a rule, or a policy (or Tier), and what it is to the finding."""

    ref: RuleRef | PolicyRef
    message: str

    @property
    def policy(self) -> PolicyRef:
        return self.ref.policy if isinstance(self.ref, RuleRef) else self.ref

    @property
    def rule(self) -> RuleRef | None:
        return self.ref if isinstance(self.ref, RuleRef) else None


@dataclass(frozen=True)
class Finding:
    """One finding of `lint`, of a kind of `FINDINGS` (or the `scope` note: what the any-workload scope left out)."""

    kind: str
    severity: Severity
    message: str
    subject: str  # the rule or policy, for a reader: "GlobalNetworkPolicy f-rules ingress[1]"
    location: Location  # file ("" when none) and line
    policy: PolicyRef | None = None  # the policy (or Tier, Service) it is about; None: no policy
    rule: RuleRef | None = None  # the rule it is about; None: the whole policy
    evidence: tuple[Evidence, ...] = ()
    witness: Witness | None = None
    scope: str = "inventory"  # inventory | any-workload | inventory-only | any-workload-only
    key: tuple = ()  # the same finding, in another analysis of the same inputs


@dataclass(frozen=True)
class FindingKind:
    """A kind of lint finding: its severity, what it is (in one line and in full), what to do about it, and the
    shape of its evidence."""

    severity: Severity
    short: str
    full: str
    help: str
    evidence: str = "covered_by"  # the key (-o json) that lists its evidence
    witness: bool = False  # it carries a witness flow
    otherwise: tuple[tuple[Severity, str], ...] = ()  # another severity it takes, and when

    @property
    def severities(self) -> tuple[Severity, ...]:
        return (self.severity, *(s for s, _when in self.otherwise))


# Every kind of lint finding: reasoner/lint.py makes them, report/lint.py and the CLI's help describe them from here.
FINDINGS: dict[str, FindingKind] = {
    "conflicting-rule": FindingKind(
        Severity.ERROR, "A rule that the opposite action always overrides",
        "A rule whose every flow an earlier rule of the opposite action (Allow/Deny) always decides: it never takes "
        "effect, and the policies contradict what it says.",
        "Remove the rule, or move it before the rule that decides its flows. The witness flow, replayed with "
        "`reasoner can`, shows the deciding rule.", witness=True),
    "vacuous-policy": FindingKind(
        Severity.WARNING, "A policy that selects no endpoint",
        "A policy that no pod could ever select (contradictory selectors, proved with z3), or that selects no "
        "endpoint of the input.",
        "Check its selectors and namespace (a typo in a label key or value is the usual cause), or delete the "
        "policy.", otherwise=((Severity.ERROR, "no pod could ever be selected"),)),
    "shadowed-rule": FindingKind(
        Severity.WARNING, "A rule that never decides a flow",
        "A rule that matches flows but never decides one: earlier rules, policies or tiers always decide first.",
        "Remove the rule, or order it before the rules named as evidence."),
    "redundant-rule": FindingKind(
        Severity.WARNING, "A rule that admits nothing the others do not",
        "A Kubernetes rule whose every flow another rule of the same policies admits: removing it changes no "
        "verdict.",
        "Remove the rule, or keep it knowingly as documentation."),
    "redundant-policy": FindingKind(
        Severity.WARNING, "A policy that changes no verdict",
        "A policy that selects endpoints, isolates none alone, and admits nothing the other policies do not: "
        "removing it changes no verdict.",
        "Remove the policy, or keep it knowingly as documentation.",
        otherwise=((Severity.INFO, "a default-deny, which may still isolate pods deployed later"),)),
    "dead-peer": FindingKind(
        Severity.WARNING, "A peer that matches nothing",
        "A from/to peer, or a Calico source/destination, that matches no endpoint, network set or address: the "
        "rule silently admits less than it says.",
        "Check the selectors, namespaces and addresses the peer names."),
    "unresolved-named-port": FindingKind(
        Severity.WARNING, "A named port that resolves nowhere",
        "No destination that the rule can reach defines the named port, so the rule admits nothing on it.",
        "Name a port that the destination pods declare, or give the port number."),
    "unresolved-target-port": FindingKind(
        Severity.WARNING, "A Service port whose named target port some backends lack",
        "A Service port targets a named port that some of its backend pods do not define: they are never reached "
        "on it.",
        "Define the named port on those pods, or target a port number."),
    "equal-order": FindingKind(
        Severity.WARNING, "Two policies of one tier with the same order",
        "Two Calico policies of one tier with the same order apply to the same endpoints: which rules come first "
        "depends on the policies' names.",
        "Give the policies distinct orders.", evidence="same_order"),
    "pass-in-last-tier": FindingKind(
        Severity.WARNING, "A Pass in the last tier",
        "A Pass (or defaultAction Pass) in the last tier hands the flow to the profile.",
        "Use Allow or Deny, or add the tier that should decide."),
    "missing-default-deny": FindingKind(
        Severity.INFO, "Endpoints that no policy isolates",
        "Endpoints of a namespace that no policy isolates in a direction: every flow reaches them (or leaves them) "
        "by default.",
        "Add a default-deny policy for that direction."),
}

__all__ = ["FINDINGS", "SEVERITY", "ChangeKind", "Evidence", "Finding", "FindingKind", "PolicyRef",
           "RuleRef", "Severity", "Status", "Witness"]
