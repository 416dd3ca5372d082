"""Edge-level circuit discovery (`interp.methods.circuits`): edge patching is exact at both ends, EAP is the derivative
of edge patching, ACDC and EAP find a planted circuit, bad input fails cleanly."""
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from pathlib import Path
import numpy as np
import pytest
import torch
import interp
from interp.methods.circuits import (CircuitGraph, CircuitTask, CircuitResult, EdgeAttributionPatching, ACDC,
                                     discover_circuit, edge_forward, faithfulness, patch_edges, edge_roc, agreement,
                                     plot_circuit)
from interp.kernels.stats import roc_curve
from interp.core.hooks import hooks_on
from interp.core.method import check_contract
from interp.core.toys import ToyTransformer, ToyConfig, load_checkpoint


def _toy(dtype=torch.float32, **kw):
    cfg = dict(n_layers=2, d_model=16, n_heads=2, d_head=8, d_mlp=32, d_vocab=20, n_ctx=8, normalization="LN",
               use_bias=True, seed=3)
    m = ToyTransformer(ToyConfig(**{**cfg, **kw})).eval().to(dtype)
    with torch.no_grad():   # non-zero biases, so that "bias is nobody's output" is exercised
        for n, p in m.named_parameters():
            if ".b_" in n or n.endswith("b_U"): p.normal_(0, 0.1, generator=torch.Generator().manual_seed(len(n)))
    return m


def _llama(dtype=torch.float32):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2,
                                        max_position_embeddings=32)).eval().to(dtype)


def _logits(model, x):
    out = model(x)
    return out if isinstance(out, torch.Tensor) else out.logits


def _inputs(vocab, shape=(3, 7), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, shape, generator=g), torch.randint(0, vocab, shape, generator=g)


@pytest.fixture(params=["toy", "toy_attn_only_no_ln", "llama_gqa"])
def model_and_inputs(request):
    if request.param == "toy": m = _toy()
    elif request.param == "toy_attn_only_no_ln": m = _toy(d_mlp=None, normalization=None)
    else: m = _llama()
    vocab = 20 if request.param.startswith("toy") else 64
    return m, *_inputs(vocab)


