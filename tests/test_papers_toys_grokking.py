"Tests for the grokking paper module: exact fast path, deterministic training, checkpoints, causal frequency edits."
import json, math, os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import importlib.resources as r
import pytest, torch
from hypothesis import given, settings, strategies as st
from interp.core import toys
from interp.papers.grokking import (make_toy, tabulated_forward, logit_table, train_grokking,
                                    modular_addition_data, training_split, run_with_frequencies, FourierCircuit,
                                    FourierTask)
from interp.methods.fourier import table_accuracy, progress_measures

SHIPPED = r.files("interp") / "data" / "grokking_p113.safetensors"

@settings(max_examples=10, deadline=None)
@given(p=st.sampled_from([5, 7, 11, 13]), seed=st.integers(0, 10_000))
def test_tabulated_forward_is_the_model(p, seed):
    m = make_toy(p, d_model=16, n_heads=2, d_mlp=24).init_weights(torch.Generator().manual_seed(seed))
    toks, _, _, _ = modular_addition_data(p, 0.5)
    with torch.no_grad():
        ref = m(toks)[:, -1]
        got, acts = tabulated_forward(m, toks[:, 0], toks[:, 1])
    assert torch.allclose(ref, got, atol=1e-5, rtol=1e-5)
    fast, fa = logit_table(m); slow, sa = logit_table(m, fast=False)
    assert torch.allclose(fast, slow, atol=1e-5) and torch.allclose(fa, sa, atol=1e-5)

def test_training_is_deterministic_and_fast_path_matches_slow():
    kw = dict(p=11, n_steps=6, log_every=2, measure_every=0, snapshot_every=0, stop_test_loss=None)
    a = train_grokking(model=make_toy(11, 16, 2, 24), **kw)
    b = train_grokking(model=make_toy(11, 16, 2, 24), **kw)
    c = train_grokking(model=make_toy(11, 16, 2, 24), fast=False, **kw)
    assert a.history == b.history
    assert a.history["train_loss"] == pytest.approx(c.history["train_loss"], rel=1e-4)
    assert a.history["train_loss"][-1] < a.history["train_loss"][0]

def test_grokfast_changes_the_update():
    kw = dict(p=11, n_steps=4, log_every=1, measure_every=0, snapshot_every=0, stop_test_loss=None)
    a = train_grokking(model=make_toy(11, 16, 2, 24), **kw)
    b = train_grokking(model=make_toy(11, 16, 2, 24), grokfast=(0.98, 2.0), **kw)
    assert a.history["train_loss"][0] == b.history["train_loss"][0]  # same start
    assert a.history["train_loss"][-1] != b.history["train_loss"][-1]

def test_streams_and_snapshots():
    from interp.streams.bus import ActivationBus
    seen = {}
    with ActivationBus() as bus:
        bus.subscribe(lambda e: seen.setdefault(e.topic, []).append(e.step), topics="metrics.*")
        run = train_grokking(p=13, n_steps=4, log_every=2, measure_every=2, snapshot_every=2, stop_test_loss=None,
                             bus=bus, model=make_toy(13, 16, 2, 24))
    assert seen["metrics.test_loss"] == [0, 2, 4] and seen["metrics.excluded_loss"] == [0, 2, 4]
    assert sorted(run.snapshots) == [0, 2, 4]

def test_checkpoint_roundtrip(tmp_path):
    m = make_toy(7, 16, 2, 24).init_weights(torch.Generator().manual_seed(3))
    path = toys.save_checkpoint(tmp_path / "t.safetensors", m, step=0, params=dict(note="unit", steps=0))
    ck = toys.load_checkpoint(path)
    m2, prov = ck["model"], ck["params"]
    assert prov == {"note": "unit", "steps": 0} and ck["step"] == 0 and not m2.training
    toks = modular_addition_data(7, 0.5)[0]
    with torch.no_grad(): assert torch.equal(m(toks), m2(toks))
    with pytest.raises(FileNotFoundError, match="No checkpoint at"):
        toys.load_checkpoint(tmp_path / "missing.safetensors")

def test_untrained_model_has_no_circuit():
    with pytest.raises(ValueError, match="not learned"):
        FourierCircuit().discover(make_toy(13, 16, 2, 24), FourierTask())

def test_frequency_edit_leaves_no_hooks():
    m = make_toy(11, 16, 2, 24)
    run_with_frequencies(m, [1, 2], keep=True)
    assert all(not mod._forward_hooks and not mod._forward_pre_hooks for mod in m.modules())

def test_data_errors_are_clear():
    with pytest.raises(ValueError, match="frac_train"): modular_addition_data(7, 1.5)
    with pytest.raises(ValueError, match="make_toy"): train_grokking(model=make_toy(7, 16, 2, 24), p=11, n_steps=1)

