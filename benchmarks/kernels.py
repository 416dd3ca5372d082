#!/usr/bin/env python
"""Per-column top-k benchmark: Mojo kernel vs the best chunked torch path, NumPy and the bandwidth floor.

One run, one matrix (default 200 000 × 768 float32, k = 16), every method timed best-of-N in the same
process. The floor is `X.max(axis=0)`: one read of the matrix with the cheapest possible reduction.
Usage: .venv/bin/python benchmarks/kernels.py [--quick] [--rows N] [--cols N] [--k K] [--reps R]
The last line is a JSON object (mojo_vs_floor, mojo_speedup_vs_torch, mojo_speedup_vs_numpy, backend, ...).
"""
import argparse, json, os, sys, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np, torch
import interp.kernels.stats as K


CPU = {}  # process CPU time of each method's fastest run: steadier than wall time on a shared machine


def best(fn, reps, name=None):
    out, t_best = None, float("inf")
    for _ in range(reps):
        c, t = time.process_time(), time.perf_counter(); out = fn(); t = time.perf_counter() - t
        if t < t_best: t_best, CPU[name] = t, time.process_time() - c
    return t_best, out


def torch_chunked_topk(x, k, chunk=16384):
    "Classic chunked path: torch.topk on each row chunk, then merge the k candidates with the running k."
    xt = torch.from_numpy(x)
    vals = idx = None
    for s in range(0, xt.shape[0], chunk):
        v, i = torch.topk(xt[s:s + chunk], min(k, xt.shape[0] - s), dim=0)
        i = i + s
        if vals is not None:
            v, j = torch.topk(torch.cat([vals, v]), k, dim=0)
            i = torch.gather(torch.cat([idx, i]), 0, j)
        vals, idx = v, i
    return vals.numpy(), idx.numpy()


def numpy_chunked_topk(x, k, chunk=16384):
    "NumPy: argpartition per row chunk, then a small sort to merge with the running k."
    vals = idx = None
    for s in range(0, x.shape[0], chunk):
        ch = x[s:s + chunk]
        kk = min(k, len(ch))
        i = np.argpartition(ch, len(ch) - kk, axis=0)[len(ch) - kk:]
        v = np.take_along_axis(ch, i, 0); i = i + s
        if vals is not None: v, i = np.concatenate([vals, v]), np.concatenate([idx, i])
        o = np.argsort(-v, axis=0, kind="stable")[:k]
        vals, idx = np.take_along_axis(v, o, 0), np.take_along_axis(i, o, 0)
    return vals, idx


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller matrix, fewer repetitions (< 60 s)")
    ap.add_argument("--rows", type=int); ap.add_argument("--cols", type=int, default=768)
    ap.add_argument("--k", type=int, default=16); ap.add_argument("--reps", type=int)
    a = ap.parse_args()
    rows = a.rows or (50_000 if a.quick else 200_000)
    reps = a.reps or (2 if a.quick else 3)
    x = np.random.default_rng(0).standard_normal((rows, a.cols)).astype(np.float32)
    mojo = K._load_mojo() is not None
    times, results = {}, {}
    times["floor: numpy X.max(axis=0)"], _ = best(lambda: x.max(axis=0), reps, "floor: numpy X.max(axis=0)")
    if mojo:
        K.set_backend("mojo")
        times["mojo: interp.kernels.stats"], results["mojo"] = best(lambda: K.topk_per_column(x, a.k), reps,
                                                                    "mojo: interp.kernels.stats")
    K.set_backend("torch")
    times["torch: streaming threshold (interp fallback)"], results["torch_stream"] = best(
        lambda: K.topk_per_column(x, a.k), reps, "torch: streaming threshold (interp fallback)"
    )
    K.set_backend("auto")
    times["torch: chunked topk + merge"], results["torch_chunk"] = best(lambda: torch_chunked_topk(x, a.k), reps,
                                                                        "torch: chunked topk + merge")
    times["numpy: chunked argpartition + merge"], results["numpy"] = best(lambda: numpy_chunked_topk(x, a.k), reps,
                                                                          "numpy: chunked argpartition + merge")

    # every method must find the same values (random normal data: ties are vanishingly rare)
    ref = results["torch_stream"].values
    for name, r in results.items():
        v = r.values if hasattr(r, "values") else r[0]
        if not np.array_equal(np.sort(v, 0), np.sort(ref, 0)):
            sys.exit(f"benchmark aborted: {name} disagrees with the torch fallback")
    if mojo and not np.array_equal(results["mojo"].indices, results["torch_stream"].indices):
        sys.exit("benchmark aborted: Mojo and torch fallback indices differ")

    # the other two kernels, for context (not part of the targets)
    extra = {}
    if mojo:
        K.set_backend("mojo")
        extra["stats: mojo column_stats"], _ = best(lambda: K.column_stats(x), reps, "stats: mojo column_stats")
        extra["hist: mojo 64 bins"], _ = best(lambda: K.histogram_per_column(x, 64, (-4, 4)), reps,
                                              "hist: mojo 64 bins")
        K.set_backend("auto")
    extra["stats: numpy mean/var/min/max"], _ = best(lambda: (x.mean(0), x.var(0), x.min(0), x.max(0)), reps,
                                                     "stats: numpy mean/var/min/max")
    floor = times["floor: numpy X.max(axis=0)"]
    t_torch = min(times["torch: streaming threshold (interp fallback)"], times["torch: chunked topk + merge"])
    t_numpy = times["numpy: chunked argpartition + merge"]
    t_mojo = times.get("mojo: interp.kernels.stats")
    gb = x.nbytes / 1e9
    print(f"per-column top-{a.k} of a {rows} × {a.cols} float32 matrix ({gb:.2f} GB), best of {reps}; "
          f"threads={K._n_threads()}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'method':48s} {'time (ms)':>10s} {'GB/s':>7s} {'× floor':>8s} {'CPU (ms)':>9s}")
    for name, t in times.items():
        print(f"{name:48s} {t * 1e3:10.1f} {gb / t:7.2f} {t / floor:8.2f} {CPU[name] * 1e3:9.1f}")
    print("other kernels (context):")
    for name, t in extra.items():
        print(f"{name:48s} {t * 1e3:10.1f} {gb / t:7.2f} {t / floor:8.2f} {CPU[name] * 1e3:9.1f}")
    out = {"backend": "mojo" if mojo else "torch",
           "mojo_vs_floor": round(t_mojo / floor, 3) if t_mojo else None,
           "mojo_speedup_vs_torch": round(t_torch / t_mojo, 2) if t_mojo else None,
           "mojo_speedup_vs_numpy": round(t_numpy / t_mojo, 2) if t_mojo else None,
           "shape": [rows, a.cols], "k": a.k, "reps": reps, "threads": K._n_threads(),
           "times_s": {n: round(t, 5) for n, t in {**times, **extra}.items()},
           "cpu_s": {n: round(t, 5) for n, t in CPU.items()},
           "load_average": round(os.getloadavg()[0], 2)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
