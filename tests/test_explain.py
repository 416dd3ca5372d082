"""interp.methods.explain: correlation scoring against hand-computed values, and the OpenAI-compatible client against a
real server process on loopback (the key must never leak into logs, reprs, pickles, saved results or error
messages)."""
import logging, os, pickle, socket, subprocess, sys, textwrap
import numpy as np
import pytest
from interp.methods.catalogue import Excerpt, NeuronRecord
from interp.methods.explain import (SCALE, ChatSimulator, ExplainNeurons, ExplanationResult, LLMExplainer, OpenAIChat,
                                    TokenSetExplainer, TokenSetSimulator, correlation_score, discretize,
                                    score_explanation)

KEY = "sk-test-7f3a9c1e5b2d"
KEY_ENV = "INTERP_TEST_EXPLAIN_KEY"

# The server: a separate Python process speaking /v1/chat/completions through interp.methods.explain.ChatServer
# (http.server). It explains every neuron as "digits", simulates by marking digit tokens, and answers "garbage" to the
# explanation "garbage".
SERVER = textwrap.dedent(r"""
    import json, re, sys, time
    from interp.methods.explain import ChatServer
    def reply(messages, max_tokens):
        text = messages[-1]["content"]
        if messages[0]["content"].startswith("You predict neuron activations"):
            if "find garbage" in text: return "I cannot do that."
            toks = json.loads(re.search(r"Tokens \(\d+\): (\[.*\])", text).group(1))
            digits = "digit" in text
            return "Sure: " + json.dumps([10 if digits and t.strip().isdigit() else 0 for t in toks])
        return "The main thing this neuron does is find digits. They appear in numbers."
    srv = ChatServer(reply, key_env=sys.argv[1]).start()
    # a hostile endpoint that echoes the request's Authorization header back in an error
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    class Echo(BaseHTTPRequestHandler):
        def log_message(self, *a): pass
        def do_POST(self):
            b = ("bad request from " + str(self.headers.get("Authorization"))).encode()
            self.send_response(500); self.send_header("Content-Length", str(len(b))); self.end_headers()
            self.wfile.write(b)
    echo = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    print(srv.url, f"http://127.0.0.1:{echo.server_address[1]}/v1", flush=True)
    time.sleep(120)
""")


