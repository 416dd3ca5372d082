"Interventions: values against hand-written hooks, and exact restore when exceptions are raised anywhere in a scope."
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import pytest, torch
from hypothesis import given, settings, strategies as st, HealthCheck
from interp.core.extract import ActivationsExtractor
from interp.core.hooks import hooks_on
from interp.core.intervene import Ablate, AddVector, Patch, Replace, intervene, run_with_interventions
from interp.core.sites import list_sites, resolve_site, model_info
from test_core_extract import make_gpt2, make_llama, make_neox, make_toy, IDS

@pytest.fixture(autouse=True, scope="module")
def _no_grad():
    "These tests only read and edit activations: no autograd, scoped to this module."
    with torch.no_grad(): yield
MODELS = {"gpt2": make_gpt2(), "llama": make_llama(), "neox": make_neox(), "toy": make_toy()}
BASE = {}
for name, m in MODELS.items():
    BASE[name] = dict(out=(m(IDS).logits if name != "toy" else m(IDS)).clone(), hooks=hooks_on(m),
                      state={k: v.clone() for k, v in m.state_dict().items()},
                      impl=getattr(getattr(m, "config", None), "_attn_implementation", None))

def logits(m, x=IDS):
    o = m(x); return o if torch.is_tensor(o) else o.logits

def assert_restored(name):
    m, b = MODELS[name], BASE[name]
    assert hooks_on(m) == b["hooks"], "hooks left behind"
    assert getattr(getattr(m, "config", None), "_attn_implementation", None) == b["impl"]
    sd = m.state_dict()
    assert sd.keys() == b["state"].keys() and all(torch.equal(sd[k], b["state"][k]) for k in sd)
    assert torch.equal(logits(m), b["out"]), "outputs changed after the scope"

@pytest.mark.parametrize("name", ["gpt2", "llama", "neox"])
def test_head_ablation_equals_raw_hook(name):
    "Zero-ablating head 2 at attn.z equals zeroing that slice of W_O's input with a raw pre-hook."
    m = MODELS[name]; info = model_info(m)
    spec = resolve_site(m, "blocks.1.attn.z")
    ours = run_with_interventions(m, [Ablate("blocks.1.attn.z", heads=2)], IDS).logits
    def pre(mod, args):
        x = args[0].clone(); x.unflatten(-1, (info.n_heads, -1))[:, :, 2] = 0; return (x,)
    h = m.get_submodule(spec.module).register_forward_pre_hook(pre)
    try: ref = m(IDS).logits
    finally: h.remove()
    assert torch.equal(ours, ref)
    assert not torch.equal(ours, BASE[name]["out"])
    assert_restored(name)

@pytest.mark.parametrize("name", ["gpt2", "llama", "neox", "toy"])
def test_patch_everything_recovers_source_run(name):
    m = MODELS[name]; corrupt = (IDS + 1) % 97
    src = ActivationsExtractor(m, "blocks.1.resid_pre").extract(IDS)
    patched = run_with_interventions(m, [Patch("blocks.1.resid_pre", src)], corrupt)
    assert torch.equal(logits_of(patched), BASE[name]["out"])
    # patching q, k and v of every head at block 0 alone also recovers block 0's attention output
    sites = ["blocks.0.attn.q", "blocks.0.attn.k", "blocks.0.attn.v", "blocks.0.attn.out"]
    c = ActivationsExtractor(m, sites).extract(IDS)
    with intervene(m, [Patch(s, c) for s in sites[:3]]):
        c2 = ActivationsExtractor(m, sites).extract(corrupt)
    # pos 0 attends only to itself
    torch.testing.assert_close(c2["blocks.0.attn.out"][:, 1:], c["blocks.0.attn.out"][:, 1:])
    assert_restored(name)

def logits_of(o): return o if torch.is_tensor(o) else o.logits

def test_steering_only_changes_later_positions():
    m = MODELS["llama"]; v = torch.randn(32)
    out = logits_of(run_with_interventions(m, [AddVector("blocks.0.resid_post", v, coeff=3.0, positions=4)], IDS))
    ref = BASE["llama"]["out"]
    assert torch.equal(out[:, :4], ref[:, :4]) and not torch.allclose(out[:, 4:], ref[:, 4:])
    c = ActivationsExtractor(m, "blocks.0.resid_post").extract(IDS)
    with intervene(m, AddVector("blocks.0.resid_post", v, coeff=3.0, positions=4)):
        c2 = ActivationsExtractor(m, "blocks.0.resid_post").extract(IDS)
    delta = c2["blocks.0.resid_post"][:, 4] - c["blocks.0.resid_post"][:, 4]
    torch.testing.assert_close(delta, (3.0 * v).expand(3, -1))
    assert_restored("llama")

