"""`reasoner lint`: findings about rules and policies, each defined in Datalog (rules/lint.dl) and proved; the
relations over every pair (shadowed, conflicting, redundant) are computed by the bulk plan (reasoner/lint_plan.py),
which tests check against rules/lint.dl.

The kinds of finding, their severities and the shape of their evidence are the table `results.FINDINGS`. A
conflicting rule's witness flow is checked on the per-flow relations of rules/tiers.dl (the deciding rule is the
first of its tier to match it, no earlier tier stopping it), with its verdict; a policy that no pod could ever
select (contradictory selectors) is proved so by z3 over every labelling. Equal order is that of Calico policies
of one tier, or the priority of AdminNetworkPolicies.

"Never" is over the inventory's endpoints (and every address); with `scope="any-workload"` the same
relations are also derived with a representative of every pod that could be deployed
(properties/universe.py), and each finding says whether it holds for every workload or for today's only.
"""

from __future__ import annotations

from dataclasses import replace

from reasoner import analysis
from reasoner.errors import Location
from reasoner.facts.schema import EVALUATIONS
from reasoner.facts.tiers import ordered_tiers
from reasoner.lint_plan import LintPlan
from reasoner.model.admin import ANP_TIER, BANP_TIER, AdminPolicy
from reasoner.model.calico import Action, CalicoPolicy
from reasoner.model.cidr import sample_ip
from reasoner.model.origin import Origin
from reasoner.model.policy import Direction
from reasoner.model.ports import PORTED
from reasoner.progress import stage
from reasoner.properties import DEFAULT_BUDGET
from reasoner.results import FINDINGS, SEVERITY, Evidence, Finding, PolicyRef, RuleRef, Severity, Witness


def _ref(kind: str, namespace: str | None, name: str, origin: Origin | None) -> PolicyRef:
    """A reference to a Tier or a Service (`kind`) written at `origin`."""
    return PolicyRef(kind, namespace, name, origin.file if origin else None, origin.line if origin else None)


def _finding(kind: str, about: RuleRef | PolicyRef, message: str, severity: Severity | None = None, evidence=(),
             witness: Witness | None = None, key: tuple = ()) -> Finding:
    """A finding of a kind of `FINDINGS` (its severity, unless it is one the kind takes otherwise) about a rule or a
    policy (or a Tier, a Service), at its place."""
    severity = severity or FINDINGS[kind].severity
    assert severity in FINDINGS[kind].severities and (witness is None or FINDINGS[kind].witness), (kind, severity)
    rule = about if isinstance(about, RuleRef) else None
    return Finding(kind, severity, message, rule.name if rule else str(about), Location(about.file or "", about.line),
                   rule.policy if rule else about, rule, tuple(evidence), witness, key=key)


def _reference(pol, what: str) -> Evidence:
    """Evidence naming a whole policy."""
    ref = PolicyRef.of(pol)
    return Evidence(ref, f"{what}: {ref}")


