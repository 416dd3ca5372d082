"""Property tests: the Mojo kernels and the torch fallback of interp.kernels.stats agree exactly with each
other and with a brute-force reference (ties, NaN, inf, -0.0, k > rows, empty input, strides, dtypes)."""
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np, pytest, torch
from hypothesis import given, settings, strategies as st, HealthCheck
import interp.kernels.stats as K
import interp.kernels.scale as KS

MOJO = K._load_mojo() is not None
needs_mojo = pytest.mark.skipif(not MOJO, reason=f"Mojo kernels not built: {K._state['error']}")
BACKENDS = ["torch"] + (["mojo"] if MOJO else [])
VALUES = [0.0, -0.0, 1.0, -1.0, 2.5, 2.5, -7.0, 1e30, -1e30, np.inf, -np.inf, np.nan, 3.0, 0.5]


@pytest.fixture(autouse=True)
def _restore_backend():
    yield
    K.set_backend("auto")


def run(be, fn, *a, **kw):
    K.set_backend(be)
    try:
        out = fn(*a, **kw)
        assert K.last_backend() == be or K.last_backend() is None
        return out
    finally:
        K.set_backend("auto")


def matrices(max_rows=70, max_cols=40):
    "Float32 matrices mixing ties, signed zeros, infinities, NaNs and random values."
    def build(args):
        rows, cols, seed, p_special, p_nan = args
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((rows, cols)).astype(np.float32).round(rng.integers(0, 3))
        special = rng.random(x.shape) < p_special
        x[special] = rng.choice(np.array(VALUES, np.float32), size=int(special.sum()))
        x[rng.random(x.shape) < p_nan] = np.nan
        return x
    return st.tuples(st.integers(0, max_rows), st.integers(0, max_cols), st.integers(0, 2**32 - 1),
                     st.sampled_from([0.0, 0.3, 0.9]), st.sampled_from([0.0, 0.1, 0.6, 1.0])).map(build)


def reference_topk(x, k):
    "Brute force: per column, non-NaN values by (value desc, row asc), padded with NaN / -1."
    n, c = x.shape
    kk = min(k, n)
    vals, idx = np.full((kk, c), np.nan, np.float32), np.full((kk, c), -1, np.int64)
    for j in range(c):
        rows = np.nonzero(~np.isnan(x[:, j]))[0]
        key = K._key32(x[rows, j]).astype(np.int64)
        order = rows[np.lexsort((rows, -key))][:kk]
        vals[:len(order), j], idx[:len(order), j] = x[order, j], order
    return vals, idx


def same_array(a, b):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=matrices(), k=st.integers(1, 70))
def test_topk_matches_reference_on_every_backend(x, k):
    ref_v, ref_i = reference_topk(x, k)
    for be in BACKENDS:
        r = run(be, K.topk_per_column, x, k)
        assert r.values.shape == ref_v.shape == r.indices.shape
        same_array(r.indices, ref_i)
        same_array(r.values, ref_v)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=matrices(max_rows=200), k=st.integers(1, 20), cuts=st.lists(st.integers(0, 200), max_size=5))
def test_streaming_blocks_equal_one_shot(x, k, cuts):
    bounds = [0, *sorted(c for c in cuts if c <= len(x)), len(x)]
    ref_v, ref_i = reference_topk(x, k)
    for be in BACKENDS:
        K.set_backend(be)
        acc = K.TopKAccumulator(k)
        for a, b in zip(bounds, bounds[1:]): acc.update(x[a:b])
        r = acc.result()
        same_array(r.indices, ref_i); same_array(r.values, ref_v)
        st_ = K.RunningStats.empty(x.shape[1])
        for a, b in zip(bounds, bounds[1:]): st_.update(x[a:b])
        same_array(st_.count, (~np.isnan(x)).sum(0))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=matrices())
