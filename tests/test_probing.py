"""Tests of interp.methods.probing: metrics against hand and brute-force values, the three probes, streaming from a
store, cross-validation, control tasks, and clear errors for bad inputs."""
import itertools, os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np, pytest, torch
import torch.nn.functional as F
from interp.core.method import NotFittedError, check_contract, get_method
from interp.core.result import Result
from interp.methods.probing import (DiffMeansProbe, LogisticProbe, ProbeEvaluation, ProbeResult, RidgeProbe,
                                    StoreActivations, accuracy, auroc, control_labels, cross_validate, recall_at_fpr,
                                    selectivity, stratified_folds)
from interp.streams.bus import ActivationBus
from interp.streams.store import ActivationStore, StoreWriter

PROBES = (LogisticProbe, RidgeProbe, DiffMeansProbe)


def planted(n=200, d=16, shift=4.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = F.normalize(torch.randn(d, generator=g), dim=0)
    y = torch.arange(n) % 2
    return torch.randn(n, d, generator=g) + shift * y[:, None] * u, y, u


def brute_auroc(s, y):
    pos = [a for a, t in zip(s, y) if t]; neg = [a for a, t in zip(s, y) if not t]
    return np.mean([1.0 if p > q else 0.5 if p == q else 0.0 for p, q in itertools.product(pos, neg)])


def test_auroc_hand_example_and_ties():
    assert auroc([0.9, 0.4, 0.4, 0.4, 0.2], [1, 1, 1, 0, 0]) == pytest.approx(5 / 6)
    assert auroc([1, 1, 1, 1], [0, 1, 1, 0]) == 0.5
    assert auroc(np.array([0.1, 0.8]), np.array([True, False])) == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_auroc_matches_pairwise_count(seed):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 4, 30).astype(float)        # many ties
    y = rng.integers(0, 2, 30); y[:2] = [0, 1]
    assert auroc(s, y) == pytest.approx(brute_auroc(s, y))


def test_recall_at_fpr_and_accuracy():
    s, y = [0.9, 0.4, 0.4, 0.4, 0.2], [1, 1, 1, 0, 0]
    assert recall_at_fpr(s, y, 0.0) == pytest.approx(1 / 3)
    assert recall_at_fpr(s, y, 0.5) == 1.0
    assert accuracy([-1.0, 2.0, 0.5], [0, 1, 0]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match=r"fpr must be in \[0, 1\)"): recall_at_fpr(s, y, 1.0)


@pytest.mark.parametrize("cls", PROBES)
def test_contract_and_registry(cls):
    assert check_contract(cls) == []
    assert get_method(cls.registry_name()) is cls
    assert cls.family == "probing" and cls().clone().get_params() == cls().get_params()


@pytest.mark.parametrize("cls", PROBES)
def test_planted_direction_found(cls):
    X, y, u = planted()
    p = cls().fit(X[:150], y[:150])
    assert F.cosine_similarity(p.coef_, u, dim=0) > 0.8
    res = p.probe(X[150:])
    assert isinstance(res, ProbeResult) and res.method == cls.registry_name() and res.dims == ("example",)
    assert res.auroc(y[150:]) > 0.95
    assert (res.predict() == (res.data > 0).astype(int)).all()
    back = Result.from_json(res.to_json())
    assert back.equals(res)


@pytest.mark.parametrize("cls", PROBES)
def test_probe_is_affine_in_input_coordinates(cls):
    X, y, _ = planted()
    p = cls().fit(X, y)
    np.testing.assert_allclose(p.probe(X).data, (X @ p.coef_ + p.intercept_).numpy(), rtol=1e-5, atol=1e-5)


def test_string_classes_and_predict():
    X, y, _ = planted()
    names = np.where(y.numpy() == 1, "pos", "neg")
    p = LogisticProbe().fit(X, names)
    assert p.classes_ == ["neg", "pos"]
    assert set(p.probe(X).predict()) <= {"neg", "pos"}


def test_shuffled_labels_give_chance():
    X, y, _ = planted(n=300)
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(3))]
    ev = cross_validate(LogisticProbe(), X, shuffled, n_folds=5, seed=0)
    assert abs(ev.summary()["auroc"] - 0.5) < 0.12


def test_constant_features_tie_at_chance():
    X = torch.ones(20, 5); y = torch.arange(20) % 2
    for cls in (LogisticProbe, RidgeProbe):
        assert auroc(cls().fit(X, y).probe(X).data, y) == 0.5


def test_cross_validate_is_seeded_and_stratified():
    X, y, _ = planted()
    a = cross_validate(RidgeProbe(), X, y, n_folds=4, seed=1)
    b = cross_validate(RidgeProbe(), X, y, n_folds=4, seed=1)
    assert isinstance(a, ProbeEvaluation) and a.data == b.data and a.seed == 1
    assert set(a.data) == {"fold", "auroc", "accuracy", "recall@1%fpr", "recall@5%fpr"}
    f = stratified_folds(y, 4, seed=1)
    for k in range(4): assert abs(int(y[f == k].sum()) - int((1 - y[f == k]).sum())) <= 1
    assert not np.array_equal(f, stratified_folds(y, 4, seed=2))


