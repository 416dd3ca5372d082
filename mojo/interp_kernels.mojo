# interp kernels: streaming per-column reductions over a row-major 2-D activation block.
#
# Every entry point is a plain C-ABI function (loaded with ctypes, which releases the GIL during the
# call). Arrays travel as addresses (zero-copy); the caller owns all memory, including the running
# state that makes every reduction resumable block after block and mergeable across workers.
# Each call handles the column range [c0, c1) so that Python threads can split the columns.
#
# NaN policy (identical in the torch fallback): NaN is "missing" -- skipped by top-k, statistics and
# histograms. +/-inf are ordinary values for top-k, min and max; histograms drop values outside [lo, hi].
# Ties in top-k: the lowest row index wins (rows must arrive in ascending order across calls).

from std.sys.info import simd_width_of
from std.math import inf

comptime W = simd_width_of[DType.float32]()
comptime F32P = Pointer[Float32, MutAnyOrigin]
comptime F64P = Pointer[Float64, MutAnyOrigin]
comptime I64P = Pointer[Int64, MutAnyOrigin]


@always_inline
def load_f32[dt: DType](base: Int, off: Int) -> SIMD[DType.float32, W]:
    var p = Pointer[Scalar[dt], MutAnyOrigin](unsafe_from_address=base)
    return p.unsafe_load[width=W](off).cast[DType.float32]()


@always_inline
def load1_f32[dt: DType](base: Int, off: Int) -> Float32:
    var p = Pointer[Scalar[dt], MutAnyOrigin](unsafe_from_address=base)
    return p[unsafe_offset=off].cast[DType.float32]()


# ---------------------------------------------------------------------------------------------
# top-k: per column a sorted list (value descending, row ascending) of at most k entries.
# State per column c: vals[c*k : c*k+k], rows[c*k : ...], filled[c]; thr[c] is the admission
# threshold (the k-th value once full) and open_[c] is 1.0 while the column holds fewer than k.
# ---------------------------------------------------------------------------------------------


@always_inline
def topk_insert(vals: F32P, rows: I64P, filled: I64P, thr: F32P, open_: F32P, c: Int, k: Int,
                v: Float32, r: Int64):
    var base = c * k
    var n = Int(filled[unsafe_offset=c])
    var pos: Int
    if n < k:
        pos = n
        n += 1
        filled[unsafe_offset=c] = Int64(n)
    else:
        pos = k - 1
    # Shift strictly smaller entries down: equal values keep their (lower) row first.
    while pos > 0 and vals[unsafe_offset=base + pos - 1] < v:
        vals[unsafe_offset=base + pos] = vals[unsafe_offset=base + pos - 1]
        rows[unsafe_offset=base + pos] = rows[unsafe_offset=base + pos - 1]
        pos -= 1
    vals[unsafe_offset=base + pos] = v
    rows[unsafe_offset=base + pos] = r
    if n == k:
        thr[unsafe_offset=c] = vals[unsafe_offset=base + k - 1]
        open_[unsafe_offset=c] = 0.0


def topk_impl[dt: DType](x_addr: Int, n_rows: Int, stride: Int, c0: Int, c1: Int, k: Int,
                         row_offset: Int, vals_addr: Int, rows_addr: Int, filled_addr: Int,
                         thr_addr: Int, open_addr: Int, tile_rows: Int, tile_cols: Int):
    var vals = F32P(unsafe_from_address=vals_addr)
    var rows = I64P(unsafe_from_address=rows_addr)
    var filled = I64P(unsafe_from_address=filled_addr)
    var thr = F32P(unsafe_from_address=thr_addr)
    var open_ = F32P(unsafe_from_address=open_addr)
    var one = SIMD[DType.float32, W](1.0)
    var r0 = 0
    while r0 < n_rows:
        var r1 = min(r0 + tile_rows, n_rows)
        var t0 = c0
        while t0 < c1:
            var t1 = min(t0 + tile_cols, c1)
            var any_open = False
            for c in range(t0, t1):
                if open_[unsafe_offset=c] != 0.0:
                    any_open = True
                    break
            for r in range(r0, r1):
                var roff = r * stride
                var grow = Int64(r + row_offset)
                var c = t0
                while c + W <= t1:
                    var v = load_f32[dt](x_addr, roff + c)
                    var m = v.gt(thr.unsafe_load[width=W](c))
                    if any_open:
                        # open columns admit any non-NaN value (including -inf)
                        m = m | (open_.unsafe_load[width=W](c).eq(one) & v.eq(v))
                    if m.reduce_or():
                        for l in range(W):
                            if m[l]:
                                topk_insert(vals, rows, filled, thr, open_, c + l, k, v[l], grow)
                    c += W
                while c < t1:
                    var s = load1_f32[dt](x_addr, roff + c)
                    var is_open = open_[unsafe_offset=c] != 0.0
                    if (is_open and s == s) or s > thr[unsafe_offset=c]:
                        topk_insert(vals, rows, filled, thr, open_, c, k, s, grow)
                    c += 1
                if any_open:
                    any_open = False
                    for cc in range(t0, t1):
                        if open_[unsafe_offset=cc] != 0.0:
                            any_open = True
                            break
            t0 = t1
        r0 = r1