def test_edge_patching_is_exact_at_both_ends(model_and_inputs):
    model, x, xc = model_and_inputs
    g = CircuitGraph(model)
    with torch.no_grad():
        _, outs = edge_forward(g, model, xc)
        kept = edge_forward(g, model, x, torch.zeros(g.valid.shape), outs)[0]
        none = edge_forward(g, model, x, torch.ones(g.valid.shape), outs)[0]
        torch.testing.assert_close(kept, _logits(model, x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(none, _logits(model, xc), atol=1e-5, rtol=1e-5)
    assert hooks_on(model) == 0
    task = CircuitTask(x, xc, lambda lg: lg[:, -1, 3] - lg[:, -1, 5])
    assert faithfulness(model, task, np.ones(g.n_edges, bool), g)["faithfulness"] == pytest.approx(1.0, abs=1e-3)
    assert faithfulness(model, task, np.zeros(g.n_edges, bool), g)["faithfulness"] == pytest.approx(0.0, abs=1e-3)


def test_a_single_patched_edge_changes_only_what_it_should():
    """Patching input -> logits alone changes the logits by exactly the unembedded input difference (no norm, no bias in
    the way)."""
    model = _toy(d_mlp=None, normalization=None)
    x, xc = _inputs(20)
    g = CircuitGraph(model)
    task = CircuitTask(x, xc, lambda lg: lg[:, -1, 0])
    out = patch_edges(model, task, [n != "input->logits" for n in g.edge_names()], g)
    with torch.no_grad():
        emb = lambda t: model.embed(t) + model.pos_embed(t)
        expected = _logits(model, x) + (emb(xc) - emb(x)) @ model.unembed.W_U
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["toy", "llama_gqa"])
def test_eap_is_the_derivative_of_edge_patching(kind):
    model = _toy(torch.float64) if kind == "toy" else _llama(torch.float64)
    x, xc = _inputs(20 if kind == "toy" else 64)
    task = CircuitTask(x, xc, lambda lg: lg[:, -1, 3] - lg[:, -1, 5])
    g = CircuitGraph(model)
    eap = EdgeAttributionPatching().discover(model, task)
    assert (eap.meta["forward_passes"], eap.meta["backward_passes"]) == (2, 1)
    with torch.no_grad(): _, outs = edge_forward(g, model, xc)
    eps, errs = 1e-3, []
    for i in range(0, g.n_edges, 3):
        vals = []
        for s in (1, -1):   # central differences: HF computes logits in float32, so a one-sided tiny step is noise
            a = torch.zeros(g.valid.shape, dtype=torch.float64); a[g.edge_r[i], g.edge_u[i]] = s * eps
            with torch.no_grad(): vals.append(task.score(edge_forward(g, model, x, a, outs)[0]).item())
        errs.append(abs((vals[0] - vals[1]) / (2 * eps) - eap.scores[i]))
    assert max(errs) < 1e-3 * max(1.0, np.abs(eap.scores).max()), max(errs)
    assert np.abs(eap.scores).max() > 1e-3      # not trivially zero
    assert hooks_on(model) == 0


def test_integrated_gradients_add_up_to_the_total_effect():
    model = _toy(torch.float64)
    x, xc = _inputs(20)
    task = CircuitTask(x, xc, lambda lg: lg[:, -1, 3] - lg[:, -1, 5])
    with torch.no_grad(): total = task.score(model(xc)).item() - task.score(model(x)).item()
    ig = EdgeAttributionPatching(ig_steps=48, ig_path="edges").discover(model, task)
    assert ig.scores.sum() == pytest.approx(total, abs=0.05 * abs(total) + 1e-3)
    # EAP-IG (Hanna et al.): the input embedding moves; the input's outgoing edges carry the whole change
    eap_ig = EdgeAttributionPatching(ig_steps=48).discover(model, task)
    from_input = eap_ig.scores[np.array(eap_ig.data["writer"]) == "input"].sum()
    assert from_input == pytest.approx(total, abs=0.05 * abs(total) + 1e-3)
    assert (eap_ig.meta["forward_passes"], eap_ig.meta["backward_passes"]) == (50, 48)
    assert hooks_on(model) == 0
    with pytest.raises(ValueError, match="ig_path"):
        EdgeAttributionPatching(ig_steps=2, ig_path="embeddings").discover(model, task)


def _induction_task():
    from interp.methods.induction import repeated_tokens
    toy = load_checkpoint(Path(interp.__file__).parent / "data" / "induction_toy.safetensors")["model"]
    half = 20
    clean = repeated_tokens(24, half, toy.cfg.d_vocab, seed=1, unique=True)
    corrupt = torch.randint(0, toy.cfg.d_vocab, clean.shape, generator=torch.Generator().manual_seed(2))
    def metric(logits):
        lp = logits[:, :-1].log_softmax(-1).gather(-1, clean[:, 1:, None])[..., 0]
        return lp[:, half:].mean(1)
    pos = torch.zeros(clean.shape, dtype=torch.bool); pos[:, half:-1] = True
    # the shipped toy: previous-token heads 0.1 and 0.3, all four layer-1 heads induct
    # (checked in nbs/papers/55_acdc_eap)
    prev, ind = [1, 3], [0, 1, 2, 3]
    ref = ([f"input->a0.{p}.v" for p in prev] + [f"a0.{p}->a1.{h}.k" for p in prev for h in ind]
           + [f"input->a1.{h}.{c}" for h in ind for c in "qv"] + [f"a1.{h}->logits" for h in ind])
    return toy, CircuitTask(clean, corrupt, metric, positions=pos), ref


def test_both_techniques_find_the_planted_induction_circuit():
    toy, task, ref = _induction_task()
    eap = discover_circuit(toy, task, "eap", top_n=len(ref))
    acdc = discover_circuit(toy, task, ACDC(threshold=0.03))
    assert edge_roc(eap, ref)[2] >= 0.95
    assert edge_roc(acdc, ref)[2] >= 0.95
    assert set(ref) <= set(acdc.circuit())
    assert acdc.meta["forward_passes"] > 20 * eap.meta["forward_passes"]
    assert agreement(acdc, eap)["jaccard_top_k"] > 0.5
    assert faithfulness(toy, task, acdc)["faithfulness"] > 0.8


def test_acdc_threshold_extremes_and_kl_is_zero_when_everything_is_kept():
    model = _toy()
    x, xc = _inputs(20)
    task = CircuitTask(x, xc, lambda lg: lg[:, -1, 3] - lg[:, -1, 5])
    empty = ACDC(threshold=1e9).discover(model, task)
    assert empty.n_edges == 0
    strict = ACDC(threshold=0.0).discover(model, task)        # prune only what does not move the output at all
    assert strict.meta["final_damage"] == pytest.approx(0.0, abs=1e-6)
    assert faithfulness(model, task, strict)["faithfulness"] == pytest.approx(1.0, abs=1e-3)
    assert strict.meta["forward_passes"] <= CircuitGraph(model).n_edges + 3
    task_metric = ACDC(threshold=0.05, metric="task").discover(model, task)
    assert 0 <= task_metric.n_edges <= CircuitGraph(model).n_edges


def test_bad_input_fails_clearly_and_leaves_no_hooks():
    model = _toy()
    x, xc = _inputs(20)
    g = CircuitGraph(model)
    with pytest.raises(ValueError, match="same shape"): CircuitTask(x, xc[:, :4], lambda lg: lg.sum())
    with pytest.raises(TypeError, match="callable"): CircuitTask(x, xc, "kl")
    with torch.no_grad(): _, outs = edge_forward(g, model, xc)
    with pytest.raises(ValueError, match="alpha must have shape"): edge_forward(g, model, x, torch.zeros(2, 2), outs)
    with pytest.raises(ValueError, match="same shape"):
        edge_forward(g, model, x[:, :5], torch.zeros(g.valid.shape), outs)
    with pytest.raises(ValueError, match="token ids"):  # fails mid-forward
        edge_forward(g, model, x + 100, torch.zeros(g.valid.shape), outs)
    assert hooks_on(model) == 0
    bad_metric = CircuitTask(x, xc, lambda lg: lg[:, -1, 99])  # index error inside the metric, after the hooked forward
    with pytest.raises(IndexError): EdgeAttributionPatching().discover(model, bad_metric)
    assert hooks_on(model) == 0
    with pytest.raises(ValueError, match="supports"): CircuitGraph(torch.nn.Linear(3, 3))
    with pytest.raises(KeyError, match="unknown edges"):
        patch_edges(model, CircuitTask(x, xc, lambda lg: lg.sum()), ["a9.9->logits"], g)
    with pytest.raises(ValueError, match="threshold"):
        ACDC(threshold=float("nan")).discover(model, CircuitTask(x, xc, lambda lg: lg.sum()))
    with pytest.raises(TypeError, match="CircuitTask"): EdgeAttributionPatching().discover(model, (x, xc))
    with pytest.raises(ValueError, match="top_n"):
        EdgeAttributionPatching(top_n=None).discover(model, CircuitTask(x, xc, lambda lg: lg.sum()))
    assert hooks_on(model) == 0


def test_roc_auc_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = rng.integers(0, 5, 30).astype(float)         # many ties
        y = rng.random(30) < 0.3
        if y.all() or not y.any(): continue
        pos, neg = s[y], s[~y]
        brute = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg))
        fpr, tpr, auc = roc_curve(s, y)
        assert auc == pytest.approx(brute)
        assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
        assert (np.diff(fpr) >= 0).all() and (np.diff(tpr) >= 0).all()


def test_result_round_trips_and_plots(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    model = _llama()
    x, xc = _inputs(64)
    res = EdgeAttributionPatching(top_n=12).discover(model, CircuitTask(x, xc, lambda lg: lg[:, -1, 3] - lg[:, -1, 5]))
    assert isinstance(res, CircuitResult) and res.n_edges == 12 and len(res.circuit()) == 12
    back = CircuitResult.from_json(res.to_json())
    assert back.equals(res)
    assert any(".kv" in e for e in res.edges)                   # grouped-query key/value readers
    ax = plot_circuit(res)
    assert len(ax.texts) >= 2
    with pytest.raises(ValueError, match="different graph"):
        patch_edges(_toy(), CircuitTask(*_inputs(20), lambda lg: lg.sum()), res)


def test_contract():
    "EAP and ACDC keep the API contract: keyword hyper-parameters stored unchanged, discover(model, task) -> Result."
    assert check_contract(EdgeAttributionPatching) == [] and check_contract(ACDC) == []
    acdc = ACDC(threshold=0.2, metric="task")
    assert acdc.get_params() == dict(threshold=0.2, metric="task") and acdc.clone().get_params() == acdc.get_params()