class _Linter:
    def __init__(self, an: analysis.Analysis, new_pods: frozenset[str] = frozenset()):
        self.an = an
        self.fb = an.facts
        self.e = an.engine
        self.new_pods = new_pods  # any-workload representatives: they declare no container ports
        self.plan = LintPlan.of(an)  # lint.dl's pair-level relations (reasoner/lint_plan.py)

    # ---- naming ----
    def rule(self, rid: int):
        return self.fb.rule_ids[rid]

    def rule_ref(self, rid: int) -> RuleRef:
        return RuleRef.of(*self.rule(rid))

    def rule_key(self, rid: int) -> tuple:
        pol, rule = self.rule(rid)
        return (pol.kind, pol.ref, rule.direction.value, rule.index)

    def rule_action(self, rid: int) -> str:
        return self.e.ask("rule_action", rid, None)[0][1]

    def rule_evidence(self, rid: int, what: str) -> Evidence:
        ref = self.rule_ref(rid)
        return Evidence(ref, f"{what}: {ref.name} ({self.rule_action(rid)})")

    def finding(self, kind: str, rid: int, message: str, evidence=(), witness=None, extra=()) -> Finding:
        """A finding about rule `rid`."""
        return _finding(kind, self.rule_ref(rid), message, evidence=evidence, witness=witness,
                        key=(kind, *self.rule_key(rid), *extra))

    def endpoint_name(self, cls_id: int, avoid: str | None = None) -> str | None:
        cls = self.fb.classes[cls_id]
        if cls.external is not None:
            a = cls.external
            return f"ip:{sample_ip(a.family, a.lo, a.hi)}"
        return next((m.ref for m in cls.members if m.ref != avoid), None)

    # ---- findings ----
    def run(self) -> list[Finding]:
        out: list[Finding] = []
        with stage("linting"):
            conflicting = self.conflicts(out)
            self.shadowed(out, conflicting)
            self.redundant(out)
            self.vacuous(out)
            self.dead_peers(out)
            self.named_ports(out)
            self.order_smells(out)
            self.service_ports(out)
            self.missing_default_deny(out)
        return out

    def service_ports(self, out: list[Finding]) -> None:
        """A Service whose named targetPort some backing pod does not define: that pod is never reached on it."""
        from reasoner.model.cluster import backends, target_port

        for svc in self.an.cluster.services:
            if svc.selector is None:
                continue
            eps = [ep for ep in backends(self.an.cluster, svc) if ep.ref not in self.new_pods]
            for sp in svc.ports:
                if not isinstance(sp.target_port, str):
                    continue
                missing = sorted(ep.ref for ep in eps if target_port(sp, ep) is None)
                if missing:
                    out.append(_finding("unresolved-target-port", _ref("Service", svc.namespace, svc.name, svc.origin),
                                       f"port {sp.port}/{sp.protocol} targets the named port {sp.target_port!r}, which "
                                       f"{', '.join(missing[:3])}{' …' if len(missing) > 3 else ''} "
                                       f"({len(missing)} of {len(eps)} backends) do not define: they are never reached "
                                       f"on it", key=("unresolved-target-port", svc.ref, sp.port)))

    def conflicts(self, out: list[Finding]) -> set[int]:
        by_rule: dict[int, list[int]] = {}
        for r, r2 in self.plan.conflicts:
            by_rule.setdefault(r, []).append(r2)
        by_tier: dict[int, list[int]] = {}
        for r, t in self.plan.conflicts_default:
            by_tier.setdefault(r, []).append(t)
        for r in sorted(set(by_rule) | set(by_tier)):
            action = self.rule_action(r)
            deciders = sorted(set(by_rule.get(r, [])))
            tiers = sorted(set(by_tier.get(r, [])))
            other = "Deny" if action == "Allow" else "Allow"
            witness = self.conflict_witness(r, deciders) if deciders else self.default_witness(r, tiers)
            msg = (f"this {action} rule never decides: the flows it matches are decided first by earlier rules or "
                   f"tiers, some with {other}")
            if witness:
                msg += f" (e.g. {witness} is {'allowed' if witness.allowed else 'denied'})"
            evidence = [self.rule_evidence(d, "decided instead by") for d in deciders]
            evidence += [self.tier_evidence(t) for t in tiers]
            out.append(self.finding("conflicting-rule", r, msg, evidence, witness))
        return set(by_rule) | set(by_tier)

    def tier_evidence(self, t: int) -> Evidence:
        name = self.fb.describe(t).removeprefix("tier:")
        tier = self.an.cluster.tiers.get(name)
        return Evidence(_ref("Tier", None, name, tier.origin if tier else None),
                        f"ended first by tier {name}'s defaultAction ({tier.default_action.value if tier else 'Deny'})")

    def conflict_witness(self, r: int, deciders: list[int]) -> Witness | None:
        """A concrete flow that `r` matches and a decider decides, replayed through `can`."""
        rows = [(where, r2) for r2 in deciders for where in self.plan.conflict_at.get((r, r2), [])]
        return self.witness_at(rows, self.decided_by_rule)

    def default_witness(self, r: int, tiers: list[int]) -> Witness | None:
        rows = [(where, t) for t in tiers for where in self.plan.conflict_default_at.get((r, t), [])]
        return self.witness_at(rows, self.ended_by_tier)

    def witness_at(self, rows, check) -> Witness | None:
        """A flow among the places `rows` (from the plan) that `check` confirms on the specification's per-flow
        relations (rules/tiers.dl), with its verdict (`flow_allowed`)."""
        tried = 0
        for where, by in rows:
            port = self.region_port(where.p, where.ports)
            protocol = next((name for name, rep in self.fb.proto_rep.items() if rep == where.p), where.p)
            if port is None or protocol == "OTHER" or where.c >= len(self.fb.classes):  # (forwarded: no endpoint)
                continue
            subject = self.endpoint_name(where.c)
            for peer in self.plan.peers(where):
                other = self.endpoint_name(peer, subject)
                if subject is None or other is None:
                    continue
                flow = (where.c, where.d, peer, where.p, port)
                if check(flow, by):
                    inbound = EVALUATIONS[where.d] == "ingress"
                    src, dst = (other, subject) if inbound else (subject, other)
                    s, d = (peer, where.c) if inbound else (where.c, peer)
                    return Witness(src, dst, protocol, port if protocol in PORTED else None,
                                   allowed=self.e.holds("flow_allowed", s, d, where.p, port))
                tried += 1
                if tried >= 40:
                    return None
        return None

    def decided_by_rule(self, flow: tuple, r2: int) -> bool:
        """Rule r2 decides the flow at its end: the first rule of its tier to match, no earlier tier stopping it."""
        t = self.e.ask("rule_tier", r2, None)[0][1]
        rank = self.e.ask("tier_rank", t, None)[0][1]
        return self.e.holds("first_rule", *flow, t, r2) and not self.e.holds("stopped_before", *flow, rank)

    def ended_by_tier(self, flow: tuple, t: int) -> bool:
        """Tier t's defaultAction Deny ends the flow at its end: no rule of t matches it, no earlier tier stops it."""
        rank = self.e.ask("tier_rank", t, None)[0][1]
        return (self.e.holds("tier_does", *flow, t, "Deny") and not self.e.holds("tier_matched", *flow, t)
                and not self.e.holds("stopped_before", *flow, rank))

    @staticmethod
    def region_port(p: str, ports: tuple[tuple[int, int], ...]) -> int | None:
        """A port of the region a flow can have (TCP, UDP and SCTP flows have no port 0)."""
        lo_min = 1 if p in PORTED else 0
        return next((max(lo, lo_min) for lo, hi in ports if hi >= lo_min), None)

    def shadowed(self, out: list[Finding], skip: set[int]) -> None:
        for r in sorted(self.plan.shadowed):
            if r in skip:
                continue
            ev = [self.rule_evidence(r2, "decided first by") for r_, r2 in sorted(self.plan.shadowed_by) if r_ == r]
            for r_, t in sorted(self.plan.shadowed_by_default):
                if r_ == r:
                    ev.append(self.tier_evidence(t))
            out.append(self.finding("shadowed-rule", r,
                                    f"this {self.rule_action(r)} rule never decides a flow: earlier rules, policies or "
                                    f"tiers always decide the flows it matches", ev))

    def redundant(self, out: list[Finding]) -> None:
        for r in sorted(self.plan.redundant_rule):
            others = sorted(self.plan.co_gives(r))
            out.append(self.finding("redundant-rule", r,
                                    "removing this rule changes no verdict: every flow it admits, other rules admit too",
                                    [self.rule_evidence(r2, "also admitted by") for r2 in others[:5]]))
        for pid in sorted(self.plan.redundant_policy):
            pol = self.fb.policy_ids[pid]
            ev = []
            for _p, _d, r in self.e.ask("pol_rule", pid, None, None):
                for r2 in sorted(self.plan.co_gives(r))[:3]:
                    ev.append(self.rule_evidence(r2, f"{self.rule_ref(r).name} is also admitted by"))
            key = ("redundant-policy", pol.kind, pol.ref)
            if not any(True for _ in pol.ingress + pol.egress):  # a default-deny: redundant today, a guard for later
                out.append(_finding("redundant-policy", PolicyRef.of(pol),
                                   "removing this policy changes no verdict today: other policies isolate every endpoint "
                                   "it selects (it may still isolate pods deployed later; see --scope any-workload)",
                                   Severity.INFO, ev, key=key))
                continue
            out.append(_finding("redundant-policy", PolicyRef.of(pol),
                               "removing this policy changes no verdict: other policies isolate the same endpoints and "
                               "admit everything it admits", evidence=ev, key=key))

    def vacuous(self, out: list[Finding]) -> None:
        from reasoner.properties.values import policy_selectable

        empty = {pid for (pid,) in self.e.ask("vacuous", None)}
        applying = {pid for pid, _c, _d in self.e.ask("applies", None, None, None)}  # selects an endpoint: selectable
        for pid, pol in sorted(self.fb.policy_ids.items()):
            never = pid not in applying and not policy_selectable(pol)
            if never:
                out.append(_finding("vacuous-policy", PolicyRef.of(pol),
                                   "this policy can never select any pod: its selectors contradict each other "
                                   "(no labelling satisfies them; proved with z3)", Severity.ERROR,
                                   key=("vacuous-policy", pol.kind, pol.ref, "never")))
            elif pid in empty:
                hook = getattr(pol, "hook", "normal")
                why = ("this policy selects no endpoint of the input" if hook == "normal" else
                       f"this {'preDNAT' if hook == 'preDNAT' else 'doNotTrack'} policy selects no host endpoint of "
                       f"the input (such policies never apply to pods; doNotTrack not to interfaceName \"*\" either)")
                out.append(_finding("vacuous-policy", PolicyRef.of(pol), why, key=("vacuous-policy", pol.kind, pol.ref)))

    def dead_peers(self, out: list[Finding]) -> None:
        for r, peer in self.e.ask("dead_peer", None, None):
            pol, rule = self.rule(r)
            word = "from" if rule.direction.value == "ingress" else "to"
            for index in self.fb.peer_indexes[(r, peer)]:  # (a peer listed twice in one rule: both entries)
                out.append(self.finding("dead-peer", r,
                                        f"{word}[{index}] matches no endpoint and no address", extra=(index,)))
        for r, ent in self.e.ask("dead_ent", None, None):
            side = "source" if self.e.holds("rule_src", r, ent) else "destination"
            out.append(self.finding("dead-peer", r,
                                    f"its {side} matches no endpoint, network set or address: the rule never matches",
                                    extra=(side,)))

    def named_ports(self, out: list[Finding]) -> None:
        for r, name in self.e.ask("unresolved_named", None, None):
            out.append(self.finding("unresolved-named-port", r,
                                    f"named port {name!r}: no destination this rule can reach defines it, so it admits "
                                    f"nothing on that port", extra=(name,)))

    def order_smells(self, out: list[Finding]) -> None:
        """Equal order in one tier (AdminNetworkPolicies: equal priority) matters only where two such policies apply
        to a common endpoint in a direction in which both have Allow/Deny/Pass rules, not all of one action: then
        which rules come first depends on the names (for ANPs the API leaves it to the implementation)."""
        cluster = self.an.cluster
        ids = {id(pol): pid for pid, pol in self.fb.policy_ids.items()}
        subjects: dict[int, set] = {}
        for pid, c, d in self.e.ask("applies", None, None, None):
            subjects.setdefault(pid, set()).add((c, d))
        groups: dict[tuple, list[CalicoPolicy | AdminPolicy]] = {}
        for p in cluster.calico_policies:  # policies of different hooks never run in one evaluation
            groups.setdefault((p.tier, p.order, p.hook), []).append(p)
        for a in cluster.admin_policies:
            if a.priority is not None:  # the BANP is alone in its tier
                groups.setdefault((a.tier, float(a.priority), "normal"), []).append(a)
        for (tier, order, _hook), pols in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or float("inf"),
                                                                                 kv[0][2])):
            def actions(p, d):
                return {r.action for r in p.rules(Direction(EVALUATIONS[d])) if r.action is not Action.LOG}

            def ambiguous(p, o, d):  # both decide, and not always alike (two Allow-only policies commute)
                mine, theirs = actions(p, d), actions(o, d)
                return bool(mine) and bool(theirs) and len(mine | theirs) > 1
            for p in pols:
                clash = []
                for o in pols:
                    if o is p:
                        continue
                    common = subjects.get(ids[id(p)], set()) & subjects.get(ids[id(o)], set())
                    if any(ambiguous(p, o, d) for _c, d in common):
                        clash.append(o)
                if not clash:
                    continue
                others = ", ".join(sorted(o.ref for o in clash))
                if isinstance(p, AdminPolicy):
                    word = "priority"
                    msg = (f"same priority ({order:g}) as {others}, and they apply to the same endpoints: which one "
                           f"decides a flow that both match is left to the implementation (Calico: by name)")
                else:
                    word = "order"
                    msg = (f"same order ({'none' if order is None else f'{order:g}'}) in tier {tier} as {others}, and "
                           f"they apply to the same endpoints: which rules come first depends on the names")
                out.append(_finding("equal-order", PolicyRef.of(p), msg,
                                   evidence=[_reference(o, f"same {word}") for o in clash],
                                   key=("equal-order", p.kind, p.ref)))
        used = {p.tier for p in cluster.calico_policies} | {p.tier for p in cluster.admin_policies}
        if cluster.policies:
            used.add("default")
        tiers = [t for t in ordered_tiers(cluster) if t.name in used]
        if not tiers:
            return
        last = tiers[-1]
        if last.name in (ANP_TIER, BANP_TIER):  # the admin tiers Pass by the API's design, and come after Calico's
            return
        for p in cluster.calico_policies:
            if p.tier != last.name:
                continue
            for r in p.ingress + p.egress:
                if r.action is Action.PASS:
                    out.append(_finding("pass-in-last-tier", RuleRef.of(p, r),
                                       f"Pass in {last.name}, the last tier: no tier follows, so the flow goes to the "
                                       f"profile (pods: allowed)",
                                       key=("pass-in-last-tier", p.ref, r.direction.value, r.index)))
        if last.default_action is Action.PASS:
            out.append(_finding("pass-in-last-tier", _ref("Tier", None, last.name, last.origin),
                               f"defaultAction Pass in {last.name}, the last tier: unmatched flows go to the profile "
                               f"(pods: allowed)", key=("pass-in-last-tier", last.name)))

    def missing_default_deny(self, out: list[Finding]) -> None:
        by_ns: dict[tuple[str, str], list[str]] = {}
        for c, d in self.e.ask("not_isolated", None, None):
            cls = self.fb.classes[c]
            if cls.namespace == "kube-system":
                continue
            by_ns.setdefault((cls.namespace, d), []).extend(m.ref for m in cls.members)
        for (ns, d), refs in sorted(by_ns.items()):
            total = sum(1 for ep in self.an.cluster.endpoints if ep.namespace == ns and not ep.host_network)
            nso = self.an.cluster.namespaces.get(ns)
            at = nso.origin if nso else None
            refs = sorted(refs)
            shown = ", ".join(refs[:3]) + (f", … {len(refs) - 3} more" if len(refs) > 3 else "")
            out.append(Finding("missing-default-deny", FINDINGS["missing-default-deny"].severity,
                               f"{len(refs)} of {total} endpoints have no policy for {d}: everything passes that end "
                               f"({shown})", f"Namespace {ns}", Location(at.file, at.line) if at else Location(""),
                               key=("missing-default-deny", ns, d)))