@export("ik_topk_f32")
def ik_topk_f32(x: Int, n_rows: Int, stride: Int, c0: Int, c1: Int, k: Int, row_offset: Int,
                vals: Int, rows: Int, filled: Int, thr: Int, open_: Int, tile_rows: Int,
                tile_cols: Int) abi("C") -> Int32:
    if k < 1 or tile_rows < 1 or tile_cols < 1 or c0 < 0 or c1 < c0 or n_rows < 0:
        return 1
    topk_impl[DType.float32](x, n_rows, stride, c0, c1, k, row_offset, vals, rows, filled, thr,
                             open_, tile_rows, tile_cols)
    return 0


@export("ik_topk_f16")
def ik_topk_f16(x: Int, n_rows: Int, stride: Int, c0: Int, c1: Int, k: Int, row_offset: Int,
                vals: Int, rows: Int, filled: Int, thr: Int, open_: Int, tile_rows: Int,
                tile_cols: Int) abi("C") -> Int32:
    if k < 1 or tile_rows < 1 or tile_cols < 1 or c0 < 0 or c1 < c0 or n_rows < 0:
        return 1
    topk_impl[DType.float16](x, n_rows, stride, c0, c1, k, row_offset, vals, rows, filled, thr,
                             open_, tile_rows, tile_cols)
    return 0


@export("ik_topk_bf16")
def ik_topk_bf16(x: Int, n_rows: Int, stride: Int, c0: Int, c1: Int, k: Int, row_offset: Int,
                 vals: Int, rows: Int, filled: Int, thr: Int, open_: Int, tile_rows: Int,
                 tile_cols: Int) abi("C") -> Int32:
    if k < 1 or tile_rows < 1 or tile_cols < 1 or c0 < 0 or c1 < c0 or n_rows < 0:
        return 1
    topk_impl[DType.bfloat16](x, n_rows, stride, c0, c1, k, row_offset, vals, rows, filled, thr,
                              open_, tile_rows, tile_cols)
    return 0


# ---------------------------------------------------------------------------------------------
# Running statistics: per column count, mean, M2 (sum of squared deviations), min, max.
# Each block of tile_rows rows is reduced in two cache-resident passes (block mean, then block M2
# about that mean) and merged into the running state with Chan et al.'s parallel update, which is
# also how partial results from different workers are merged. Accumulators live in registers, one
# SIMD vector of columns at a time. (bsum, bcnt, bm2 are unused scratch kept for ABI stability.)
# ---------------------------------------------------------------------------------------------


