"""Per-object validation as the Kubernetes API server and Calico's validator do it: names, label keys and values,
apiVersions, unknown fields, numbers written in other scripts, non-finite orders, selector nesting and size,
and long CIDR lists. Each problem is one line naming file:line, resource and field; exit 2; no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reasoner.api import load
from reasoner.cli import main
from reasoner.model.calico_selector import MAX_NESTING, SelectorSyntaxError, parse_selector
from reasoner.model.cidr import MAX_LIST

NP = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: p
  namespace: shop
spec:
  podSelector: SELECTOR
  ingress:
  - from:
    - PEER
"""

GNP = """apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: NAME
spec:
  order: ORDER
  selector: all()
  ingress:
  - RULE
"""

POD = """apiVersion: v1
kind: Pod
metadata:
  name: NAME
  namespace: NS
  labels: LABELS
spec:
  containers:
  - name: c
    image: nginx
    ports: PORTS
"""


def run(tmp_path: Path, text: str):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    return f, CliRunner().invoke(main, ["connectivity", str(f)])


def one_error(tmp_path: Path, text: str) -> tuple[Path, str]:
    f, result = run(tmp_path, text)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return f, lines[0]


def accepted(tmp_path: Path, text: str) -> None:
    _, result = run(tmp_path, text)
    assert result.exit_code == 0, result.output
    assert result.exception is None


def np(selector: str = "{}", peer: str = "podSelector: {}") -> str:
    return NP.replace("SELECTOR", selector).replace("PEER", peer)


def gnp(rule: str = "action: Allow", order: str = "10", name: str = "p") -> str:
    return GNP.replace("RULE", rule).replace("ORDER", order).replace("NAME", name)


def pod(name: str = "web", ns: str = "shop", labels: str = "{app: web}", ports: str = "[]") -> str:
    return POD.replace("NAME", name).replace("NS", ns).replace("LABELS", labels).replace("PORTS", ports)


# --- label keys and values in Kubernetes selectors -------------------------------------------------------------------

@pytest.mark.parametrize("selector,line,field,words", [
    ("{matchLabels: {app@b: x}}", 7, "spec.podSelector.matchLabels.app@b", "invalid label key 'app@b'"),
    ("{matchLabels: {$web: x}}", 7, "spec.podSelector.matchLabels.$web", "invalid label key '$web'"),
    ("{matchLabels: {'a b': x}}", 7, "spec.podSelector.matchLabels.a b", "invalid label key 'a b'"),
    ("{matchLabels: {'/a': x}}", 7, "spec.podSelector.matchLabels./a", "prefix"),
    ("{matchLabels: {'Ex.com/a': x}}", 7, "spec.podSelector.matchLabels.Ex.com/a", "prefix"),
    ("{matchLabels: {'a/b/c': x}}", 7, "spec.podSelector.matchLabels.a/b/c", "prefix"),
    ("{matchLabels: {'example.com/': x}}", 7, "spec.podSelector.matchLabels.example.com/", "name part"),
    ("{matchLabels: {'" + "k" * 64 + "': x}}", 7, "spec.podSelector.matchLabels." + "k" * 64, "at most 63"),
    ("{matchLabels: {app: 'a b'}}", 7, "spec.podSelector.matchLabels.app", "invalid label value 'a b'"),
    ("{matchLabels: {app: '-web'}}", 7, "spec.podSelector.matchLabels.app", "invalid label value"),
    ("{matchLabels: {app: '" + "v" * 64 + "'}}", 7, "spec.podSelector.matchLabels.app", "at most 63"),
    ("{matchExpressions: [{key: app@b, operator: Exists}]}", 7, "spec.podSelector.matchExpressions[0].key",
     "invalid label key"),
    ("{matchExpressions: [{key: app, operator: In, values: [ok, 'no way']}]}", 7,
     "spec.podSelector.matchExpressions[0].values[1]", "invalid label value 'no way'"),
])
def test_label_keys_and_values_in_selectors_are_validated(tmp_path, selector, line, field, words):
    f, err = one_error(tmp_path, np(selector))
    assert err.startswith(f"error: {f}:{line}: NetworkPolicy shop/p: {field}: "), err
    assert words in err