@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped grokking checkpoint")
def test_shipped_checkpoint_is_grokked_and_matches_its_provenance():
    ck = toys.load_checkpoint(str(SHIPPED))
    model, prov = ck["model"], ck["params"]
    assert type(model) is toys.ToyTransformer and ck["step"] == prov["steps"]
    mask = training_split(prov["p"], prov["frac_train"], prov["seed"])
    table, _ = logit_table(model)
    pm = progress_measures(table, mask, prov["key_freqs"])
    assert pm["test_acc"] >= 0.99 and pm["test_acc"] == pytest.approx(prov["test_acc"], abs=1e-6)
    assert pm["train_acc"] == pytest.approx(prov["train_acc"], abs=1e-6)
    assert FourierCircuit().discover(model, FourierTask(mask)).data["key_freqs"] == prov["key_freqs"]
    assert table_accuracy(run_with_frequencies(model, prov["key_freqs"], keep=False)) < 0.1


# The bundled checkpoint was trained with an earlier, page-local copy of the toy (same TransformerLens parameter names,
# no attention or unembedding biases) and converted to the interp.core.toys format by adding those biases as zeros.
# The reference below is that earlier forward, written out from its equations; LEGACY_SHA256 fingerprints the
# earlier file's tensors, so the test also shows the conversion copied every weight unchanged.
LEGACY_NAMES = ("embed.W_E", "pos_embed.W_pos", "blocks.0.attn.W_Q", "blocks.0.attn.W_K", "blocks.0.attn.W_V",
                "blocks.0.attn.W_O", "blocks.0.mlp.W_in", "blocks.0.mlp.b_in", "blocks.0.mlp.W_out",
                "blocks.0.mlp.b_out", "unembed.W_U")
LEGACY_SHA256 = "29af1747fb6793ed717f1bfa6fe08d5a9606be369fd773abdddf6bdd7cc0b7aa"

def _legacy_digest(w: dict) -> str:
    import hashlib
    h = hashlib.sha256()
    for k in sorted(w): h.update(k.encode()); h.update(w[k].contiguous().numpy().tobytes())
    return h.hexdigest()

def _legacy_forward(w: dict, tokens, d_head: int):
    "The earlier toy's forward: embeddings, causal attention without biases, ReLU MLP with biases, unembedding."
    x = w["embed.W_E"][tokens] + w["pos_embed.W_pos"][: tokens.shape[1]]
    q, k, v = (torch.einsum("bpd,hde->bphe", x, w[f"blocks.0.attn.W_{n}"]) for n in "QKV")
    n = tokens.shape[1]
    s = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(d_head)
    mask = torch.tril(torch.ones(n, n, dtype=torch.bool))
    z = torch.einsum("bhqk,bkhe->bqhe", s.masked_fill(~mask, float("-inf")).softmax(-1), v)
    x = x + torch.einsum("bqhe,hed->bqd", z, w["blocks.0.attn.W_O"])
    h = torch.relu(x @ w["blocks.0.mlp.W_in"] + w["blocks.0.mlp.b_in"])
    x = x + (h @ w["blocks.0.mlp.W_out"] + w["blocks.0.mlp.b_out"])
    return x @ w["unembed.W_U"]

@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped grokking checkpoint")
def test_converted_checkpoint_gives_the_legacy_logits_exactly():
    from safetensors.torch import load_file
    tensors = load_file(str(SHIPPED))
    legacy = {k: tensors[k] for k in LEGACY_NAMES}
    assert _legacy_digest(legacy) == LEGACY_SHA256  # the earlier weights, bit for bit
    added = set(tensors) - set(LEGACY_NAMES)
    assert added == {"blocks.0.attn.b_Q", "blocks.0.attn.b_K", "blocks.0.attn.b_V", "blocks.0.attn.b_O", "unembed.b_U"}
    assert all(not tensors[k].any() for k in added)
    model = toys.load_checkpoint(str(SHIPPED))["model"]
    p = model.cfg.d_vocab_out
    a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)
    tokens = torch.stack([a, b, torch.full_like(a, p)], 1)  # all p² inputs
    with torch.no_grad():
        assert torch.equal(model(tokens), _legacy_forward(legacy, tokens, model.cfg.d_head))

@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped grokking checkpoint")
def test_training_retraces_the_shipped_run():
    "The core toy, drawn by `init_weights`, follows the curve stored with the checkpoint (its first 100 steps)."
    curves = json.loads(SHIPPED.with_suffix(".json").read_text())["history"]
    run = train_grokking(n_steps=100, log_every=100, measure_every=0, snapshot_every=0, stop_test_loss=None)
    assert run.history["step"] == curves["step"][:2]
    for k in ("train_loss", "test_loss", "train_acc", "test_acc"):
        assert run.history[k][0] == pytest.approx(curves[k][0], rel=1e-6), k  # the same initial weights and split
        # the same trajectory, up to the float rounding of another machine and torch build
        assert run.history[k][1] == pytest.approx(curves[k][1], rel=1e-2, abs=1e-2), k
