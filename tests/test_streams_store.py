"""Tests of interp.streams.store / interp.streams.publish: SIGKILL mid-shard + resume exactly once, format, views,
distributed."""
import json, os, signal, subprocess, sys, textwrap, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from pathlib import Path
import numpy as np, pytest, torch
from interp.streams.store import ActivationStore, StoreWriter
from interp.streams.bus import ActivationBus

SITES = ["blocks.0.resid_post", "blocks.1.mlp.out"]

# The writer process: a seeded random Llama over the bundled corpus with a character tokenizer. With
# FAULT_SHARD set, the shard writer stops after the first tensor of that shard, announces it and hangs
# until it is SIGKILLed: the file is half-written, exactly as when a machine dies mid-write.
CHILD = textwrap.dedent("""
    import os, sys, time, torch
    os.environ["HF_HUB_OFFLINE"] = "1"
    torch.set_num_threads(1)
    import interp.streams.store as S
    from interp.streams.publish import build_store, load_corpus
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2,
                                         max_position_embeddings=64)).eval()
    def tok(text, add_special_tokens=False): return {"input_ids": [ord(c) % 300 for c in text]}
    tok.pad_token_id = 0
    path, fault = sys.argv[1], int(os.environ.get("FAULT_SHARD", "-1"))
    if fault >= 0:
        real = S._write_tensor_bytes
        def faulty(f, arr):
            real(f, arr)
            if f.name.endswith(f"shard-{fault:08d}.safetensors.tmp"):
                f.flush(); open(path + ".killme", "w").close(); time.sleep(600)
        S._write_tensor_bytes = faulty
    build_store(model, tok, load_corpus(n_docs=12), path, ["blocks.0.resid_post", "blocks.1.mlp.out"],
                ctx_len=48, batch_size=4, shard_bytes=30_000, progress=False)
""")


def run_child(tmp, path, fault=None, timeout=180):
    script = tmp / "writer.py"; script.write_text(CHILD)
    env = dict(os.environ, HF_HUB_OFFLINE="1", FAULT_SHARD=str(-1 if fault is None else fault))
    proc = subprocess.Popen([sys.executable, str(script), str(path)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    if fault is None:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err.decode()[-3000:]
        return
    marker = Path(str(path) + ".killme")
    t0 = time.time()
    while not marker.exists():
        if proc.poll() is not None: raise AssertionError(f"writer exited early: {proc.stderr.read().decode()[-3000:]}")
        if time.time() - t0 > timeout: proc.kill(); raise AssertionError("writer never reached the fault point")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL); proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    "A store written in one uninterrupted run."
    tmp = tmp_path_factory.mktemp("ref")
    run_child(tmp, tmp / "store")
    return ActivationStore(tmp / "store")


@pytest.mark.parametrize("fault", [0, 3])
def test_sigkill_mid_shard_then_resume_stores_every_token_exactly_once(tmp_path, reference, fault):
    path = tmp_path / "store"
    run_child(tmp_path, path, fault=fault)
    partial = list(path.glob(".shard-*.tmp"))
    assert len(partial) == 1 and partial[0].stat().st_size > 0  # the killed shard was half-written
    crashed = ActivationStore(path)
    assert len(crashed.shards) == fault  # only the complete shards are visible
    if fault:
        for i in range(fault):  # and they are byte-identical to the uninterrupted run's
            assert (path / f"shard-{i:08d}.safetensors").read_bytes() == \
                (reference.path / f"shard-{i:08d}.safetensors").read_bytes()
        np.testing.assert_array_equal(crashed.read("token_id"), reference.read("token_id")[:crashed.n_tokens])
    run_child(tmp_path, path)  # resume
    store = ActivationStore(path)
    assert not list(path.glob(".shard-*.tmp"))
    assert store.n_tokens == reference.n_tokens and store.n_sequences == reference.n_sequences
    # every token exactly once, in order: (seq_id, position) pairs are unique, complete and sorted
    seq, pos = store.read("seq_id"), store.read("position")
    np.testing.assert_array_equal(seq, reference.read("seq_id"))
    np.testing.assert_array_equal(pos, reference.read("position"))
    keys = seq.astype(np.int64) * 10_000 + pos
    assert len(np.unique(keys)) == len(keys) and (np.diff(keys) > 0).all()
    np.testing.assert_array_equal(store.read("token_id"), reference.read("token_id"))
    for site in SITES:
        np.testing.assert_allclose(store.read(site), reference.read(site), rtol=1e-5, atol=1e-6)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["shards"] == [s["file"] for s in store.shards]


def test_reference_store_matches_direct_forward(reference):
    "The stored activations are the model's: recompute block 0's residual for every sequence."
    from transformers import LlamaConfig, LlamaForCausalLM
    from interp.streams.publish import load_corpus, token_sequences
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2,
                                         max_position_embeddings=64)).eval()
    tok = lambda text, add_special_tokens=False: {"input_ids": [ord(c) % 300 for c in text]}
    seqs = token_sequences(tok, load_corpus(n_docs=12), 48)
    with torch.no_grad():
        ref = torch.cat([model(torch.tensor([ids]), output_hidden_states=True).hidden_states[1][0] for _, ids in seqs])
    np.testing.assert_allclose(reference.read("blocks.0.resid_post"), ref.numpy(), rtol=1e-4, atol=1e-5)
    assert len(reference.shards) > 4


