"Tests of interp.core.method: the InterpretationMethod contract, the registry and exact JSON round-trips of Results."
import json, os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np, pandas as pd, pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from hypothesis.extra import numpy as hnp, pandas as hpd

from interp.core.method import InterpretationMethod, NotFittedError, registry, registry_table, get_method
from interp.core.models import model_id
from interp.core.result import (Result, HeadResult, CurveResult, SpectrumResult, SweepResult, TokenResult, to_jsonable,
                                from_jsonable, same)

DTYPES = st.sampled_from(["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
                          "bool", "complex64", "complex128", ">f8", "<i4"])

def roundtrip(obj):
    return from_jsonable(json.loads(json.dumps(to_jsonable(obj), allow_nan=False)))

@settings(max_examples=150, deadline=None)
@given(DTYPES.flatmap(lambda dt: hnp.arrays(np.dtype(dt),
                                            hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))))
def test_array_roundtrip_is_bit_exact(a):
    b = roundtrip(a)
    assert b.dtype == a.dtype and b.shape == a.shape and b.tobytes() == a.tobytes()
    assert same(a, b)

@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hpd.data_frames([hpd.column("f", dtype=float), hpd.column("i", dtype=np.int64), hpd.column("b", dtype=bool),
                        hpd.column("s", elements=st.one_of(st.none(), st.text(max_size=4)))],
                       index=hpd.range_indexes(max_size=12)))
def test_dataframe_roundtrip_is_exact(df):
    df["c"] = pd.Categorical(df["i"] % 3)
    back = roundtrip(df)
    assert same(df, back)
    pd.testing.assert_frame_equal(df, back, check_exact=True)

@settings(max_examples=60, deadline=None)
@given(st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                              st.text()),
                    lambda c: st.one_of(st.lists(c, max_size=3), st.tuples(c, c),
                                        st.dictionaries(st.text(max_size=4), c, max_size=3)),
                    max_leaves=10))
def test_nested_python_roundtrip(x):
    assert same(roundtrip(x), x)

def test_torch_tensors_roundtrip_with_dtype():
    torch = pytest.importorskip("torch")
    for dt in (torch.float32, torch.bfloat16, torch.float16, torch.int64, torch.bool):
        t = (torch.randn(3, 4) * 5).to(dt)
        b = roundtrip(t)
        assert isinstance(b, torch.Tensor) and b.dtype == dt and b.shape == t.shape and torch.equal(b, t)
    assert roundtrip(torch.empty(0, 3)).shape == (0, 3)

def test_same_detects_differences():
    a = np.array([0.0, 1.0]); assert not same(a, np.array([-0.0, 1.0])); assert not same(a, a.astype(np.float32))
    df = pd.DataFrame({"x": [1, 2]})
    assert not same(df, df.astype(float)); assert not same(df, df.rename(columns={"x": "y"}))

def test_unencodable_gives_clear_error():
    with pytest.raises(TypeError, match="cannot encode set"): to_jsonable({1, 2})

def make_results():
    rng = np.random.default_rng(0)
    return [HeadResult(rng.normal(size=(4, 6)).astype(np.float32), method="m", params={"a": 1.5, "b": (1, 2)},
                       model_id="gpt2", sites=["blocks.0.attn.z"], seed=3,
                       coords={"head": [f"H{i}" for i in range(6)]}),
            CurveResult({"train": rng.random(20), "val": rng.random(20)}, method="sae"),
            SpectrumResult(rng.random(10) ** 3, meta={"title": "singular values"}),
            SweepResult({"x": np.linspace(0, 4, 5), "logit_diff": rng.normal(size=5)}),
            TokenResult(rng.normal(size=(3, 2)), meta={"tokens": ["The", " cat", " sat"]}),
            Result(pd.DataFrame({"feature": [3, 9], "score": [0.5, np.nan]}), method="generic")]

