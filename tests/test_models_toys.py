"Toy transformers: hook naming and shapes, exact residual algebra, causality, determinism, training loop, checkpoints."
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st

import interp.core.toys as T


def capture(model, tokens):
    acts, handles = {}, []
    for n, m in model.named_modules():
        if isinstance(m, (T.HookPoint, torch.nn.Identity)) or n in ("ln_final", "unembed"):
            handles.append(m.register_forward_hook(lambda mod, i, o, n=n: acts.__setitem__(n, o.detach())))
    try: out = model(tokens)
    finally:
        for h in handles: h.remove()
    return out, acts


configs = st.builds(
    lambda L, h, e, mlp, ln, v, ctx, bias, seed: T.ToyConfig(n_layers=L, d_model=h * e, n_heads=h, d_head=e, d_vocab=v,
                                                             n_ctx=ctx, d_mlp=mlp, normalization=ln, use_bias=bias,
                                                             seed=seed),
    st.integers(1, 3), st.integers(1, 3), st.sampled_from([4, 8]), st.sampled_from([None, 16]),
    st.sampled_from([None, "LN"]),
    st.integers(3, 20), st.integers(2, 8), st.booleans(), st.integers(0, 1000))


def test_modular_addition_config_is_nanda():
    cfg = T.modular_addition_config(113)
    assert (cfg.n_layers, cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp, cfg.d_vocab, cfg.d_vocab_out,
            cfg.n_ctx) == (1, 128, 4, 32, 512, 114, 113, 3)
    assert cfg.normalization is None and cfg.act_fn == "relu"
    m = T.ToyTransformer(cfg)
    assert not any(isinstance(x, (torch.nn.LayerNorm, T.LayerNorm)) for x in m.modules())
    assert {n for n, p in m.named_parameters() if p.requires_grad} == {
        "embed.W_E", "pos_embed.W_pos", "blocks.0.attn.W_Q", "blocks.0.attn.W_K", "blocks.0.attn.W_V",
        "blocks.0.attn.W_O", "blocks.0.mlp.W_in", "blocks.0.mlp.W_out", "unembed.W_U"}


def test_hook_names_and_shapes_follow_contract():
    cfg = T.modular_addition_config(113); m = T.ToyTransformer(cfg)
    tokens = torch.tensor([[3, 5, 113], [100, 20, 113]])
    logits, a = capture(m, tokens)
    b, p, h, e, d = 2, 3, 4, 32, 128
    expect = {"hook_embed": (b, p, d), "hook_pos_embed": (b, p, d), "blocks.0.hook_resid_pre": (b, p, d),
              "blocks.0.attn.hook_q": (b, p, h, e), "blocks.0.attn.hook_k": (b, p, h, e),
              "blocks.0.attn.hook_v": (b, p, h, e), "blocks.0.attn.hook_z": (b, p, h, e),
              "blocks.0.attn.hook_pattern": (b, h, p, p), "blocks.0.hook_attn_out": (b, p, d),
              "blocks.0.hook_resid_mid": (b, p, d), "blocks.0.mlp.hook_pre": (b, p, 512),
              "blocks.0.mlp.hook_post": (b, p, 512), "blocks.0.hook_mlp_out": (b, p, d),
              "blocks.0.hook_resid_post": (b, p, d), "ln_final": (b, p, d), "unembed": (b, p, 113)}
    for k, shape in expect.items(): assert tuple(a[k].shape) == shape, k
    assert torch.equal(a["unembed"], logits)
    assert (a["blocks.0.mlp.hook_post"] >= 0).all()  # ReLU


def test_attention_only_has_no_mlp_sites():
    m = T.ToyTransformer(T.induction_config(64, 16))
    names = {n for n, _ in m.named_modules()}
    assert "blocks.1.attn.hook_pattern" in names and "ln_final.hook_normalized" in names
    assert not any(".mlp" in n or "resid_mid" in n or "mlp_out" in n for n in names)


