"Tests of interp.streams.bus: back-pressure, counters, subscriber lifecycle and the statistics/top-k subscribers."
import os, threading, time
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import pytest, torch
from hypothesis import given, settings, strategies as st, HealthCheck
from interp.streams.bus import ActivationBus, Subscriber, SubscriberError, RunningStats, TopK, LivePlot
import interp.kernels.stats as K

# the bus's statistics and top-k run on interp.kernels.stats: test its torch fallback and, when it loads, Mojo
BACKENDS = ["torch"] + (["mojo"] if K.backend_info()["mojo_loaded"] else [])


def rss_bytes() -> int:
    with open("/proc/self/statm") as f: return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Slow(Subscriber):
    def __init__(self, delay): self.delay, self.seen = delay, []
    def on_event(self, ev): time.sleep(self.delay); self.seen.append(ev.seq)


def test_slow_subscriber_drop_keeps_memory_bounded_and_counts_true():
    "150 events of 4 MiB (600 MiB if queued unboundedly) into a subscriber that handles 5/s: memory stays flat."
    slow = Slow(0.2)
    bus = ActivationBus(maxsize=4, policy="drop")
    sub = bus.subscribe(slow)
    payload = torch.randn(1024, 1024)  # 4 MiB
    before, peak = rss_bytes(), 0
    for i in range(150):
        bus.publish("blocks.0.resid_post", payload, step=i)
        peak = max(peak, rss_bytes())
    bus.close()
    c = sub.counters()
    assert c["received"] == 150
    assert c["processed"] == len(slow.seen)
    assert c["processed"] + c["dropped"] == 150 and c["dropped"] > 0
    assert c["pending"] == 0
    assert c["high_water_events"] <= 4 and c["high_water_bytes"] <= 4 * payload.nbytes
    assert slow.seen == sorted(slow.seen) and len(set(slow.seen)) == len(slow.seen)
    # queue (4) + the one being handled + the clone being published: ~6 payloads = 24 MiB; allow slack, far below 600
    # MiB
    assert peak - before < 80 * 2**20, f"RSS grew by {(peak - before) / 2**20:.0f} MiB"


def test_drop_oldest_keeps_freshest():
    slow = Slow(0.02)
    with ActivationBus(maxsize=2, policy="drop_oldest") as bus:
        sub = bus.subscribe(slow)
        for i in range(50): bus.publish("x", torch.tensor(float(i)), step=i)
    assert sub.processed + sub.dropped == 50 and sub.dropped > 30
    assert slow.seen[-1] == 49  # the last event always survives


def test_block_policy_loses_nothing_and_slows_publisher():
    slow = Slow(0.005)
    t0 = time.perf_counter()
    with ActivationBus(maxsize=2, policy="block") as bus:
        sub = bus.subscribe(slow)
        for i in range(40): bus.publish("x", torch.ones(3), step=i)
        publish_s = time.perf_counter() - t0
    assert len(slow.seen) == 40 and sub.dropped == 0
    assert publish_s > 37 * 0.005 * 0.8  # the publisher waited for the subscriber


def test_topic_globs_and_runtime_subscribe_unsubscribe():
    got = {"a": [], "b": []}
    with ActivationBus() as bus:
        bus.subscribe(lambda ev: got["a"].append(ev.topic), topics=["blocks.*.resid_post"], name="a")
        bus.publish("blocks.1.resid_post", torch.ones(1)); bus.publish("blocks.1.mlp.out", torch.ones(1))
        sb = bus.subscribe(lambda ev: got["b"].append(ev.topic), name="b")
        bus.publish("blocks.2.mlp.out", torch.ones(1))
        bus.unsubscribe(sb)
        bus.publish("blocks.3.resid_post", torch.ones(1))
    assert got == {"a": ["blocks.1.resid_post", "blocks.3.resid_post"], "b": ["blocks.2.mlp.out"]}


def test_errors_surface_and_threads_stop():
    n_threads = threading.active_count()
    bus = ActivationBus()
    def bad(ev): raise RuntimeError("subscriber exploded")
    bus.subscribe(bad)
    bus.publish("x", torch.ones(1))
    with pytest.raises(SubscriberError, match="subscriber exploded"): bus.close()
    assert threading.active_count() == n_threads
    with pytest.raises(RuntimeError, match="closed"): bus.publish("x", torch.ones(1))
    with pytest.raises(ValueError, match="policy must be one of"): ActivationBus(policy="never")
    with pytest.raises(ValueError, match="maxsize"): ActivationBus(maxsize=0)
    with pytest.raises(KeyError, match="not subscribed"): ActivationBus().unsubscribe(object())


def test_exception_in_with_block_still_stops_threads():
    n_threads = threading.active_count()
    with pytest.raises(ZeroDivisionError):
        with ActivationBus() as bus:
            bus.subscribe(Slow(0.0)); bus.subscribe(RunningStats())
            1 / 0
    assert threading.active_count() == n_threads


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 200),
    d=st.integers(1, 9),
    cuts=st.lists(st.integers(1, 200), max_size=6),
    seed=st.integers(0, 10_000),
    masked=st.booleans(),
)
def test_running_stats_and_topk_match_full_computation(n, d, cuts, seed, masked):
    "Any split of the rows into events, with or without a padding mask, gives the statistics and top-k of all rows."
    for be in BACKENDS:
        K.set_backend(be)
        try: _check_stats_topk(n, d, cuts, seed, masked)
        finally: K.set_backend("auto")

