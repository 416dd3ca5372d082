"""Activation-atlas benchmark: interp's Datashader render vs a bare `datashader.Canvas.points` + `shade` on the
same points.

    python benchmarks/atlas_render.py           # 10^7 points (synthetic activations, 64 features, out-of-core via Dask)
    python benchmarks/atlas_render.py --quick   # 10^6 points

Generates a lazy Dask array of clustered activations (never materialised), projects it with interp's out-of-core PCA
(timed once), then times, interleaved, (a) the anchor: `Canvas.points(df, 'x', 'y', count_cat)` + `tf.shade(eq_hist)`
with precomputed ranges, and (b) `interp.viz.atlas.render_points` (ranges, aggregate, shade, white background). Prints
a table and, as its last line, one JSON object.
"""
import argparse, json, os, statistics, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np, pandas as pd

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10^6 points instead of 10^7")
    ap.add_argument("--n", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", type=int, default=800)
    a = ap.parse_args()
    n = a.n or (1_000_000 if a.quick else 10_000_000)
    import dask, datashader as ds, datashader.transfer_functions as tf
    from interp.viz.atlas import synthetic_activations, fit_projection, project, render_points, warmup, PALETTE
    warm = warmup()
    X, codes = synthetic_activations(n, d=64)
    t = time.perf_counter(); pr = fit_projection(X); t_fit = time.perf_counter() - t
    t = time.perf_counter(); Y, c = dask.compute(project(X, pr), codes); t_proj = time.perf_counter() - t
    cat = pd.Categorical.from_codes(c, [f"class {i}" for i in range(5)])
    x, y = np.ascontiguousarray(Y[:, 0]), np.ascontiguousarray(Y[:, 1])
    df = pd.DataFrame({"x": x, "y": y, "c": cat})
    xr_, yr_ = (float(x.min()), float(x.max())), (float(y.min()), float(y.max()))
    key = PALETTE[:5]
    def anchor():
        cv = ds.Canvas(plot_width=a.size, plot_height=a.size, x_range=xr_, y_range=yr_)
        agg = cv.points(df, "x", "y", ds.count_cat("c"))
        return tf.shade(agg, color_key=key, how="eq_hist"), int(agg.sum())
    def ours():
        r = render_points(x, y, cat, width=a.size, height=a.size, clip=0)
        return r["image"], int(r["agg"].sum())
    anchor(); ours()  # first calls outside the timing
    ta, ti = [], []
    for _ in range(a.repeats):
        t = time.perf_counter(); _, na = anchor(); ta.append(time.perf_counter() - t)
        t = time.perf_counter(); _, ni = ours(); ti.append(time.perf_counter() - t)
    assert na == ni == n, (na, ni, n)   # both aggregate every point
    med_a, med_i = statistics.median(ta), statistics.median(ti)
    rows = [("points", f"{n:,}"), ("numba warm-up (s)", f"{warm:.2f}"), ("PCA fit, 1 Dask pass (s)", f"{t_fit:.2f}"),
            ("projection, 1 Dask pass (s)", f"{t_proj:.2f}"), ("datashader bare render, median (s)", f"{med_a:.3f}"),
            ("interp render_points, median (s)", f"{med_i:.3f}"), ("ratio interp / bare", f"{med_i / med_a:.3f}")]
    w = max(len(k) for k, _ in rows)
    print(f"atlas render benchmark: {a.size}x{a.size} px, count_cat over 5 classes, {a.repeats} interleaved repeats, "
          f"{os.cpu_count()} CPUs")
    for k, v in rows: print(f"  {k:<{w}}  {v:>12}")
    print(json.dumps({"n_points": n, "width": a.size, "warmup_s": round(warm, 3), "pca_fit_s": round(t_fit, 3),
                      "project_s": round(t_proj, 3),
                      "datashader_render_s": round(med_a, 4), "interp_render_s": round(med_i, 4),
                      "render_ratio": round(med_i / med_a, 3),
                      "load_average_1m": round(os.getloadavg()[0], 2)}))

if __name__ == "__main__":
    main()
