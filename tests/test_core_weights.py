"interp.core.weights: the weights map captured sites onto each other on every adapter (HF GPT-2/Llama/NeoX and toys)."
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import pytest, torch
from interp.core.extract import ActivationsExtractor
from interp.core.sites import list_sites, model_info
from interp.core import weights as W
from test_core_extract import make_gpt2, make_llama, make_neox, IDS

@pytest.fixture(autouse=True, scope="module")
def _no_grad():
    "These tests only read and edit activations: no autograd, scoped to this module."
    with torch.no_grad(): yield

def make_toy():
    toys = pytest.importorskip("interp.core.toys")
    cfg = toys.ToyConfig(n_layers=2, d_model=32, n_heads=4, d_head=8, d_vocab=97, n_ctx=16, d_mlp=64,
                         normalization="LN")
    return toys.ToyTransformer(cfg).eval()

MODELS = {"gpt2": make_gpt2, "llama": make_llama, "llama_mha": lambda: make_llama(kv=4), "neox": make_neox,
          "toy": make_toy}

@pytest.mark.parametrize("name", list(MODELS))
def test_weights_reproduce_activations(name):
    m = MODELS[name](); info = model_info(m)
    assert info is not None and info.n_layers == 2
    c = ActivationsExtractor(m, list_sites(m)).extract(IDS)
    for L in range(2):
        A, M = W.attn_weights(m, L), W.mlp_weights(m, L)
        n = f"blocks.{L}."
        x = c[n + "ln1"] if n + "ln1" in c else c[n + "resid_pre"]
        for p in "QKV":
            assert A[f"W_{p}"].shape == (4, 32, 8)
            torch.testing.assert_close(torch.einsum("bpd,hde->bphe", x, A[f"W_{p}"]) + A[f"b_{p}"],
                                       c[n + f"attn.{p.lower()}"], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(torch.einsum("bphe,hed->bpd", c[n + "attn.z"], A["W_O"]) + A["b_O"],
                                   c[n + "attn.out"], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(c[n + "mlp.post"] @ M["W_out"] + M["b_out"], c[n + "mlp.out"], rtol=1e-4, atol=1e-5)
        y = c[n + "ln2"] if n + "ln2" in c else c[n + "resid_mid"]
        pre = y @ M["W_gate"] + M["b_gate"] if "W_gate" in M else y @ M["W_in"] + M["b_in"]
        torch.testing.assert_close(pre, c[n + "mlp.pre"], rtol=1e-4, atol=1e-5)
        if "W_gate" in M:
            torch.testing.assert_close(y @ M["W_in"] + M["b_in"], c[n + "mlp.pre_linear"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(W.W_E(m)[IDS], c["embed"], rtol=0, atol=0)
    torch.testing.assert_close(c["final_norm"] @ W.W_U(m) + W.b_U(m), c["logits"], rtol=1e-4, atol=1e-4)
    assert W.stacked(m, "W_O").shape == (2, 4, 8, 32)

def test_gqa_expansion_and_errors():
    m = make_llama(kv=2)
    K = W.W_K(m, 1)
    assert torch.equal(K[0], K[1]) and torch.equal(K[2], K[3]) and not torch.equal(K[1], K[2])
    with pytest.raises(IndexError, match="0..1"): W.W_Q(m, 2)
    with pytest.raises(TypeError, match="rotary"): W.W_pos(m)
    with pytest.raises(TypeError, match="no weight adapter"): W.W_Q(torch.nn.Linear(2, 2), 0)
    with pytest.raises(KeyError, match="unknown weight"): W.stacked(m, "W_X")
