"Tests of interp.viz.plots and Result.plot() dispatch."
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np, pytest
from interp.viz.plots import head_heatmap, loss_curves, spectrum, sweep, token_bars, plot_result
from interp.core.result import HeadResult, CurveResult, SpectrumResult, SweepResult, TokenResult, Result

@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")

def test_heatmap_signed_is_symmetric_and_labelled():
    v = np.array([[0.1, -2.0, 0.3], [0.5, 0.2, 1.0]])
    ax = head_heatmap(v, head_labels=["a", "b", "c"], layer_labels=["L0", "L1"])
    assert ax.images[0].norm.vmin == -2.0 and ax.images[0].norm.vmax == 2.0
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"{x:.2f}" for x in v.ravel())

def test_heatmap_unsigned_uses_sequential_and_large_grids_are_not_annotated():
    ax = head_heatmap(np.random.rand(30, 16))
    assert ax.images[0].get_cmap().name == "viridis" and len(ax.texts) == 0

def test_heatmap_accepts_torch_and_nan():
    torch = pytest.importorskip("torch")
    v = torch.tensor([[1.0, float("nan")], [0.5, 0.25]], dtype=torch.bfloat16)
    ax = head_heatmap(v)
    assert len(ax.texts) == 3

def test_loss_curves_lines_and_scale():
    ax = loss_curves({"a": np.geomspace(100, 0.1, 50), "b": np.geomspace(50, 0.2, 50)})
    assert len(ax.lines) == 2 and ax.get_yscale() == "log" and ax.get_legend() is not None
    assert loss_curves([1.0, -1.0, 0.5]).get_yscale() == "linear"
    with pytest.raises(ValueError, match="EMA factor"): loss_curves([1, 2], smooth=1.0)

def test_spectrum_rank_at_mark():
    s = np.array([10.0, 1.0, 1.0, 1.0])   # energy 100 / 103 in the first -> 97 %
    assert spectrum(s).rank_at_mark == 1
    assert spectrum(s, mark=0.99).rank_at_mark == 3
    assert spectrum(np.ones(4)).rank_at_mark == 4

def test_sweep_and_token_bars_validate():
    with pytest.raises(ValueError, match="2 values for 3 x values"): sweep([0, 1, 2], {"m": [1, 2]})
    with pytest.raises(ValueError, match="3 tokens but 2 values"): token_bars(["a", "b", "c"], [1, 2])
    ax = token_bars(["The", " cat"], [0.5, -0.5])
    assert [p.get_facecolor() for p in ax.patches][0] != [p.get_facecolor() for p in ax.patches][1]

@pytest.mark.parametrize("r, check", [
    (HeadResult(np.ones((2, 3)), method="m", coords={"head": ["x", "y", "z"]}),
     lambda ax: ax.get_xticklabels()[2].get_text() == "z"),
    (CurveResult({"train": [3, 2, 1]}, meta={"steps": [10, 20, 30]}),
     lambda ax: list(ax.lines[0].get_xdata()) == [10, 20, 30]),
    (SpectrumResult(np.array([3.0, 1.0])), lambda ax: hasattr(ax, "rank_at_mark")),
    (SweepResult({"coef": [0, 1, 2], "acc": [0.1, 0.5, 0.9]}, meta={"x": "coef"}),
     lambda ax: ax.get_xlabel() == "coef"),
    (TokenResult(np.array([1.0, 2.0]), meta={"tokens": ["a", "b"]}), lambda ax: len(ax.patches) == 2),
    (Result(np.zeros((2, 2)), dims=("layer", "pos")), lambda ax: ax.get_xlabel() == "pos"),
], ids=lambda x: type(x).__name__ if not callable(x) else "")
def test_result_plot_dispatch(r, check):
    ax = r.plot()
    assert check(ax)

def test_result_plot_rejects_3d():
    with pytest.raises(ValueError, match="no default plot for 3-D"): Result(np.zeros((2, 2, 2))).plot()

def test_result_plot_dispatches_by_type():
    from dataclasses import dataclass
    @dataclass(repr=False, eq=False)
    class MyHeads(HeadResult):
        "A technique's own per-head result."
    ax = MyHeads(np.ones((2, 3)), coords={"head": ["x", "y", "z"]}).plot()
    assert len(ax.images) == 1 and ax.get_xticklabels()[2].get_text() == "z"
    @dataclass(repr=False, eq=False)
    class Counts(Result):
        "A new kind of result with its own plot."
    @plot_result.register(Counts)
    def _bars(result, ax=None, **kwargs):
        _, ax = plt.subplots(); ax.bar(range(len(result.data)), result.data); return ax
    assert len(Counts(np.array([3, 1, 2])).plot().patches) == 3
    with pytest.raises(TypeError, match="not ndarray"): plot_result(np.zeros(3))
