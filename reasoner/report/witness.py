"""A witness flow (`results.Witness`) as the contracts write it (common.schema.json#/$defs/witness)."""

from __future__ import annotations

from reasoner.results import Witness


def witness_json(w: Witness) -> dict:
    """`{"src", "dst", "protocol", "port"}`, then what the witness says besides: `icmpType` and `icmpCode`,
    `allowed` (lint: its verdict), `newPods` (the pods it names that could be deployed)."""
    out: dict = {"src": w.src, "dst": w.dst, "protocol": w.protocol, "port": w.port}
    if w.icmp_type is not None:
        out.update(icmpType=w.icmp_type, icmpCode=w.icmp_code)
    if w.allowed is not None:
        out["allowed"] = w.allowed
    if w.new_pods:
        out["newPods"] = dict(w.new_pods)
    return out
