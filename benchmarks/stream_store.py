"""Streams and activation store benchmark (issue 6), every figure against its anchor in the same run.

1. forward alone vs forward + streaming every residual site (resid_post of all blocks) through the bus to the store
   -> stream_overhead_ratio (wall time with streaming / without) and stream_cpu_ratio (process CPU time, all threads,
   which stays meaningful when other jobs load the machine);
2. store write throughput (bus -> StoreWriter -> safetensors shards, fsync + atomic rename) vs a raw sequential
   `dd`-like write of the same number of bytes to the same folder with one fsync -> store_write_vs_raw;
3. peak RSS of a store build over a corpus 1x and 4x the size, each in a fresh process -> rss_growth_4x.

Usage: python benchmarks/stream_store.py [--quick] [--model smollm2|tiny] [--threads 1] [--dir DIR]
Last line: one JSON object.
"""
import argparse, json, os, resource, shutil, subprocess, sys, tempfile, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
from pathlib import Path


def load_model(name):
    import torch
    if name == "smollm2":
        from interp.core.models import load_smollm2
        return load_smollm2()
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=512, hidden_size=256, intermediate_size=768, num_hidden_layers=8,
                                         num_attention_heads=8, num_key_value_heads=4,
                                         max_position_embeddings=256)).eval()
    tok = lambda text, add_special_tokens=False: {"input_ids": [ord(c) % 512 for c in text]}
    return model, tok


def corpus(n_docs):
    from interp.streams.publish import load_corpus
    base = load_corpus()
    return [base[i % len(base)] for i in range(n_docs)]


def resid_sites(model):
    from interp.core.sites import list_sites
    return [s for s in list_sites(model) if s.endswith("resid_post")]


def time_forward(model, tok, texts, sites, ctx_len, batch_size):
    "The anchor: the same batches through the same forward callable, no hooks, no bus."
    import torch
    from interp.streams.publish import token_sequences, iter_batches, forward_fn
    seqs = token_sequences(tok, texts, ctx_len)
    fwd = forward_fn(model, sites)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for meta in iter_batches(seqs, batch_size):
            fwd(input_ids=meta["token_id"], attention_mask=meta["mask"].long())
    return time.perf_counter() - t0, sum(len(ids) for _, ids in seqs)


def time_stream(model, tok, texts, sites, ctx_len, batch_size, folder):
    from interp.streams.publish import build_store
    t0 = time.perf_counter()
    store = build_store(model, tok, texts, folder, sites, ctx_len=ctx_len, batch_size=batch_size, progress=False)
    return time.perf_counter() - t0, store