def lint(an: analysis.Analysis, scope: str = "inventory", budget: float = DEFAULT_BUDGET) -> list[Finding]:
    """`budget`: seconds for finding, in any-workload scope, the pods that could be deployed; when it runs out,
    the findings are over the inventory, with a `scope` finding that says so."""
    findings = _Linter(an).run()
    if scope == "any-workload":
        from reasoner.properties.kinds import TooMany
        from reasoner.properties.universe import build_universe

        try:
            universe = build_universe(an.cluster, budget=budget)
        except TooMany as exc:  # a note of the run, not a kind of finding: its scope stays the inventory
            why = str(exc).removeprefix("any-workload: ")
            findings.append(Finding("scope", Severity.INFO, why, "any-workload", Location(""), key=("scope",)))
            return _sorted(findings)
        wide = _Linter(analysis.analyse(universe.cluster), frozenset(universe.new_pods)).run()
        wide_keys = {f.key for f in wide}
        keys = {f.key for f in findings}
        findings = [replace(f, scope="any-workload") if f.key in wide_keys else
                    replace(f, scope="inventory-only", message=f.message + " (for today's endpoints only: some pod "
                            "that could be deployed makes it matter)") for f in findings]
        findings += [replace(f, scope="any-workload-only", message=f.message + " (with pods that could be deployed)")
                     for f in wide if f.key not in keys and f.kind != "missing-default-deny"]
    return _sorted(findings)


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.location.file, -SEVERITY[f.severity], f.location.line or 0, f.kind,
                                           f.subject))


__all__ = ["lint"]
