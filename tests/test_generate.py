"Generation with interventions at row positions, per-token streams and monitors (interp.streams.generate)."
import pytest
import torch
from interp.core.hooks import hooks_on
from interp.core.intervene import AddVector, intervene
from interp.core.toys import ToyConfig, ToyTransformer
from interp.streams.bus import ActivationBus, Event, RunningStats
from interp.streams.generate import AtPositions, Generation, Monitor, PositionTracker, WhenFired, generate

SITE = "blocks.0.resid_post"


@pytest.fixture(scope="module")
def toy():
    cfg = ToyConfig(n_layers=2, d_model=16, n_heads=2, d_head=8, d_vocab=30, n_ctx=40, d_mlp=32, normalization="LN")
    return ToyTransformer(cfg).eval()


@pytest.fixture(scope="module")
def smol():
    from interp.core.models import ModelNotAvailableError, load_smollm2
    try: model, tok = load_smollm2()
    except ModelNotAvailableError as e: pytest.skip(str(e))
    return model.eval(), tok


def test_tracker_left_padding_and_cache():
    class Cache:
        def get_seq_length(self): return 3
    tr = PositionTracker(stop_ids=[0])
    tr.update((), dict(input_ids=torch.tensor([[0, 5, 6], [4, 5, 6]]),
                       attention_mask=torch.tensor([[0, 1, 1], [1] * 3])))
    assert tr.positions.tolist() == [[-1, 0, 1], [0, 1, 2]] and tr.prompt_len.tolist() == [2, 3]
    tr.update((), dict(input_ids=torch.tensor([[0], [7]]), attention_mask=torch.tensor([[0, 1, 1, 1], [1] * 4]),
                       cache=Cache()))
    assert tr.positions.tolist() == [[2], [3]] and tr.n_new == 1
    assert tr.region("generated").tolist() == [[False], [True]]   # row 0 generated the stop token


def test_positions_are_row_positions(toy):
    prompt = torch.randint(1, 30, (2, 5), generator=torch.Generator().manual_seed(0))
    vec = torch.randn(16) * 3
    g = generate(toy, None, prompt, [AddVector(SITE, vec, positions=[1, 7])], max_new_tokens=6)
    assert isinstance(g, Generation) and g.sequences.shape == (2, 11) and hooks_on(toy) == 0
    with torch.no_grad(), intervene(toy, AddVector(SITE, vec, positions=[1, 7])):
        assert torch.equal(toy(g.sequences).argmax(-1)[:, 4:-1], g.sequences[:, 5:])
    assert g.method == "generate" and SITE in g.sites


def test_bad_positions_and_where(toy):
    with pytest.raises(TypeError):
        generate(toy, None, [[1, 2]], [AddVector(SITE, torch.ones(16), positions=slice(0, 2))])
    with pytest.raises(ValueError): generate(toy, None, [[1, 2]], [AddVector(SITE, torch.ones(16))], where="middle")
    with pytest.raises(ValueError): generate(toy, None, [[1, 2]], stream=[SITE])   # no bus
    assert hooks_on(toy) == 0


def test_stream_counts_and_values(toy):
    stats, events = RunningStats(), []
    with ActivationBus() as bus:
        bus.subscribe(stats)
        bus.subscribe(lambda ev: events.append(ev))
        g = generate(toy, None, [[3, 4, 5], [6, 7, 8]], stream=[SITE], bus=bus, max_new_tokens=4)
    assert stats.result(SITE)["count"] == 2 * (3 + 4 - 1)
    assert [tuple(e.data.shape) for e in sorted(events, key=lambda e: e.step)][:2] == [(2, 3, 16), (2, 1, 16)]
    assert g.meta["prompt_lengths"] == [3, 3]


def test_monitor_stop_and_condition(toy):
    fire = Monitor(lambda x: torch.ones(len(x)), site=SITE, threshold=0.5, stop=True)
    g = generate(toy, None, [[3, 4, 5]], monitors=[fire], max_new_tokens=5, eos_token_id=None)
    assert fire.fired_at.tolist() == [0] and g.sequences.shape[1] == 4      # one token, then stopped
    never = Monitor(lambda x: torch.zeros(len(x)), site=SITE, threshold=0.5)
    plain = generate(toy, None, [[3, 4, 5]], max_new_tokens=5)
    cond = generate(toy, None, [[3, 4, 5]], [WhenFired(never, AddVector(SITE, torch.ones(16) * 50))], max_new_tokens=5)
    assert torch.equal(plain.sequences, cond.sequences) and not never.fired.any()
    with pytest.raises(ValueError):   # a score per token, not a vector
        Monitor(lambda x: x, site=SITE).on_event(Event(SITE, torch.ones(1, 1, 16)))


def test_at_positions_negative_counts_from_prompt_end():
    tr = PositionTracker()
    tr.update((torch.zeros(2, 4, dtype=torch.long),), dict(attention_mask=torch.tensor([[0, 1, 1, 1], [1] * 4])))
    from interp.core.sites import SiteSpec
    spec = SiteSpec(name=SITE, module="m", phase="out", dims=("batch", "pos", "d_model"))
    iv = AtPositions(SITE, inner=AddVector(SITE, torch.ones(3)), tracker=tr, positions=[-1])
    assert iv(torch.zeros(2, 4, 3), spec)[..., 0].tolist() == [[0, 0, 0, 1], [0, 0, 0, 1]]


def test_smollm2_kv_cache_equals_recompute(smol):
    model, tok = smol
    vec = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(0)) * 4
    prompts = ["The capital of France is", "Once upon a time, in a small village, there"]
    for where, positions in [("prompt", None), ("generated", None), ("all", [3, 9, 12])]:
        iv = AddVector("blocks.5.resid_post", vec, positions=positions)
        a = generate(model, tok, prompts, [iv], where=where, max_new_tokens=6)
        b = generate(model, tok, prompts, [iv], where=where, max_new_tokens=6, use_cache=False)
        assert torch.equal(a.sequences, b.sequences), where
    assert hooks_on(model) == 0