@pytest.fixture(scope="module")
def server():
    env = dict(os.environ, **{KEY_ENV: KEY})
    p = subprocess.Popen([sys.executable, "-c", SERVER, KEY_ENV], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    try:
        line = p.stdout.readline().split()
        assert len(line) == 2 and line[0].startswith("http://127.0.0.1:"), \
            (line, p.stderr.read() if p.poll() is not None else "")
        yield p, line[0], line[1]
    finally:
        p.kill(); p.wait(timeout=10)


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def _record(seed=0):
    "A planted 'digit neuron' on synthetic text: activation 1 on digit tokens, 0 elsewhere."
    rng = np.random.default_rng(seed)
    words = [" the", " value", " of", " x", " is", ",", " and", " list", "."]
    def ex(kind):
        toks = [str(rng.integers(0, 10)) if rng.random() < (0.3 if kind == "top" else 0.08)
                else words[rng.integers(len(words))] for _ in range(12)]
        return Excerpt(toks, [1.0 if t.isdigit() else 0.0 for t in toks], prefix_ids=list(range(12)), kind=kind)
    top = sorted((ex("top") for _ in range(8)), key=lambda e: -e.acts.sum())
    return NeuronRecord("planted.digits", 0, top, [ex("random") for _ in range(4)], dict(mean=0.1))


# --- scoring, hand-computed -------------------------------------------------------------------------------

def test_correlation_hand_computed():
    assert correlation_score([[1, 2, 3]], [[1, 3, 2]]) == pytest.approx(0.5)       # (1+0+0)/sqrt(2*2)
    assert correlation_score([[0, 1]], [[0, 10]]) == pytest.approx(1.0)            # scale does not matter
    assert correlation_score([[0, 1, 0, 1]], [[3, 2, 3, 2]]) == pytest.approx(-1.0)
    # pooled over excerpts: t = [0,0,4,0,2], s = [0,1,1,0,1]; means 1.2 and 0.6
    # cov = (-1.2*-.6)+(-1.2*.4)+(2.8*.4)+(-1.2*-.6)+(.8*.4) = 2.4; var_t = 12.8; var_s = 1.2 -> 2.4/sqrt(15.36)
    assert correlation_score([[0, 0, 4], [0, 2]], [[0, 1, 1], [0, 1]]) == pytest.approx(2.4 / 15.36 ** 0.5)
    # per-excerpt averaging would give a different number: excerpt 2 alone correlates perfectly
    assert correlation_score([[0, 2]], [[0, 1]]) == pytest.approx(1.0)
    assert correlation_score([[1, 2, 3]], [[4, 4, 4]]) == 0.0                        # a constant simulation scores 0


def test_correlation_errors():
    with pytest.raises(ValueError, match="same number of tokens"): correlation_score([[1, 2]], [[1, 2, 3]])
    with pytest.raises(ValueError, match="at least 2"): correlation_score([[1]], [[1]])
    with pytest.raises(ValueError, match="finite"): correlation_score([[1, float("nan")]], [[1, 2]])


def test_discretize():
    assert discretize([-3, 0, 0.05, 0.1, 0.99, 1, 7], 1.0).tolist() == [0, 0, 0, 1, 9, 10, 10]
    assert discretize([1, 2], 0).tolist() == [0, 0]


def test_token_set_baseline_and_planted_scores():
    rec = _record()
    held = rec.split()[1]
    sim = TokenSetSimulator()
    assert score_explanation(sim, "digits", held).score == pytest.approx(1.0)
    assert score_explanation(sim, "words about animals", held).score == 0.0
    s = score_explanation(sim, '"value" and "list"', held)
    assert s.score < 0.2 and s.n_tokens == sum(len(e) for e in held)
    assert TokenSetExplainer().explain([rec])[0].startswith("the tokens ")
    assert sim.simulate("punctuation", [Excerpt(["a", ",", " b", "."], [0] * 4)])[0].tolist() == [0, SCALE, 0, SCALE]


# --- the OpenAI-compatible client against a real server process ----------------------------------------------

def test_openai_backend_explains_and_scores(server, key, tmp_path, caplog, capfd):
    proc, url, _ = server
    caplog.set_level(logging.DEBUG)
    client = OpenAIChat(url, model="test-model", key_env=KEY_ENV)
    rec = _record()
    res = ExplainNeurons(explainer=LLMExplainer(client), simulator=ChatSimulator(client)).explain([rec])
    assert res.params["explainer"] == repr(LLMExplainer(client))  # components travel by their repr
    row = res.data.iloc[0]
    assert row.explanation == "digits"                       # the prompt's stem is stripped, first sentence kept
    assert row.score >= 0.8                                  # the server's simulation marks the digit tokens
    # the key appears nowhere we write or show
    saved = tmp_path / "res.json"; res.to_json(saved)
    out, err = capfd.readouterr()
    for text in (repr(client), repr(res), str(res.meta), saved.read_text(), caplog.text, out, err):
        assert KEY not in text
    assert KEY.encode() not in pickle.dumps(client)
    assert ExplanationResult.from_json(saved).equals(res)


def test_openai_errors_are_clear(server, key, monkeypatch):
    _, url, _ = server
    msgs = [[{"role": "user", "content": "hi"}]]
    monkeypatch.setenv("INTERP_TEST_WRONG_KEY", "sk-wrong-0000")
    with pytest.raises(RuntimeError, match="HTTP 401") as e:
        OpenAIChat(url, "m", key_env="INTERP_TEST_WRONG_KEY").chat(msgs)
    assert "sk-wrong" not in str(e.value) and KEY not in str(e.value)
    monkeypatch.delenv("INTERP_TEST_WRONG_KEY")
    with pytest.raises(RuntimeError, match="set the environment variable INTERP_TEST_WRONG_KEY"):
        OpenAIChat(url, "m", key_env="INTERP_TEST_WRONG_KEY").chat(msgs)
    with pytest.raises(RuntimeError, match="HTTP 404"): OpenAIChat(url + "/v2", "m", key_env=KEY_ENV).chat(msgs)
    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    with pytest.raises(RuntimeError, match="cannot reach"):
        OpenAIChat(f"http://127.0.0.1:{port}/v1", "m", key_env=KEY_ENV).chat(msgs)
    with pytest.raises(ValueError, match="must start with http"): OpenAIChat("127.0.0.1:8000", "m")


def test_chat_simulator_counts_malformed_replies(server, key):
    _, url, _ = server
    sim = ChatSimulator(OpenAIChat(url, "m", key_env=KEY_ENV))
    held = _record().split()[1]
    out = sim.simulate("garbage", held[:3])
    assert sim.failures_ == 3 and all((o == 0).all() and len(o) == len(e) for o, e in zip(out, held[:3]))
    assert score_explanation(sim, "garbage", held).score == 0.0


def test_key_echoed_by_a_server_is_masked(server, key):
    _, _, echo_url = server
    with pytest.raises(RuntimeError, match="HTTP 500") as e:
        OpenAIChat(echo_url, "m", key_env=KEY_ENV).chat([[{"role": "user", "content": "hi"}]])
    assert KEY not in str(e.value) and "Bearer ***" in str(e.value)


def test_explain_neurons_keeps_the_contract():
    from interp.core.method import check_contract
    assert check_contract(ExplainNeurons) == []
    m = ExplainNeurons(n_explain=3)
    assert m.get_params() == dict(explainer=None, simulator=None, n_explain=3, seed=0)
    res = m.explain([_record()], explanations=["digits"])
    assert res.data.explanation[0] == "digits" and res.meta["simulator"] == "TokenSetSimulator()"
    assert res.params["n_explain"] == 3 and m.clone().get_params() == m.get_params()
