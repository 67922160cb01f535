"""The state of one emission, which every module of facts/ writes through: the `FactBase` being filled, one counter
for every object id, and the tables that give equal things one id (hash-consing), so what they match is derived once.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reasoner.facts.emit import FactBase
    from reasoner.model.cidr import Cidr


class Emitter:
    def __init__(self, fb: FactBase):
        self.fb = fb
        self.ids = itertools.count(len(fb.classes))  # class ids are 0..len(classes)-1
        self.ranks = itertools.count()  # rule_rank: rules in evaluation order (tiers.py)
        self.selectors: dict[object, int] = {}  # selectors.py: a selector -> its id
        self.roles: set[tuple[int, str]] = set()  # selectors.py: the (selector, role) marks emitted
        self.requirements: dict[tuple, int] = {}  # selectors.py: (test, key, values) -> its id
        self.cidrs: dict[Cidr, int] = {}  # peers.py
        self.peers: dict[tuple, int] = {}  # peers.py: a Kubernetes peer by what it matches (rules share equal peers)
        self.sa_ids: dict[tuple[str, str], int] = {}  # calico.py: (namespace, name) -> service account id
        self.entities: dict[tuple, int] = {}  # calico.py: (side, facts) -> entity id
        self.tier_rank: dict[str, int] = {}  # tiers.py: a tier's name -> its rank

    def add(self, relation: str, *values) -> None:
        self.fb.facts.append((relation, *values))