@pytest.mark.parametrize("r", make_results(), ids=lambda r: type(r).__name__)
def test_result_json_roundtrip(r, tmp_path):
    s = r.to_json()
    back = Result.from_json(s)
    assert type(back) is type(r) and back.equals(r)
    r.to_json(tmp_path / "r.json"); assert Result.from_json(tmp_path / "r.json").equals(r)
    assert type(r).from_json(s).equals(r)
    # a changed bit is noticed
    payload = json.loads(s); payload["seed"] = 99
    assert not Result.from_json(json.dumps(payload)).equals(r)

def test_from_json_checks_type():
    s = make_results()[0].to_json()
    with pytest.raises(TypeError, match="holds a HeadResult, not a CurveResult"): CurveResult.from_json(s)
    with pytest.raises(ValueError, match="unknown result type"):
        Result.from_json(s.replace('"HeadResult"', '"NoSuchResult"'))

def test_result_validation_and_to_df():
    with pytest.raises(ValueError, match=r"\[layers, heads\]"): HeadResult(np.zeros(3))
    with pytest.raises(ValueError, match="dims"): Result(np.zeros((2, 2)), dims=("a",))
    with pytest.raises(ValueError, match="tokens"): TokenResult(np.zeros(3), meta={"tokens": ["a"]})
    df = make_results()[0].to_df()
    assert list(df.columns) == ["layer", "head", "value"] and len(df) == 24 and df["head"].iloc[1] == "H1"
    assert df.attrs["model_id"] == "gpt2" and df.attrs["seed"] == 3

class _Probe(InterpretationMethod):
    family = "probing"; citation = "test citation"; name = "_test_probe"
    needs_fit = True
    def __init__(self, *, scale=2.0, seed=0): self.scale, self.seed = scale, seed
    def fit(self, X): self.mean_ = np.mean(X, 0); return self
    def probe(self, inputs): return self.result(np.asarray(inputs) - self.mean_, sites="s", dims=("n", "d"))

def test_method_contract():
    p = _Probe(scale=3.0)
    assert p.get_params() == {"scale": 3.0, "seed": 0} and repr(p) == "_Probe(scale=3.0, seed=0)"
    with pytest.raises(NotFittedError, match="not fitted yet"): p.probe(np.zeros((2, 2)))
    r = p.fit(np.ones((3, 2))).probe(np.ones((2, 2)))
    assert r.method == "_test_probe" and r.params == {"scale": 3.0, "seed": 0} and r.sites == ["s"] and r.seed == 0
    assert not p.clone().is_fitted and p.clone().get_params() == p.get_params()
    with pytest.raises(TypeError, match="Did you mean 'scale'"): _Probe(scal=1)
    assert get_method("_test_probe") is _Probe and "_test_probe" in registry("probing")
    assert "_test_probe" not in registry("attribution")
    assert registry_table().loc["_test_probe", "verb"] == "probe"
    with pytest.raises(ValueError, match="unknown family"): registry("probe")

def test_declaration_errors():
    with pytest.raises(TypeError, match="must implement the verb `attribute"):
        type("X1", (InterpretationMethod,), {"family": "attribution", "citation": "c"})
    with pytest.raises(TypeError, match="citation"):
        type("X2", (InterpretationMethod,), {"family": "attribution", "attribute": lambda s: 0})
    with pytest.raises(TypeError, match="keywords only"):
        type("X3", (InterpretationMethod,), {"family": "attribution", "citation": "c", "attribute": lambda s: 0,
                                             "__init__": lambda self, a, /: None})
    with pytest.raises(TypeError, match="already registered"):
        type("Other", (InterpretationMethod,),
             {"family": "probing", "citation": "c", "probe": lambda s: 0, "name": "_test_probe"})

def test_model_id():
    torch = pytest.importorskip("torch")
    assert model_id(torch.nn.Linear(2, 3)) == "Linear(params=9)"
    assert model_id("gpt2") == "gpt2" and model_id(None) is None