def test_stats_agree(x):
    out = {be: run(be, K.column_stats, x) for be in BACKENDS}
    finite = np.where(np.isnan(x), 0, x)
    count = (~np.isnan(x)).sum(0)
    with np.errstate(all="ignore"):
        mn = np.where(np.isnan(x), np.inf, x).min(0, initial=np.inf)
        mx = np.where(np.isnan(x), -np.inf, x).max(0, initial=-np.inf)
    for s in out.values():
        same_array(s.count, count)
        same_array(s.min, mn.astype(np.float32)); same_array(s.max, mx.astype(np.float32))
    if MOJO:  # mean and M2: same float64 algorithm, different summation order
        a, b = out["torch"], out["mojo"]
        same_array(np.isfinite(a.mean), np.isfinite(b.mean)); same_array(np.isnan(a.m2), np.isnan(b.m2))
        # float64 rounding relative to each column's largest magnitude (1e30 and -1e30 cancel differently)
        big = np.where(np.isfinite(x), np.abs(x), 0).max(0, initial=0).astype(np.float64)
        fin = np.isfinite(a.mean)
        np.seterr(all="ignore")
        assert (np.abs(a.mean - b.mean)[fin] <= 1e-12 * (1 + big[fin])).all()
        fin = np.isfinite(a.m2)
        assert (np.abs(a.m2 - b.m2)[fin] <= 1e-10 * (1 + big[fin]) ** 2 * len(x)).all()
    ok = np.isfinite(np.where(np.isnan(x), 0, x)).all(0) & (np.abs(finite) < 1e20).all(0) & (count > 0)
    if ok.any():
        xs = x[:, ok].astype(np.float64)
        np.testing.assert_allclose(out["torch"].mean[ok], np.nanmean(xs, 0), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(out["torch"].variance()[ok], np.nanvar(xs, 0), rtol=1e-7, atol=1e-9)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=matrices(), bins=st.integers(1, 40), lo=st.floats(-3, 1), width=st.floats(0.01, 10))
def test_histograms_agree_and_count_in_range_values(x, bins, lo, width):
    rng = (lo, lo + width)
    out = {be: run(be, K.histogram_per_column, x, bins, rng) for be in BACKENDS}
    lo32, hi32 = np.float32(rng[0]), np.float32(rng[1])
    inside = ((x >= lo32) & (x <= hi32)).sum(0)
    for h in out.values():
        assert h.counts.shape == (x.shape[1], bins)
        same_array(h.counts.sum(1), inside)
        same_array(h.counts, out["torch"].counts)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs(dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 37, generator=g).round(decimals=1).to(dtype)
    x[::7, 3] = float("nan")
    ref_v, ref_i = reference_topk(x.float().numpy(), 5)
    for be in BACKENDS:
        r = run(be, K.topk_per_column, x, 5)
        same_array(r.indices, ref_i); same_array(r.values, ref_v)
        s = run(be, K.column_stats, x)
        same_array(s.count, (~torch.isnan(x)).sum(0).numpy())
        h = run(be, K.histogram_per_column, x, 10, (-2, 2))
        same_array(h.counts, run("torch", K.histogram_per_column, x, 10, (-2, 2)).counts)


def test_strided_and_transposed_inputs_read_correctly():
    x = np.random.default_rng(1).standard_normal((500, 64)).astype(np.float32)
    for view in (x[:, 5:45], x[:, ::3], x[::2], x.T.copy().T, torch.from_numpy(x)[:, 7:30],
                 torch.from_numpy(x).T.contiguous().T):
        xv = view.numpy() if isinstance(view, torch.Tensor) else view
        ref_v, ref_i = reference_topk(np.ascontiguousarray(xv), 4)
        for be in BACKENDS:
            r = run(be, K.topk_per_column, view, 4)
            same_array(r.indices, ref_i); same_array(r.values, ref_v)


@needs_mojo
def test_threaded_column_split_matches_single_thread():
    x = np.random.default_rng(2).standard_normal((3000, 777)).astype(np.float32)  # 777: ragged last slice
    old = dict(K._state["tuning"])
    try:
        results = []
        for nt in (1, 2):
            K._state["tuning"]["threads"] = nt
            results.append((run("mojo", K.topk_per_column, x, 16), run("mojo", K.column_stats, x)))
    finally:
        K._state["tuning"].clear(); K._state["tuning"].update(old)
    (a, sa), (b, sb) = results
    same_array(a.indices, b.indices); same_array(sa.mean, sb.mean); same_array(sa.m2, sb.m2)
    same_array(a.indices, run("torch", K.topk_per_column, x, 16).indices)


def test_empty_inputs():
    for be in BACKENDS:
        r = run(be, K.topk_per_column, np.zeros((0, 5), np.float32), 3)
        assert r.values.shape == (0, 5) and r.indices.shape == (0, 5)
        r = run(be, K.topk_per_column, np.zeros((4, 0), np.float32), 3)
        assert r.values.shape == (3, 0)
        s = run(be, K.column_stats, np.zeros((0, 3), np.float32))
        same_array(s.count, [0, 0, 0]); assert np.isnan(s.variance()).all()
        h = run(be, K.histogram_per_column, np.zeros((0, 3), np.float32), 4, (0, 1))
        assert h.counts.shape == (3, 4) and h.counts.sum() == 0


