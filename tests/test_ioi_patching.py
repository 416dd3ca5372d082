"""Property and fault-injection tests of interp.methods.ioi_data (dataset invariants) and interp.methods.patching
(engine identities, hygiene)."""
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import pytest, torch
from hypothesis import given, settings, strategies as st, HealthCheck
from interp.methods.ioi_data import IOI_NAMES, IOI_OBJECTS, IOI_PLACES, WordTokenizer, make_ioi
from interp.core.extract import ActivationsExtractor
from interp.core.hooks import hooks_on, position_mask
from interp.core.intervene import Patch, run_with_interventions
from interp.core.method import check_contract
from interp.methods.patching import (ActivationPatching, AttributionPatching, CircuitDiscovery, HeadCircuitTask,
                                     PathPatching, PatchingTask, evaluate_circuit, head_means, logits_of, patch_jobs,
                                     path_patch)

WORDS = [" " + w for w in ("and went to the gave a got at decided give it said had long argument afterwards were "
                           "working found was quiet when arrived handed").split()]
WORDS += ["When", "Then", "After", "While", "Friends", "The", ",", "."] + [" " + w for w in IOI_PLACES + IOI_OBJECTS]
TOK = WordTokenizer(WORDS + [" " + n for n in IOI_NAMES])


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 40), seed=st.integers(0, 10_000))
def test_ioi_invariants(n, seed):
    ds = make_ioi(TOK, n=n, seed=seed)
    rows = torch.arange(n)
    assert len(ds) == n and ds.input_ids.shape == ds.corrupt_ids.shape
    assert (ds.input_ids[rows, ds.positions["IO"]] == ds.io_ids).all()
    assert (ds.input_ids[rows, ds.positions["S1"]] == ds.s_ids).all()
    assert (ds.input_ids[rows, ds.positions["S2"]] == ds.s_ids).all()
    assert (ds.positions["end"] == ds.lengths - 1).all()
    assert (ds.io_ids != ds.s_ids).all()
    # the ABC counterpart differs from the clean prompt exactly at the three name positions
    diff = (ds.input_ids != ds.corrupt_ids)
    for i in range(n):
        want = sorted(ds.positions[k][i].item() for k in ("IO", "S1", "S2"))
        assert diff[i].nonzero().flatten().tolist() == want
        r = ds.prompts[i]
        assert len({r["io"], r["s"], *r["abc"]}) == 5
    orders = ds.to_df().order.value_counts()
    assert abs(orders.get("ABBA", 0) - orders.get("BABA", 0)) <= 1


def test_ioi_rejects_multi_token_names():
    tok = WordTokenizer(WORDS + [" " + n for n in IOI_NAMES[:4]])   # only 4 names are single tokens
    with pytest.raises(ValueError, match="single tokens"): make_ioi(tok, n=4)


@pytest.fixture(scope="module")
def toy():
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=16)
    model = LlamaForCausalLM(cfg).eval()
    clean = torch.randint(3, 50, (5, 7)); corrupted = clean.clone(); corrupted[:, 1] = torch.randint(3, 50, (5,))
    return model, clean, corrupted


def metric(logits): return (logits[:, -1, 1] - logits[:, -1, 2]).mean()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(max_batch=st.integers(1, 80), layer=st.integers(0, 2), pos=st.one_of(st.none(), st.integers(0, 6)))
def test_stacked_jobs_equal_one_forward_per_job(toy, max_batch, layer, pos):
    model, clean, corrupted = toy
    site = f"blocks.{layer}.attn.z"
    cache = ActivationsExtractor(model, [site]).extract(clean)
    want = [metric(logits_of(run_with_interventions(model, [Patch(site, cache, heads=h, positions=pos)],
                                                    corrupted))).item()
            for h in range(4)]
    got = patch_jobs(model, corrupted, cache, [(site, h, None) for h in range(4)], metric, positions=pos,
                     max_batch=max_batch)
    assert got == pytest.approx(want, abs=1e-5)
    assert hooks_on(model) == 0


def test_full_residual_patch_restores(toy):
    model, clean, corrupted = toy
    task = PatchingTask(clean, corrupted, metric)
    res = ActivationPatching(per="site").patch(model, task)
    assert res.data == pytest.approx([1.0, 1.0, 1.0], abs=1e-4)
    noised = ActivationPatching(per="site", direction="noise").patch(model, task)
    assert noised.data == pytest.approx([-1.0, -1.0, -1.0], abs=1e-4)


