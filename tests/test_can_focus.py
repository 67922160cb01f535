"""`can` analyses only the pods its question involves (query/endpoints.py `involved`): the answer must be the same as over the
whole input, for pods, workloads, addresses and services, on every corpus scenario without host endpoints."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import pytest

from reasoner import api
from reasoner.errors import UsageError
from reasoner.query.answer import answer as decide
from reasoner.query.endpoints import involved

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
INPUTS = sorted(d for s in CORPUS.iterdir() if s.is_dir() for d in (s / "manifests", s / "new") if d.is_dir())
# the default run: scenarios with services, workloads, ipBlocks, Calico tiers and admin policies; `-m slow`: all
QUICK = [CORPUS / name / "manifests" for name in ("microservices-demo", "calico-services", "ipblock-except",
                                                   "calico-pass-to-lower-tier", "services-dns", "anp-tenants",
                                                   "hep-nodeport")]


def focused(cluster, src, dst):
    pods = involved(cluster, src, dst)
    assert pods is not None
    return api.analyse(dataclasses.replace(cluster, endpoints=[ep for ep in cluster.endpoints if ep.ref in pods]))


def answer(an, src, dst, *flow):
    try:
        return decide(an, src, dst, *flow).to_json()
    except UsageError as exc:
        return f"usage: {exc}"


def questions(cluster):
    pods = [ep.ref for ep in cluster.endpoints][:5]
    names = pods + [f"svc:{s.ref}" for s in cluster.services][:2] + ["ip:203.0.113.9"]
    names += [f"ip:{ep.ips[0]}" for ep in cluster.endpoints[:1] if ep.ips]
    for src, dst in itertools.permutations(names, 2):
        if not src.startswith("svc:") and src != dst:
            yield src, dst


@pytest.mark.parametrize("path", QUICK, ids=[p.parent.name for p in QUICK])
def test_focused_can_answers_as_the_whole_input(path):
    check(path, limit=8)


@pytest.mark.slow
@pytest.mark.parametrize("path", INPUTS, ids=[f"{p.parent.name}/{p.name}" for p in INPUTS])
def test_focused_can_answers_as_the_whole_input_everywhere(path):
    check(path, limit=None)


def check(path: Path, limit: int | None) -> None:
    cluster = api.load([path])
    if cluster.host_endpoints:
        assert involved(cluster, "a/b", "c/d") is None
        return
    whole = api.analyse(cluster)
    ports = sorted({p.port for ep in cluster.endpoints for p in ep.ports} | {53, 80})[:2]
    checked = 0
    for src, dst in itertools.islice(questions(cluster), limit):
        an = focused(cluster, src, dst)
        for flow in [(), *(("TCP", port) for port in ports), ("UDP", 53)]:
            assert answer(an, src, dst, *flow) == answer(whole, src, dst, *flow), (src, dst, flow)
            checked += 1
    assert checked or not cluster.endpoints


def test_involved_names_every_reading():
    cluster = api.load([CORPUS / "microservices-demo" / "manifests"])
    frontend = next(ep for ep in cluster.endpoints if ep.ref.startswith("boutique/frontend"))
    pods = involved(cluster, frontend.ref, "svc:boutique/cartservice")
    assert frontend.ref in pods and any(p.startswith("boutique/cartservice") for p in pods)
    assert len(pods) < len(cluster.endpoints)