def test_valid_label_keys_and_values_are_accepted(tmp_path):
    accepted(tmp_path, np("{matchLabels: {app.kubernetes.io/name: web, x_y.z-1: A_b.C-9, empty: ''}, "
                          "matchExpressions: [{key: k8s.io/x, operator: NotIn, values: ['', v1]}]}"))


def test_peer_selectors_are_validated_too(tmp_path):
    f, err = one_error(tmp_path, np(peer="namespaceSelector: {matchLabels: {team: 'a/b'}}"))
    assert "spec.ingress[0].from[0].namespaceSelector.matchLabels.team: invalid label value 'a/b'" in err


@pytest.mark.parametrize("labels,field", [
    ("{app@b: x}", "metadata.labels.app@b"),
    ("{app: 'two words'}", "metadata.labels.app"),
])
def test_labels_on_objects_are_validated(tmp_path, labels, field):
    f, err = one_error(tmp_path, pod(labels=labels))
    assert f"Pod shop/web: {field}: invalid label" in err


@pytest.mark.parametrize("selector,words", [
    ("app@b == 'x'", "found '@'"),
    ("$web == 'x'", "unexpected character '$'"),
    ("a b == 'x'", "expected an operator"),
])
def test_calico_selector_label_keys_follow_the_selector_syntax(tmp_path, selector, words):
    f, err = one_error(tmp_path, gnp(f'{{action: Allow, source: {{selector: "{selector}"}}}}'))
    assert "spec.ingress[0].source.selector: bad selector" in err and words in err


def test_calico_string_literals_may_hold_anything(tmp_path):
    accepted(tmp_path, gnp("{action: Allow, source: {selector: \"app contains '@ $/ x' || app == ''\"}}"))


# --- names ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,words", [
    ("''", "must be a DNS-1123 subdomain"),
    ("Web", "must be a DNS-1123 subdomain"),
    ("a" * 254, "at most 253 characters"),
    ("a/b", "must be a DNS-1123 subdomain"),
    ("'a b'", "must be a DNS-1123 subdomain"),
    ("a..b", "must be a DNS-1123 subdomain"),
    ("web-", "must be a DNS-1123 subdomain"),
])
def test_pod_names_are_dns_subdomains(tmp_path, name, words):
    f, err = one_error(tmp_path, pod(name=name))
    assert ": metadata.name: invalid name" in err and words in err


@pytest.mark.parametrize("ns", ["Shop", "a.b", "'a b'", "n" * 64, "a/b"])
def test_namespace_fields_are_dns_labels(tmp_path, ns):
    f, err = one_error(tmp_path, pod(ns=ns))
    assert ": metadata.namespace: invalid name" in err and ("DNS-1123 label" in err or "at most 63" in err)


def test_namespace_names_are_dns_labels(tmp_path):
    f, err = one_error(tmp_path, "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop.eu}\n")
    assert err.startswith(f"error: {f}:3: Namespace shop.eu: metadata.name: invalid name 'shop.eu'"), err


def test_service_names_are_dns_1035_labels(tmp_path):
    f, err = one_error(tmp_path, "apiVersion: v1\nkind: Service\nmetadata: {name: 1web, namespace: shop}\n"
                                 "spec: {selector: {app: web}, ports: [{port: 80}]}\n")
    assert "Service shop/1web: metadata.name: invalid name '1web'" in err and "DNS-1035" in err


def test_policy_names_are_dns_subdomains(tmp_path):
    text = np().replace("name: p", "name: Allow_Web")
    f, err = one_error(tmp_path, text)
    assert "metadata.name: invalid name 'Allow_Web'" in err
    f, err = one_error(tmp_path, gnp(name="Allow-Web"))
    assert "GlobalNetworkPolicy Allow-Web: metadata.name: invalid name" in err


def test_valid_names_are_accepted(tmp_path):
    accepted(tmp_path, pod(name="web-1.v2", ns="shop-eu") + "---\n" + np().replace("name: p", "name: allow.web-1")
             + "---\n" + gnp(name="default.allow-web"))


