"""The parsed rules kept on disk (reasoner/engine/rule_cache.py) are the parsed rules: an engine built from them
answers as one built from parsing; a damaged, foreign or unwritable cache is never an error."""

from __future__ import annotations

import hashlib
import marshal
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyDatalog import Logic

from reasoner import api
from reasoner.engine import datalog, rule_cache
from support.helpers import connections

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("REASONER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def parsed() -> list:
    Logic()
    return datalog._parse_rules()


def encoded(clauses: list) -> list:
    return [(rule_cache._literal(head), [rule_cache._literal(b) for b in body]) for head, body in clauses]


def test_kept_clauses_are_the_parsed_ones(cache_dir):
    texts = datalog.rule_texts()
    clauses = parsed()
    rule_cache.write(texts, clauses)
    assert rule_cache.path(texts).parent == cache_dir and rule_cache.path(texts).is_file()
    back = rule_cache.read(texts)
    assert back is not None and len(back) == len(clauses) > 300
    assert encoded(back) == encoded(clauses)
    # the rules' lambdas (selector `contains`/`starts`/`ends`, range bounds) compute the same
    lambdas = [(a, b) for (ha, ba), (hb, bb) in zip(clauses, back) for la, lb in zip([ha, *ba], [hb, *bb])
               for a, b in zip(la[1], lb[1]) if type(a).__name__ == "Operation" and callable(a.operator)]
    assert len(lambdas) == 5
    for a, b in lambdas:
        for args in (("abc", "b"), ("abc", "a"), ("abc", "c"), ("abc", "x"), (3, 7), (7, 3)):
            try:
                expected = a.operator(*args)
            except (TypeError, AttributeError):
                continue
            assert b.operator(*args) == expected


@pytest.mark.parametrize("scenario", ["calico-selector-operators", "ipblock-except", "port-ranges",
                                      "microservices-demo"])
def test_an_engine_from_kept_clauses_answers_alike(cache_dir, monkeypatch, scenario):
    texts = datalog.rule_texts()
    rule_cache.write(texts, parsed())
    kept = rule_cache.read(texts)
    cluster = api.load([str(CORPUS / scenario / "manifests")])
    monkeypatch.setattr(datalog, "_CLAUSES", parsed())
    from_parse = [(c.src, c.dst, c.allowed) for c in connections(api.analyse(cluster))]
    monkeypatch.setattr(datalog, "_CLAUSES", kept)
    from_cache = [(c.src, c.dst, c.allowed) for c in connections(api.analyse(cluster))]
    assert from_cache == from_parse and from_parse


def test_a_damaged_copy_is_ignored(cache_dir):
    texts = datalog.rule_texts()
    rule_cache.write(texts, parsed())
    where = rule_cache.path(texts)
    good = where.read_bytes()
    for damaged in (good[: len(good) // 2], b"", b"not marshal at all", good.replace(b"tier", b"\xff\xfe\xfd\xfc")):
        where.write_bytes(damaged)
        assert rule_cache.read(texts) is None
    for payload in (marshal.dumps((1, ((("x", (("q", 1),), 1), ()),))),  # a term of an unknown kind
                    marshal.dumps((99, ())), marshal.dumps([1, 2])):  # another format, another shape
        where.write_bytes(hashlib.sha256(payload).digest() + payload)
        assert rule_cache.read(texts) is None
    where.write_bytes(good)
    assert encoded(rule_cache.read(texts)) == encoded(parsed())


def test_other_rules_or_no_directory(cache_dir, tmp_path, monkeypatch):
    texts = datalog.rule_texts()
    edited = dict(texts, **{"tiers.dl": texts["tiers.dl"] + "\n# edited\n"})
    assert rule_cache.path(edited) != rule_cache.path(texts)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("REASONER_CACHE_DIR", str(blocker))  # a file where the directory should be
    rule_cache.write(texts, parsed())
    assert rule_cache.read(texts) is None
    monkeypatch.setenv("REASONER_CACHE_DIR", "")
    assert rule_cache.path(texts) is None
    rule_cache.write(texts, parsed())
    assert rule_cache.read(texts) is None


def test_the_command_line_writes_and_reads_the_cache(tmp_path):
    env = dict(os.environ, REASONER_CACHE_DIR=str(tmp_path / "c"))
    args = [sys.executable, "-m", "reasoner", "can", "boutique/frontend", "boutique/cartservice", "--port", "7070",
            "-f", str(CORPUS / "microservices-demo" / "manifests")]
    first = subprocess.run(args, capture_output=True, text=True, env=env)
    kept = list((tmp_path / "c").glob("rules-*"))
    assert len(kept) == 1
    stamp = kept[0].stat().st_mtime_ns
    second = subprocess.run(args, capture_output=True, text=True, env=env)
    assert (first.returncode, first.stdout) == (second.returncode, second.stdout) and first.stdout
    assert kept[0].stat().st_mtime_ns == stamp  # read, not written again


def test_a_copy_others_may_write_is_not_read(cache_dir):
    texts = datalog.rule_texts()
    rule_cache.write(texts, parsed())
    where = rule_cache.path(texts)
    assert rule_cache.read(texts) is not None and not cache_dir.stat().st_mode & 0o077  # made 0700
    where.chmod(0o664)  # the file writable by its group
    assert rule_cache.read(texts) is None
    where.chmod(0o600)
    cache_dir.chmod(0o777)  # the directory writable by anyone: a file there could be swapped
    assert rule_cache.read(texts) is None
    cache_dir.chmod(0o700)
    assert rule_cache.read(texts) is not None