def stats_impl[dt: DType](x_addr: Int, n_rows: Int, stride: Int, c0: Int, c1: Int,
                          count_addr: Int, mean_addr: Int, m2_addr: Int, mn_addr: Int,
                          mx_addr: Int, bsum_addr: Int, bcnt_addr: Int, bm2_addr: Int,
                          tile_rows: Int):
    var count = I64P(unsafe_from_address=count_addr)
    var mean = F64P(unsafe_from_address=mean_addr)
    var m2 = F64P(unsafe_from_address=m2_addr)
    var mn = F32P(unsafe_from_address=mn_addr)
    var mx = F32P(unsafe_from_address=mx_addr)
    var zero32 = SIMD[DType.float32, W](0.0)
    var one32 = SIMD[DType.float32, W](1.0)
    var pinf = SIMD[DType.float32, W](inf[DType.float32]())
    var ninf = SIMD[DType.float32, W](-inf[DType.float32]())
    var zero64 = SIMD[DType.float64, W](0.0)
    var r0 = 0
    while r0 < n_rows:
        var r1 = min(r0 + tile_rows, n_rows)
        # one SIMD vector of columns at a time, accumulators in registers; the block of rows is read
        # twice (sum, then squared deviations about the block mean) while it sits in cache
        var c = c0
        while c + W <= c1:
            var s = zero64
            var n = zero32
            var lo = pinf
            var hi = ninf
            for r in range(r0, r1):
                var v = load_f32[dt](x_addr, r * stride + c)
                var ok = v.eq(v)
                s += ok.select(v, zero32).cast[DType.float64]()
                n += ok.select(one32, zero32)
                lo = min(lo, ok.select(v, pinf))
                hi = max(hi, ok.select(v, ninf))
            var nb = n.cast[DType.float64]()
            var has = nb.gt(zero64)
            var bmean = has.select(s / max(nb, SIMD[DType.float64, W](1.0)), zero64)
            var q = zero64
            for r in range(r0, r1):
                var v = load_f32[dt](x_addr, r * stride + c)
                var ok = v.eq(v)
                var d = ok.select(v.cast[DType.float64]() - bmean, zero64)
                q += d * d
            # Chan merge of the block into the running state, lane-wise
            var na = count.unsafe_load[width=W](c).cast[DType.float64]()
            var tot = na + nb
            var safe = max(tot, SIMD[DType.float64, W](1.0))
            var ma = mean.unsafe_load[width=W](c)
            var delta = bmean - ma
            mean.unsafe_store(c, has.select(ma + delta * (nb / safe), ma))
            var m2a = m2.unsafe_load[width=W](c)
            m2.unsafe_store(c, has.select(m2a + q + delta * delta * (na * nb / safe), m2a))
            count.unsafe_store(c, count.unsafe_load[width=W](c) + nb.cast[DType.int64]())
            mn.unsafe_store(c, min(mn.unsafe_load[width=W](c), lo))
            mx.unsafe_store(c, max(mx.unsafe_load[width=W](c), hi))
            c += W
        while c < c1:  # remaining columns, one at a time
            var s: Float64 = 0.0
            var n: Float64 = 0.0
            var lo = mn[unsafe_offset=c]
            var hi = mx[unsafe_offset=c]
            for r in range(r0, r1):
                var v = load1_f32[dt](x_addr, r * stride + c)
                if v == v:
                    s += Float64(v)
                    n += 1.0
                    lo = min(lo, v)
                    hi = max(hi, v)
            mn[unsafe_offset=c] = lo
            mx[unsafe_offset=c] = hi
            if n > 0.0:
                var bmean = s / n
                var q: Float64 = 0.0
                for r in range(r0, r1):
                    var v = load1_f32[dt](x_addr, r * stride + c)
                    if v == v:
                        var d = Float64(v) - bmean
                        q += d * d
                var na = Float64(count[unsafe_offset=c])
                var tot = na + n
                var delta = bmean - mean[unsafe_offset=c]
                mean[unsafe_offset=c] = mean[unsafe_offset=c] + delta * (n / tot)
                m2[unsafe_offset=c] = m2[unsafe_offset=c] + q + delta * delta * (na * n / tot)
                count[unsafe_offset=c] = count[unsafe_offset=c] + Int64(Int(n))
            c += 1
        r0 = r1


@export("ik_stats_f32")
def ik_stats_f32(x: Int, n_rows: Int, stride: Int, c0: Int, c1: Int, count: Int, mean: Int,
                 m2: Int, mn: Int, mx: Int, bsum: Int, bcnt: Int, bm2: Int,
                 tile_rows: Int) abi("C") -> Int32:
    if tile_rows < 1 or c0 < 0 or c1 < c0 or n_rows < 0:
        return 1
    stats_impl[DType.float32](x, n_rows, stride, c0, c1, count, mean, m2, mn, mx, bsum, bcnt,
                              bm2, tile_rows)
    return 0


@export("ik_stats_f16")
def ik_stats_f16(x: Int, n_rows: Int, stride: Int, c0: Int, c1: Int, count: Int, mean: Int,
                 m2: Int, mn: Int, mx: Int, bsum: Int, bcnt: Int, bm2: Int,
                 tile_rows: Int) abi("C") -> Int32:
    if tile_rows < 1 or c0 < 0 or c1 < c0 or n_rows < 0:
        return 1
    stats_impl[DType.float16](x, n_rows, stride, c0, c1, count, mean, m2, mn, mx, bsum, bcnt,
                              bm2, tile_rows)
    return 0


