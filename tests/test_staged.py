"""Calico staged policies: read and validated like their enforced kinds, never enforced, and `diff --staged`
(what enforcing them would change). Fixtures in tests/data/staged/, each hand-checked in its header comment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from reasoner import api
from reasoner.cli import main
from reasoner.model.calico import CalicoPolicy
from reasoner.model.policy import NetworkPolicy
from support.contracts import validate
from support.helpers import diff_rows

DATA = Path(__file__).resolve().parent / "data" / "staged"
SCENARIOS = ["tier-deny", "delete", "noop", "knp", "only-staged"]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def diff_json(*args: str, exit_code: int = 1) -> dict:
    r = run("diff", *args, "-o", "json")
    assert r.exit_code == exit_code, r.output
    return validate(r.stdout, "diff")


def without_staged(src: Path, dst: Path) -> Path:
    """`src` with its staged documents left out (the fixtures put them last, so the other lines stay put)."""
    docs = src.read_text().split("\n---\n")
    dst.write_text("\n---\n".join(d for d in docs if "\nkind: Staged" not in "\n" + d))
    return dst


# ---- reading ----------------------------------------------------------------------------------------------------

def test_staged_kinds_are_read_with_the_enforced_kinds_parsers_not_skipped():
    tier = api.load([DATA / "tier-deny.yaml"])
    (staged,) = tier.staged
    assert (staged.kind, staged.name, staged.action, staged.tier) == (
        "StagedGlobalNetworkPolicy", "security.quarantine-db", "Set", "security")
    assert isinstance(staged.policy, CalicoPolicy) and staged.policy.kind == "GlobalNetworkPolicy"
    assert [r.action.value for r in staged.policy.ingress] == ["Deny", "Pass"]
    assert not any("Staged" in line for line in tier.skipped)
    assert [p.name for p in tier.calico_policies] == []  # never among the enforced ones

    (knp,) = api.load([DATA / "knp.yaml"]).staged
    assert isinstance(knp.policy, NetworkPolicy) and (knp.namespace, knp.tier) == ("shop", None)
    (delete,) = api.load([DATA / "delete.yaml"]).staged
    assert (delete.action, delete.policy, delete.namespace) == ("Delete", None, "shop")
    crd = {s.name: s for s in api.load([DATA / "only-staged.yaml"]).staged}
    assert crd["security.egress"].policy.kind == "NetworkPolicy"  # the crd.projectcalico.org/v1 form


# ---- staged policies never enforce --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SCENARIOS)
def test_staged_policies_change_no_verdict_of_any_command(tmp_path, name):
    given = DATA / f"{name}.yaml"
    plain = without_staged(given, tmp_path / f"{name}.yaml")
    assert plain.read_text() != given.read_text()
    for args in (["connectivity", "-o", "json"], ["lint", "-o", "json", "--fail-on", "never"]):
        a, b = run(*args, str(given)), run(*args, str(plain))
        assert a.exit_code == b.exit_code == 0, a.output
        assert a.stdout == b.stdout.replace(str(plain), str(given)), args
    a, b = (run("prove", "--check", "default-deny", "-o", "json", str(f)) for f in (given, plain))
    assert a.exit_code == b.exit_code
    assert ([(r["id"], r["status"]) for r in json.loads(a.stdout)["results"]]
            == [(r["id"], r["status"]) for r in json.loads(b.stdout)["results"]])  # witnesses are z3's choice
    for src, dst in (("shop/web", "shop/db"), ("shop/db", "shop/web")):
        a, b = run("can", src, dst, "--port", "5432", "-f", str(given)), run("can", src, dst, "--port", "5432",
                                                                                   "-f", str(plain))
        assert a.exit_code == b.exit_code and a.stdout.split()[0] == b.stdout.split()[0]
    assert run("diff", str(given), str(plain)).exit_code == 0


def test_a_tier_whose_only_policies_are_staged_drops_nothing():
    """only-staged.yaml: the security tier holds staged policies only (a Deny-only ingress policy and a deny-all
    egress policy). Were they counted, db would accept nothing and web send nothing; they are not."""
    an = api.analyse(api.load([DATA / "only-staged.yaml"]))
    from support.helpers import allowed

    assert allowed(an, "shop/other", "shop/db", "TCP", 80)
    assert allowed(an, "shop/web", "shop/db", "TCP", 5432)
    assert allowed(an, "shop/web", "shop/other", "UDP", 53)


# ---- diff --staged ----------------------------------------------------------------------------------------------

def test_a_staged_deny_in_a_tier_is_newly_denied_with_a_replayed_witness():
    data = diff_json("--staged", str(DATA / "tier-deny.yaml"))
    assert data["equivalent"] is False
    assert diff_rows(data) == {("shop/web", "shop/db", "TCP", "newly-denied", "[[5432, 5432]]")}
    (change,) = data["changes"]
    assert change["witness"] == {"src": "shop/web", "dst": "shop/db", "protocol": "TCP", "port": 5432}
    assert change["before"]["allowed"] and not change["after"]["allowed"]
    (decider,) = change["after"]["ingress"]
    assert decider["tier"] == "security" and decider["action"] == "Deny"
    assert decider["policy"] == {"kind": "GlobalNetworkPolicy", "namespace": None, "name": "security.quarantine-db"}
    assert decider["file"].endswith("tier-deny.yaml") and decider["line"] == 45  # the staged rule's own line


def test_staged_delete_of_an_enforced_allow_is_newly_denied():
    """delete.yaml: staged `allow-web` deletes the enforced `default.allow-web` (one policy: the default tier's
    name prefix); under the namespace's default-deny, web loses db on TCP 5432."""
    data = diff_json("--staged", str(DATA / "delete.yaml"))
    assert diff_rows(data) == {("shop/web", "shop/db", "TCP", "newly-denied", "[[5432, 5432]]")}
    assert data["changes"][0]["before"]["ingress"][-1]["policy"]["name"] == "default.allow-web"