def test_tier_prefixed_calico_names_are_accepted(tmp_path):
    tier = "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 100}\n---\n"
    accepted(tmp_path, tier + gnp(name="security.allow-web").replace("  order: 10", "  tier: security\n  order: 10"))


def test_an_empty_namespace_is_the_default_one(tmp_path):
    accepted(tmp_path, pod(ns="''"))


def test_metadata_that_is_not_a_mapping_is_named(tmp_path):
    f, err = one_error(tmp_path, "apiVersion: v1\nkind: Pod\nmetadata: web\n")
    assert ": metadata: expected a mapping" in err


# --- apiVersion -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,words", [
    (np().replace("networking.k8s.io/v1", "networking.k8s.io/v2"),
     "apiVersion: unknown apiVersion 'networking.k8s.io/v2' for NetworkPolicy (want networking.k8s.io/v1)"),
    (pod().replace("apiVersion: v1", "apiVersion: v2"), "unknown apiVersion 'v2' for Pod (want v1)"),
    (gnp().replace("projectcalico.org/v3", "projectcalico.org/v1"), "want projectcalico.org/v3"),
])
def test_unknown_api_versions_of_known_kinds_are_errors(tmp_path, text, words):
    f, err = one_error(tmp_path, text)
    assert words in err and f"{f}:1:" in err


# --- unknown fields ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,line,field,words", [
    (np().replace("podSelector: {}\n  ingress", "podSelectr: {}\n  ingress"), 7, "spec.podSelectr",
     "did you mean 'podSelector'"),
    (np().replace("  ingress:", "  ingres:"), 8, "spec.ingres", "did you mean 'ingress'"),
    (np().replace("  - from:", "  - form:"), 9, "spec.ingress[0].form", "did you mean 'from'"),
    (np(peer="ipBlock: {cidr: 10.0.0.0/8, excepts: [10.1.0.0/16]}"), 10, "spec.ingress[0].from[0].ipBlock.excepts",
     "did you mean 'except'"),
    (np("{matchLabel: {a: b}}"), 7, "spec.podSelector.matchLabel", "did you mean 'matchLabels'"),
    (np().replace("  name: p\n", "  name: p\n  lables: {a: b}\n"), 5, "metadata.lables", "did you mean 'labels'"),
    (np() + "spc: {}\n", 11, "spc", "did you mean 'spec'"),
    (pod(ports="[{containerPrt: 80}]"), 11, "spec.containers[0].ports[0].containerPrt",
     "did you mean 'containerPort'"),
    (gnp("{action: Allow, source: {selecter: all()}}"), 9, "spec.ingress[0].source.selecter",
     "did you mean 'selector'"),
    (gnp("{action: Allow, protocol: ICMP, icmp: {typ: 8}}"), 9, "spec.ingress[0].icmp.typ", "did you mean 'type'"),
    (gnp().replace("  selector:", "  selectr:"), 7, "spec.selectr", "did you mean 'selector'"),
])
def test_unknown_fields_are_errors(tmp_path, text, line, field, words):
    f, err = one_error(tmp_path, text)
    assert f"{f}:{line}: " in err and f": {field}: unknown field" in err and words in err, err


def test_every_unknown_field_is_reported(tmp_path):
    _, result = run(tmp_path, np().replace("  ingress:", "  ingres:").replace("  name: p\n", "  name: p\n  nam: q\n"))
    assert result.exit_code == 2
    assert "metadata.nam: unknown field" in result.stderr and "spec.ingres: unknown field" in result.stderr


def test_system_fields_and_unmodeled_pod_fields_are_valid(tmp_path):
    accepted(tmp_path, """apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  generateName: web-
  uid: 0b7c1d6e-0000-4000-8000-000000000000
  resourceVersion: "123"
  generation: 2
  creationTimestamp: "2024-01-01T00:00:00Z"
  labels: {app: web}
  annotations: {note: "anything: at all"}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: x, controller: true}]
  finalizers: [example.com/keep]
  managedFields: [{manager: kubectl, operation: Apply}]
spec:
  nodeName: node-1
  volumes: [{name: v, emptyDir: {}}]
  containers:
  - name: c
    image: nginx
    env: [{name: A, value: b}]
    resources: {limits: {cpu: "1"}}
    ports: [{name: http, containerPort: 80, protocol: TCP, hostPort: 8080, hostIP: 0.0.0.0}]
status:
  phase: Running
  podIP: 10.0.0.5
  conditions: [{type: Ready, status: "True"}]
""")