@settings(max_examples=40, deadline=None)
@given(cfg=configs, data=st.data())
def test_residual_algebra_is_exact(cfg, data):
    m = T.ToyTransformer(cfg)
    tokens = torch.tensor(data.draw(st.lists(st.lists(st.integers(0, cfg.d_vocab - 1), min_size=cfg.n_ctx,
                                                      max_size=cfg.n_ctx), min_size=1, max_size=3)))
    with torch.no_grad(): logits, a = capture(m, tokens)
    x = a["hook_embed"] + a["hook_pos_embed"]
    for i in range(cfg.n_layers):
        k = f"blocks.{i}."
        torch.testing.assert_close(a[k + "hook_resid_pre"], x)
        attn = m.blocks[i].attn
        torch.testing.assert_close(torch.einsum("bqhe,hed->bqd", a[k + "attn.hook_z"], attn.W_O) + attn.b_O,
                                   a[k + "hook_attn_out"], atol=1e-5, rtol=1e-5)
        pat = a[k + "attn.hook_pattern"]
        torch.testing.assert_close(pat.sum(-1), torch.ones_like(pat[..., 0]))
        assert pat.triu(1).abs().max() == 0
        x = x + a[k + "hook_attn_out"]
        if cfg.d_mlp is not None:
            torch.testing.assert_close(a[k + "hook_resid_mid"], x)
            x = x + a[k + "hook_mlp_out"]
        torch.testing.assert_close(a[k + "hook_resid_post"], x, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(logits, m.unembed(m.ln_final(x)), atol=1e-5, rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(cfg=configs, j=st.integers(0, 7), seed=st.integers(0, 10))
def test_causal(cfg, j, seed):
    "Changing the token at position j never changes the logits before j."
    m = T.ToyTransformer(cfg); j = j % cfg.n_ctx
    g = torch.Generator().manual_seed(seed)
    t1 = torch.randint(0, cfg.d_vocab, (2, cfg.n_ctx), generator=g)
    t2 = t1.clone(); t2[:, j] = (t2[:, j] + 1) % cfg.d_vocab
    with torch.no_grad(): l1, l2 = m(t1), m(t2)
    torch.testing.assert_close(l1[:, :j], l2[:, :j])
    if cfg.d_vocab > 1: assert not torch.equal(l1[:, j:], l2[:, j:])


def test_init_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = T.ToyTransformer(T.induction_config(seed=1)), T.ToyTransformer(T.induction_config(seed=1))
    c = T.ToyTransformer(T.induction_config(seed=2))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.embed.W_E, c.embed.W_E)


def test_bad_inputs_have_clear_errors():
    m = T.ToyTransformer(T.modular_addition_config(7))
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 8\)"): m(torch.tensor([[1, 2, 8]]))
    with pytest.raises(TypeError, match="integer tensor"): m(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="longer than n_ctx=3"): m(torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="d_mlp must be a positive int, or None"):
        T.ToyConfig(1, 8, 1, 8, 5, 4, d_mlp=0)
    with pytest.raises(ValueError, match="Unknown ToyConfig keys"):
        T.ToyConfig.from_dict({**T.modular_addition_config().to_dict(), "foo": 1})
    with pytest.raises(ValueError, match="frac_train"): T.modular_addition_data(7, 1.0)
    with pytest.raises(ValueError, match="min_len"): T.induction_data(2, half_len=4, min_len=5)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 8), half=st.integers(2, 12), v=st.integers(3, 50), seed=st.integers(0, 100), data=st.data())
def test_induction_data_mask_marks_exact_copies(n, half, v, seed, data):
    min_len = data.draw(st.integers(2, half))
    t, mask = T.induction_data(n, half, v, torch.Generator().manual_seed(seed), min_len=min_len)
    assert t.shape == (n, 2 * half + 1) and mask.shape == (n, 2 * half) and (t[:, 0] == 0).all() and \
        (t[:, 1:] >= 1).all()
    for row, m in zip(t, mask):
        L = int(m.sum()) + 1
        assert min_len <= L <= half
        assert torch.equal(row[1:L + 1], row[L + 1:2 * L + 1])
        idx = torch.nonzero(m).flatten()  # input positions whose next token repeats the token L back
        assert torch.equal(row[idx + 1], row[idx + 1 - L])


