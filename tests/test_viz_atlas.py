"""Tests of interp.viz.atlas: out-of-core projection, Datashader aggregation counts, token classes, atlas from an
ActivationStore."""
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np, pandas as pd, pytest
from hypothesis import given, settings, strategies as st
from interp.viz.atlas import (fit_projection, project, activation_atlas, render_points, synthetic_activations,
                              token_classes, atlas_from_store, TOKEN_CLASSES)

def test_dask_pca_equals_numpy_pca():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(1)
    A = rng.normal(size=(3000, 12)) * np.geomspace(4, 0.1, 12)
    p_np = fit_projection(A)
    p_da = fit_projection(da.from_array(A, chunks=(256, 12)))        # 12 chunks
    np.testing.assert_allclose(p_np["components"], p_da["components"], atol=1e-10)
    ref = np.linalg.eigh(np.cov(A.T, bias=True))
    np.testing.assert_allclose(p_np["explained"], ref[0][::-1][:2] / ref[0].sum(), rtol=1e-9)
    Y = project(A, p_np).compute()
    np.testing.assert_allclose(Y.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(Y.var(0), ref[0][::-1][:2], rtol=1e-4)

def test_random_projection_is_seeded_and_validates():
    A = np.random.default_rng(0).normal(size=(100, 8))
    assert np.array_equal(fit_projection(A, "random", seed=3)["components"],
                          fit_projection(A, "random", seed=3)["components"])
    with pytest.raises(ValueError, match="'pca' or 'random'"): fit_projection(A, "umap")
    with pytest.raises(ValueError, match="at least 2 rows"): fit_projection(A[:1])

@settings(max_examples=12, deadline=None)
# few k: Numba compiles per category count
@given(st.integers(10, 3000), st.sampled_from([1, 4]), st.integers(0, 2**31 - 1))
def test_every_point_is_counted(n, k, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=n), rng.standard_cauchy(size=n)
    codes = rng.integers(0, k, n)
    r = render_points(x, y, pd.Categorical.from_codes(codes, [f"c{i}" for i in range(k)]), width=64, height=48, clip=0)
    assert r["agg"].shape == (48, 64, k)
    assert r["agg"].sum(["y", "x"]).values.tolist() == np.bincount(codes, minlength=k).tolist()

def test_numeric_colour_is_a_mean_and_clip_drops_tails():
    x = np.linspace(0, 1, 10_000); y = np.zeros_like(x); v = x * 2
    r = render_points(x, y, v, width=10, height=1, clip=0)
    means = r["agg"].values[0]
    assert np.all(np.diff(means[np.isfinite(means)]) > 0)             # a mean of v, increasing along x
    x2 = np.r_[x, 1e6]                                                  # one far outlier
    assert render_points(x2, np.zeros_like(x2), clip=0.001)["x_range"][1] < 2
    with pytest.raises(ValueError, match="3 values for 10001 points"): render_points(x2, x2, [1, 2, 3])

def test_synthetic_is_lazy_and_deterministic():
    X, c = synthetic_activations(12_345, d=8, chunk_rows=5000, seed=2)
    assert X.shape == (12_345, 8) and X.numblocks == (3, 1) and c.shape == (12_345,)
    X2, c2 = synthetic_activations(12_345, d=8, chunk_rows=5000, seed=2)
    assert np.array_equal(X.compute(), X2.compute()) and np.array_equal(c.compute(), c2.compute())

def test_atlas_counts_and_plot():
    import matplotlib; matplotlib.use("Agg")
    X, c = synthetic_activations(50_000, d=16, chunk_rows=20_000)
    at = activation_atlas(X, pd.Categorical.from_codes(c.compute(), list("abcde")), width=120, height=100, clip=0)
    assert at.n_points == 50_000 and int(at.agg.sum()) == 50_000
    assert at.image.shape == (100, 120) and set(at.timings) >= {"project_s", "aggregate_s", "shade_s", "render_s"}
    assert at._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = at.plot()
    assert ax.get_xlabel().startswith("PC1 (") and len(ax.get_legend().get_texts()) == 5

def test_token_classes():
    vocab = [" the", "ing", ",", "42", "\n", " ("]
    cls = token_classes(np.array([0, 1, 2, 3, 4, 5, 0]), vocab)
    assert list(cls.categories) == TOKEN_CLASSES
    assert list(cls) == ["word start", "continuation", "punctuation", "digits", "whitespace", "punctuation",
                         "word start"]

def test_atlas_from_store(tmp_path):
    torch = pytest.importorskip("torch")
    if os.getloadavg()[0] > (os.cpu_count() or 1): torch.set_num_threads(1)   # busy machine: avoid oversubscription
    from transformers import LlamaConfig, LlamaForCausalLM
    from interp.streams.publish import build_store
    torch.manual_seed(0)
    tiny = LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2,
                                        max_position_embeddings=64)).eval()
    class CharTok:
        pad_token_id = 0
        def __call__(self, text, add_special_tokens=False): return {"input_ids": [ord(ch) % 300 for ch in text]}
        def decode(self, ids): return "".join(chr(i) for i in ids)
    tok = CharTok()
    texts = ["Return the sum of 12 and 30, please.", "def f(x):\n    return x + 1"]
    store = build_store(tiny, tok, texts, tmp_path / "s", ["blocks.1.resid_post"], ctx_len=32, batch_size=2,
                        progress=False)
    at = atlas_from_store(store, "blocks.1.resid_post", tokenizer=tok, width=50, height=50, clip=0)
    assert at.n_points == store.n_tokens == sum(len(t) for t in texts)
    assert int(at.agg.sum()) == store.n_tokens
    counts = dict(zip(TOKEN_CLASSES, at.agg.sum(["y", "x"]).values.tolist()))
    assert counts["digits"] == 5 and counts["punctuation"] == sum(ch in ",.():+" for t in texts for ch in t)
    at2 = atlas_from_store(store, "blocks.1.resid_post", color="position", width=20, height=20)
    assert at2.agg.ndim == 2
    with pytest.raises(ValueError, match="needs the tokenizer"): atlas_from_store(store, "blocks.1.resid_post")
    with pytest.raises(ValueError, match="color must be"):
        atlas_from_store(store, "blocks.1.resid_post", color="colour")