# --- numbers and text -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rule,field,words", [
    ("{action: Allow, protocol: '²'}", "spec.ingress[0].protocol", "unknown protocol '²'"),
    ("{action: Allow, protocol: '٦'}", "spec.ingress[0].protocol", "unknown protocol"),
    ("{action: Allow, protocol: TCP, destination: {ports: ['٨٠']}}", "spec.ingress[0].destination.ports[0]",
     "is not a port"),
    ("{action: Allow, protocol: TCP, destination: {ports: ['٨٠:٩٠']}}", "spec.ingress[0].destination.ports[0]",
     "is not a port"),
    ("{action: Allow, protocol: TCP, destination: {ports: ['²']}}", "spec.ingress[0].destination.ports[0]",
     "is not a port"),
    ("{action: Allow, protocol: 1" + "0" * 400 + "}", "spec.ingress[0].protocol", "a very large integer"),
])
def test_only_ascii_digits_are_numbers(tmp_path, rule, field, words):
    f, err = one_error(tmp_path, gnp(rule))
    assert f": {field}: " in err and words in err, err


def test_ascii_numbers_in_strings_still_are(tmp_path):
    accepted(tmp_path, gnp("{action: Allow, protocol: '6', destination: {ports: ['80', '8000:8080']}}"))


def test_unicode_digits_in_a_kubernetes_port_are_not_a_number(tmp_path):
    text = np().replace("    - podSelector: {}\n", "    - podSelector: {}\n    ports: [{port: '٨٠'}]\n")
    f, err = one_error(tmp_path, text)
    assert "spec.ingress[0].ports[0].port: '٨٠' is not a valid port name" in err


@pytest.mark.parametrize("order,words", [
    (".nan", "expected a finite number"),
    (".inf", "expected a finite number"),
    ("-.inf", "expected a finite number"),
    ("1" + "0" * 400, "a very large integer"),
    ("'10'", "expected a number"),
])
def test_calico_order_is_a_finite_number(tmp_path, order, words):
    f, err = one_error(tmp_path, gnp(order=order))
    assert err.startswith(f"error: {f}:6: GlobalNetworkPolicy p: spec.order: "), err
    assert words in err


def test_tier_order_is_a_finite_number(tmp_path):
    f, err = one_error(tmp_path, "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\n"
                                 "spec: {order: .nan}\n")
    assert "Tier t: spec.order: expected a finite number" in err


@pytest.mark.parametrize("ports,field", [
    ("[{name: HTTP, containerPort: 80}]", "spec.containers[0].ports[0].name"),
    ("[{name: '٨٠', containerPort: 80}]", "spec.containers[0].ports[0].name"),
])
def test_container_port_names_are_iana_service_names(tmp_path, ports, field):
    f, err = one_error(tmp_path, pod(ports=ports))
    assert f"Pod shop/web: {field}: " in err and "is not a valid port name" in err


def test_a_service_target_port_name_is_an_iana_service_name(tmp_path):
    f, err = one_error(tmp_path, "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
                                 "spec: {selector: {app: web}, ports: [{port: 80, targetPort: '٨٠'}]}\n")
    assert "Service shop/web: spec.ports[0].targetPort: '٨٠' is not a valid port name" in err


def test_a_port_name_with_a_trailing_newline_is_not_a_port_name(tmp_path):
    text = np().replace("    - podSelector: {}\n", '    - podSelector: {}\n    ports: [{port: "http\\n"}]\n')
    f, err = one_error(tmp_path, text)
    assert "spec.ingress[0].ports[0].port:" in err and "not a valid port name" in err


# --- long CIDR lists --------------------------------------------------------------------------------------------------

