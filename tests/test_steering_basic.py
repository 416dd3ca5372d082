"""Tests of interp.methods.steering on a tiny random Llama: round trips, exact restoration, scaling, composition, the
verb, errors."""
import os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import pytest, torch
from hypothesis import given, settings, strategies as st
from interp.core.extract import ActivationsExtractor, hooks_on
from interp.core.intervene import Ablate, intervene
from interp.core.method import check_contract
from interp.core.result import SweepResult
from interp.methods.steering import (ActAdd, CAA, RepE, SteeringTask, SteeringVector, next_word_logodds, perplexity,
                                     sentiment_score, steered_perplexity)


class CharTok:
    pad_token_id, eos_token_id = 0, 0
    def __call__(self, text, add_special_tokens=False): return {"input_ids": [3 + ord(c) % 37 for c in text]}


@pytest.fixture(scope="module")
def toy():
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                        num_attention_heads=2, num_key_value_heads=1,
                                        max_position_embeddings=32)).eval()


@settings(max_examples=20, deadline=None)
@given(vec=st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=32), min_size=1, max_size=64),
       meta=st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(st.integers(), st.text(max_size=10)),
                            max_size=4))
def test_vector_roundtrip(tmp_path_factory, vec, meta):
    sv = SteeringVector(torch.tensor(vec), "blocks.3.resid_post", "act_add", "m", meta)
    back = SteeringVector.load(sv.save(tmp_path_factory.mktemp("v") / "v.safetensors"))
    assert torch.equal(back.vector, sv.vector) and back.meta == meta and back.site == sv.site and back.layer == 3


def test_load_rejects_other_files(tmp_path):
    from safetensors.torch import save_file
    save_file({"weight": torch.zeros(3)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(ValueError, match="not a steering vector"): SteeringVector.load(tmp_path / "w.safetensors")
    with pytest.raises(FileNotFoundError): SteeringVector.load(tmp_path / "missing.safetensors")


def test_steer_restores_exactly_even_on_error(toy):
    tok = CharTok()
    m = ActAdd(layer=1).fit(toy, tok, ("I love", "I hate"))
    x = torch.tensor([tok("hello there")["input_ids"]])
    with torch.no_grad():
        base = toy(x).logits
        with pytest.raises(RuntimeError, match="inside"):
            with m.applied(toy, coeff=5.0):
                assert not torch.equal(toy(x).logits, base)
                raise RuntimeError("inside")
        assert torch.equal(toy(x).logits, base) and hooks_on(toy) == 0


@settings(max_examples=10, deadline=None)
@given(coeff=st.floats(-8, 8, allow_nan=False))
def test_added_vector_is_linear_in_coeff(coeff):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(1)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=1,
                                         max_position_embeddings=32)).eval()
    tok = CharTok()
    m = ActAdd(layer=0).fit(model, tok, ("good", "bad"))
    x = torch.tensor([tok("so so")["input_ids"]])
    with torch.no_grad():
        plain = ActivationsExtractor(model, ["blocks.0.resid_post"]).extract(x)["blocks.0.resid_post"]
        with m.applied(model, coeff=coeff):
            steered = ActivationsExtractor(model, ["blocks.0.resid_post"]).extract(x)["blocks.0.resid_post"]
    assert torch.allclose(steered - plain, (coeff * m.vector_.vector).expand_as(plain), atol=1e-4)


def test_repe_reads_a_planted_direction(toy):
    # statements that differ only in one character: the reading must separate the held-out pair the same way
    tok = CharTok()
    pos, neg = [f"x{i}a" for i in range(6)], [f"x{i}b" for i in range(6)]
    r = RepE(layer=1).fit(toy, tok, (pos, neg))
    s = r.read(toy, tok, ["y7a", "y7b"])
    assert s[0] > s[1]