def test_staged_policies_that_change_nothing_are_proved_equivalent():
    r = run("diff", "--staged", str(DATA / "noop.yaml"))
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("EQUIVALENT") and "unsat" in r.stdout
    # the Learn recommendation (deny everything) is not enforced, and says so
    assert "noop.yaml:41: StagedNetworkPolicy shop/recommendation: stagedAction Learn" in r.stderr


def test_a_staged_kubernetes_network_policy_is_enforced_as_a_kubernetes_network_policy():
    """knp.yaml: nothing is isolated; enforced, the policy lets only web into db, on TCP 5432."""
    data = diff_json("--staged", str(DATA / "knp.yaml"))
    rows = diff_rows(data)
    assert {(s, d) for s, d, *_ in rows} == {("shop/web", "shop/db"), ("shop/other", "shop/db"),
                                            ("cidr:0.0.0.0/0", "shop/db")}
    assert all(change == "newly-denied" for *_, change, _ in rows)
    assert ("shop/web", "shop/db", "TCP", "newly-denied", "[[1, 5431], [5433, 65535]]") in rows
    assert ("shop/other", "shop/db", "TCP", "newly-denied", '"all"') in rows
    deciders = [c["after"]["ingress"] for c in data["changes"]]
    assert all(d[-1]["action"] == "Deny" for d in deciders)


def test_staged_crd_forms_and_tiers_of_staged_policies_only():
    """only-staged.yaml enforced: the security tier then applies to db (Deny web:5432, then the end-of-tier drop:
    nothing enters db) and to web's egress (the crd.projectcalico.org/v1 policy denies all)."""
    data = diff_json("--staged", str(DATA / "only-staged.yaml"))
    rows = diff_rows(data)
    assert {(s, d) for s, d, *_ in rows} == {("shop/web", "shop/db"), ("shop/web", "shop/other"),
                                            ("shop/other", "shop/db"), ("shop/web", "cidr:0.0.0.0/0"),
                                            ("cidr:0.0.0.0/0", "shop/db")}
    assert all(change == "newly-denied" and ports == '"all"' for *_, change, ports in rows)


@pytest.mark.parametrize("name", ["tier-deny", "delete", "knp"])
def test_diff_staged_equals_diff_against_the_policies_enforced_by_hand(name):
    """X-enforced.yaml is X.yaml with the staged policies rewritten by hand as the enforced policies they stand
    for: `diff --staged X` and `diff X X-enforced` agree row for row, chains included (but for their files)."""
    staged = diff_json("--staged", str(DATA / f"{name}.yaml"))
    by_hand = diff_json(str(DATA / f"{name}.yaml"), str(DATA / f"{name}-enforced.yaml"))

    def rows(data: dict) -> list:
        def strip(chain):
            return [{k: v for k, v in step.items() if k not in ("file", "line")} for step in chain]
        return [{**c, "before": {k: strip(v) if isinstance(v, list) else v for k, v in c["before"].items()},
                 "after": {k: strip(v) if isinstance(v, list) else v for k, v in c["after"].items()},
                 "decided_by": {k: v and strip([v])[0] for k, v in c["decided_by"].items()}}
                for c in data["changes"]]

    assert staged["equivalent"] == by_hand["equivalent"] is False
    assert rows(staged) == rows(by_hand)
    assert diff_rows(staged) == diff_rows(by_hand)


def test_diff_staged_in_any_workload_scope():
    data = diff_json("--staged", str(DATA / "tier-deny.yaml"), "--scope", "any-workload")
    assert data["scope"] == "any-workload"
    assert ("shop/web", "shop/db", "TCP", "newly-denied", "[[5432, 5432]]") in diff_rows(data)
    assert {c["change"] for c in data["changes"]} == {"newly-denied"}


