"""Benchmark: generate clusters of growing size and time every stage.

    python -m reasoner.benchmark                      # the default sizes
    python -m reasoner.benchmark --sizes 1000x300 10000x2000 --calico

For each size (pods x policies) it writes a synthetic cluster (namespaces, Pods with addresses and
named ports, many replicas per workload, Kubernetes NetworkPolicies of the usual shapes) to a temporary
directory and prints: load time, fact+rule evaluation time, connectivity-map time, one `can` query,
peak memory, and the number of endpoint classes. If network-config-analyzer is installed, it is timed
on the same files and the ratio printed.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

TIERS = ("web", "api", "worker", "db", "cache")
PORTS = {"web": 8080, "api": 9090, "worker": 7000, "db": 5432, "cache": 6379}


def calico_policies(namespaces: list[str], workloads: list[tuple[str, str, str]], count: int,
                    rnd: random.Random) -> list[dict]:
    """Calico policies of the usual shapes: a security tier with a DNS exception and a Pass, a global deny of
    SSH ahead of the Kubernetes policies, per-namespace Deny/Allow policies, a network set for egress."""
    v3 = "projectcalico.org/v3"
    docs: list[dict] = [
        {"apiVersion": v3, "kind": "Tier", "metadata": {"name": "security"}, "spec": {"order": 100}},
        {"apiVersion": v3, "kind": "GlobalNetworkSet", "metadata": {"name": "partners", "labels": {"peer": "partner"}},
         "spec": {"nets": ["198.51.100.0/24", "203.0.113.0/25"]}},
        {"apiVersion": v3, "kind": "GlobalNetworkPolicy", "metadata": {"name": "security.baseline"},
         "spec": {"tier": "security", "order": 10, "types": ["Ingress", "Egress"],
                  "namespaceSelector": "kubernetes.io/metadata.name != 'kube-system'",
                  "ingress": [{"action": "Deny", "source": {"selector": "quarantine == 'true'"}},
                              {"action": "Pass"}],
                  "egress": [{"action": "Allow", "protocol": "UDP",
                              "destination": {"selector": "k8s-app == 'kube-dns'", "ports": [53]}},
                             {"action": "Allow", "protocol": "TCP",
                              "destination": {"selector": "k8s-app == 'kube-dns'", "ports": [53]}},
                             {"action": "Deny", "destination": {"nets": ["169.254.169.254/32"]}},
                             {"action": "Pass"}]}},
        {"apiVersion": v3, "kind": "GlobalNetworkPolicy", "metadata": {"name": "deny-ssh"},
         "spec": {"order": 10, "selector": "has(app)", "types": ["Ingress"],
                  "ingress": [{"action": "Deny", "protocol": "TCP", "destination": {"ports": [22, "2222:2230"]}}]}},
    ]
    for i in range(max(0, count - 2)):
        ns, app, tier = workloads[rnd.randrange(len(workloads))]
        _ons, other_app, _ot = workloads[rnd.randrange(len(workloads))]
        docs.append({"apiVersion": v3, "kind": "NetworkPolicy", "metadata": {"name": f"cal-{i}", "namespace": ns},
                     "spec": {"order": rnd.choice([50, 500, 1500]), "selector": f"app == '{app}'",
                              "types": ["Ingress", "Egress"],
                              "ingress": [{"action": "Deny", "protocol": "TCP", "source": {"selector": "version == 'v0'"},
                                           "destination": {"ports": ["9000:9100"]}},
                                          {"action": "Allow", "protocol": "TCP",
                                           "source": {"selector": f"app == '{other_app}' || tier == 'web'",
                                                      "namespaceSelector": "all()"},
                                           "destination": {"ports": [PORTS[tier], "http"]}}],
                              "egress": [{"action": "Allow", "protocol": "TCP",
                                          "destination": {"selector": "peer == 'partner'", "namespaceSelector": "global()",
                                                          "ports": [443]}},
                                         {"action": "Allow", "destination": {"selector": f"app == '{other_app}'"}}]}})
    return docs


def host_endpoints(hosts: int, workloads: list[tuple[str, str, str]]) -> list[dict]:
    """`hosts` nodes, each with a HostEndpoint (every tenth a wildcard with the default-allow profile), a NodePort
    Service for every tenth workload, and host protection as Calico's guide has it: preDNAT policies letting the
    cluster's networks in, opening the node ports to an office network and dropping the rest; a normal policy
    for the kubelet API and the hosts' own egress; an untracked policy keeping pods off etcd."""
    docs: list[dict] = []
    for n in range(hosts):
        wild = n % 10 == 9
        spec = {"node": f"node-{n}", "interfaceName": "*" if wild else "eth0",
                "expectedIPs": [f"192.168.{n >> 8}.{n & 255}"]}
        if wild:
            spec["profiles"] = ["projectcalico-default-allow"]
        docs.append({"apiVersion": "projectcalico.org/v3", "kind": "HostEndpoint",
                     "metadata": {"name": f"node-{n}", "labels": {} if wild else {"host-endpoint": "ingress"}},
                     "spec": spec})
    node_ports = []
    for w, (ns, app, tier) in enumerate(workloads[::10]):
        node_ports.append(30000 + w)
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": ns},
                     "spec": {"type": "NodePort", "selector": {"app": app},
                              "externalTrafficPolicy": "Local" if w % 2 else "Cluster",
                              "ports": [{"port": 80, "targetPort": "http", "nodePort": 30000 + w}]}})
    pre = {"preDNAT": True, "applyOnForward": True, "selector": "has(host-endpoint)"}
    gnp = [("allow-cluster-internal", {**pre, "order": 10, "ingress": [
               {"action": "Allow", "source": {"nets": ["10.0.0.0/8", "192.168.0.0/16"]}}]}),
           ("allow-node-ports", {**pre, "order": 11, "ingress": [
               {"action": "Allow", "protocol": "TCP", "source": {"nets": ["203.0.113.0/24"]},
                "destination": {"selector": "has(host-endpoint)", "ports": node_ports[:50] or [30000]}}]}),
           ("drop-other", {**pre, "order": 20, "ingress": [{"action": "Deny"}]}),
           ("host-services", {"selector": "has(host-endpoint)", "order": 100, "types": ["Ingress", "Egress"],
                              "ingress": [{"action": "Allow", "protocol": "TCP",
                                           "source": {"nets": ["192.168.0.0/16"]}, "destination": {"ports": [10250]}}],
                              "egress": [{"action": "Allow"}]}),
           ("no-pods-to-etcd", {"doNotTrack": True, "applyOnForward": True, "selector": "has(host-endpoint)",
                                "order": 1, "ingress": [{"action": "Deny", "protocol": "TCP",
                                                         "source": {"nets": ["10.0.0.0/8"]},
                                                         "destination": {"ports": [4001]}}]})]
    for name, spec in gnp:
        docs.append({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy", "metadata": {"name": name},
                     "spec": spec})
    return docs


