"Tests for interp.methods.induction and the induction-head paper module (toy training, scan, ablation hygiene)."
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import math
import pytest, torch
from hypothesis import given, settings, strategies as st
from interp.methods.induction import (repeated_tokens, attention_patterns, prefix_matching_scores,
                                      previous_token_scores, copying_scores, icl_score, k_composition_scores,
                                      composition_baseline, per_token_loss)
from interp.core import toys
from interp.papers.induction import (make_induction_toy, induction_batch, train_induction, InductionScan,
                                     InductionResult, InductionTask)
from interp.core.method import check_contract

def _toy(seed=0, **kw):
    cfg = dict(n_layers=2, d_model=32, n_heads=4, d_head=8, d_mlp=None, d_vocab=30, d_vocab_out=30, n_ctx=24,
               use_bias=False, mlp_bias=True)
    cfg.update(kw)
    return toys.ToyTransformer(toys.ToyConfig(**cfg)).init_weights(torch.Generator().manual_seed(seed))

@settings(max_examples=15, deadline=None)
@given(half=st.integers(2, 10), batch=st.integers(1, 4), seed=st.integers(0, 999))
def test_patterns_are_distributions_and_scores_bounded(half, batch, seed):
    m = _toy(seed)
    toks = repeated_tokens(batch, half, 30, seed=seed)
    pats = attention_patterns(m, toks)
    assert pats.shape == (2, batch, 4, 2 * half, 2 * half)
    assert torch.allclose(pats.sum(-1), torch.ones(()), atol=1e-5)
    assert torch.all(pats.triu(1) == 0)  # causal
    for s in (prefix_matching_scores(pats, half), previous_token_scores(pats)):
        assert s.shape == (2, 4) and (s >= 0).all() and (s <= 1 + 1e-6).all()

def test_prefix_matching_detects_planted_head():
    T = 7
    pats = torch.zeros(1, 2, 3, 2 * T, 2 * T)
    pats[..., torch.arange(2 * T), torch.arange(2 * T)] = 1.0  # attend to self ...
    for t in range(T, 2 * T): pats[0, :, 2, t] = 0; pats[0, :, 2, t, t - T + 1] = 1  # ... head 2 is an induction head
    s = prefix_matching_scores(pats, T)
    assert s[0, 2] == 1 and s[0, :2].max() == 0
    with pytest.raises(ValueError, match="start"): prefix_matching_scores(pats, T + 1)

def test_copying_score_sign():
    m = _toy(1, d_model=16, n_heads=2, d_head=8)
    with torch.no_grad():
        E = torch.linalg.qr(torch.randn(30, 16))[0]
        m.embed.W_E.copy_(E); m.unembed.W_U.copy_(E.T)
        m.blocks[0].attn.W_V[0] = torch.eye(16)[:, :8]; m.blocks[0].attn.W_O[0] = torch.eye(16)[:8]
        m.blocks[0].attn.W_V[1] = torch.eye(16)[:, 8:]; m.blocks[0].attn.W_O[1] = -torch.eye(16)[8:]
    cs = copying_scores(m, layers=[0])
    assert cs[0, 0] == pytest.approx(1, abs=1e-5) and cs[0, 1] == pytest.approx(-1, abs=1e-5)

def test_k_composition_matches_definition_and_baseline_is_lower():
    m = _toy(2)
    kc = k_composition_scores(m)
    a, b = m.blocks[0].attn, m.blocks[1].attn
    i, j = 1, 3
    OV = (a.W_V[i] @ a.W_O[i]).double(); QK = (b.W_Q[j] @ b.W_K[j].T).double()
    ref = (OV @ QK.T).norm() / (OV.norm() * QK.norm())
    assert kc[i, j].item() == pytest.approx(ref.item(), rel=1e-4)
    assert 0 < composition_baseline(m) < 1
    with pytest.raises(ValueError, match="before"): k_composition_scores(m, 1, 0)

def test_icl_score_windows_checked():
    with pytest.raises(ValueError, match="within"): icl_score(torch.zeros(2, 5), (0, 2), (3, 9))

def test_induction_batch_is_periodic():
    toks, pred = induction_batch(16, 40, 50, torch.Generator().manual_seed(0))
    for row, m in zip(toks, pred):
        L = int((~m).sum())
        assert torch.equal(row[L:], row[:40 - L]) and 4 <= L <= 20

def test_short_training_learns_from_repeats_and_streams():
    from interp.streams.bus import ActivationBus
    got = []
    with ActivationBus() as bus:
        bus.subscribe(lambda e: got.append((e.topic, e.step)), topics="metrics.icl_score")
        run = train_induction(n_steps=120, lr=3e-3, eval_every=40, eval_half=10, bus=bus,
                              model=make_induction_toy(vocab=24, n_ctx=24, d_model=32, n_heads=2))
    h = run.history
    assert h["step"] == [0, 40, 80, 120] and [s for _, s in got] == h["step"]
    assert h["loss_second"][-1] < h["loss_second"][0] - 0.05  # training really happened and exploits the repeats

def test_scan_result_roundtrip_and_table():
    m = _toy(3)
    res = InductionScan().discover(m, InductionTask(batch=2, half=6, seed=5))
    assert isinstance(res, InductionResult) and res.data.shape == (2, 4)
    assert res.seed == 5 and res.meta["task"]["half"] == 6 and res.params == {"copying": True}
    back = InductionResult.from_json(res.to_json())
    assert back.equals(res)
    t = res.table()
    assert list(t.columns) == ["layer", "head", "prefix_matching", "copying", "previous_token"]
    assert t.prefix_matching.is_monotonic_decreasing

def test_shipped_induction_checkpoint_has_an_induction_head():
    import importlib.resources as r
    path = r.files("interp") / "data" / "induction_toy.safetensors"
    ck = toys.load_checkpoint(str(path))
    model, prov = ck["model"], ck["params"]
    top = InductionScan().discover(model, InductionTask(batch=16, half=20, unique=True)).table(1).iloc[0]
    assert top["layer"] == 1 and top["prefix_matching"] >= 0.8
    assert prov["produced_by"].startswith("benchmarks/train_induction_checkpoint.py")

def test_per_token_loss_shape():
    m = _toy(4)
    assert per_token_loss(m, repeated_tokens(3, 5, 30)).shape == (3, 9)

def test_scan_contract():
    assert check_contract(InductionScan) == []
    with pytest.raises(TypeError, match="InductionTask"): InductionScan().discover(_toy(3), None)
    skip = InductionScan(copying=False).discover(_toy(3), InductionTask(batch=2, half=6))
    assert all(math.isnan(v) for row in skip.meta["copying"] for v in row)