def test_toy_pattern_is_writable_and_gqa_rules():
    toy = MODELS["toy"]
    uniform = lambda t: torch.tril(torch.ones_like(t)) / torch.tril(torch.ones_like(t)).sum(-1, keepdim=True)
    with intervene(toy, Replace("blocks.0.attn.pattern", uniform)):
        c = ActivationsExtractor(toy, "blocks.0.attn.pattern").extract(IDS)
    torch.testing.assert_close(c["blocks.0.attn.pattern"][0, 0, 2], torch.tensor([1/3, 1/3, 1/3, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="whole groups"):
        run_with_interventions(MODELS["llama"], Ablate("blocks.0.attn.v", heads=[1, 2]), IDS)
    # a Replace that breaks GQA sharing is caught during the forward, and nothing is left behind
    def per_head(t): t = t.clone(); t[:, :, 0] = 0; return t
    with pytest.raises(ValueError, match="grouped-query"):
        run_with_interventions(MODELS["llama"], Replace("blocks.0.attn.k", per_head), IDS)
    for n in MODELS: assert_restored(n)

# ---- property test: raise at random points inside capture / intervention scopes --------------------------

class Boom(Exception): pass

@pytest.mark.parametrize("name", ["gpt2", "llama", "neox"])
def test_hf_pattern_edits(name):
    "Pattern edits on HF models: an identity edit equals eager attention; zeroing a head's pattern zeroes its z."
    m = MODELS[name]
    eager = ActivationsExtractor(m, ["blocks.1.attn.pattern", "logits"]).extract(IDS)   # capturing the pattern: eager
    same = run_with_interventions(m, Replace("blocks.1.attn.pattern", lambda p: p.clone()), IDS).logits
    assert torch.equal(same, eager["logits"])
    pat0 = run_with_interventions(m, Ablate("blocks.1.attn.pattern", heads=2), IDS).logits
    z0 = run_with_interventions(m, Ablate("blocks.1.attn.z", heads=2), IDS).logits
    torch.testing.assert_close(pat0, z0, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(pat0, BASE[name]["out"], atol=1e-4)
    with intervene(m, Patch("blocks.1.attn.pattern", eager, positions=[3, 4])):
        c = ActivationsExtractor(m, "blocks.1.attn.pattern").extract(IDS)
    torch.testing.assert_close(c["blocks.1.attn.pattern"], eager["blocks.1.attn.pattern"], rtol=0, atol=0)
    assert_restored(name)

def _writable(name):
    m = MODELS[name]
    return [s for s in list_sites(m) if (resolve_site(m, s).writable or s.endswith("attn.pattern"))
            and not s.endswith(("attn.k", "attn.v"))]

WRITABLE = {n: _writable(n) for n in MODELS}

@st.composite
def scenario(draw):
    name = draw(st.sampled_from(sorted(MODELS)))
    sites = WRITABLE[name]
    n_iv = draw(st.integers(1, 3))
    ivs = []
    for _ in range(n_iv):
        site = draw(st.sampled_from(sites)); spec = resolve_site(MODELS[name], site)
        kind = draw(st.sampled_from(["zero", "mean", "resample", "add", "replace"]))
        heads = draw(st.sampled_from([None, 0, [1, 3]])) if spec.head_dim is not None else None
        pos = draw(st.sampled_from([None, -1, [0, 2]]))
        ivs.append((site, kind, heads, pos))
    raise_at = draw(st.sampled_from(["none", "before_forward", "after_forward", "hook", "capture_limit"]))
    hook_call = draw(st.integers(0, 3))
    capture_sites = draw(st.lists(st.sampled_from(list_sites(MODELS[name])), min_size=1, max_size=4, unique=True))
    nest_capture_outside = draw(st.booleans())
    return name, ivs, raise_at, hook_call, capture_sites, nest_capture_outside

def _build(m, ivs, raise_at, hook_call):
    calls, n_counting = [0], [1]
    def counting(t):   # each Replace site fires once per forward: raise at the (hook_call % n)-th of them
        calls[0] += 1
        if raise_at == "hook" and calls[0] > hook_call % n_counting[0]: raise Boom("inside a hook")
        return t * 0.5
    out = []
    for site, kind, heads, pos in ivs:
        if kind in ("zero", "mean", "resample"): out.append(Ablate(site, kind=kind, heads=heads, positions=pos))
        elif kind == "add":
            dim = ActivationsExtractor(m, site).extract(IDS[:1])[site].shape[-1]
            out.append(AddVector(site, torch.ones(dim), coeff=0.3, positions=pos, heads=heads))
        else: out.append(Replace(site, counting, heads=heads, positions=pos))
    if raise_at == "hook" and not any(k == "replace" for _, k, _, _ in ivs):
        out.append(Replace(ivs[0][0], counting))
    n_counting[0] = sum(isinstance(iv, Replace) for iv in out) or 1
    return out

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_raise_anywhere_leaves_model_exactly_restored(sc):
    name, ivs, raise_at, hook_call, capture_sites, outside = sc
    m = MODELS[name]
    ex = ActivationsExtractor(m, capture_sites, max_bytes=1 if raise_at == "capture_limit" else None)
    interventions = _build(m, ivs, raise_at, hook_call)
    def body():
        if raise_at == "before_forward": raise Boom("before")
        logits(m)
        if raise_at == "after_forward": raise Boom("after")
    try:
        if outside:
            with ex.capture(), intervene(m, interventions): body()
        else:
            with intervene(m, interventions), ex.capture(): body()
        raised = False
    except (Boom, MemoryError):
        raised = True
    assert raised == (raise_at != "none")
    assert_restored(name)