@pytest.mark.parametrize("bad, err, msg", [
    (np.zeros(5, np.float32), ValueError, "must be 2-D"),
    (np.zeros((2, 3, 4), np.float32), ValueError, "must be 2-D"),
    (np.zeros((2, 3)), TypeError, "astype(np.float32)"),
    (np.zeros((2, 3), np.int32), TypeError, "astype(np.float32)"),
    (torch.zeros(2, 3, dtype=torch.float64), TypeError, ".float()"),
    (torch.zeros(2, 3, dtype=torch.int64), TypeError, ".float()"),
    ([[1.0, 2.0]], TypeError, "NumPy array or a torch tensor"),
    ("abc", TypeError, "NumPy array or a torch tensor"),
])
def test_bad_input_gets_a_clear_error(bad, err, msg):
    for fn in (lambda v: K.topk_per_column(v, 3), K.column_stats, lambda v: K.histogram_per_column(v, 4, (0, 1))):
        with pytest.raises(err, match=None) as e: fn(bad)
        assert msg in str(e.value)


def test_bad_parameters_and_state_left_untouched():
    x = np.ones((4, 3), np.float32)
    for k in (0, -1, 2.5, True, None):
        with pytest.raises(ValueError, match="k must be a positive int"): K.topk_per_column(x, k)
    for bins, rng in ((0, (0, 1)), (4, (1, 1)), (4, (2, 1)), (4, (0, np.inf)), (4, (np.nan, 1)), (4, "ab"), (4, None)):
        if rng is None: continue
        with pytest.raises(ValueError): K.histogram_per_column(x, bins, rng)
    with pytest.raises(ValueError, match="pass range"): K.histogram_per_column(np.full((2, 2), np.nan, np.float32))
    with pytest.raises(ValueError, match="use 'mojo', 'torch' or 'auto'"): K.set_backend("gpu")
    acc = K.TopKAccumulator(2).update(x)
    before = acc.result()
    with pytest.raises(ValueError, match="columns"): acc.update(np.ones((4, 5), np.float32))
    assert acc.rows_seen == 4
    same_array(acc.result().indices, before.indices)
    s = K.column_stats(x)
    with pytest.raises(ValueError, match="columns"): s.update(np.ones((1, 2), np.float32))
    same_array(s.count, [4, 4, 4])


def test_forced_torch_backend_is_reported_and_mojo_absence_is_explained(monkeypatch):
    assert K.set_backend("torch") == "torch"
    K.topk_per_column(np.ones((3, 2), np.float32), 1)
    assert K.last_backend() == "torch"
    monkeypatch.setitem(K._state, "loaded", True)
    monkeypatch.setitem(K._state, "lib", None)
    monkeypatch.setitem(K._state, "error", "simulated: no library")
    with pytest.raises(RuntimeError, match="build_kernels.py"): K.set_backend("mojo")
    monkeypatch.setitem(K._state, "warned", False)
    monkeypatch.setitem(K._state, "choice", "auto")
    with pytest.warns(UserWarning, match="torch fallback"): assert K.backend() == "torch"


def test_merge_topk_equals_one_shot():
    x = np.random.default_rng(3).standard_normal((400, 20)).astype(np.float32).round(1)
    whole = K.topk_per_column(x, 6)
    a, b = K.topk_per_column(x[:150], 6), K.topk_per_column(x[150:], 6)
    b = K.relabel_rows(b, np.arange(150, 400))
    m = K.merge_topk(b, a)
    same_array(m.indices, whole.indices); same_array(m.values, whole.values)
    s = K.column_stats(x[:150]) + K.column_stats(x[150:])
    np.testing.assert_allclose(s.variance(), x.astype(np.float64).var(0), rtol=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=matrices(max_rows=300, max_cols=40), k=st.integers(1, 12), row_chunk=st.integers(1, 120),
       col_chunk=st.integers(1, 40))
def test_dask_blockwise_reductions_equal_one_shot(x, k, row_chunk, col_chunk):
    import dask.array as da
    if x.shape[0] == 0 or x.shape[1] == 0: return
    d = da.from_array(x, chunks=(row_chunk, col_chunk))
    ref_v, ref_i = reference_topk(x, k)
    for be in BACKENDS:
        K.set_backend(be)
        r = KS.topk_dask(d, k)
        same_array(r.indices, ref_i); same_array(r.values, ref_v)
        s = KS.column_stats_dask(d)
        same_array(s.count, (~np.isnan(x)).sum(0))
    with pytest.raises(ValueError, match="2-D Dask array"): KS.topk_dask(da.zeros(5), 2)