def cpu_s() -> float:
    "CPU seconds used by this process, all threads (robust to other load on the machine, unlike wall time)."
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def write_throughput(folder, total_bytes, width=576 * 30, rows_per_step=256):
    "Store path without a model: prepared steps published to a StoreWriter; vs raw sequential write of the same bytes."
    import numpy as np, torch
    from interp.streams.bus import ActivationBus
    from interp.streams.store import ActivationStore, StoreWriter
    n_steps = max(1, total_bytes // (width * 4 * rows_per_step))
    x = torch.randn(1, rows_per_step, width)
    meta = dict(token_id=torch.zeros(1, rows_per_step, dtype=torch.long),
                mask=torch.ones(1, rows_per_step, dtype=torch.bool))
    store = ActivationStore.create(folder / "w", {"x": width})
    os.sync()
    t0 = time.perf_counter()
    with ActivationBus(maxsize=4, copy=False) as bus:
        bus.subscribe(StoreWriter(store))
        for step in range(n_steps): bus.publish("x", x, step=step, seq_id=torch.tensor([step]), **meta)
    store_s = time.perf_counter() - t0
    store_bytes = ActivationStore(folder / "w").nbytes
    shutil.rmtree(folder / "w"); os.sync()
    block = np.random.default_rng(0).standard_normal(8 << 20 >> 3).astype(np.float64).tobytes()  # 8 MiB, incompressible
    t0 = time.perf_counter()
    with open(folder / "raw.bin", "wb", buffering=0) as f:
        left = store_bytes
        while left > 0:
            left -= f.write(memoryview(block)[:min(len(block), left)])
        os.fsync(f.fileno())
    raw_s = time.perf_counter() - t0
    (folder / "raw.bin").unlink()
    return store_bytes, store_s, raw_s


def _status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"): return int(line.split()[1])


def rss_child(args):
    "Run in a fresh process: build a store over the 1x corpus repeated `--mult` times and print the build's peak RSS."
    import gc
    model, tok = load_model(args.model)
    texts = corpus(args.docs) * args.mult
    folder = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        from interp.streams.publish import build_store
        gc.collect()
        with open("/proc/self/clear_refs",
                  "w") as f: f.write("5")  # reset the peak (VmHWM) so loading the model does not mask the build
        base = _status_kb("VmRSS")
        import threading
        samples, done = [], threading.Event()
        def sample():  # RSS over time: a leak shows as a rising trend even when one peak dominates
            while not done.is_set(): samples.append((time.perf_counter(), _status_kb("VmRSS"))); time.sleep(0.05)
        th = threading.Thread(target=sample, daemon=True); th.start()
        store = build_store(model, tok, texts, folder / "s", resid_sites(model), ctx_len=args.ctx_len,
                            batch_size=args.batch_size, shard_bytes=16 << 20, progress=False)
        done.set(); th.join()
        t0, t1 = samples[0][0], samples[-1][0]
        quarter = lambda lo, hi: max(r for t, r in samples if t0 + lo * (t1 - t0) <= t <= t0 + hi * (t1 - t0)) * 1024
        print(json.dumps(dict(peak_rss=_status_kb("VmHWM") * 1024, base_rss=base * 1024, tokens=store.n_tokens,
                              bytes=store.nbytes,
                              first_quarter=quarter(0, 0.25), last_quarter=quarter(0.75, 1.0))))
    finally: shutil.rmtree(folder)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--model", default="smollm2", choices=["smollm2", "tiny"])
    ap.add_argument("--dir", default=None, help="folder on the disk to measure (default: the system temp folder)")
    ap.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--docs", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--mult", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--ctx-len", type=int, default=128); ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: the second core is left to the "
                    "bus and the writer, and 2 OpenMP threads spin badly when other jobs share the 2 cores)")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    if args.rss_child: return rss_child(args)
    n_docs = 3 if args.quick else 60
    rss_docs = 2 if args.quick else 16
    reps = 2 if args.quick else 3
    write_mb = 128 if args.quick else 1024
    work = Path(tempfile.mkdtemp(dir=args.dir))
    try:
        model, tok = load_model(args.model)
        sites = resid_sites(model)
        texts = corpus(n_docs)
        time_forward(model, tok, texts[:1], sites, args.ctx_len, args.batch_size)  # warm-up
        fwd, stream, fwd_cpu, stream_cpu = [], [], [], []
        for r in range(reps):  # interleaved repetitions, best of each: other load on the machine drifts
            c0 = cpu_s(); t, n_tok = time_forward(model, tok, texts, sites, args.ctx_len, args.batch_size)
            fwd.append(t); fwd_cpu.append(cpu_s() - c0)
            c0 = cpu_s(); t, store = time_stream(model, tok, texts, sites, args.ctx_len, args.batch_size,
                                                 work / f"stream{r}")
            stream.append(t); stream_cpu.append(cpu_s() - c0)
            assert store.n_tokens == n_tok
            stream_bytes = store.nbytes
            shutil.rmtree(work / f"stream{r}")
        fwd_s, stream_s = min(fwd), min(stream)
        writes = [write_throughput(work, write_mb << 20) for _ in range(reps + 1)]
        wbytes = writes[0][0]
        store_w_s, raw_w_s = min(w[1] for w in writes), min(w[2] for w in writes)
        rss, procs = {}, {}
        for mult in (1, 4):  # fresh processes, run side by side (each measures only its own peak)
            procs[mult] = subprocess.Popen([sys.executable, __file__, "--rss-child", "--model", args.model, "--docs",
                                            str(rss_docs), "--mult", str(mult),
                                            "--ctx-len", str(args.ctx_len), "--batch-size", str(args.batch_size),
                                            "--threads", str(args.threads)]
                                           + (["--dir", args.dir] if args.dir else []), stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)
        for mult, proc in procs.items():
            out, err = proc.communicate()
            if proc.returncode: raise RuntimeError(err[-3000:])
            rss[mult] = json.loads(out.strip().splitlines()[-1])
    finally: shutil.rmtree(work, ignore_errors=True)
    res = dict(
        model=args.model, quick=args.quick, torch_threads=torch.get_num_threads(), sites=len(sites), tokens=n_tok,
        forward_s=round(fwd_s, 3), forward_plus_stream_s=round(stream_s, 3),
        stream_overhead_ratio=round(stream_s / fwd_s, 3),
        forward_cpu_s=round(min(fwd_cpu), 3), forward_plus_stream_cpu_s=round(min(stream_cpu), 3),
        stream_cpu_ratio=round(min(stream_cpu) / min(fwd_cpu), 3),
        streamed_mb=round(stream_bytes / 1e6, 1), stream_store_mb_s=round(stream_bytes / 1e6 / stream_s, 1),
        write_mb=round(wbytes / 1e6, 1), store_write_mb_s=round(wbytes / 1e6 / store_w_s, 1),
        raw_write_mb_s=round(wbytes / 1e6 / raw_w_s, 1),
        store_write_vs_raw=round(raw_w_s / store_w_s, 3),
        rss_base_mb=round(rss[1]["base_rss"] / 2**20, 1), rss_1x_mb=round(rss[1]["peak_rss"] / 2**20, 1),
        rss_4x_mb=round(rss[4]["peak_rss"] / 2**20, 1),
        rss_tokens_1x=rss[1]["tokens"], rss_tokens_4x=rss[4]["tokens"], rss_store_mb_4x=round(rss[4]["bytes"] / 1e6, 1),
        rss_4x_first_quarter_mb=round(rss[4]["first_quarter"] / 2**20, 1),
        rss_4x_last_quarter_mb=round(rss[4]["last_quarter"] / 2**20, 1),
        rss_growth_4x=round(rss[4]["peak_rss"] / rss[1]["peak_rss"], 3))
    rows = [("forward alone (anchor)", f"{res['forward_s']:.2f} s", f"{n_tok} tokens, {len(sites)} resid sites"),
            ("forward + stream to store", f"{res['forward_plus_stream_s']:.2f} s",
             f"ratio {res['stream_overhead_ratio']:.2f}x, {res['streamed_mb']} MB"),
            ("CPU time: forward vs + stream", f"{res['forward_cpu_s']:.1f} s",
             f"vs {res['forward_plus_stream_cpu_s']:.1f} s, ratio {res['stream_cpu_ratio']:.2f}x (all threads)"),
            ("raw sequential write (anchor)", f"{res['raw_write_mb_s']} MB/s", f"{res['write_mb']} MB, one fsync"),
            ("store write (bus+shards)", f"{res['store_write_mb_s']} MB/s",
             f"ratio {res['store_write_vs_raw']:.2f}x raw"),
            ("peak RSS, corpus 1x", f"{res['rss_1x_mb']} MiB",
             f"{res['rss_tokens_1x']} tokens (RSS {res['rss_base_mb']} MiB before the build)"),
            ("peak RSS, corpus 4x", f"{res['rss_4x_mb']} MiB",
             f"{res['rss_tokens_4x']} tokens, store {res['rss_store_mb_4x']} MB; growth {res['rss_growth_4x']:.2f}x"),
            ("RSS of the 4x run, 1st vs last quarter", f"{res['rss_4x_first_quarter_mb']} MiB",
             f"vs {res['rss_4x_last_quarter_mb']} MiB (a leak would rise)")]
    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  {'value':>14}  note")
    for a, b, c in rows: print(f"{a:<{w}}  {b:>14}  {c}")
    print(json.dumps(res))


if __name__ == "__main__": main()
