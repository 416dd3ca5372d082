"Lenses and layer slicing on tiny random models: exactness at the ends, save/load, restore, error paths."
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np, pytest, torch
from test_repr_models import tiny_llama, tiny_gpt2, no_hooks
from interp.repr.lens import LogitLens, TunedLens, residual_stack
from interp.repr.represent import Unembed, Embed
from interp.core.method import AttributionTask
from interp.repr.slicing import LayerSlicing, next_token_loss

@pytest.mark.parametrize("make", [tiny_llama, tiny_gpt2])
def test_logit_lens_final_layer_is_the_model(make):
    model = make(seed=2)
    ids = torch.randint(0, 101, (2, 7))
    stack, out = residual_stack(model, ids)
    lens = LogitLens().fit(model)
    assert torch.allclose(lens(stack[-1], layer=3), out.logits, atol=1e-4)
    assert np.allclose(lens.kl_to_final(ids)[-1], 0, atol=1e-5)
    assert no_hooks(model)

def test_tuned_lens_beats_logit_lens_and_roundtrips(tmp_path):
    model = tiny_llama(seed=4, layers=3, vocab=60)
    ids = torch.randint(0, 60, (24, 12), generator=torch.Generator().manual_seed(0))
    tuned = TunedLens(n_steps=40, lr=3e-3, vocab_subset=None).fit(model, ids)
    kl_t, kl_l = tuned.kl_to_final(ids), LogitLens().fit(model).kl_to_final(ids)
    assert (kl_t[:3] < kl_l[:3]).all(), (kl_t, kl_l)
    path = tmp_path / "lens.safetensors"
    tuned.save(path)
    again = TunedLens.load(path, model)
    h = torch.randn(5, 32)
    assert torch.allclose(again.transform(h, 1), tuned.transform(h, 1), atol=1e-5)
    with pytest.raises(ValueError, match="Train a tuned lens for this model"):
        TunedLens.load(path, tiny_llama(layers=2, vocab=60))
    bad = tmp_path / "other.safetensors"
    from safetensors.torch import save_file
    save_file({"x": torch.zeros(2)}, str(bad))
    with pytest.raises(ValueError, match="not a tuned-lens file"):
        TunedLens.load(bad, model)

def test_slicing_restores_and_removing_all_layers_is_the_embedding_lens():
    model = tiny_llama(seed=5, layers=4)
    ids = torch.randint(0, 101, (3, 10))
    before = model(ids).logits.detach().clone()
    r = LayerSlicing(window=4).attribute(model, AttributionTask(ids))
    expect = next_token_loss(Unembed(model)(Embed(model)(ids)), ids)
    assert abs(r.data["metric"][0] - expect) < 1e-4
    assert torch.equal(model(ids).logits, before) and no_hooks(model)

def test_slicing_metric_error_leaves_no_hooks():
    model = tiny_gpt2(seed=6)
    ids = torch.randint(0, 101, (2, 5))
    calls = []
    def metric(out, ids):
        calls.append(1)
        if len(calls) == 2: raise ZeroDivisionError("metric failed")
        return 0.0
    with pytest.raises(ZeroDivisionError):
        LayerSlicing().attribute(model, AttributionTask(ids, target=metric))
    assert no_hooks(model)