def test_modular_addition_split():
    tx, ty, vx, vy = T.modular_addition_data(13, 0.5, seed=4)
    assert len(tx) == 84 and len(vx) == 169 - 84
    allx = torch.cat([tx, vx])
    assert len({tuple(r) for r in allx.tolist()}) == 169 and \
        ((allx[:, 0] + allx[:, 1]) % 13 == torch.cat([ty, vy])).all()


def _small():
    cfg = T.ToyConfig(n_layers=1, d_model=16, n_heads=2, d_head=8, d_mlp=32, d_vocab=12, d_vocab_out=11, n_ctx=3,
                      use_bias=False, seed=5)
    return cfg, T.ModularAddition(p=11, frac_train=0.5)


@pytest.mark.parametrize("task_kind", ["modadd", "induction"])
def test_training_is_deterministic_and_resume_is_exact(tmp_path, task_kind):
    if task_kind == "modadd": cfg, task = _small()
    else: cfg, task = (T.ToyConfig(n_layers=2, d_model=16, n_heads=2, d_head=8, d_vocab=10, n_ctx=9, normalization="LN",
                                   seed=1), T.Induction(10, 4, batch_size=8, n_eval=16))
    runs = []
    for _ in range(2):
        m = T.ToyTransformer(cfg); T.train(m, task, n_steps=12, eval_every=4, progress=False, seed=7); runs.append(m)
    assert all(torch.equal(a, b) for a, b in zip(runs[0].state_dict().values(), runs[1].state_dict().values()))
    other = T.ToyTransformer(cfg); T.train(other, task, n_steps=12, eval_every=4, progress=False, seed=8)
    if task_kind == "induction": assert not torch.equal(other.embed.W_E, runs[0].embed.W_E)  # seed drives the batches
    half = T.ToyTransformer(cfg)
    h = T.train(half, task, n_steps=6, eval_every=3, checkpoint_dir=tmp_path, progress=False, seed=7)
    resumed = T.ToyTransformer(cfg)
    T.train(resumed, task, n_steps=12, eval_every=4, resume_from=h.checkpoints[-1], progress=False, seed=7)
    for (k, a), b in zip(runs[0].state_dict().items(), resumed.state_dict().values()): assert torch.equal(a, b), k


def test_callbacks_see_every_eval_and_can_stop(tmp_path):
    cfg, task = _small()
    seen = []
    def cb(ev):
        assert isinstance(ev, T.TrainEvent) and ev.model is m and \
            set(ev.metrics) == {"train_loss", "train_acc", "test_loss", "test_acc"}
        seen.append(ev.step)
        if ev.step == 10: raise T.StopTraining
    m = T.ToyTransformer(cfg)
    h = T.train(m, task, n_steps=100, eval_every=5, callbacks=[cb], checkpoint_dir=tmp_path, progress=False)
    assert seen == [5, 10] and [r["step"] for r in h.records] == [5, 10]
    assert [p.name for p in h.checkpoints] == ["step_0000010.safetensors"] and not m.training
    assert T.load_checkpoint(h.checkpoints[0])["step"] == 10
    assert list(h.to_df().index) == [5, 10]


def test_train_restores_threads_and_rejects_bad_args():
    cfg, task = _small(); m = T.ToyTransformer(cfg)
    before = torch.get_num_threads()
    T.train(m, task, n_steps=2, eval_every=1, progress=False, num_threads=1)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="n_steps"): T.train(m, task, n_steps=0)
    with pytest.raises(ValueError, match="needs checkpoint_dir"): T.train(m, task, n_steps=2, checkpoint_every=1)
    with pytest.raises(TypeError, match="callbacks"): T.train(m, task, n_steps=2, callbacks=[1])
    with pytest.raises(ValueError, match="modular_addition_config"): T.train(m, T.ModularAddition(13), n_steps=2)


