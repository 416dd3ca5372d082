"Direct logit attribution: exact decomposition on random models (property tests) and refusal of unsupported heads."
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import pytest, torch
from hypothesis import given, settings, strategies as st, HealthCheck
from test_repr_models import tiny_llama, tiny_gpt2, no_hooks
from interp.core.method import AttributionTask
from interp.repr.dla import DirectLogitAttribution, decompose_resid, final_norm

@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arch=st.sampled_from(["llama", "gpt2"]), seed=st.integers(0, 10_000), batch=st.integers(1, 3),
       pos=st.integers(2, 9), position=st.integers(-2, 1))
def test_parts_sum_to_logit_diff(arch, seed, batch, pos, position):
    model = (tiny_llama if arch == "llama" else tiny_gpt2)(seed=seed)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 101, (batch, pos), generator=g)
    a, b = torch.randint(0, 101, (batch,), generator=g), torch.randint(0, 101, (batch,), generator=g)
    r = DirectLogitAttribution().attribute(model, AttributionTask(ids, (a, b), position=position))
    # the precision itself is checked below, in absolute terms (a relative check fails on near-zero differences)
    logits = model(ids).logits[:, position].double()
    rows = torch.arange(batch)
    true = (logits[rows, a] - logits[rows, b]).mean().item()
    assert abs(r.data.value.sum() - true) <= 1e-6 * max(1.0, abs(true))
    assert abs(r.meta["logit_diff"] - true) <= 1e-5 * max(1.0, abs(true))
    assert r.heads().data.shape == (3, 4)
    assert no_hooks(model)

def test_decomposition_matches_resid_and_norm():
    for model in (tiny_llama(seed=3), tiny_gpt2(seed=3)):
        ids = torch.randint(0, 101, (2, 6))
        d = decompose_resid(model, ids, position=3)
        assert torch.allclose(d.parts.sum(0), d.resid, atol=1e-5)
        fn = final_norm(model)
        norm = model.model.norm if hasattr(model, "model") else model.transformer.ln_f
        x = torch.randn(4, 32)
        assert torch.allclose(fn.apply(x).float(), norm(x), atol=1e-5)

def test_soft_capped_head_is_refused():
    "A head that is not norm + linear unembedding (soft-capping) must make the sum check fail loudly."
    model = tiny_llama(seed=1)
    lm_head = model.lm_head
    class Capped(torch.nn.Module):
        def __init__(self): super().__init__(); self.inner = lm_head; self.weight = lm_head.weight; self.bias = None
        def forward(self, x): return 2.0 * torch.tanh(self.inner(x) / 2.0)
    model.lm_head = Capped()
    ids = torch.randint(0, 101, (1, 5))
    with pytest.raises(RuntimeError, match="relative error"):
        DirectLogitAttribution().attribute(model, AttributionTask(ids, (3, 4)))
    assert no_hooks(model)

def test_answer_count_mismatch():
    with pytest.raises(ValueError, match="one per prompt"):
        DirectLogitAttribution().attribute(tiny_llama(), AttributionTask(torch.randint(0, 101, (3, 5)),
                                                                         ([1, 2], [3, 4])))
