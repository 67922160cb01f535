"""Two readings of an AdminNetworkPolicy priority tie agree: a `can` chain that notes a tie on the flow it
explains (a policy of the same priority would decide otherwise) implies the `equal-order` lint finding for
that pair of policies."""

from __future__ import annotations

import re

import pytest

from reasoner.lint import lint
from reasoner.query.can import can
from support.helpers import analyse, pod


def anp(name: str, priority: int, subject: str, direction: str, rules: str) -> str:
    return f"""
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {{name: {name}}}
spec:
  priority: {priority}
  subject: {{namespaces: {subject}}}
  {direction}:
{rules}
"""


def ns(name: str) -> str:
    return f"{{matchLabels: {{kubernetes.io/metadata.name: {name}}}}}"


PODS = [pod("a", "x", {"app": "x"}, "10.0.0.1"), pod("b", "y", {"app": "y"}, "10.0.0.2"),
        pod("c", "z", {"app": "z"}, "10.0.0.3")]

SCENARIOS = {
    # ingress: alpha admits b from everyone, beta denies everyone from a
    "ingress": [anp("alpha", 10, ns("b"), "ingress", "  - {action: Allow, from: [{namespaces: {}}]}"),
                anp("beta", 10, "{}", "ingress", f"  - {{action: Deny, from: [{{namespaces: {ns('a')}}}]}}")],
    # egress, four policies of one priority over overlapping ports and subjects, and one of another priority
    "egress": [
        anp("p-allow", 20, ns("a"), "egress",
            f"  - {{action: Allow, to: [{{namespaces: {ns('b')}}}], "
            f"ports: [{{portNumber: {{protocol: TCP, port: 80}}}}]}}"),
        anp("p-deny", 20, "{}", "egress",
            f"  - {{action: Deny, to: [{{namespaces: {ns('b')}}}], "
            f"ports: [{{portRange: {{protocol: TCP, start: 80, end: 90}}}}]}}"),
        anp("p-pass", 20, ns("a"), "egress", "  - {action: Pass, to: [{namespaces: {}}]}"),
        anp("p-allow-c", 20, ns("c"), "egress", f"  - {{action: Allow, to: [{{namespaces: {ns('b')}}}]}}"),
        anp("other", 30, "{}", "egress", "  - {action: Deny, to: [{namespaces: {}}]}"),
    ],
}
FLOWS = [("TCP", 80), ("TCP", 85), ("TCP", 443), ("UDP", 53), (None, None)]
TIE = re.compile(r"priority tie: (.+?) (?:has|have) the same priority")


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_tie_that_can_notes_is_an_equal_order_finding(scenario):
    an = analyse(*PODS, *SCENARIOS[scenario])
    refs = [ep.ref for ep in an.cluster.endpoints]
    noted = set()
    for src in refs:
        for dst in refs:
            if src == dst:
                continue
            for proto, port in FLOWS:
                v = can(an, src, dst, proto, port)
                for step in [*v.egress.steps, *v.ingress.steps]:
                    m = TIE.search(step.note)
                    if m:
                        noted |= {(step.rule.policy.name, other) for other in m.group(1).split(", ")}
    assert noted  # the scenario has ties
    found = {(f.policy.name, e.policy.name) for f in lint(an) if f.kind == "equal-order"
             for e in f.evidence}
    assert noted <= found, noted - found