@export("ik_stats_bf16")
def ik_stats_bf16(x: Int, n_rows: Int, stride: Int, c0: Int, c1: Int, count: Int, mean: Int,
                  m2: Int, mn: Int, mx: Int, bsum: Int, bcnt: Int, bm2: Int,
                  tile_rows: Int) abi("C") -> Int32:
    if tile_rows < 1 or c0 < 0 or c1 < c0 or n_rows < 0:
        return 1
    stats_impl[DType.bfloat16](x, n_rows, stride, c0, c1, count, mean, m2, mn, mx, bsum, bcnt,
                               bm2, tile_rows)
    return 0


# ---------------------------------------------------------------------------------------------
# Fixed-bin histograms: bin = int(min((v - lo) * scale, bins - 1)) for lo <= v <= hi (so v == hi
# lands in the last bin); NaN and values outside [lo, hi] are dropped. `scale` is computed once
# by the caller in float32 (bins / (hi - lo)) so both backends do the same float32 arithmetic.
# counts[c * bins + b] (int64) accumulates across calls.
# ---------------------------------------------------------------------------------------------


def hist_impl[dt: DType](x_addr: Int, n_rows: Int, stride: Int, c0: Int, c1: Int, lo: Float32,
                         hi: Float32, scale: Float32, bins: Int, counts_addr: Int):
    var counts = I64P(unsafe_from_address=counts_addr)
    var lov = SIMD[DType.float32, W](lo)
    var hiv = SIMD[DType.float32, W](hi)
    var scv = SIMD[DType.float32, W](scale)
    var lastf = SIMD[DType.float32, W](Float32(bins - 1))
    for r in range(n_rows):
        var roff = r * stride
        var c = c0
        while c + W <= c1:
            var v = load_f32[dt](x_addr, roff + c)
            var ok = v.ge(lov) & v.le(hiv)
            # clamp before converting so out-of-range lanes never hit an undefined conversion
            var b = min((v - lov) * scv, lastf).cast[DType.int32]()
            for l in range(W):
                if ok[l]:
                    var j = (c + l) * bins + Int(b[l])
                    counts[unsafe_offset=j] = counts[unsafe_offset=j] + 1
            c += W
        while c < c1:
            var s = load1_f32[dt](x_addr, roff + c)
            if s >= lo and s <= hi:
                var bi = Int(min((s - lo) * scale, Float32(bins - 1)).cast[DType.int32]())
                var j = c * bins + bi
                counts[unsafe_offset=j] = counts[unsafe_offset=j] + 1
            c += 1


@export("ik_hist_f32")
def ik_hist_f32(x: Int, n_rows: Int, stride: Int, c0: Int, c1: Int, lo: Float32, hi: Float32,
                scale: Float32, bins: Int, counts: Int) abi("C") -> Int32:
    if bins < 1 or c0 < 0 or c1 < c0 or n_rows < 0 or not (hi > lo):
        return 1
    hist_impl[DType.float32](x, n_rows, stride, c0, c1, lo, hi, scale, bins, counts)
    return 0


@export("ik_hist_f16")
def ik_hist_f16(x: Int, n_rows: Int, stride: Int, c0: Int, c1: Int, lo: Float32, hi: Float32,
                scale: Float32, bins: Int, counts: Int) abi("C") -> Int32:
    if bins < 1 or c0 < 0 or c1 < c0 or n_rows < 0 or not (hi > lo):
        return 1
    hist_impl[DType.float16](x, n_rows, stride, c0, c1, lo, hi, scale, bins, counts)
    return 0


@export("ik_hist_bf16")
def ik_hist_bf16(x: Int, n_rows: Int, stride: Int, c0: Int, c1: Int, lo: Float32, hi: Float32,
                 scale: Float32, bins: Int, counts: Int) abi("C") -> Int32:
    if bins < 1 or c0 < 0 or c1 < c0 or n_rows < 0 or not (hi > lo):
        return 1
    hist_impl[DType.bfloat16](x, n_rows, stride, c0, c1, lo, hi, scale, bins, counts)
    return 0


@export("ik_abi_version")
def ik_abi_version() abi("C") -> Int32:
    return 1


@export("ik_simd_width")
def ik_simd_width() abi("C") -> Int32:
    return Int32(W)
