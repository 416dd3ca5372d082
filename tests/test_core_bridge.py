"""interp on TransformerLens 4 TransformerBridge: values equal TL's own run_with_cache, and interp on the HF model
equals TL on the same weights."""
import os, copy, tempfile
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import pytest, torch, transformers
from interp.core.extract import ActivationsExtractor
from interp.core.hooks import hooks_on
from interp.core.intervene import Ablate, run_with_interventions
from interp.core.sites import list_sites, model_info
from test_core_extract import make_gpt2, make_llama, make_neox, IDS

bridge_mod = pytest.importorskip("transformer_lens.model_bridge")
@pytest.fixture(autouse=True, scope="module")
def _no_grad():
    "These tests only read and edit activations: no autograd, scoped to this module."
    with torch.no_grad(): yield

@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    tk = Tokenizer(models.WordLevel({f"t{i}": i for i in range(97)}, unk_token="t0"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="t0", pad_token="t0", eos_token="t1",
                                               bos_token="t1")
    d = tempfile.mkdtemp(); tok.save_pretrained(d)   # the bridge needs a tokenizer loaded from a folder
    return transformers.AutoTokenizer.from_pretrained(d)

BOOT = {"gpt2": ("gpt2", make_gpt2), "llama": ("llama", make_llama),
        "neox": ("EleutherAI/pythia-70m", lambda: make_neox(parallel=False))}

# canonical site -> TL cache key (interp's canonical names follow TL's, so the key is the TL alias)
TL_KEY = {"embed": "hook_embed", "pos_embed": "hook_pos_embed", "final_norm": "ln_final.hook_out", "logits": None}
BLOCK_KEY = {"resid_pre": "hook_resid_pre", "resid_mid": "hook_resid_mid", "resid_post": "hook_resid_post",
             "attn.q": "attn.hook_q", "attn.k": "attn.hook_k", "attn.v": "attn.hook_v", "attn.z": "attn.hook_z",
             "attn.pattern": "attn.hook_pattern", "attn.out": "hook_attn_out", "mlp.pre": "mlp.hook_pre",
             "mlp.post": "mlp.hook_post", "mlp.out": "hook_mlp_out",
             "ln1": "ln1.hook_out", "ln2": "ln2.hook_out"}   # after the norm's weight, like HF modules

def tl_key(site):
    if "." not in site: return TL_KEY.get(site)
    _, i, rest = site.split(".", 2)
    return f"blocks.{i}.{BLOCK_KEY[rest]}" if rest in BLOCK_KEY else None

def expand(t, h):
    return t if t.shape[-2] == h else t.repeat_interleave(h // t.shape[-2], dim=-2)

@pytest.fixture(scope="module", params=list(BOOT))
def pair(request, tokenizer):
    name, make = BOOT[request.param]
    hf = make()
    with torch.no_grad():   # non-trivial norm weights: "normalized" before and after the weight must not coincide
        for n, p in hf.named_parameters():
            if "norm" in n or ".ln_" in n: p.copy_(torch.rand_like(p) + 0.5)
    hf_copy = copy.deepcopy(hf)
    bridge = bridge_mod.TransformerBridge.boot_transformers(name, hf_model=hf_copy, tokenizer=tokenizer)
    return request.param, hf, bridge

def test_bridge_is_recognised(pair):
    _, hf, bridge = pair
    info = model_info(bridge)
    assert info.arch == "bridge" and info.n_layers == 2 and info.n_heads == 4
    assert "blocks.1.attn.pattern" in list_sites(bridge)

def test_interp_on_bridge_equals_tl_run_with_cache(pair):
    _, hf, bridge = pair
    sites = [s for s in list_sites(bridge) if tl_key(s) is not None]
    bridge(IDS); n0 = hooks_on(bridge)   # transformers adds its own output-recording hooks on the first forward
    cache = ActivationsExtractor(bridge, sites).extract(IDS)
    assert hooks_on(bridge) == n0
    logits, tl = bridge.run_with_cache(IDS)
    torch.testing.assert_close(cache.output, logits, rtol=0, atol=0)
    for s in sites:
        ref = tl[tl_key(s)]
        if s.endswith(("attn.k", "attn.v")): ref = expand(ref, 4)
        torch.testing.assert_close(cache[s], ref, rtol=0, atol=0, msg=s)

def test_interp_on_hf_equals_tl_on_same_weights(pair):
    arch, hf, bridge = pair
    sites = [s for s in list_sites(hf) if tl_key(s) is not None and s in list_sites(bridge)]
    cache = ActivationsExtractor(hf, sites).extract(IDS)
    _, tl = bridge.run_with_cache(IDS)
    checked = 0
    for s in sites:
        ref = tl[tl_key(s)]
        if s.endswith(("attn.k", "attn.v")): ref = expand(ref, 4)
        if s == "pos_embed": ref = ref[:1]   # HF computes position embeddings once, [1,p,d_model], for the whole batch
        torch.testing.assert_close(cache[s], ref, rtol=1e-4, atol=1e-5, msg=s); checked += 1
    assert checked >= 12 * 2

def test_head_ablation_on_bridge_matches_tl_hooks(pair):
    _, hf, bridge = pair
    ours = run_with_interventions(bridge, [Ablate("blocks.1.attn.z", heads=2)], IDS)
    def zero_head(act, hook):
        act = act.clone(); act[:, :, 2] = 0; return act
    ref = bridge.run_with_hooks(IDS, fwd_hooks=[("blocks.1.attn.hook_z", zero_head)])
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)
    assert not torch.equal(ours, bridge(IDS))
    # and it matches the same ablation on the plain HF model
    hf_out = run_with_interventions(hf, [Ablate("blocks.1.attn.z", heads=2)], IDS).logits
    torch.testing.assert_close(hf_out, ours, rtol=1e-4, atol=1e-5)