def test_non_finite_loss_stops_with_message():
    cfg, task = _small()
    class Bad(T.ModularAddition):
        def loss(self, logits, y): return super().loss(logits, y) * float("nan")
    with pytest.raises(FloatingPointError, match="lower lr"):
        T.train(T.ToyTransformer(cfg), Bad(p=11), n_steps=3, progress=False)


def test_checkpoint_is_plain_safetensors_and_validated(tmp_path):
    from safetensors.torch import save_file
    cfg, task = _small(); m = T.ToyTransformer(cfg)
    path = T.save_checkpoint(tmp_path / "c.safetensors", m, step=3, metrics={"a": 1.0})
    with open(path, "rb") as fh: header = json.loads(fh.read(int.from_bytes(fh.read(8), "little")))
    assert header["__metadata__"]["format"] == "interp.core.toys/1" and \
        json.loads(header["__metadata__"]["config"]) == cfg.to_dict()
    info = T.load_checkpoint(path)
    assert info["step"] == 3 and info["metrics"] == {"a": 1.0}
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), info["model"].state_dict().values()))
    save_file({"x": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(ValueError, match="not an interp.core.toys checkpoint"):
        T.load_checkpoint(tmp_path / "foreign.safetensors")
    with pytest.raises(ValueError, match="another config"):
        T.load_checkpoint(path, T.ToyTransformer(T.modular_addition_config(11)))
    with pytest.raises(ValueError, match="no optimizer state"):
        T.load_checkpoint(path, T.ToyTransformer(cfg), optimizer=torch.optim.AdamW(m.parameters()))


def test_failed_checkpoint_write_leaves_nothing(tmp_path, monkeypatch):
    import safetensors.torch as sft
    cfg, _ = _small(); m = T.ToyTransformer(cfg)
    def boom(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"partial"); raise OSError("disk full")
    monkeypatch.setattr(sft, "save_file", boom)
    with pytest.raises(OSError, match="disk full"): T.save_checkpoint(tmp_path / "c.safetensors", m)
    assert list(tmp_path.iterdir()) == []


def test_core_api_addresses_toys():
    "The native adapter of interp.core.sites maps canonical site names onto the toy hook points."
    sites = pytest.importorskip("interp.core.sites")
    m = T.ToyTransformer(T.modular_addition_config(113))
    names = set(sites.list_sites(m))
    assert {"embed", "blocks.0.resid_pre", "blocks.0.attn.z", "blocks.0.attn.pattern", "blocks.0.mlp.post",
            "blocks.0.resid_post", "logits"} <= names
    ind = T.ToyTransformer(T.induction_config())
    assert {"blocks.1.attn.pattern", "final_norm"} <= set(sites.list_sites(ind))


def test_mlp_bias_only_and_nanda_init():
    """`mlp_bias=True` with `use_bias=False` trains only the MLP biases; `init_weights` draws std 1/sqrt(fan-in) from
    the generator."""
    cfg = T.ToyConfig(n_layers=1, d_model=32, n_heads=2, d_head=16, d_vocab=10, n_ctx=3, d_mlp=128, use_bias=False,
                      mlp_bias=True)
    m = T.ToyTransformer(cfg)
    assert sorted(n for n, p in m.named_parameters()
                  if p.requires_grad and ".b_" in n) == ["blocks.0.mlp.b_in", "blocks.0.mlp.b_out"]
    g = torch.Generator().manual_seed(0)
    m.init_weights(g)
    assert abs(m.blocks[0].mlp.W_out.std().item() - 128 ** -0.5) < 0.01 and \
        abs(m.unembed.W_U.std().item() - 32 ** -0.5) < 0.02
    assert all(not p.any() for n, p in m.named_parameters() if ".b_" in n)
    again = T.ToyTransformer(cfg).init_weights(torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), again.state_dict().values()))
    assert T.ToyConfig.from_dict(cfg.to_dict()) == cfg
