"Property tests for interp.methods.fourier (Fourier basis of Z_p, Gini, restricted/excluded logits)."
import math, os
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import pytest, torch
from hypothesis import given, settings, strategies as st
from interp.methods.fourier import (fourier_basis, fourier_transform, frequency_norms, gini, xpy_directions,
                                    project_xpy, restricted_logits, excluded_logits, table_accuracy, table_loss,
                                    neuron_frequencies, key_frequencies)

odd = st.integers(1, 30).map(lambda k: 2 * k + 1)

@settings(max_examples=25, deadline=None)
@given(p=odd)
def test_basis_orthonormal(p):
    B, names = fourier_basis(p, dtype=torch.float64)
    assert B.shape == (p, p) and len(names) == p
    assert torch.allclose(B @ B.T, torch.eye(p, dtype=torch.float64), atol=1e-10)

@settings(max_examples=25, deadline=None)
@given(p=odd, seed=st.integers(0, 10_000))
def test_transform_is_invertible_and_norm_preserving(p, seed):
    x = torch.randn(p, 3, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    X = fourier_transform(x, dims=(0, 2))
    assert torch.allclose(X.norm(), x.norm())
    assert torch.allclose(fourier_transform(X, dims=(0, 2), inverse=True), x, atol=1e-10)
    # frequency norms + constant carry all the energy
    assert torch.allclose((frequency_norms(x, dim=0, include_const=True) ** 2).sum(), x.pow(2).sum())

@settings(max_examples=40, deadline=None)
@given(v=st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=50).filter(lambda v: sum(v) > 1e-6))
def test_gini_bounds(v):
    g = gini(torch.tensor(v, dtype=torch.float64))
    n = len(v)
    assert -1e-9 <= g <= (n - 1) / n + 1e-9
    assert abs(gini(torch.tensor(v, dtype=torch.float64) * 3.5) - g) < 1e-9  # scale invariant

def test_gini_rejects_all_zero():
    with pytest.raises(ValueError, match="non-zero"): gini(torch.zeros(4))

@settings(max_examples=20, deadline=None)
@given(p=st.sampled_from([5, 7, 11, 13]), seed=st.integers(0, 1000), data=st.data())
def test_restricted_plus_excluded_reconstructs(p, seed, data):
    freqs = data.draw(st.lists(st.integers(1, (p - 1) // 2), min_size=1, max_size=(p - 1) // 2, unique=True))
    L = torch.randn(p, p, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    proj = project_xpy(L, freqs)
    assert torch.allclose(project_xpy(proj, freqs), proj, atol=1e-9)  # a projection
    assert torch.allclose(excluded_logits(L, freqs) + proj, L, atol=1e-9)
    mean = L.mean((0, 1), keepdim=True)
    assert torch.allclose(restricted_logits(L, freqs), mean + project_xpy(L - mean, freqs), atol=1e-9)

def test_ideal_algorithm_is_its_own_restriction():
    p, keys = 17, [3, 7]
    a = torch.arange(p, dtype=torch.float64)
    ideal = sum(torch.cos(2 * math.pi * k / p * (a[:, None, None] + a[None, :, None] - a)) for k in keys) * 5
    assert table_accuracy(ideal) == 1.0
    assert torch.allclose(restricted_logits(ideal, keys), ideal, atol=1e-9)
    assert table_loss(excluded_logits(ideal, keys)) == pytest.approx(math.log(p), abs=1e-6)  # exactly chance
    assert table_loss(restricted_logits(ideal, [1])) > 0.9 * math.log(p)  # wrong frequencies: near chance

def test_neuron_clusters_recover_planted_frequencies():
    p = 23
    a = torch.arange(p, dtype=torch.float64)
    A, B = a[:, None], a[None, :]
    planted = [4, 4, 9, 9, 9, 11]
    acts = torch.stack([torch.relu(torch.cos(2 * math.pi * k / p * (A + B) + i)) for i, k in enumerate(planted)], -1)
    freq, frac = neuron_frequencies(acts)
    assert freq.tolist() == planted and (frac > 0.8).all()  # ReLU puts ~16% into harmonics
    keys, sizes, _ = key_frequencies(acts, threshold=0.8, min_neurons=2)
    assert keys == [4, 9] and sizes == {4: 2, 9: 3}

def test_bad_shapes_name_the_fix():
    with pytest.raises(ValueError, match="odd"): fourier_basis(10)
    with pytest.raises(ValueError, match=r"\[p, p, n_neurons\]"): neuron_frequencies(torch.zeros(5, 4, 3))
    with pytest.raises(ValueError, match="out of range"): xpy_directions(7, [4])
