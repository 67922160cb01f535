"""rules/sanity.dl: every invariant of the fact base is empty on every corpus scenario, and each one holds on a fact
base broken on purpose (built by hand, one defect per clause), so that the check can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoner import api
from reasoner.engine.datalog import Engine, columns, derived_relations

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
SCENARIOS = sorted([p for p in CORPUS.glob("*/manifests") if p.is_dir()]
                   + [p for p in CORPUS.glob("diff-*/*") if p.is_dir() and p.name in ("old", "new")])


def invariants() -> dict[str, int]:
    """Every sanity_* relation, with its arity."""
    return {r: len(columns(c)) for r, c in derived_relations().items() if r.startswith("sanity_")}


def test_the_corpus_is_all_there():
    assert len(SCENARIOS) > 40 and len(invariants()) > 30


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_invariant_is_empty_on_the_corpus(scenario):
    engine = api.analyse(api.load([str(scenario)])).engine
    found = {r: rows for r, n in invariants().items() if (rows := engine.ask(r, *([None] * n)))}
    assert not found


# relation -> (a fact base with a defect for each clause of the relation, the tuples expected)
BROKEN: dict[str, tuple[list[tuple], set[tuple]]] = {
    "sanity_endpoint_kind_unclear": (
        [("endpoint", 1),  # neither kind
         ("internal", 2), ("external", 2),  # both
         ("hep", 3),  # a host endpoint that is not internal
         ("endpoint", 4), ("internal", 4)],
        {(1,), (2,), (3,)}),
    "sanity_endpoint_without_family": (
        [("endpoint", 1), ("endpoint", 2), ("class_family", 2, 4)],
        {(1,)}),
    "sanity_pod_class_without_namespace": (
        [("internal", 1), ("internal", 2), ("class_ns", 2, 10), ("internal", 3), ("hep", 3)],
        {(1,)}),
    "sanity_class_in_two_namespaces": (
        [("class_ns", 1, 10), ("class_ns", 1, 11), ("class_ns", 2, 10)],
        {(1,)}),
    "sanity_namespace_of_non_pod": (
        [("class_ns", 1, 10),  # not internal: an address atom
         ("internal", 2), ("hep", 2), ("class_ns", 2, 10),  # a host endpoint
         ("internal", 3), ("class_ns", 3, 10)],
        {(1,), (2,)}),
    "sanity_pod_network_non_pod": (
        [("podnet", 1), ("podnet", 2), ("class_ns", 2, 10)],
        {(1,)}),
    "sanity_pod_class_without_service_account": (
        [("class_ns", 1, 10),  # none
         ("class_ns", 2, 10), ("class_sa", 2, 20),  # an unknown one
         ("class_ns", 3, 10), ("class_sa", 3, 21), ("service_account", 21)],
        {(1,), (2,)}),
    "sanity_class_without_calico_view": (
        [("internal", 1), ("internal", 2), ("calico_view", 2, 30)],
        {(1,)}),
    "sanity_external_without_atom": (
        [("external", 1), ("external", 2), ("class_atom", 2, 0)],
        {(1,)}),
    "sanity_netset_scope_unclear": (
        [("netset", 1),  # namespaced, without namespace
         ("netset", 2), ("gnetset", 2), ("netset_ns", 2, 10),  # global, with a namespace
         ("gnetset", 3),  # global, not a network set
         ("netset", 4), ("netset_ns", 4, 10), ("netset_ns", 4, 11),  # two namespaces
         ("netset", 5), ("gnetset", 5), ("netset", 6), ("netset_ns", 6, 10)],
        {(1,), (2,), (3,), (4,)}),
    "sanity_policy_without_tier": (
        [("policy", 1), ("policy", 2), ("pol_tier", 2, 40)],
        {(1,)}),
    "sanity_policy_in_two_tiers": (
        [("pol_tier", 1, 40), ("pol_tier", 1, 41), ("pol_tier", 2, 40)],
        {(1,)}),
    "sanity_policy_kind_unclear": (
        [("policy", 1), ("cpol", 1), ("apol", 1),  # Calico and admin
         ("cpol", 2), ("apol", 3),  # not policies
         ("policy", 4), ("cpol", 4)],
        {(1,), (2,), (3,)}),
    "sanity_k8s_policy_without_namespace": (
        [("policy", 1), ("policy", 2), ("pol_ns", 2, 10), ("policy", 3), ("cpol", 3)],
        {(1,)}),
    "sanity_calico_policy_scope_unclear": (
        [("cpol", 1),  # neither
         ("cpol", 2), ("cpol_global", 2), ("cpol_ns", 2, 10),  # both
         ("cpol", 3), ("cpol_global", 3), ("cpol", 4), ("cpol_ns", 4, 10)],
        {(1,), (2,)}),
    "sanity_admin_policy_without_subject": (
        [("apol", 1), ("apol_podsel", 1, 50),  # no namespace selector
         ("apol", 2), ("apol_nssel", 2, 51),  # no pod selector
         ("apol", 3), ("apol_nssel", 3, 51), ("apol_podsel", 3, 50)],
        {(1,), (2,)}),
    "sanity_tier_without_rank": (
        [("pol_tier", 1, 40), ("rule_tier", 2, 41), ("hep_end", 42), ("pol_tier", 3, 43), ("tier_rank", 43, 0)],
        {(40,), (41,), (42,)}),
    "sanity_tier_default_unclear": (
        [("tier_rank", 40, 0),  # no defaultAction
         ("tier_rank", 41, 1), ("tier_default", 41, "Log"),  # not Deny or Pass
         ("tier_rank", 42, 2), ("tier_default", 42, "Pass")],
        {(40,), (41,)}),
    "sanity_host_endpoint_without_default": (
        [("hep", 1)],
        {(1,)}),
    "sanity_host_default_unclear": (
        [("hep_end", 40), ("tier_rank", 40, 2), ("tier_default", 40, "Pass"),  # passes
         ("hep_end", 42), ("tier_rank", 42, 1), ("tier_default", 42, "Deny"),  # before tier 40
         ("tier_rank", 41, 0), ("tier_default", 41, "Deny")],
        {(40,), (42,)}),
    "sanity_rule_without_rank": (
        [("pol_rule", 1, "ingress", 100), ("pol_rule", 1, "egress", 101), ("rule_rank", 101, 0)],
        {(100,)}),
    "sanity_rank_shared": (
        [("rule_rank", 100, 0), ("rule_rank", 101, 0), ("rule_rank", 102, 1)],
        {(100, 101), (101, 100)}),
    "sanity_rule_without_action": (
        [("pol_rule", 1, "ingress", 100), ("pol_rule", 1, "ingress", 101), ("rule_action", 101, "Allow")],
        {(100,)}),
    "sanity_decisive_unclear": (
        [("rule_action", 100, "Log"), ("decisive", 100),  # a decisive Log rule
         ("rule_action", 101, "Deny"),  # a Deny rule that is not decisive
         ("rule_action", 102, "Allow"), ("decisive", 102), ("rule_action", 103, "Log")],
        {(100,), (101,)}),
    "sanity_rule_tier_not_its_policys": (
        [("pol_tier", 1, 40), ("pol_rule", 1, "ingress", 100), ("rule_tier", 100, 41),
         ("pol_rule", 1, "egress", 101), ("rule_tier", 101, 40)],
        {(100,)}),
    "sanity_rule_kind_unclear": (
        [("pol_rule", 1, "ingress", 100),  # neither
         ("krule", 101), ("crule", 101),  # both
         ("pol_rule", 1, "ingress", 102), ("krule", 102)],
        {(100,), (101,)}),
    "sanity_rule_all_and_listed": (
        [("rule_all_peers", 100), ("rule_peer", 100, 60), ("rule_all_ports", 101), ("rule_port", 101, 70),
         ("rule_all_peers", 102), ("rule_all_ports", 102)],
        {(100,), (101,)}),
    "sanity_direction_unknown": (
        [("pol_type", 1, "both"), ("rule_dir", 100, "fwd_in"), ("pol_type", 2, "ingress"), ("rule_dir", 101, "egress")],
        {(1, "both"), (100, "fwd_in")}),
    "sanity_calico_rule_without_entity": (
        [("crule", 100), ("rule_dst", 100, 80), ("crule", 101), ("rule_src", 101, 80),
         ("crule", 102), ("rule_src", 102, 80), ("rule_dst", 102, 81)],
        {(100,), (101,)}),
    "sanity_calico_rule_protocol_unclear": (
        [("crule", 100),  # none of the three
         ("crule_proto", 101, "TCP"), ("crule_notproto", 101, "UDP"),
         ("crule_proto", 102, "TCP"), ("crule_anyproto", 102),
         ("crule_notproto", 103, "UDP"), ("crule_anyproto", 103),
         ("crule", 104), ("crule_anyproto", 104)],
        {(100,), (101,), (102,), (103,)}),
    "sanity_calico_rule_ports_unclear": (
        [("crule", 100),  # none of the three
         ("crule_noports", 101), ("crule_static", 101),
         ("crule_noports", 102), ("crule_dynamic", 102),
         ("crule_static", 103), ("crule_dynamic", 103),
         ("crule_onlynot", 104), ("crule_noports", 104),
         ("crule", 105), ("crule_static", 105), ("crule_onlynot", 105)],
        {(100,), (101,), (102,), (103,), (104,)}),
    "sanity_entity_unclear": (
        [("rule_src", 100, 80), ("ent_nonets", 80),  # neither positive selector nor none
         ("ent_pos", 81), ("ent_nopos", 81), ("ent_sel", 81, 90),  # both
         ("rule_dst", 100, 82), ("ent_nopos", 82),  # neither nets nor none
         ("ent_has_nets", 83), ("ent_nonets", 83),  # both
         ("ent_pos", 84),  # a positive selector without selector part
         ("rule_src", 101, 85), ("ent_any", 85),
         ("rule_src", 102, 86), ("ent_pos", 86), ("ent_svc", 86), ("ent_nonets", 86)],
        {(80,), (81,), (82,), (83,), (84,)}),
    "sanity_forward_unclear": (
        [("class_ns", 2, 10), ("hep", 3),
         ("fwd", 200, 1, 2),  # not from a host endpoint
         ("fwd", 201, 3, 4),  # not to a pod class
         ("fwd", 202, 3, 2)],
        {(200,), (201,)}),
    "sanity_profile_unclear": (
        [("cpol", 50), ("hep", 2),
         ("hep_profile", 1, 50),  # not a host endpoint's
         ("hep_profile", 2, 51),  # not a Calico policy
         ("hep_profile", 2, 50)],
        {(1, 50), (2, 51)}),
    "sanity_node_port_service_unclear": (
        [("np_target", 300, "TCP", 30080, 2, 8080),  # neither Local nor Cluster
         ("svc_local", 301), ("svc_cluster", 301),  # both
         ("np_target", 302, "TCP", 30081, 2, 8080), ("svc_local", 302)],
        {(300,), (301,)}),
}


def test_every_invariant_has_a_broken_case():
    assert set(BROKEN) == set(invariants())


@pytest.mark.parametrize("relation", sorted(BROKEN))
def test_each_invariant_holds_on_its_defects(relation):
    facts, expected = BROKEN[relation]
    rows = Engine(facts).ask(relation, *([None] * invariants()[relation]))
    assert set(rows) == expected