def test_an_ipblock_with_ten_thousand_excepts_is_a_clear_error(tmp_path):
    excepts = ", ".join(f"10.{i >> 8 & 255}.{i & 255}.0/24" for i in range(10_000))
    f, err = one_error(tmp_path, np(peer=f"ipBlock: {{cidr: 10.0.0.0/8, except: [{excepts}]}}"))
    assert f"spec.ingress[0].from[0].ipBlock.except: has 10000 entries; at most {MAX_LIST}" in err


def test_calico_nets_are_capped_too(tmp_path):
    nets = ", ".join(f"10.{i >> 8 & 255}.{i & 255}.0/24" for i in range(MAX_LIST + 1))
    f, err = one_error(tmp_path, gnp(f"{{action: Allow, source: {{notNets: [{nets}]}}}}"))
    assert f"spec.ingress[0].source.notNets: has {MAX_LIST + 1} entries" in err


def test_a_list_at_the_cap_is_read(tmp_path):
    excepts = ", ".join(f"10.{i >> 8 & 255}.{i & 255}.0/24" for i in range(MAX_LIST))
    f = tmp_path / "cap.yaml"
    f.write_text(np(peer=f"ipBlock: {{cidr: 10.0.0.0/8, except: [{excepts}]}}"))
    cluster = load([f])  # read and validated; not analysed (that takes a while at the cap)
    assert len(cluster.policies[0].ingress[0].peers[0].excepts) == MAX_LIST


# --- Calico selectors: nesting and size -------------------------------------------------------------------------------

def test_deeply_nested_selectors_are_a_located_error(tmp_path):
    deep = "(" * 5000 + "has(a)" + ")" * 5000
    f, err = one_error(tmp_path, gnp(f'{{action: Allow, source: {{selector: "{deep}"}}}}'))
    assert "spec.ingress[0].source.selector: bad selector" in err
    assert f"column {MAX_NESTING + 1}: parentheses nested deeper than {MAX_NESTING} levels" in err
    assert len(err) < 400  # the selector is shortened in the message


def test_nesting_up_to_the_limit_parses():
    sel = parse_selector("(" * MAX_NESTING + "has(a)" + ")" * MAX_NESTING)
    assert sel.canonical == "has(a)"
    with pytest.raises(SelectorSyntaxError):
        parse_selector("!(" * (MAX_NESTING + 1) + "has(a)" + ")" * (MAX_NESTING + 1))


def test_a_megabyte_selector_parses_and_matches():
    # quadratic before: every && added to a growing conjunction copied it
    terms = [f"has(key{i})" for i in range(100_000)]
    text = " && ".join(terms)
    assert len(text) > 1_000_000
    sel = parse_selector(text)
    labels = {f"key{i}": "" for i in range(100_000)}
    assert sel.matches(labels)
    del labels["key99999"]
    assert not sel.matches(labels)
    negated = parse_selector("!(" + " || ".join(terms) + ")")
    assert negated.matches({"other": "x"}) and not negated.matches({"key5": "x"})


def test_a_megabyte_disjunction_is_too_complex_not_slow():
    # quadratic before: absorbing 100 000 conjunctions compared each with all the kept ones
    text = " || ".join(f"k == 'v{i}'" for i in range(100_000))
    with pytest.raises(SelectorSyntaxError, match="too complex"):
        parse_selector(text)


def test_more_distinct_cidrs_than_supported_in_all_is_a_clear_error(tmp_path):
    half = MAX_LIST // 2 + 1  # two lists, each within the cap, that together name more CIDRs than supported
    first = ", ".join(f"10.{i >> 8 & 255}.{i & 255}.0/24" for i in range(half))
    second = ", ".join(f"11.{i >> 8 & 255}.{i & 255}.0/24" for i in range(half))
    f, err = one_error(tmp_path, np(peer=f"ipBlock: {{cidr: 10.0.0.0/8, except: [{first}]}}\n"
                                         f"    - ipBlock: {{cidr: 11.0.0.0/8, except: [{second}]}}"))
    assert f"name {2 * half + 2} distinct CIDRs" in err and f"at most {MAX_LIST} are supported" in err
