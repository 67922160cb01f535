"""Kubernetes `metav1.LabelSelector` as a conjunction of requirements.

`matchLabels {k: v}` is the requirement `k In [v]`. An empty selector (no requirement) matches
everything. (A null selector never reaches here: NetworkPolicy gives null peer fields their own
meaning, handled by the peer types.)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Mapping


class Op(enum.Enum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


@dataclass(frozen=True)
class Requirement:
    key: str
    op: Op
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        # k8s apimachinery labels.Requirement.Matches
        if self.op is Op.IN:
            return self.key in labels and labels[self.key] in self.values
        if self.op is Op.NOT_IN:
            return self.key not in labels or labels[self.key] not in self.values
        if self.op is Op.EXISTS:
            return self.key in labels
        return self.key not in labels

    def __str__(self) -> str:
        if self.op is Op.IN and len(self.values) == 1:
            return f"{self.key}={next(iter(self.values))}"
        if self.op is Op.EXISTS:
            return self.key
        if self.op is Op.DOES_NOT_EXIST:
            return f"!{self.key}"
        word = "in" if self.op is Op.IN else "notin"
        return f"{self.key} {word} ({','.join(sorted(self.values))})"


@dataclass(frozen=True)
class LabelSelector:
    requirements: frozenset[Requirement] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    @property
    def is_empty(self) -> bool:
        return not self.requirements

    def keys(self) -> frozenset[str]:
        """The label keys the selector tests."""
        return frozenset(r.key for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(sorted(str(r) for r in self.requirements)) or "{}"
