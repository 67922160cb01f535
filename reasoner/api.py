"""The one way into the engine, shared by the CLI (and later the REPL): load, analyse, ask."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from reasoner.engine.datalog import Engine
from reasoner.errors import ManifestError, ManifestErrors
from reasoner.facts.emit import FactBase, emit
from reasoner.manifests.load import Document, read_paths
from reasoner.model.cluster import Cluster
from reasoner.sources.registry import build_cluster


def read_inputs(paths: Iterable[str | Path], stdin: Any = None) -> tuple[list[Document], list[ManifestError], list[str]]:
    """The documents of every input (files, directories, `-`, and `cluster:`/`cluster:CONTEXT` read from a running
    cluster by reasoner/live.py), the errors of reading them, and the warnings of the live reads."""
    from reasoner import live

    paths = [str(p) for p in paths]
    docs, errors = read_paths([p for p in paths if not live.is_cluster(p)], stdin)
    skipped = []
    for token in (p for p in paths if live.is_cluster(p)):
        reading = live.read_token(token)
        docs.extend(live.documents(reading))
        skipped.extend(f"{reading.source}: {line}" for line in reading.skipped)
    return docs, errors, skipped


def load(paths: Iterable[str | Path], stdin: Any = None) -> Cluster:
    """Read and validate every input; raise `ManifestErrors` listing every problem found."""
    docs, errors, skipped = read_inputs(paths, stdin)
    cluster, parse_errors = build_cluster(docs)
    cluster.skipped.extend(skipped)
    errors.extend(parse_errors)
    if errors:
        raise ManifestErrors(errors)
    return cluster


@dataclass
class Analysis:
    """A cluster turned into facts and loaded into its own Datalog engine."""

    cluster: Cluster
    facts: FactBase
    engine: Engine


def analyse(cluster: Cluster) -> Analysis:
    facts = emit(cluster)
    return Analysis(cluster, facts, Engine(facts.facts))