def generate(pods: int, policies: int, seed: int = 1, calico: int = 0, hosts: int = 0) -> list[dict]:
    """A cluster of `pods` pods in about pods/20 workloads, `policies` NetworkPolicies, `calico` Calico
    policies (none by default) and `hosts` host endpoints with node ports and host protection (none)."""
    rnd = random.Random(seed)
    n_workloads = max(4, pods // 20)
    n_ns = max(2, n_workloads // 10)
    docs: list[dict] = []
    namespaces = [f"ns{i}" for i in range(n_ns)]
    for i, ns in enumerate(namespaces):
        docs.append({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": ns, "labels": {"team": f"team{i % 7}", "env": rnd.choice(["dev", "prod"])}}})
    docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    workloads = []
    for w in range(n_workloads):
        ns = namespaces[w % n_ns]
        tier = TIERS[w % len(TIERS)]
        workloads.append((ns, f"{tier}-{w}", tier))
    ip = 0
    for w, (ns, app, tier) in enumerate(workloads):
        replicas = max(1, pods // n_workloads + (1 if w < pods % n_workloads else 0))
        for r in range(replicas):
            ip += 1
            docs.append({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": f"{app}-{r}", "namespace": ns,
                                      "labels": {"app": app, "tier": tier, "version": f"v{w % 3}"}},
                         "spec": {"serviceAccountName": app, "containers": [{
                             "name": "main", "image": "example/app",
                             "ports": [{"name": "http", "containerPort": PORTS[tier]},
                                       {"name": "metrics", "containerPort": 9100}]}]},
                         "status": {"phase": "Running", "podIP": f"10.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}"}})
    docs.append({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": "coredns-0", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
                 "spec": {"containers": [{"name": "coredns", "image": "coredns",
                                          "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                                    {"name": "dns-tcp", "containerPort": 53}]}]},
                 "status": {"phase": "Running", "podIP": "10.255.0.10"}})
    shapes = ["same-ns", "cross-ns", "named", "range", "ipblock", "egress-dns", "egress-to"]
    for p in range(policies):
        ns, app, tier = workloads[rnd.randrange(len(workloads))]
        other_ns, other_app, other_tier = workloads[rnd.randrange(len(workloads))]
        shape = "deny-ns" if p < n_ns else shapes[p % len(shapes)]
        meta = {"name": f"pol-{p}", "namespace": namespaces[p] if shape == "deny-ns" else ns}
        spec: dict = {"podSelector": {"matchLabels": {"app": app}}}
        if shape == "deny-ns":
            spec = {"podSelector": {}, "policyTypes": ["Ingress"]}
        elif shape == "same-ns":
            spec["ingress"] = [{"from": [{"podSelector": {"matchLabels": {"tier": rnd.choice(TIERS)}}}],
                                "ports": [{"port": PORTS[tier]}]}]
        elif shape == "cross-ns":
            spec["ingress"] = [{"from": [{"namespaceSelector": {"matchLabels": {"team": f"team{rnd.randrange(7)}"}},
                                          "podSelector": {"matchExpressions": [
                                              {"key": "tier", "operator": "In", "values": [other_tier, "web"]}]}}],
                                "ports": [{"port": PORTS[tier]}, {"port": 9100}]}]
        elif shape == "named":
            spec["ingress"] = [{"from": [{"podSelector": {"matchLabels": {"app": other_app}}},
                                         {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": other_ns}}}],
                                "ports": [{"port": "http"}, {"port": "metrics"}]}]
        elif shape == "range":
            spec["ingress"] = [{"from": [{"podSelector": {"matchExpressions": [
                                   {"key": "version", "operator": "NotIn", "values": ["v0"]}]}}],
                                "ports": [{"port": 8000, "endPort": 9000}, {"protocol": "UDP", "port": 5000}]}]
        elif shape == "ipblock":
            octet = rnd.randrange(2)
            spec["ingress"] = [{"from": [{"ipBlock": {"cidr": f"10.{octet}.0.0/16",
                                                      "except": [f"10.{octet}.{rnd.randrange(4)}.0/24"]}}]}]
        elif shape == "egress-dns":
            spec["policyTypes"] = ["Egress"]
            spec["egress"] = [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                       "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                               "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                              {"to": [{"podSelector": {"matchLabels": {"app": other_app}}}]}]
        else:
            spec["policyTypes"] = ["Egress"]
            spec["egress"] = [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}],
                               "ports": [{"port": 443}]},
                              {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"tier": other_tier}}}]}]
        docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": spec})
    if calico:
        docs.extend(calico_policies(namespaces, workloads, calico, rnd))
    if hosts:
        docs.extend(host_endpoints(hosts, workloads))
    return docs


def mutate(docs: list[dict], changes: int, seed: int = 3) -> list[dict]:
    """A second version of `docs` with `changes` rules changed: a numeric port widened by an endPort."""
    import copy

    rnd = random.Random(seed)
    out = copy.deepcopy(docs)
    candidates = [(d, item) for d in out if d["kind"] == "NetworkPolicy"
                  for rule in d["spec"].get("ingress", []) + d["spec"].get("egress", [])
                  for item in rule.get("ports", []) if isinstance(item.get("port"), int) and "endPort" not in item]
    for d, item in rnd.sample(candidates, min(changes, len(candidates))):
        item["endPort"] = item["port"] + 5
    return out


def lint_figures(directory: Path) -> dict:
    from reasoner import api
    from reasoner.lint import lint

    t0 = time.perf_counter()
    an = api.analyse(api.load([directory]))
    t1 = time.perf_counter()
    findings = lint(an)
    t2 = time.perf_counter()
    kinds: dict[str, int] = {}
    for f in findings:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    return {"analyse_s": t1 - t0, "lint_s": t2 - t1, "kinds": kinds, "peak_mib": peak_mib()}


def diff_figures(old: Path, new: Path) -> dict:
    from reasoner.diff import diff

    t0 = time.perf_counter()
    result = diff(str(old), str(new))
    return {"diff_s": time.perf_counter() - t0, "changes": len(result.changes), "equivalent": result.equivalent,
            "peak_mib": peak_mib()}


def write(docs: list[dict], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    chunk = 500
    for i in range(0, len(docs), chunk):
        (directory / f"part-{i // chunk:04d}.yaml").write_text(yaml.safe_dump_all(docs[i:i + chunk], sort_keys=False))


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(pods: int, policies: int, directory: Path) -> dict:
    from reasoner import api
    from reasoner.connectivity import class_connections
    from reasoner.explain import can

    t0 = time.perf_counter()
    cluster = api.load([directory])
    t1 = time.perf_counter()
    an = api.analyse(cluster)
    an.engine.ask("applies", None, None, None)
    t2 = time.perf_counter()
    conns = class_connections(an)
    t3 = time.perf_counter()
    src = cluster.endpoints[0].ref
    dst = cluster.endpoints[-1].ref
    can(an, src, dst, "TCP", 8080)
    t4 = time.perf_counter()
    can(an, cluster.endpoints[1].ref, cluster.endpoints[-2].ref, "TCP", 5432)
    t5 = time.perf_counter()
    host_ms = None
    if cluster.host_endpoints:  # a node port through the first host endpoint, from the office network
        port = next(sp.node_port for v in cluster.services for sp in v.ports if sp.node_port is not None)
        t = time.perf_counter()
        can(an, "ip:203.0.113.7", cluster.host_endpoints[0].ref, "TCP", port)
        host_ms = (time.perf_counter() - t) * 1000
    internal = [c for c in an.facts.classes if c.external is None]
    return {"pods": pods, "policies": policies, "classes": len(internal), "host_can_ms": host_ms,
            "hosts": len(cluster.host_endpoints),
            "atoms": len(an.facts.classes) - len(internal), "facts": len(an.facts.facts),
            "load_s": t1 - t0, "rules_s": t2 - t1, "map_s": t3 - t2, "class_pairs": len(conns),
            "can_first_ms": (t4 - t3) * 1000, "can_ms": (t5 - t4) * 1000, "peak_mib": peak_mib()}


def prove_figures(directory: Path, count: int, seed: int = 2, scope: str = "inventory") -> dict:
    """Time `count` generated requirements (deny / allow / only / isolated over the generated names); in
    any-workload scope, also the building and analysis of the new pods' representatives (`widen_s`)."""
    from reasoner import api
    from reasoner.properties.prove import Prover
    from reasoner.properties.spec import Peer, PortRange, Requirement
    from reasoner.model.calico_selector import parse_selector

    rnd = random.Random(seed)
    cluster = api.load([directory])
    an = api.analyse(cluster)
    apps = sorted({dict(e.labels).get("app") for e in cluster.endpoints if dict(e.labels).get("app")})
    namespaces = sorted(cluster.namespaces)
    reqs = []
    for i in range(count):
        kind = ("deny", "allow", "only", "isolated")[i % 4]
        a = Peer(selector=parse_selector(f"app == '{rnd.choice(apps)}'"))
        b = Peer(namespace=rnd.choice(namespaces), selector=parse_selector(f"app == '{rnd.choice(apps)}'"))
        reqs.append(Requirement(f"r{i}", kind, a, b, (PortRange("TCP", 1, 9000),) if i % 3 else None,
                                ("ingress", "egress"), b))
    t0 = time.perf_counter()
    new_pods = None
    if scope == "any-workload":
        from reasoner.properties.prove import any_workload
        from reasoner.properties.workloads import TooMany

        try:
            an, universe = any_workload(an, [p for r in reqs for p in (r.src, r.dst, r.selected)])
        except TooMany as exc:
            return {"widen_s": time.perf_counter() - t0, "new_pods": 0, "encode_s": 0, "max_s": 0, "total_s": 0,
                    "statuses": ["unknown"] * count, "note": str(exc)}
        new_pods = universe.new_pods
    tw = time.perf_counter()
    prover = Prover(an, 60_000, new_pods)
    t1 = time.perf_counter()
    times, statuses = [], []
    for req in reqs:
        t = time.perf_counter()
        statuses.append(prover.check(req, scope).status)
        times.append(time.perf_counter() - t)
    return {"widen_s": tw - t0, "new_pods": len(new_pods or ()), "encode_s": t1 - tw, "max_s": max(times),
            "total_s": sum(times), "statuses": statuses}


def time_nca(exe: str, directory: Path, limit: float) -> float | None:
    """network-config-analyzer's connectivity map of the same files, in seconds (inf past `limit`)."""
    t = time.perf_counter()
    try:
        subprocess.run([exe, "--connectivity", str(directory), "--pod_list", str(directory), "--ns_list",
                        str(directory), "--output_format", "txt"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=limit, check=True)
    except subprocess.TimeoutExpired:
        return float("inf")
    except subprocess.CalledProcessError:
        return None
    return time.perf_counter() - t


def fresh(function: str, *args, **kwargs) -> dict | None:
    """`function(*args, **kwargs)` of this module in a new Python process (its own peak memory): its dict, or None
    (the child's error printed). Path arguments travel as strings and arrive as Paths."""
    import json

    code = ("import json, sys; from pathlib import Path; import reasoner.benchmark as b; "
            "a, k = json.loads(sys.argv[1]); "
            f"print(json.dumps(b.{function}(*[Path(x[1]) if isinstance(x, list) else x for x in a], **k)))")
    payload = json.dumps([[["path", str(x)] if isinstance(x, Path) else x for x in args], kwargs])
    out = subprocess.run([sys.executable, "-c", code, payload], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr[-3000:], file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["200x60", "1000x300", "2000x600", "10000x2000"],
                    help="PODSxPOLICIES, e.g. 1000x300")
    ap.add_argument("--calico", type=float, default=0, metavar="FRACTION",
                    help="add Calico policies (tiers, global policies, order), this fraction of the policy count")
    ap.add_argument("--hosts", type=int, default=0, metavar="N",
                    help="add N host endpoints, NodePort Services for a tenth of the workloads, and host protection "
                         "policies (preDNAT, normal, doNotTrack)")
    ap.add_argument("--no-nca", action="store_true", help="do not time network-config-analyzer")
    ap.add_argument("--nca", default=shutil.which("nca"), help="path of network-config-analyzer's `nca` "
                    "(default: found on PATH)")
    ap.add_argument("--nca-limit", type=float, default=900, help="seconds to wait for nca per size")
    ap.add_argument("--prove", type=int, default=0, metavar="N",
                    help="also time N generated compliance requirements per size")
    ap.add_argument("--lint", action="store_true", help="also time `lint` (load, rules and every finding)")
    ap.add_argument("--diff", type=int, default=0, metavar="N",
                    help="also time `diff` against a second version with N rules changed")
    ap.add_argument("--scope", choices=["inventory", "any-workload"], default="inventory",
                    help="scope of the --prove requirements")
    ap.add_argument("--keep", type=Path, help="write the generated clusters here instead of a temp dir")
    args = ap.parse_args(argv)
    header = (f"{'pods':>6} {'policies':>8} {'classes':>7} {'load s':>7} {'rules s':>7} {'map s':>7} "
              f"{'can ms':>7} {'peak MiB':>8} {'nca s':>7} {'ratio':>6}")
    # ratio = nca seconds / (load + rules + map) seconds
    print(header)
    for size in args.sizes:
        pods, policies = (int(x) for x in size.lower().split("x"))
        base = args.keep or Path(tempfile.mkdtemp(prefix="reasoner-bench-"))
        directory = base / f"{pods}x{policies}"
        docs = generate(pods, policies, calico=int(policies * args.calico), hosts=args.hosts)
        write(docs, directory)
        # each measurement in a fresh process, so that peak memory is its own
        r = fresh("run_one", pods, policies, directory)
        if r is None:
            continue
        total = r["load_s"] + r["rules_s"] + r["map_s"]
        nca = None if args.no_nca or not args.nca else time_nca(args.nca, directory, args.nca_limit)
        if nca is None:
            nca_text, ratio = "-", "-"
        elif nca == float("inf"):
            nca_text, ratio = f">{args.nca_limit:.0f}", f">{args.nca_limit / total:.0f}"
        else:
            nca_text, ratio = f"{nca:.1f}", f"{nca / total:.1f}"
        print(f"{pods:>6} {policies:>8} {r['classes']:>7} {r['load_s']:>7.2f} {r['rules_s']:>7.2f} {r['map_s']:>7.2f} "
              f"{r['can_ms']:>7.1f} {r['peak_mib']:>8.0f} {nca_text:>7} {ratio:>6}", flush=True)
        if r.get("hosts"):
            print(f"       {r['hosts']} host endpoints (in the map above); can to a node port through one: "
                  f"{r['host_can_ms']:.1f} ms", flush=True)
        if args.prove and (p := fresh("prove_figures", directory, args.prove, scope=args.scope)) is not None:
            counts = {st: p["statuses"].count(st) for st in sorted(set(p["statuses"]))}
            widen = (f"; {p['new_pods']} new pods built and analysed in {p['widen_s']:.2f} s"
                     if args.scope == "any-workload" else "")
            print(f"       prove ({args.scope}): {args.prove} requirements in {p['total_s']:.2f} s (slowest "
                  f"{p['max_s']:.2f} s; z3 encoding {p['encode_s']:.2f} s{widen}); {counts}", flush=True)
            if p.get("note"):
                print(f"       {p['note']} (after {p['widen_s']:.1f} s)", flush=True)
        if args.lint and (d := fresh("lint_figures", directory)) is not None:
            total = d["analyse_s"] + d["lint_s"]
            print(f"       lint: {total:.2f} s ({d['analyse_s']:.2f} s load and rules, {d['lint_s']:.2f} s findings; "
                  f"peak {d['peak_mib']:.0f} MiB): {d['kinds']}", flush=True)
        if args.diff:
            other = base / f"{pods}x{policies}-changed"
            write(mutate(docs, args.diff), other)
            if (d := fresh("diff_figures", directory, other)) is not None:
                print(f"       diff: {args.diff} rules changed -> {d['changes']} flow classes in {d['diff_s']:.2f} s "
                      f"(both versions loaded and compared; peak {d['peak_mib']:.0f} MiB)", flush=True)
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
