"Subspaces: algebraic properties of PCA / Basis projections (hypothesis) and width errors."
import numpy as np, pytest, torch
from hypothesis import given, settings, strategies as st
from interp.repr.subspace import PCA, Basis

@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 40), d=st.integers(2, 12), k=st.integers(1, 12))
def test_projection_properties(seed, n, d, k):
    k = min(k, n, d)
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 3 + 1
    pca = PCA(n_components=k).fit(X)
    C = pca.components_
    assert torch.allclose(C @ C.T, torch.eye(k, dtype=C.dtype), atol=1e-8)
    R, O = pca.reconstruct(X), pca.project_out(X)
    assert torch.allclose(R + O - pca.mean_, X, atol=1e-8)                        # reconstruction + residual = input
    assert torch.allclose(pca.transform(O), torch.zeros(n, k, dtype=X.dtype),
                          atol=1e-8)   # nothing left in the subspace
    assert torch.allclose(pca.reconstruct(R), R, atol=1e-8)                       # projection is idempotent
    assert np.all(np.diff(pca.explained_variance_.numpy()) <= 1e-9)               # sorted spectrum
    if k == min(n, d) and n > d:
        assert torch.allclose(R, X, atol=1e-8)                                    # full rank: exact

@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 5), d=st.integers(5, 10))
def test_basis_orthonormal_and_spans(seed, k, d):
    V = torch.randn(k, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    b = Basis(vectors=V).fit()
    assert torch.allclose(b.components_ @ b.components_.T, torch.eye(k, dtype=torch.float64), atol=1e-8)
    assert torch.allclose(b.reconstruct(V), V, atol=1e-8)                         # the given vectors lie in the span

def test_wrong_width_and_dependent_vectors():
    with pytest.raises(ValueError, match="have width 7"):
        Basis(vectors=torch.randn(2, 5)).fit().transform(torch.randn(3, 7))
    with pytest.raises(ValueError, match="linearly dependent"):
        v = torch.randn(5); Basis(vectors=torch.stack([v, -3 * v])).fit()
    with pytest.raises(ValueError, match="not orthonormal"):
        Basis(vectors=torch.randn(2, 5), orthonormalize=False).fit()
    pca = PCA(n_components=2).fit(np.random.default_rng(0).normal(size=(30, 6)))
    assert isinstance(pca.transform(np.ones((2, 6))), np.ndarray)
    with pytest.raises(ValueError, match="components, coordinates have width 3"):
        pca.inverse(torch.zeros(1, 3))

def test_decompose_uses_the_fitted_state():
    "decompose never refits: on other data it reports the variance along the directions fitted first."
    X = torch.randn(50, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pca = PCA(n_components=2).fit(X)
    C = pca.components_.clone()
    assert np.allclose(pca.decompose(X).data, pca.explained_variance_.numpy())
    Y = torch.randn(30, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 5
    spec = pca.decompose(Y)
    assert torch.equal(pca.components_, C)
    assert np.allclose(spec.data, (Y @ C.T).var(0).numpy())
    with pytest.raises(ValueError, match="not fitted"):
        PCA().decompose(X)
    with pytest.raises(ValueError, match="not fitted"):
        Basis(vectors=torch.eye(4)[:2]).decompose(X)