def test_errors(toy):
    tok = CharTok()
    with pytest.raises(ValueError, match="out of range"): ActAdd(layer=2).fit(toy, tok, ("a", "b"))
    with pytest.raises(ValueError, match="contrast set is empty"): CAA(layer=0).fit(toy, tok, [])
    with pytest.raises(ValueError, match="contrast set is empty"): RepE(layer=0).fit(toy, tok, ([], []))
    with pytest.raises(ValueError, match="pairs statements by index"): RepE(layer=0).fit(toy, tok, (["a", "b"], ["c"]))
    bad = ActAdd.from_vector(SteeringVector(torch.ones(5), "blocks.0.resid_post"))
    with pytest.raises(ValueError, match="d_model is 16"):
        with bad.applied(toy): pass
    with pytest.raises(ValueError, match="prompt_len"):
        with ActAdd(layer=0, positions="after_prompt").fit(toy, tok, ("a", "b")).applied(toy): pass
    with pytest.raises(ValueError, match="scale must be"): ActAdd(layer=0, scale="unit").fit(toy, tok, ("a", "b"))
    with pytest.raises(ValueError, match="needs readouts"): SteeringTask("a", tok)
    assert hooks_on(toy) == 0


def test_metrics(toy):
    assert sentiment_score("love love hate") == pytest.approx(1 / 3)
    assert sentiment_score("") == 0.0
    tok = CharTok()
    with pytest.raises(ValueError, match="no tokens"): perplexity(toy, tok, [""])
    p = perplexity(toy, tok, ["hello"])
    assert 1.0 < p < 1e4
    # the prefix is context, not scored: scoring "lo" after "hel" differs from scoring "hello"
    assert perplexity(toy, tok, ["lo"], prefix="hel") != pytest.approx(p)


@pytest.mark.parametrize("cls", [ActAdd, CAA, RepE])
def test_contract(cls):
    assert check_contract(cls) == []
    m = cls(layer=1, coeff=2.0, scale="residual", positions="after_prompt", seed=3)
    assert m.get_params() == dict(layer=1, coeff=2.0, scale="residual", positions="after_prompt", seed=3)
    assert m.clone().get_params() == m.get_params() and not m.clone().is_fitted


def test_steer_returns_a_sweep_with_provenance(toy):
    tok = CharTok()
    m = ActAdd(layer=1).fit(toy, tok, ("I love", "I hate"))
    lo = next_word_logodds(["ab", "cd"], ["ef", "gh"])
    task = SteeringTask(["hello there", "so so"], tok, [-1, 0, 1], {"logodds": lo, "ppl": steered_perplexity()})
    res = m.steer(toy, task)
    assert isinstance(res, SweepResult) and res.data["coeff"] == [-1.0, 0.0, 1.0]
    assert res.method == "act_add" and res.params["layer"] == 1 and res.sites == ["blocks.1.resid_post"]
    assert res.data["ppl"][1] == pytest.approx(perplexity(toy, tok, task.prompts))   # coefficient 0 changes nothing
    assert res.meta["readouts"]["logodds"].startswith("next_word_logodds(")
    assert SweepResult.from_json(res.to_json()).equals(res)                          # provenance round-trips exactly
    assert hooks_on(toy) == 0
    # the verb neither refits nor changes hyper-parameters
    before = (m.get_params(), m.vector_.vector.clone())
    m.steer(toy, task)
    assert m.get_params() == before[0] and torch.equal(m.vector_.vector, before[1])


def test_steering_composes_with_other_interventions(toy):
    tok = CharTok()
    m = ActAdd(layer=1).fit(toy, tok, ("I love", "I hate"))
    x = torch.tensor([tok("hello there")["input_ids"]])
    with torch.no_grad():
        with intervene(toy, [m.intervention(3.0), Ablate("blocks.0.mlp.out")]): both = toy(x).logits
        with intervene(toy, [Ablate("blocks.0.mlp.out")]), m.applied(toy, 3.0): nested = toy(x).logits
        with m.applied(toy, 3.0): alone = toy(x).logits
    assert torch.allclose(both, nested, atol=1e-6) and not torch.allclose(both, alone)
    assert hooks_on(toy) == 0


def test_readout_errors_leave_no_hook(toy):
    tok = CharTok()
    m = ActAdd(layer=1).fit(toy, tok, ("I love", "I hate"))
    def broken(model, tokenizer, prompts, steered):
        with steered(): raise RuntimeError("read-out failed")
    with pytest.raises(RuntimeError, match="read-out failed"): m.steer(toy, SteeringTask("hi", tok, [1], {"b": broken}))
    assert hooks_on(toy) == 0