def test_path_patching_last_layer_equals_noising(toy):
    model, clean, corrupted = toy
    task = PatchingTask(clean, corrupted, metric)
    noised = ActivationPatching(per="head", direction="noise").patch(model, task)
    pp = PathPatching().patch(model, task)   # receivers = logits
    assert pp.data[2] == pytest.approx(noised.data[2], abs=1e-4)
    # earlier layers differ in general: path patching blocks the route through later heads
    assert not pp.data[0] == pytest.approx(noised.data[0], abs=1e-4)


def test_per_example_positions(toy):
    model, clean, corrupted = toy
    m = position_mask(torch.tensor([0, 1, 2, 3, 4]), 5, 7)
    assert m.sum() == 5 and m[3, 3]
    # patching only position 0 (before the corruption at position 1) changes nothing
    first = PatchingTask(clean, corrupted, metric, positions=torch.zeros(5, dtype=torch.long))
    res = ActivationPatching(per="head").patch(model, first)
    assert abs(res.data).max() < 1e-5


def test_circuit_all_heads_is_full_model(toy):
    model, clean, corrupted = toy
    means = head_means(model, corrupted, groups=torch.tensor([0, 0, 1, 1, 1]))
    full = metric(model(clean).logits).item()
    every = [(l, h) for l in range(3) for h in range(4)]
    groups = torch.tensor([0, 0, 1, 1, 1])
    assert evaluate_circuit(model, clean, metric, every, means, groups=groups) == pytest.approx(full, abs=1e-5)
    disc = CircuitDiscovery(target=0.5, sizes=[2, 12]).discover(model, HeadCircuitTask(clean, metric, every, corrupted))
    assert disc.data["faithfulness"][-1] == pytest.approx(1.0, abs=1e-5)


def test_hooks_removed_when_metric_raises(toy):
    model, clean, corrupted = toy
    calls = []
    def bad_metric(logits):
        calls.append(1)
        if len(calls) > 2: raise RuntimeError("boom")
        return metric(logits)
    with pytest.raises(RuntimeError, match="boom"):
        ActivationPatching(per="head").patch(model, PatchingTask(clean, corrupted, bad_metric))
    assert hooks_on(model) == 0
    # a failure inside the forward pass, while the patching hooks are registered
    def explode(mod, args, out):
        if args[0].shape[0] > clean.shape[0]: raise RuntimeError("forward failed")   # only the stacked (patched) runs
    handle = model.model.layers[2].register_forward_hook(explode)
    try:
        with pytest.raises(RuntimeError, match="forward failed"):
            path_patch(model, clean, corrupted, metric, [[(0, 0)], [(0, 1)]], receivers=[(1, 0)])
        assert hooks_on(model) == 1   # only the injected hook is left
        with pytest.raises(RuntimeError, match="forward failed"):
            ActivationPatching(per="head").patch(model, PatchingTask(clean, corrupted, metric))
        assert hooks_on(model) == 1
    finally: handle.remove()
    assert hooks_on(model) == 0


def test_bad_inputs(toy):
    model, clean, corrupted = toy
    with pytest.raises(ValueError, match="same shape"): PatchingTask(clean, corrupted[:3], metric)
    with pytest.raises(TypeError, match="PatchingTask"): ActivationPatching().patch(model, (clean, corrupted, metric))
    with pytest.raises(ValueError, match="no path"):
        path_patch(model, clean, corrupted, metric, [[(2, 0)]], receivers=[(2, 1)])
    task = PatchingTask(clean, corrupted, metric)
    with pytest.raises(IndexError, match="out of range"): PathPatching(senders=[(5, 0)]).patch(model, task)
    with pytest.raises(IndexError, match="out of range"): AttributionPatching(layers=[7]).patch(model, task)
    with pytest.raises(TypeError, match="HeadCircuitTask"): CircuitDiscovery().discover(model, task)
    with pytest.raises(TypeError, match="positions"): position_mask("end", 5, 7)
    assert hooks_on(model) == 0


def test_contract():
    "Hyper-parameters are keyword arguments stored unchanged; the verbs take (model, task) and return Results."
    for cls in (ActivationPatching, AttributionPatching, PathPatching, CircuitDiscovery):
        assert check_contract(cls) == [], check_contract(cls)
    tech = PathPatching(receivers=[(2, 0)], senders=[(0, 1)])
    want = dict(receivers=[(2, 0)], senders=[(0, 1)], receiver_input="q", max_batch=256)
    assert tech.clone().get_params() == tech.get_params() == want


def test_result_provenance(toy):
    model, clean, corrupted = toy
    res = ActivationPatching(per="site", max_batch=7).patch(model, PatchingTask(clean, corrupted, metric))
    assert res.method == "activation_patching" and res.params["max_batch"] == 7 and res.params["per"] == "site"