def test_control_labels_and_selectivity():
    keys = ["a", "b", "a", "c", "d", "b"]
    c = control_labels(keys, seed=0)
    assert c[0] == c[2] and c[1] == c[5] and set(c.tolist()) == {0, 1}
    types = torch.randn(10, 32); keys = torch.arange(10).repeat(12)
    X = types[keys] + 0.01 * torch.randn(len(keys), 32); y = (types[keys, 0] > 0).long()
    sel = selectivity(LogisticProbe(l2=1e-4), X, y, keys, n_folds=4)
    task, control, gap = sel.data
    assert task == 1.0 and control > 0.9 and gap == pytest.approx(task - control)   # memorised word types


def _store(tmp_path, X, seq_len=10):
    n, d = X.shape
    store = ActivationStore.create(tmp_path / "acts", {"blocks.0.resid_post": d})
    writer = StoreWriter(store, shard_bytes=1000)   # one shard per step
    with ActivationBus() as bus:
        bus.subscribe(writer)
        for step in range(n // (5 * seq_len)):
            sl = slice(5 * seq_len * step, 5 * seq_len * (step + 1))
            bus.publish("blocks.0.resid_post", X[sl].reshape(5, seq_len, d), step=step,
                        seq_id=torch.arange(5 * step, 5 * step + 5), token_id=torch.zeros(5, seq_len, dtype=torch.long),
                        mask=torch.ones(5, seq_len, dtype=torch.bool))
    return ActivationStore(store.path)


@pytest.mark.parametrize("cls", PROBES)
def test_fit_from_store_equals_in_memory(tmp_path, cls):
    X, y, _ = planted(n=200)
    store = _store(tmp_path, X)
    assert len(store.shards) > 2
    src = StoreActivations(store, "blocks.0.resid_post")
    streamed, held = cls().fit(src, y), cls().fit(X, y)
    torch.testing.assert_close(streamed.coef_, held.coef_, rtol=1e-3, atol=1e-3)
    assert streamed.intercept_ == pytest.approx(held.intercept_, rel=1e-3, abs=1e-3)
    np.testing.assert_allclose(streamed.probe(src).data, held.probe(X).data, rtol=1e-3, atol=1e-3)
    assert streamed.probe(src).sites == ["blocks.0.resid_post"]


def test_store_rows_select_tokens(tmp_path):
    X, y, _ = planted(n=200)
    store = _store(tmp_path, X)
    idx = np.arange(0, 200, 3)
    sub = StoreActivations(store, "blocks.0.resid_post", rows=idx)
    assert len(sub) == len(idx)
    a, b = RidgeProbe().fit(sub, y[idx]), RidgeProbe().fit(X[idx], y[idx])
    torch.testing.assert_close(a.coef_, b.coef_, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="one entry per stored token"):
        StoreActivations(store, "blocks.0.resid_post", rows=np.ones(5, dtype=bool))
    with pytest.raises(KeyError, match="did you mean"): StoreActivations(store, "blocks.0.resid_pst")


@pytest.mark.parametrize("cls", PROBES)
def test_bad_inputs_name_the_fix(cls):
    X, y, _ = planted(n=40)
    with pytest.raises(NotFittedError, match=r"call \.fit\("): cls().probe(X)
    with pytest.raises(ValueError, match=r"x\[None\]"): cls().fit(X[0], y)
    with pytest.raises(ValueError, match="one label per example"): cls().fit(X, y[:-1])
    with pytest.raises(ValueError, match="both classes occur"): cls().fit(X, torch.ones(40))
    Xn = X.clone(); Xn[3, 2] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or infinite values, in rows \[3\]"): cls().fit(Xn, y)
    p = cls().fit(X, y)
    with pytest.raises(ValueError, match="probe the site it was fitted on"): p.probe(X[:, :5])
    with pytest.raises(ValueError, match="NaN"): p.probe(Xn)


def test_bad_hyper_parameters():
    X, y, _ = planted(n=40)
    with pytest.raises(TypeError, match="Did you mean 'l2'"): LogisticProbe(l3=1.0)
    with pytest.raises(ValueError, match="l2 must be >= 0"): RidgeProbe(l2=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="max_iter must be a positive int"): LogisticProbe(max_iter=0).fit(X, y)
    with pytest.raises(ValueError, match="lower n_folds"): cross_validate(RidgeProbe(), X[:6], [0, 0, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="two distinct keys"): control_labels([7, 7, 7])


def test_verbs_do_not_refit():
    X, y, _ = planted()
    p = LogisticProbe().fit(X, y)
    before = (p.coef_.clone(), p.intercept_, p.get_params())
    p.probe(X); cross_validate(p, X, y, n_folds=3)
    assert torch.equal(before[0], p.coef_) and before[1] == p.intercept_ and before[2] == p.get_params()
