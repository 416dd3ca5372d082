"""Static checks of interp.viz.views: self-contained HTML, escaping, unique ids, validation (the browser test checks
behaviour)."""
import json, os, re
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np, pytest
from hypothesis import given, settings, strategies as st
from interp.viz.views import AttentionView, TokenView, CircuitView, _json_script

def views():
    P = np.full((2, 3, 3), 1 / 3)
    return [AttentionView(["a", "b", "c"], P), TokenView(["a", "b"], [1.0, -2.0]),
            CircuitView(["embed", "L0H0", "logits"], [("embed", "L0H0", 1.0), ("L0H0", "logits", -0.5)])]

@pytest.mark.parametrize("v", views(), ids=lambda v: type(v).__name__)
def test_self_contained_and_unique(v):
    a, b = v._repr_html_(), v._repr_html_()
    for h in (a, b):
        assert not re.search(r"(?<![-\w])(src|href)\s*=", h), "views must not load anything"
        assert "http://" not in h and "https://" not in h and "@import" not in h
        assert h.count("<script") == 2 and h.count("</script>") == 2
    id_a, id_b = (re.search(r'id="([^"]+)"', h).group(1) for h in (a, b))
    assert id_a != id_b and a.count(id_a) >= 3          # the id scopes the CSS and the script
    page = v.to_html(full_page=True)
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page

@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=5))
def test_any_token_text_is_escaped(tokens):
    h = TokenView(tokens, np.arange(len(tokens), dtype=float)).to_html()
    assert h.count("</script>") == 2 and h.count("<script") == 2
    data = re.search(r'<script type="application/json" class="interp-data">(.*?)</script>', h, re.S).group(1)
    assert json.loads(data)["tokens"] == tokens

def test_json_script_escapes():
    s = _json_script({"t": "</script><!-- \u2028 &"})
    assert "<" not in s and ">" not in s and "&" not in s and "\u2028" not in s
    assert json.loads(s) == {"t": "</script><!-- \u2028 &"}

def test_attention_shapes():
    P4 = np.full((2, 3, 4, 4), 0.25)
    v = AttentionView(list("abcd"), P4)
    assert v.head_labels == ["L0H0", "L0H1", "L0H2", "L1H0", "L1H1", "L1H2"] and v.pattern.shape == (6, 4, 4)
    assert AttentionView(list("ab"), np.eye(2)).pattern.shape == (1, 2, 2)
    with pytest.raises(ValueError, match="q == k"): AttentionView(list("ab"), np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="NaN"): AttentionView(list("ab"), np.array([[np.nan, 0], [0, 1]]))
    with pytest.raises(ValueError, match="1 head labels for 2 heads"):
        AttentionView(list("ab"), np.zeros((2, 2, 2)), head_labels=["x"])

def test_attention_from_cache():
    torch = pytest.importorskip("torch")
    cache = {"blocks.0.attn.pattern": torch.full((1, 2, 3, 3), 1 / 3),
             "blocks.1.attn.pattern": torch.full((1, 2, 3, 3), 1 / 3),
             "blocks.0.resid_post": torch.zeros(1, 3, 4)}
    v = AttentionView.from_cache(cache, ["x", "y", "z"])
    assert v.head_labels == ["L0H0", "L0H1", "L1H0", "L1H1"]
    with pytest.raises(KeyError, match="no blocks"): AttentionView.from_cache({"a": 1}, ["x"])

def test_token_view_validation():
    with pytest.raises(ValueError, match="3 tokens but values has 2"): TokenView(list("abc"), [1, 2])
    with pytest.raises(ValueError, match="NaN or inf"): TokenView(list("ab"), [1, np.inf])
    assert 'class="interp-feat-select"' in TokenView(list("ab"), np.zeros((2, 25))).to_html()
    assert 'class="interp-feat-btn' not in TokenView(list("ab"), np.zeros(2)).to_html()

def test_circuit_layout_and_validation():
    cv = CircuitView(["embed", "L0H0", "MLP0", "L1H3", "logits"],
                     [("embed", "L0H0"), ("L0H0", "MLP0", 2), ("MLP0", "L1H3", -1)])
    y = {k: p[1] for k, p in cv.layout().items()}
    assert y["embed"] > y["L0H0"] > y["MLP0"] > y["L1H3"] > y["logits"]
    with pytest.raises(ValueError, match="unique"): CircuitView(["L0H0", "L0H0"], [])
    with pytest.raises(ValueError, match="unknown node"): CircuitView(["L0H0"], [("L0H0", "x", 1)])
    nx = pytest.importorskip("networkx")
    g = nx.DiGraph(); g.add_node("a", layer=0); g.add_node("b", layer=1, label="B"); g.add_edge("a", "b", weight=0.3)
    v = CircuitView.from_networkx(g)
    assert v.edges == [("a", "b", 0.3)] and v.nodes[1]["label"] == "B"

def test_token_result_view():
    from interp.core.result import TokenResult
    r = TokenResult(np.array([[1.0, 2.0], [3.0, -4.0]]), method="m", meta={"tokens": ["x", "y"]})
    v = r.view(feature_labels=["a", "b"])
    assert isinstance(v, TokenView) and v.values.shape == (2, 2) and v.title == "m" and v.signed
