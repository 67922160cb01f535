"""Reading inputs into a cluster, and a cluster into an analysis (its facts in an engine): what every question
starts from. `reasoner/api.py` is the facade that the CLI and the REPL use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from reasoner.engine.datalog import Engine
from reasoner.errors import ManifestError, ManifestErrors
from reasoner.facts.emit import FactBase, emit
from reasoner.manifests.load import Document, ReadOptions, read_paths
from reasoner.model.calico_selector import CalicoSelector
from reasoner.model.cluster import Cluster
from reasoner.model.selector import LabelSelector
from reasoner.progress import stage
from reasoner.sources.registry import build_cluster


def read_inputs(paths: Iterable[str | Path], stdin: Any = None,
                options: ReadOptions = ReadOptions()) -> tuple[list[Document], list[ManifestError], list[str]]:
    """The documents of every input (files, directories, `-`, and `cluster:`/`cluster:CONTEXT` read from a running
    cluster by reasoner/live.py), the errors of reading them, and warnings (files skipped, kinds a cluster lacks)."""
    from reasoner import live

    paths = [str(p) for p in paths]
    with stage("reading the inputs"):
        docs, errors, skipped = read_paths([p for p in paths if not live.is_cluster(p)], stdin, options)
        for token in (p for p in paths if live.is_cluster(p)):
            reading = live.read_token(token)
            docs.extend(live.documents(reading))
            skipped.extend(f"{reading.source}: {line}" for line in reading.skipped)
    return docs, errors, skipped


def settle(docs: list[Document], errors: list[ManifestError],
           options: ReadOptions = ReadOptions()) -> tuple[Cluster, list[Document], list[str]]:
    """The cluster of `docs`, the documents it was built from, and warnings. Errors (those given and those of
    the objects) raise `ManifestErrors`; with `--skip-invalid` every file with an error is left out instead, and
    each error becomes a warning."""
    with stage("checking the objects"):
        cluster, found = build_cluster(docs)
    errors = errors + found
    if errors and not options.skip_invalid:
        raise ManifestErrors(errors)
    dropped: list[str] = []
    warnings: list[str] = []
    while errors:  # leaving a file out may break another (a Calico tier it defined)
        files = sorted({e.location.file for e in errors} - set(dropped))
        if not files:
            raise ManifestErrors(errors)
        dropped.extend(files)
        warnings.extend(str(e) for e in errors)
        docs = [d for d in docs if d.file not in files]
        cluster, errors = build_cluster(docs)
    if dropped:
        warnings.append(f"skipped {len(dropped)} invalid file{'s' if len(dropped) != 1 else ''} (--skip-invalid): "
                        + ", ".join(dropped))
    return cluster, docs, warnings


def load(paths: Iterable[str | Path], stdin: Any = None, options: ReadOptions = ReadOptions()) -> Cluster:
    """Read and validate every input; raise `ManifestErrors` listing every problem found (see `settle`)."""
    docs, errors, skipped = read_inputs(paths, stdin, options)
    cluster, kept, warnings = settle(docs, errors, options)
    cluster.skipped[:0] = skipped + warnings
    cluster.files = list(dict.fromkeys(d.file for d in kept))
    return cluster


@dataclass
class Analysis:
    """A cluster turned into facts and loaded into its own Datalog engine."""

    cluster: Cluster
    facts: FactBase
    engine: Engine
    selectors: tuple[LabelSelector | CalicoSelector, ...] = ()  # asked about besides the input's (analyse)
    plans: dict = field(default_factory=dict, repr=False, compare=False)  # the bulk plans built (query/map.py)


def analyse(cluster: Cluster, selectors: Iterable[LabelSelector | CalicoSelector] = (),
            transient: bool = False) -> Analysis:
    """`cluster` as facts, in an engine. Endpoint classes are split by the pod labels that a selector of the input,
    or one of `selectors` (over pods, Calico's view of them for a Calico selector), tests; give there every pod
    selector that will be evaluated on the classes' labels (a compliance spec's). `transient`: an analysis
    used briefly beside others that stay (see Engine)."""
    selectors = tuple(selectors)
    with stage("evaluating the rules"):
        facts = emit(cluster, selectors)
        return Analysis(cluster, facts, Engine(facts.facts, transient), selectors)


def distinguishing(an: Analysis, selectors: Iterable[LabelSelector | CalicoSelector]) -> Analysis:
    """`an` when its endpoint classes already hold every label that `selectors` test, else its cluster analysed
    again with them (see `analyse`)."""
    from reasoner.facts.classes import tested_keys

    selectors = tuple(selectors)
    known = tested_keys(an.cluster, an.selectors)
    if all(sel.keys() <= known for sel in selectors):
        return an
    return analyse(an.cluster, an.selectors + selectors)
