"""Reflection design (§4.2-4.3) and baselines: exact discrete alignment vs brute force (T4)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac import autocorrelation as ac


@pytest.mark.parametrize("n,b", [(6, 1), (6, 2), (4, 3)])
def test_discrete_alignment_is_optimal(n, b):
    K = 2**b
    rng = np.random.default_rng(n + b)
    cs = rng.standard_normal((40, n)) + 1j * rng.standard_normal((40, n))
    cs[0, 2] = 0.0  # a zero coefficient is harmless
    vs = np.asarray(jax.jit(jax.vmap(lambda c: ac.align_discrete(c, b)))(jnp.asarray(cs)))
    alphabet = np.exp(1j * 2 * np.pi * np.arange(K) / K)
    allv = np.array(list(itertools.product(alphabet, repeat=n - 1)))
    allv = np.concatenate([allv, np.ones((len(allv), 1))], axis=1)  # v_N = 1 w.l.o.g.
    for c, v in zip(cs, vs):
        assert v[-1] == 1.0
        best = np.max(np.abs(np.conj(allv) @ c))
        assert np.abs(np.vdot(v, c)) >= best * (1 - 1e-12)
        assert np.allclose(np.min(np.abs(v[:, None] - alphabet[None, :]), axis=1), 0.0, atol=1e-12)
    if b == 1:
        assert np.isrealobj(vs)


def test_design_from_rank_one_matrices_reaches_upper_bound():
    rng = np.random.default_rng(0)
    h = rng.standard_normal(9) + 1j * rng.standard_normal(9)
    H = np.outer(h, np.conj(h))
    for b in (2, 3):
        v = ac.design_reflection(3.0 * H, b)
        assert float(ac.effective_gain(v, h)) == pytest.approx(float(ac.effective_gain(ac.upper_bound_reflection(h, b), h)), rel=1e-12)
    # b = 1: the real part suffices (rank-two surrogate, spec (61))
    v1 = ac.design_reflection(np.real(H), 1)
    assert float(ac.effective_gain(v1, h)) == pytest.approx(float(ac.effective_gain(ac.upper_bound_reflection(h, 1), h)), rel=1e-12)
    # continuous phases reach the continuous bound (sum |h_n|)^2, with v_N = 1
    vc = ac.design_reflection(H, None)
    assert complex(vc[-1]) == pytest.approx(1.0)
    assert float(ac.effective_gain(vc, h)) == pytest.approx(float(ac.continuous_bound(h)), rel=1e-12)
    # ordering UB(continuous) >= UB(b = 2) >= UB(b = 1)
    g = [float(ac.effective_gain(ac.upper_bound_reflection(h, b), h)) for b in (None, 2, 1)]
    assert g[0] >= g[1] >= g[2]


def test_csm_aligns_with_direct_path_in_the_large_sample_limit():
    # spec §4.4: E[p | u_n = e^{j phi}] is maximised at phi = arg(hbar_n conj(hbar_N))
    rng = np.random.default_rng(1)
    h = rng.standard_normal(5) + 1j * rng.standard_normal(5)
    V = np.asarray(ac.training_patterns(jax.random.key(0), 4000, 5, 2))
    q = np.asarray(ac.received_power(V, h))
    v = np.asarray(ac.csm_reflection(V, q, 2))
    k_expect = np.mod(np.round(np.angle(h[:-1] * np.conj(h[-1])) / (np.pi / 2)), 4)
    np.testing.assert_array_equal(np.mod(np.round(np.angle(v[:-1]) / (np.pi / 2)), 4), k_expect)
    assert v[-1] == 1.0
    r = np.asarray(ac.rms_reflection(V, q))
    assert float(ac.effective_gain(r, h)) == pytest.approx(q.max(), rel=1e-12)