def test_shard_renamed_before_manifest_update_is_adopted(tmp_path, reference):
    "A kill between the shard's rename and the manifest rewrite loses nothing: shard files are the truth."
    import shutil
    path = tmp_path / "s"; shutil.copytree(reference.path, path)
    m = json.loads((path / "manifest.json").read_text()); m["shards"] = m["shards"][:1]
    (path / "manifest.json").write_text(json.dumps(m))
    assert ActivationStore(path).n_tokens == reference.n_tokens


def test_missing_shard_is_reported(tmp_path, reference):
    import shutil
    path = tmp_path / "s"; shutil.copytree(reference.path, path)
    (path / "shard-00000001.safetensors").unlink()
    with pytest.raises(ValueError, match="inconsistent"): ActivationStore(path)


def test_readable_without_interp(reference):
    "A fresh interpreter with only safetensors + json reconstructs a site (no interp import)."
    code = textwrap.dedent(f"""
        import json, sys, numpy as np
        from safetensors.numpy import load_file
        root = {str(reference.path)!r}
        m = json.load(open(root + "/manifest.json"))
        x = np.concatenate([load_file(root + "/" + f)["blocks.0.resid_post"] for f in m["shards"]])
        assert "interp" not in sys.modules
        print(x.shape[0], float(x.sum()))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) == reference.n_tokens
    assert abs(float(out[1]) - float(reference.read("blocks.0.resid_post").sum())) < 1e-2


def test_xarray_and_dask_views(reference):
    ds = reference.to_xarray()
    assert dict(ds.sizes) == {"token": reference.n_tokens, "d_model": 32}
    assert set(ds.coords) >= {"token_id", "doc_id", "seq_id", "position"}
    x = reference.to_dask("blocks.1.mlp.out")
    assert x.numblocks[0] == len(reference.shards)
    np.testing.assert_allclose(x.mean(0).compute(), reference.read("blocks.1.mlp.out").mean(0), rtol=1e-5, atol=1e-6)
    first = ds["blocks.0.resid_post"].where(ds.position == 0, drop=True)
    assert first.sizes["token"] == reference.n_sequences


def test_distributed_local_cluster_on_loopback(reference):
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, \
         Client(cluster) as client:
        assert all(addr.startswith("tcp://127.0.0.1") for addr in client.scheduler_info()["workers"])
        x = reference.to_dask("blocks.0.resid_post")
        got = client.compute((x ** 2).sum(1).max()).result()
    want = (reference.read("blocks.0.resid_post").astype(np.float64) ** 2).sum(1).max()
    assert abs(float(got) - want) < 1e-3 * want


def test_bad_input_errors(tmp_path):
    with pytest.raises(ValueError, match="non-empty dict"):
        ActivationStore.create(tmp_path / "a", ["blocks.0.resid_post"])
    with pytest.raises(ValueError, match="clash"): ActivationStore.create(tmp_path / "b", {"token_id": 3})
    store = ActivationStore.create(tmp_path / "c", {"s": 4})
    w = StoreWriter(store)
    bus = ActivationBus(); bus.subscribe(w)
    bus.publish("s", torch.ones(2, 3, 5), step=0, seq_id=torch.arange(2), token_id=torch.zeros(2, 3),
                mask=torch.ones(2, 3))
    with pytest.raises(Exception, match=r"expected \[2, 3, 4\]"): bus.close()
    assert ActivationStore(tmp_path / "c").n_tokens == 0 and not list((tmp_path / "c").glob("*.tmp"))
    store = ActivationStore(tmp_path / "c")
    w = StoreWriter(store); bus = ActivationBus(); bus.subscribe(w)
    bus.publish("s", torch.ones(1, 2, 4), step=0, seq_id=torch.tensor([5]), token_id=torch.zeros(1, 2),
                mask=torch.ones(1, 2))
    with pytest.raises(Exception, match="sequences must continue the store"): bus.close()


def test_resume_with_other_corpus_is_refused_and_leaves_no_hooks(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM
    from interp.streams.publish import build_store
    from interp.core.extract import hooks_on
    model = LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2)).eval()
    tok = lambda text, add_special_tokens=False: {"input_ids": [ord(c) % 300 for c in text]}
    build_store(model, tok, ["hello world"] * 3, tmp_path / "s", ["blocks.0.resid_post"], progress=False)
    n = hooks_on(model)
    with pytest.raises(ValueError, match="corpus_fingerprint"):
        build_store(model, tok, ["other text"], tmp_path / "s", ["blocks.0.resid_post"], progress=False)
    with pytest.raises(FileExistsError, match="resume=True"):
        build_store(model, tok, ["hello world"] * 3, tmp_path / "s", ["blocks.0.resid_post"], resume=False,
                    progress=False)
    with pytest.raises(KeyError, match="resid_post"):
        build_store(model, tok, ["hello world"], tmp_path / "t", ["blocks.0.resid_pots"], progress=False)
    assert hooks_on(model) == n
