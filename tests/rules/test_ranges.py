"""Ranges over atoms: `within` (port atoms) and `atom_in_cidr` (address atoms) walk the atoms from the one a range
starts at, instead of comparing every atom with every range. They must say exactly what the arithmetic says:
an atom lies in a range when both of its bounds do."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoner import api

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
SCENARIOS = ["ipblock-except", "calico-networkset-egress", "port-ranges", "calico-selector-operators",
             "hep-nodeport", "named-ports"]


@pytest.fixture(scope="module", params=SCENARIOS)
def an(request) -> api.Analysis:
    return api.analyse(api.load([CORPUS / request.param / "manifests"]))


def test_atom_in_cidr_is_containment(an):
    atoms = an.engine.ask("atom_range", None, None, None, None)
    cidrs = an.engine.ask("cidr_range", None, None, None, None)
    assert atoms
    expected = {(a, c) for c, fam, lo, hi in cidrs for a, afam, alo, ahi in atoms
                if afam == fam and lo <= alo and ahi <= hi}
    got = {(a, c) for c, *_ in cidrs for a, _c in an.engine.ask("atom_in_cidr", None, c)}
    assert got == expected


def test_within_is_containment_for_every_range_a_rule_names(an):
    atoms = an.engine.ask("port_atom", None, None, None, None)
    ranges = {(p, lo, hi) for _r, p, lo, hi in an.engine.ask("rule_range", None, None, None, None) if p != "*"}
    ranges |= {(p, lo, hi) for _r, lo, hi in an.engine.ask("cport_range", None, None, None)
               for (p,) in an.engine.ask("ported", None)}
    for p, lo, hi in ranges:
        expected = {a for ap, a, alo, ahi in atoms if ap == p and lo <= alo and ahi <= hi}
        got = {a for _p, a, _lo, _hi in an.engine.ask("within", p, None, lo, hi)}
        assert got == expected, (p, lo, hi)
        assert got, (p, lo, hi)  # every range a rule names is a run of whole atoms


def test_a_range_off_the_atom_bounds_is_caught_when_the_facts_are_made():
    from reasoner.facts.emit import check_cuts, emit

    fb = emit(api.load([CORPUS / "port-ranges" / "manifests"]))
    check_cuts(fb)  # as made: every range on atom bounds
    (p, lo, hi) = next(iter(fb.port_atoms.values()))
    fb.facts.append(("port_range", -1, p, lo + 1, hi))
    with pytest.raises(RuntimeError, match="does not fall on port atom bounds"):
        check_cuts(fb)
    fb.facts.pop()
    atom = fb.atoms.atoms[0]
    fb.facts.append(("cidr_range", -1, atom.family, atom.lo, atom.hi - 1))
    with pytest.raises(RuntimeError, match="does not fall on address atom bounds"):
        check_cuts(fb)