def _check_stats_topk(n, d, cuts, seed, masked):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g) * 5
    keep = torch.rand(n, generator=g) > 0.3 if masked else torch.ones(n, dtype=torch.bool)
    if not keep.any(): keep[0] = True
    bounds = sorted({c % n for c in cuts} | {0, n})
    stats, top = RunningStats(), TopK(k=4)
    with ActivationBus() as bus:
        bus.subscribe(stats); bus.subscribe(top)
        for lo, hi in zip(bounds, bounds[1:]):
            bus.publish("s", x[lo:hi], mask=keep[lo:hi], token_index=torch.arange(lo, hi))
    ref = x[keep].double()
    r = stats.result("s")
    assert r["count"] == ref.shape[0]
    torch.testing.assert_close(r["mean"], ref.mean(0))
    torch.testing.assert_close(r["var"], ref.var(0, unbiased=False), atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(r["min"], ref.amin(0)); torch.testing.assert_close(r["max"], ref.amax(0))
    v, ids = top.result("s")
    rv, ri = x[keep].topk(min(4, ref.shape[0]), dim=0)
    torch.testing.assert_close(v, rv)
    torch.testing.assert_close(ids, torch.arange(n)[keep][ri])


def test_running_stats_merge_is_exact_on_known_values():
    stats = RunningStats()
    with ActivationBus() as bus:
        bus.subscribe(stats)
        bus.publish("s", torch.tensor([[1.0], [3.0]])); bus.publish("s", torch.tensor([[5.0]]))
    r = stats.result("s")
    assert r["count"] == 3 and r["mean"].item() == 3.0 and r["var"].item() == 8.0 / 3


def test_topk_relabels_rows_with_token_index():
    "Row ids come from token_index (any labels, e.g. store rows with gaps); without it, arrival numbers."
    top = TopK(k=2)
    with ActivationBus() as bus:
        bus.subscribe(top)
        bus.publish("s", torch.tensor([[1.0], [9.0]]), token_index=torch.tensor([100, 205]))
        bus.publish("s", torch.tensor([[7.0], [3.0]]))  # rows 2 and 3 in arrival order
    v, i = top.result("s")
    assert v[:, 0].tolist() == [9.0, 7.0] and i[:, 0].tolist() == [205, 2]


def test_bus_statistics_are_the_kernels():
    "One implementation: the subscribers hold interp.kernels.stats state."
    stats, top = RunningStats(), TopK(k=3)
    with ActivationBus() as bus:
        bus.subscribe(stats); bus.subscribe(top)
        bus.publish("s", torch.randn(20, 4))
    assert isinstance(stats.state["s"], K.RunningStats) and isinstance(top.state["s"], K.TopKAccumulator)


def test_mask_shape_mismatch_is_a_clear_error():
    stats = RunningStats()
    bus = ActivationBus(); bus.subscribe(stats)
    bus.publish("s", torch.ones(2, 3, 4), mask=torch.ones(5, dtype=torch.bool))
    with pytest.raises(SubscriberError, match="mask has 5 entries for 6 rows"): bus.close()


def test_live_plot_draws_and_throttles():
    live = LivePlot(every=10.0, display=False)
    with ActivationBus() as bus:
        bus.subscribe(live)
        for i in range(100): bus.publish("metrics.loss", 1.0 / (i + 1), step=i)
    assert len(live.series["metrics.loss"]) == 100
    assert 2 <= live.draws <= 3  # first event, (maybe) one more, and the final draw at close
    assert live._repr_png_()[:4] == b"\x89PNG"


def test_subscriber_may_publish_derived_events_until_close():
    "A subscriber that republishes (a derived metric) never hits a closed bus: close drains the cascade first."
    for _ in range(20):
        derived = []
        with ActivationBus(policy="drop_oldest", maxsize=64) as bus:
            bus.subscribe(lambda ev: derived.append(ev.data), topics="derived")
            bus.subscribe(lambda ev: (time.sleep(0.002), bus.publish("derived", ev.data * 2)), topics="raw", maxsize=2)
            for i in range(5): bus.publish("raw", torch.tensor(float(i)))
        assert len(derived) >= 1 and derived[-1].item() == 8.0

@pytest.mark.parametrize("backend", BACKENDS)
def test_topk_skips_nan_on_every_backend(monkeypatch, backend):
    import interp.streams.bus as B
    monkeypatch.setitem(K._state, "choice", backend)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 9, generator=g); x[x > 0.8] = float("nan")
    x[:, 3] = float("nan")   # column 3: no numbers at all
    top = B.TopK(k=6)
    with B.ActivationBus() as bus:
        bus.subscribe(top)
        for c in x.split(41): bus.publish("a", c)
    v, i = top.result("a")
    ref_v, ref_i = torch.where(x.isnan(), -torch.inf, x).topk(6, dim=0)
    keep = [c for c in range(9) if c != 3]
    assert torch.equal(v[:, keep], ref_v[:, keep]) and torch.equal(i[:, keep], ref_i[:, keep])
    assert v[:, 3].isnan().all() and (i[:, 3] == -1).all()