@needs_mojo
def test_loader_picks_the_portable_library_by_cpu_features(monkeypatch):
    "On a CPU without the build machine's extensions the x86-64-v3 library loads and agrees exactly."
    import json
    meta = json.loads((K._KDIR / "manifest.json").read_text())
    v3 = [e for e in meta["libs"] if e["target"] == "x86-64-v3"]
    if not v3: pytest.skip("no x86-64-v3 build in the manifest")
    x = np.random.default_rng(5).standard_normal((2000, 100)).astype(np.float32).round(1)
    x[::17, 3] = np.nan
    native = run("mojo", K.topk_per_column, x, 7)
    saved = dict(K._state)
    try:
        monkeypatch.setattr(K, "_cpu_flags", lambda: set(v3[0]["requires"]) | {"sse2"})
        K._state.update(loaded=False, lib=None, error=None)
        info = K.backend_info()
        assert info["library"] == v3[0]["file"] and info["simd_width"] == 8  # AVX2 code path, not AVX-512
        port = run("mojo", K.topk_per_column, x, 7)
        same_array(port.indices, native.indices); same_array(port.values, native.values)
        monkeypatch.setattr(K, "_cpu_flags", lambda: {"sse2"})  # too old for any build: torch fallback
        K._state.update(loaded=False, lib=None, error=None, warned=False, choice="auto")
        with pytest.warns(UserWarning, match="torch fallback"): assert K.backend() == "torch"
        assert "needs CPU features" in K.backend_info()["mojo_error"]
    finally:
        K._state.clear(); K._state.update(saved)


@needs_mojo
def test_kernel_calls_release_the_gil():
    "Python threads keep running while a kernel works (ctypes drops the GIL around each call)."
    import threading, time
    x = np.random.default_rng(6).standard_normal((40_000, 768)).astype(np.float32)
    K.set_backend("mojo")
    done, ticks = threading.Event(), []
    def work():
        K.HistogramAccumulator(64, (-4, 4)).update(x)
        done.set()
    t = threading.Thread(target=work); t0 = time.perf_counter(); t.start()
    while not done.is_set(): ticks.append(time.perf_counter())
    t.join()
    elapsed = time.perf_counter() - t0
    # with the GIL held for the whole call the loop above could not run during it: no tick in any long gap
    gaps = np.diff([t0, *ticks, time.perf_counter()])
    assert len(ticks) > 1000 and gaps.max() < 0.5 * elapsed, (len(ticks), gaps.max(), elapsed)


@needs_mojo
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(x=matrices(max_rows=120, max_cols=70), k=st.integers(1, 20), tile_rows=st.sampled_from([1, 3, 16, 1024]),
       tile_cols=st.sampled_from([1, 16, 17, 48, 1 << 20]))
def test_every_tile_size_gives_the_same_answer(x, k, tile_rows, tile_cols):
    "The auto-tuner may pick any tiles: all of them must give the reference answer."
    ref_v, ref_i = reference_topk(x, k)
    saved = dict(K._state["tuning"])
    try:
        K._state["tuning"]["topk"] = {"tile_rows": tile_rows, "tile_cols": tile_cols}
        r = run("mojo", K.topk_per_column, x, k)
    finally:
        K._state["tuning"].clear(); K._state["tuning"].update(saved)
    same_array(r.indices, ref_i); same_array(r.values, ref_v)
    K.set_backend("mojo")
    s = K.RunningStats.empty(x.shape[1]).update(x, tile_rows=tile_rows)
    same_array(s.count, (~np.isnan(x)).sum(0))
    t = K.column_stats(x)
    fin = np.isfinite(t.mean) & (np.abs(np.where(np.isfinite(x), x, 0)).max(0, initial=0) < 1e20)
    np.testing.assert_allclose(s.mean[fin], t.mean[fin], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("k", [1, 4, 9])
def test_torch_fallback_refines_when_every_row_beats_the_threshold(k):
    "Rising columns (every new row enters the top-k) exercise the fallback's candidate-refining branch."
    rng = np.random.default_rng(7)
    x = (np.arange(3000, dtype=np.float32)[:, None] // 3 + rng.integers(0, 2, (3000, 21))).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = np.nan
    ref_v, ref_i = reference_topk(x, k)
    K.set_backend("torch")
    acc = K.TopKAccumulator(k, chunk_rows=64)
    for s in range(0, 3000, 1000): acc.update(x[s:s + 1000])
    r = acc.result()
    same_array(r.indices, ref_i); same_array(r.values, ref_v)


def test_relabel_rows_maps_indices_and_keeps_padding():
    r = K.topk_per_column(np.array([[1.0, np.nan], [3.0, np.nan]], np.float32), 2)
    out = K.relabel_rows(r, [40, 7])
    same_array(out.indices, np.array([[7, -1], [40, -1]]))
    same_array(out.values, r.values)
