"""Fit time of the probes of `interp.methods.probing`, in memory vs streamed shard by shard from an activation store.

Planted-direction data (n tokens x d features, class 1 shifted along one unit vector) is written once to an
`ActivationStore`; each probe is then fitted from the tensor in memory and from `StoreActivations` (read one shard
at a time), in the same process, interleaved, medians reported. The streamed and in-memory coefficients must agree
(the benchmark fails otherwise): streaming changes the memory needed, not the answer.

    python benchmarks/probing.py            # n=200,000 x d=576 (SmolLM2's width)
    python benchmarks/probing.py --quick    # n=20,000 x d=128

Prints a table, then as its last line one JSON object of medians and the largest coefficient difference.
"""
import argparse, json, os, statistics, tempfile, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import torch
import torch.nn.functional as F
from interp.methods.probing import DiffMeansProbe, LogisticProbe, RidgeProbe, StoreActivations
from interp.streams.bus import ActivationBus
from interp.streams.store import ActivationStore, StoreWriter

SITE = "blocks.0.resid_post"
SEQ_LEN = 100          # tokens per stored sequence
SHARD_BYTES = 4 << 20


def planted(n: int, d: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    u = F.normalize(torch.randn(d, generator=g), dim=0)
    y = torch.randint(0, 2, (n,), generator=g)
    return torch.randn(n, d, generator=g) + 2.0 * y[:, None] * u, y


def write_store(path, X) -> ActivationStore:
    store = ActivationStore.create(path, {SITE: X.shape[1]})
    per_step = 10 * SEQ_LEN
    with ActivationBus() as bus:
        bus.subscribe(StoreWriter(store, shard_bytes=SHARD_BYTES))
        for step in range(len(X) // per_step):
            x = X[step * per_step:(step + 1) * per_step].reshape(10, SEQ_LEN, -1)
            ones = torch.ones(10, SEQ_LEN, dtype=torch.long)
            bus.publish(SITE, x, step=step, seq_id=torch.arange(10 * step, 10 * step + 10), token_id=0 * ones,
                        mask=ones.bool())
    return ActivationStore(path)


def main(quick: bool):
    n, d, reps = (20_000, 128, 3) if quick else (200_000, 576, 3)
    X, y = planted(n, d)
    with tempfile.TemporaryDirectory() as tmp:
        store = write_store(os.path.join(tmp, "acts"), X)
        src, times, diffs = StoreActivations(store, SITE), {}, {}
        for rep in range(reps):
            for cls in (DiffMeansProbe, RidgeProbe, LogisticProbe):
                for where, data in (("memory", X), ("store", src)):
                    t0 = time.perf_counter(); p = cls().fit(data, y)
                    times.setdefault(f"{cls.__name__}/{where}", []).append(time.perf_counter() - t0)
                    if where == "memory": ref = p.coef_
                    else: diffs[cls.__name__] = float((p.coef_ - ref).abs().max() / ref.abs().max())
        print(f"n={n} d={d} shards={len(store.shards)}")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items(): print(f"{k:28s} {v * 1e3:9.1f} ms")
    worst = max(diffs.values())
    assert worst < 1e-3, f"streamed and in-memory coefficients differ by {worst:.2e} (relative)"
    print(json.dumps(dict(n=n, d=d, median_s=med, max_rel_coef_diff=worst)))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    main(ap.parse_args().quick)
