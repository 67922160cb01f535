"""The query REPL: scripted sessions answer as the one-shot commands do; queries are data; a terminal works."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from reasoner.cli import main
from reasoner.errors import UsageError
from reasoner.repl import Completer, Session, Suggestion, Var, parse_flow, parse_query, suggest
from reasoner.report.connectivity import allowed_text
from support.helpers import connections

ROOT = Path(__file__).resolve().parents[1]
DEMO = str(ROOT / "corpus" / "microservices-demo" / "manifests")
CALICO = str(ROOT / "corpus" / "calico-security-tier-dns" / "manifests")


@pytest.fixture(scope="module")
def demo() -> Session:
    return Session([DEMO])


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def rows(text: str) -> set[tuple[str, ...]]:
    """The body of a table (header and summary lines dropped), cells split on runs of 2+ spaces."""
    lines = text.splitlines()[1:]
    return {tuple(re.split(r"\s{2,}", line.strip())) for line in lines if re.search(r"\S\s{2,}\S", line)}


# ---- scripted sessions, compared with the one-shot CLI ------------------------------------------------

def test_a_script_on_stdin_answers_can_and_why_as_reasoner_can_does():
    one_shot = cli("can", "boutique/frontend", "boutique/cartservice", "--port", "7070", "-f", DEMO)
    denied = cli("can", "boutique/frontend", "boutique/paymentservice", "--port", "50051", "-f", DEMO)
    any_port = cli("can", "boutique/checkoutservice", "boutique/paymentservice", "-f", DEMO)
    assert (one_shot.exit_code, denied.exit_code, any_port.exit_code) == (0, 1, 0)
    script = "\n".join([
        "# a comment, then a blank line: neither is a command",
        "",
        "can boutique/frontend boutique/cartservice 7070/TCP",
        "why boutique/frontend boutique/cartservice 7070/TCP",
        "why boutique/frontend boutique/paymentservice 50051/TCP",
        "why boutique/checkoutservice boutique/paymentservice",
        "who-can-reach boutique/cartservice",
        '?- applies(P, "boutique/cartservice", "ingress")',
        '?- applies(P, "boutique/cartservice"',
        "can boutique/frontend boutique/paymentservice 50051/TCP",
    ]) + "\n"
    result = CliRunner().invoke(main, ["repl", DEMO], input=script)
    head = one_shot.stdout.split("\n\n")[0]
    assert head == "ALLOWED  boutique/frontend -> boutique/cartservice  TCP/7070"
    expected = [
        head,
        one_shot.stdout.rstrip("\n"),
        denied.stdout.rstrip("\n"),
        any_port.stdout.rstrip("\n"),
        "SOURCE                    ALLOWED\n"
        "boutique/checkoutservice  TCP 7070\n"
        "boutique/frontend         TCP 7070\n"
        "2 sources can reach boutique/cartservice",
        # hand-checked: deny-all selects every pod for both directions; cartservice's own policy has Ingress
        "P\nNetworkPolicy boutique/cartservice\nNetworkPolicy boutique/deny-all\n(2 rows)",
        "",  # the malformed query: its error goes to stderr, the session goes on
        denied.stdout.split("\n\n")[0],
    ]
    assert result.stdout == "".join(block + "\n\n" if block else "\n" for block in expected)
    assert result.stderr.startswith("error: bad query at column 37: expected ',' or ')', found the end of the line")
    assert result.stderr.count("\n") == 1
    assert result.exit_code == 1  # a command failed


def test_a_service_destination_is_answered_as_reasoner_can_answers_it():
    one_shot = cli("can", "boutique/loadgenerator", "frontend.boutique", "--port", "80", "-f", DEMO)
    assert one_shot.exit_code == 0 and one_shot.stdout.startswith("ALLOWED  boutique/loadgenerator -> service")
    session = Session([DEMO])
    assert session.execute("why boutique/loadgenerator frontend.boutique 80").text == one_shot.stdout.rstrip("\n")
    assert session.execute("can boutique/loadgenerator frontend.boutique 80").text.splitlines() == [
        "ALLOWED  boutique/loadgenerator -> service boutique/frontend (80): 1 of 1 backend port allowed",
        "  ALLOWED      80/TCP -> boutique/frontend:8080"]


def test_session_run_answers_a_script_without_a_terminal(demo):
    transcript, ok = demo.run("can boutique/frontend boutique/redis-cart 6379/TCP\n\n# done\nquit\nrelations\n")
    assert (transcript, ok) == ("DENIED  boutique/frontend -> boutique/redis-cart  TCP/6379\n\n", True)
    transcript, ok = demo.run("why x/a y/b\nreachable-from boutique/redis-cart\n")
    assert transcript.startswith("error: unknown endpoint 'x/a'")
    assert transcript.endswith("\n\nboutique/redis-cart can reach nothing\n\n") and not ok


def test_execute_runs_each_command_in_order_and_exits_0_when_none_failed():
    result = cli("repl", DEMO, "-e", "can boutique/frontend boutique/paymentservice 50051/TCP",
                 "--execute", "can boutique/loadgenerator boutique/frontend 8080")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("DENIED  boutique/frontend -> boutique/paymentservice  TCP/50051\n\n"
                                    "ALLOWED  boutique/loadgenerator -> boutique/frontend  TCP/8080\n\n")


@pytest.mark.parametrize("command, message", [
    pytest.param("can boutique/nope boutique/frontend", "error: unknown endpoint 'boutique/nope'", id="endpoint"),
    pytest.param("can boutique/frontend boutique/cartservice 70000", "error: port 70000 is out of range", id="port"),
    pytest.param("can boutique/frontend boutique/cartservice 80/XYZ", "error: unknown protocol 'XYZ'", id="protocol"),
    pytest.param("endpoints app = 'x'", "error: bad selector \"app = 'x'\": column 5:", id="selector"),
    pytest.param("?- nosuch(X)", "error: unknown relation 'nosuch'", id="relation"),
    pytest.param("frobnicate", "error: unknown command 'frobnicate'", id="command"),
])
def test_bad_input_is_one_error_line_and_exit_status_1(command, message):
    result = cli("repl", DEMO, "-e", command, "-e", "can boutique/frontend boutique/cartservice 7070/TCP")
    assert result.exit_code == 1
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == "\nALLOWED  boutique/frontend -> boutique/cartservice  TCP/7070\n\n"


def test_inputs_that_cannot_be_loaded_exit_2():
    result = cli("repl", str(ROOT / "no-such-dir"), "-e", "relations")
    assert result.exit_code == 2
    assert "no such file or directory" in result.stderr


def test_repl_help_teaches_with_examples():
    result = cli("repl", "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout and "reasoner repl manifests/ < questions.txt" in result.stdout


# ---- who-can-reach, reachable-from: the rows of the connectivity map ------------------------------------

@pytest.mark.parametrize("path", [pytest.param(DEMO, id="kubernetes"), pytest.param(CALICO, id="calico-tiers")])
def test_who_can_reach_and_reachable_from_are_the_connectivity_map_rows(path):
    session = Session([path])
    conns = connections(session.an)
    names = {ep.ref for ep in session.an.cluster.endpoints}
    outside: set[str] = set()
    assert bool(session.an.engine.ask("ordered", None, None)) == (path == CALICO)  # Kubernetes only, and tiers
    for ep in session.an.cluster.endpoints:
        into = session.execute(f"who-can-reach {ep.ref}")
        out = session.execute(f"reachable-from {ep.ref}")
        assert not into.error and not out.error
        protocols = session.an.facts.protocols
        # endpoints, and outside addresses merged as the map merges them
        assert rows(into.text) == {(c.src, allowed_text(c.allowed, protocols)) for c in conns if c.dst == ep.ref}
        assert rows(out.text) == {(c.dst, allowed_text(c.allowed, protocols)) for c in conns if c.src == ep.ref}
        outside |= {r[0] for r in rows(into.text) | rows(out.text) if r[0] not in names}
    assert outside  # the comparison covers address rows too


def test_who_can_reach_filters_by_port_and_names_the_outside_world(demo):
    text = demo.execute("who-can-reach boutique/frontend 8080/TCP").text
    assert rows(text) == {("boutique/loadgenerator", "TCP 8080"), ("any address (0.0.0.0/0, ::/0)", "TCP 8080")}
    assert demo.execute("who-can-reach boutique/frontend 8081").text == "nothing can reach boutique/frontend on 8081/TCP"
    assert demo.execute("who-can-reach boutique/redis-cart 6379/UDP").text.startswith("nothing can reach")


# ---- Datalog queries ------------------------------------------------------------------------------------

def test_query_parser_reads_variables_strings_integers_and_words():
    q = parse_query('?- rel(X, _, "a \\"b\\"", -2, ingress, _Y, \'c\').')
    assert q.relation == "rel"
    assert q.args == (Var("X"), Var("_"), 'a "b"', -2, "ingress", Var("_Y"), "c")


@pytest.mark.parametrize("text, column", [
    pytest.param("?- applies(P, C", 16, id="unclosed"),
    pytest.param("?- Applies(P)", 4, id="capitalised-relation"),
    pytest.param("?- applies(P C)", 14, id="missing-comma"),
    pytest.param('?- applies(__import__("os").system("true"))', 22, id="python-is-not-a-query"),
    pytest.param("?- applies(P) extra", 15, id="trailing"),
])
def test_a_malformed_query_names_the_column(text, column):
    with pytest.raises(UsageError, match=f"column {column}:"):
        parse_query(text)


def test_queries_bind_names_filter_repeated_variables_and_answer_true_or_false(demo):
    egress = demo.execute('?- applies(P, "boutique/frontend", egress)').text
    assert egress.splitlines() == ["P", "NetworkPolicy boutique/allow-dns", "NetworkPolicy boutique/deny-all",
                                   "NetworkPolicy boutique/frontend", "(3 rows)"]
    # a policy by name, and a repeated variable: no class is its own policy
    by_policy = demo.execute('?- applies("NetworkPolicy boutique/cartservice", C, D)').text
    assert rows(by_policy) == {("boutique/cartservice", "egress"), ("boutique/cartservice", "ingress")}
    assert demo.execute("?- applies(X, X, D)").text == "(0 rows)"
    assert demo.execute('?- flow_allowed("boutique/frontend", "boutique/cartservice", "TCP", 7070)').text == "true"
    assert demo.execute('?- flow_allowed("boutique/frontend", "boutique/cartservice", "TCP", 7071)').text == "false"
    # integers in plain columns stay integers (rule_index's Index is not an object id)
    assert "(17 rows)" in demo.execute("?- rule_index(R, 0)").text


@pytest.mark.parametrize("query, message", [
    pytest.param("?- applies(P, C)", "applies has 3 arguments: applies(Pol, C, Dir); the query gives 2", id="arity"),
    pytest.param('?- applies(P, "boutique/nope", D)', "'boutique/nope' in column C of applies names no endpoint",
                 id="unknown-name"),
    pytest.param("?- flow_allowed(S, D, \"TCP\", 80)", "flow_allowed is answered only with every argument bound",
                 id="bound-only"),
])
def test_query_errors_explain_themselves_and_the_session_goes_on(demo, query, message):
    reply = demo.execute(query)
    assert reply.error and message in reply.text
    assert demo.execute("can boutique/frontend boutique/cartservice 7070/TCP").text.startswith("ALLOWED")


def test_relations_lists_base_and_derived_relations_with_their_comments(demo):
    table = rows(demo.execute("relations").text)
    assert ("applies(Pol, C, Dir)", "derived",
            "Pol is in C's namespace, its podSelector matches C, and Dir is one of its policyTypes.") in table
    assert ("label(Obj, Key, Val)", "fact", "A label of a namespace or an endpoint class.") in table
    assert ("flow_allowed(Src, Dst, Proto, Port)", "derived",
            "the verdict for one flow (call with every argument bound).") in table


# ---- endpoints, policies, prove, load ---------------------------------------------------------------------

def test_endpoints_takes_a_calico_selector(demo):
    assert demo.execute("endpoints app == 'frontend'").text.splitlines() == [
        "ENDPOINT           KIND        ADDRESS  LABELS",
        "boutique/frontend  Deployment  -        app=frontend",
        "1 endpoint matches app == 'frontend'"]
    both = demo.execute("endpoints app in {'frontend', 'cartservice'} && projectcalico.org/namespace == 'boutique'")
    assert [r[0] for r in sorted(rows(both.text))] == ["boutique/cartservice", "boutique/frontend"]
    assert demo.execute("endpoints").text.endswith("\n12 endpoints")


def test_policies_lists_what_applies_in_evaluation_order(demo):
    text = demo.execute("policies boutique/cartservice").text
    ingress, egress = (part.split("\n", 1)[1] for part in text.split("\n\n"))  # the tables, headers first
    assert text.startswith("ingress: the union of these Kubernetes policies")
    assert [r[3] for r in sorted(rows(ingress))] == ["NetworkPolicy boutique/cartservice", "NetworkPolicy boutique/deny-all"]
    assert [r[3] for r in sorted(rows(egress))] == ["NetworkPolicy boutique/allow-dns", "NetworkPolicy boutique/cartservice",
                                                    "NetworkPolicy boutique/deny-all"]


def test_policies_follow_tier_order_where_calico_decides():
    text = Session([CALICO]).execute("policies shop/db").text
    ingress = text.split("\n\n")[0]
    assert ingress.startswith("ingress: ordered evaluation")
    assert [" ".join(line.split()[3:5]) for line in ingress.splitlines()[2:]] == [
        "GlobalNetworkPolicy security.pass-app-traffic", "GlobalNetworkPolicy security.default-deny",
        "NetworkPolicy shop/db", "NetworkPolicy shop/default-deny"]


def test_prove_uses_the_scope_that_set_chose(demo):
    spec = str(ROOT / "corpus" / "microservices-demo" / "spec.yaml")
    assert "(scope: inventory)" in demo.execute(f"prove {spec}").text
    assert demo.execute("prove default-deny").text.startswith("PROVED    default-deny")
    assert demo.execute("set scope nowhere").error
    assert demo.execute("set scope any-workload").text == "scope = any-workload"
    try:  # a pod deployed tomorrow in a new namespace is isolated by nothing
        wide = demo.execute("prove default-deny").text
        assert wide.startswith("VIOLATED  default-deny") and "(scope: any-workload)" in wide
    finally:
        demo.execute("set scope inventory")


def test_a_load_that_fails_keeps_the_loaded_cluster():
    session = Session([DEMO])
    reply = session.execute(f"load {ROOT / 'no-such-dir'}")
    assert reply.error and "no such file or directory" in reply.text
    assert session.execute("can boutique/frontend boutique/cartservice 7070/TCP").text.startswith("ALLOWED")
    assert session.execute(f"load {CALICO}").text.startswith("loaded 5 endpoints")
    assert session.execute("can shop/api shop/db 5432/TCP").text.startswith("ALLOWED")
    assert session.execute("reload").text.startswith("loaded 5 endpoints")


def test_parse_flow_reads_port_then_protocol():
    assert (parse_flow("80/tcp").protocol, parse_flow("80/tcp").port) == ("TCP", 80)
    assert (parse_flow("8080").protocol, parse_flow("8080").port) == ("TCP", 8080)
    assert (parse_flow("icmpv6").protocol, parse_flow("icmpv6").port) == ("ICMPv6", None)
    with pytest.raises(UsageError, match="ICMP has no ports"):
        parse_flow("8/ICMP")


# ---- completion ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    pytest.param("", (Suggestion("command"),), id="command"),
    pytest.param("wh", (Suggestion("command"),), id="partial-command"),
    pytest.param("can bou", (Suggestion("endpoint"),), id="src"),
    pytest.param("why a/b c/", (Suggestion("endpoint"),), id="dst"),
    pytest.param("can a/b c/d ", (Suggestion("flow"),), id="flow"),
    pytest.param("can a/b c/d 80/TCP ", (), id="nothing-after-flow"),
    pytest.param("endpoints ", (Suggestion("label-key"),), id="selector-key"),
    pytest.param("endpoints app == 'fr", (Suggestion("label-value", "app"),), id="selector-value"),
    pytest.param("?- app", (Suggestion("relation"),), id="relation"),
    pytest.param("?- applies(P, ", (), id="inside-a-query"),
    pytest.param("set scope a", (Suggestion("value", "scope"),), id="setting-value"),
    pytest.param("load a b", (Suggestion("path"),), id="paths"),
])
def test_suggest_knows_what_the_word_under_the_cursor_is(line, expected):
    assert suggest(line) == expected


def test_completer_fills_in_names_from_the_loaded_cluster(demo):
    c = Completer(demo)
    assert c.candidates("can boutique/fr", "boutique/fr") == ["boutique/frontend"]
    assert len(c.candidates("can bou", "bou")) == 12  # one namespace: its endpoints, so readline adds "boutique/"
    assert c.candidates("endpoints app == 'fr", "'fr") == ["'frontend'"]
    assert c.candidates("who", "who") == ["who-can-reach"]
    assert "applies" in c.candidates("?- appl", "appl")
    corpus = str(ROOT / "corpus" / "mic")
    assert c.candidates(f"load {corpus}", corpus) == [str(ROOT / "corpus" / "microservices-demo") + "/"]


@pytest.mark.parametrize("line, word, expected", [
    pytest.param("can boutique/fr", "boutique/fr", ["boutique/frontend "], id="endpoint"),
    pytest.param("who", "who", ["who-can-reach "], id="command"),
    pytest.param("endpoints app == 'fr", "'fr", ["'frontend' "], id="label-value"),
    pytest.param("set scope any", "any", ["any-workload "], id="setting-value"),
    pytest.param("can ci", "ci", ["cidr:"], id="prefix-goes-on"),
    pytest.param("endpoints ha", "ha", ["has("], id="function-goes-on"),
    pytest.param("load corpus/mic", "corpus/mic", ["corpus/microservices-demo/"], id="directory-goes-on"),
    pytest.param("can boutique/frontend boutique/cartservice 70", "70", ["70/TCP", "70/UDP", "70/SCTP"],
                 id="several"),
])
def test_tab_completes_a_unique_whole_word_with_a_space_after_it(demo, monkeypatch, line, word, expected):
    import readline

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(readline, "get_line_buffer", lambda: line)
    monkeypatch.setattr(readline, "get_endidx", lambda: len(line))
    c = Completer(demo)
    matches, state = [], 0
    while (match := c.complete(word, state)) is not None:
        matches.append(match)
        state += 1
    assert matches == expected


# ---- a terminal -------------------------------------------------------------------------------------------

def test_a_terminal_session_prompts_completes_answers_and_keeps_history(tmp_path):
    master, slave = pty.openpty()
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path), TERM="xterm", NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, "-m", "reasoner", "repl", DEMO], stdin=slave, stdout=slave, stderr=slave,
                            env=env, cwd=ROOT, close_fds=True)
    os.close(slave)
    seen = b""

    def until(marker: bytes) -> str:
        """The output up to the next `marker` (a deadline guards against a hang; it measures nothing)."""
        nonlocal seen
        deadline = time.monotonic() + 60
        while marker not in seen:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no {marker!r} in {seen!r}"
            try:
                seen += os.read(master, 4096)
            except OSError:  # the child closed the terminal
                raise AssertionError(f"no {marker!r} in {seen!r}") from None
        at = seen.index(marker) + len(marker)
        out, seen = seen[:at], seen[at:]
        # without the progress line, drawn and erased on standard error if loading takes more than a second
        return re.sub(r"\r[^\r\n]*\r", "", out.decode().replace("\r\n", "\n"))

    try:
        banner = until(b"reasoner> ")
        assert banner.startswith("loaded 12 endpoints (12 classes), 14 policies")
        os.write(master, b"can boutique/fronte\tboutique/cartservice 7070/TCP\n")  # Tab completes the name, and a space
        answer = until(b"reasoner> ")
        assert "ALLOWED  boutique/frontend -> boutique/cartservice  TCP/7070\n" in answer
        os.write(master, b"?- applies(P,\n")
        assert "error: bad query at column 14" in until(b"reasoner> ")
        os.write(master, b"quit\n")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    history = (tmp_path / "reasoner" / "history").read_text()
    assert "can boutique/frontend boutique/cartservice 7070/TCP" in history