SNP = """apiVersion: projectcalico.org/v3
kind: StagedNetworkPolicy
metadata: {name: NAME, namespace: shop}
spec:
  SPEC
"""


def test_a_staged_policy_sets_the_tier_prefixed_policy_of_its_name(tmp_path):
    """In a tier other than default, a Calico policy's name carries the tier prefix, in the staged and the
    enforced form alike: staged `security.x` replaces enforced `security.x`."""
    text = (DATA / "tier-deny-enforced.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text + "\n---\n" + """apiVersion: projectcalico.org/v3
kind: StagedGlobalNetworkPolicy
metadata: {name: security.quarantine-db}
spec:
  tier: security
  selector: app == 'db'
  ingress: [{action: Pass}]
""")
    data = diff_json("--staged", str(tmp_path / "a.yaml"))
    assert diff_rows(data) == {("shop/web", "shop/db", "TCP", "newly-allowed", "[[5432, 5432]]")}


def test_nothing_to_delete_and_no_staged_policy_are_warnings(tmp_path):
    (tmp_path / "a.yaml").write_text((DATA / "knp-enforced.yaml").read_text() + "\n---\n"
                                     + SNP.replace("NAME", "gone").replace("SPEC", "stagedAction: Delete"))
    r = run("diff", "--staged", str(tmp_path / "a.yaml"))
    assert r.exit_code == 0, r.output
    assert ("StagedNetworkPolicy shop/gone: stagedAction Delete, but there is no NetworkPolicy gone to delete"
            in r.stderr)
    r = run("diff", "--staged", str(DATA / "knp-enforced.yaml"))
    assert r.exit_code == 0 and "no staged policy" in r.stderr


def test_two_staged_policies_for_one_policy_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text((DATA / "delete.yaml").read_text() + "\n---\n"
                                     + SNP.replace("NAME", "default.allow-web").replace("SPEC", "stagedAction: Delete"))
    r = run("diff", "--staged", str(tmp_path / "a.yaml"))
    assert r.exit_code == 2
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith(f"error: {tmp_path / 'a.yaml'}:") and "metadata.name" in line
    assert "NetworkPolicy allow-web is also staged at" in line


# ---- bad input ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,line,field,words", [
    ("stagedAction: Promote", 5, "spec.stagedAction", "unknown stagedAction 'Promote' (want Set, Delete, Learn or "
                                                      "Ignore)"),
    ("stagedActon: Set", 5, "spec.stagedActon", "did you mean 'stagedAction'?"),
    ("{stagedAction: Delete, order: 10}", 5, "spec.order", "must be left out when stagedAction is Delete"),
    ("{tier: nope}", 5, "spec.tier", "tier 'nope' does not exist"),
    ("{selector: app = 'db'}", 5, "spec.selector", "column"),
    ("{doNotTrack: true}", 5, "spec.doNotTrack", "is a GlobalNetworkPolicy field"),
])
def test_bad_staged_calico_policy_is_one_located_error(tmp_path, spec, line, field, words):
    f = tmp_path / "p.yaml"
    f.write_text(SNP.replace("NAME", "p").replace("SPEC", spec))
    for args in (["connectivity", str(f)], ["diff", "--staged", str(f)]):
        r = run(*args)
        assert r.exit_code == 2, r.output
        (err,) = r.stderr.strip().splitlines()
        assert err.startswith(f"error: {f}:{line}: StagedNetworkPolicy shop/p: {field}: "), err
        assert words in err


@pytest.mark.parametrize("name,line,field,words", [
    ("bad-port", 24, "spec.ingress[0].destination.ports[0]", "port 70000 is out of range"),
    ("bad-delete", 21, "spec.podSelector", "must be left out when stagedAction is Delete (only stagedAction"),
])
def test_bad_staged_fixture_is_one_located_error(name, line, field, words):
    f = DATA / f"{name}.yaml"
    r = run("diff", "--staged", str(f))
    assert r.exit_code == 2, r.output
    (err,) = r.stderr.strip().splitlines()
    assert err.startswith(f"error: {f}:{line}: ") and f": {field}: " in err and words in err, err


def test_bad_staged_kubernetes_policy_is_validated_as_a_network_policy(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("""apiVersion: projectcalico.org/v3
kind: StagedKubernetesNetworkPolicy
metadata: {name: p, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 0}]
""")
    r = run("lint", str(f))
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {f}:7: StagedKubernetesNetworkPolicy shop/p: spec.ingress[0].ports[0].port: "
                               "port 0 is out of range")


def test_diff_staged_takes_one_version():
    r = run("diff", "--staged", str(DATA / "knp.yaml"), str(DATA / "knp-enforced.yaml"))
    assert r.exit_code == 2 and "with --staged give one version" in r.stderr
    r = run("diff", str(DATA / "knp.yaml"))
    assert r.exit_code == 2 and "give OLD and NEW (or --staged VERSION)" in r.stderr
