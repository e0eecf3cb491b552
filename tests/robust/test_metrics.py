"""Metrics, the closed form (29), the value function f(H) and its bounds (spec targets 1, 9, 14)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from jaxisac import robust as rb
from jaxisac.core import ascent_grad

from .helpers import paper_scenario, random_semi_unitary, small_instance


def test_aasr_matches_equations_3_4_without_conjugate():
    _, H, S, R = small_instance(1)
    X = rb.sensing_centric_waveform(H, S, R)
    Hn, Xn, Sn = map(np.asarray, (H, X, S))
    L = Sn.shape[1]
    rates = []
    for k in range(Hn.shape[0]):
        mui_k = sum(abs(Hn[k] @ Xn[:, l] - Sn[k, l]) ** 2 for l in range(L)) / L  # h_k^T x_l, no conj
        sig = sum(abs(Sn[k, l]) ** 2 for l in range(L)) / L
        rates.append(np.log2(1 + sig / (mui_k + 0.25)))
    np.testing.assert_allclose(rb.aasr(H, X, S, 0.25), np.mean(rates), rtol=1e-12)
    np.testing.assert_allclose(rb.sinr(H, X, S, 0.25), 2 ** np.array(rates) - 1, rtol=1e-12)
    assert float(rb.aasr(H, X, S, 0.25)) > float(rb.aasr(H.conj(), X, S, 0.25)) - 10  # finite, real
    # maximal AASR for |s|^2 = 2.5, N0 = 0.25 is log2(11) (zero MUI)
    np.testing.assert_allclose(rb.aasr(H, jnp.linalg.pinv(H) @ S, S, 0.25), np.log2(11), rtol=1e-10)


def test_detection_probability_matches_scipy_noncentral_chi2():
    sc = paper_scenario(0)
    for ang in (-np.pi / 4, 0.3):
        pd = float(rb.detection_probability(sc.X_s, ang, 2.0, pfa=1e-3))
        g = float(rb.beampattern(sc.X_s @ sc.X_s.conj().T / 30, ang)) * 4 * np.pi
        delta = 0.81 * g**2 / 2.0
        thr = scipy.stats.chi2.ppf(1 - 1e-3, 2)
        np.testing.assert_allclose(pd, scipy.stats.ncx2.sf(thr, 2, delta), rtol=1e-8, atol=1e-12)
    # large non-centrality (the paper's N0 = 0.25) stays finite and in [0, 1]
    pds = np.asarray(jax.vmap(lambda a: rb.detection_probability(sc.X_s, a, 0.25))(jnp.linspace(-1.5, 1.5, 7)))
    assert np.all((pds >= 0) & (pds <= 1))


def test_closed_form_feasible_optimal_and_nuclear_norm_formula():
    _, H, S, R = small_instance(2, K=2, N=4, L=6)
    X = rb.sensing_centric_waveform(H, S, R)
    L = S.shape[1]
    np.testing.assert_allclose(X @ X.conj().T, L * R, atol=1e-10 * float(jnp.linalg.norm(L * R)))
    f = float(rb.value_function(H, S, R))
    np.testing.assert_allclose(float(rb.mui(H, X, S)), f, rtol=1e-10)
    # no feasible X = sqrt(L) F A (A random semi-unitary) does better: 10^4 draws
    F = np.linalg.cholesky(np.asarray(R))
    A = random_semi_unitary(np.random.default_rng(0), 4, L, 10_000)
    Xs = np.sqrt(L) * F @ A
    vals = np.sum(np.abs(np.asarray(H) @ Xs - np.asarray(S)) ** 2, axis=(1, 2))
    assert vals.min() >= f * (1 - 1e-12)


def test_value_function_bounds_and_lipschitz():
    _, Hb, S, R = small_instance(3)
    Xbar = rb.sensing_centric_waveform(Hb, S, R)
    theta = 0.2
    rng = np.random.default_rng(1)
    D = rng.standard_normal((200,) + Hb.shape) + 1j * rng.standard_normal((200,) + Hb.shape)
    D = D / np.linalg.norm(D, axis=(1, 2), keepdims=True) * theta * rng.uniform(0, 1, (200, 1, 1))
    Hs = jnp.asarray(np.asarray(Hb) + D)
    f = jax.vmap(lambda H: rb.value_function(H, S, R))(Hs)
    fu = jax.vmap(lambda H: rb.upper_bound(H, Xbar, S))(Hs)
    fl = jax.vmap(lambda H: rb.lower_bound(H, S, R))(Hs)
    assert np.all(np.asarray(fl) <= np.asarray(f) + 1e-9)
    assert np.all(np.asarray(f) <= np.asarray(fu) + 1e-9)
    np.testing.assert_allclose(rb.value_function(Hb, S, R), rb.upper_bound(Hb, Xbar, S), rtol=1e-10)
    Lf = float(rb.lipschitz_constant(Hb, S, 2.5, theta))
    assert float(jnp.max(fu - f)) <= 2 * Lf * theta


def test_value_function_gradient_matches_finite_differences():
    _, H, S, R = small_instance(4)
    f = lambda H: rb.value_function(H, S, R)
    g = np.asarray(ascent_grad(f)(H))
    rng = np.random.default_rng(2)
    for _ in range(3):
        dH = rng.standard_normal(H.shape) + 1j * rng.standard_normal(H.shape)
        h = 1e-6
        fd = (float(f(H + h * dH)) - float(f(H - h * dH))) / (2 * h)
        np.testing.assert_allclose(np.sum(np.real(np.conj(g) * dH)), fd, rtol=1e-6)


def test_example1_f_is_neither_convex_nor_concave():
    # Prop. 2 / Example 1: scalar case Hbar = 0.9 + 0.5j, R = 1, S = 1 + 1j.
    S = jnp.array([[1 + 1j]])
    R = jnp.array([[1.0 + 0j]])
    rng = np.random.default_rng(0)
    n = 1000
    z = lambda: (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)
    H1 = 0.9 + 0.5j + 0.05 * z()
    H2 = 0.9 + 0.5j + 0.05 * z()
    f = jax.vmap(lambda h: rb.value_function(jnp.reshape(h, (1, 1)), S, R))
    mid = np.asarray(f(jnp.asarray((H1 + H2) / 2)))
    avg = 0.5 * (np.asarray(f(jnp.asarray(H1))) + np.asarray(f(jnp.asarray(H2))))
    assert np.any(mid > avg + 1e-12)  # convexity violated
    assert np.any(mid < avg - 1e-12)  # concavity violated


def test_beampattern_and_covariance_error():
    sc = paper_scenario(0)
    ang = jnp.linspace(-np.pi / 2, np.pi / 2, 9)
    Xbar = rb.sensing_centric_waveform(sc.H_nominal, sc.S, sc.R)
    B1 = rb.beampattern(sc.X_s @ sc.X_s.conj().T / 30, ang)
    B2 = rb.beampattern(Xbar @ Xbar.conj().T / 30, ang)
    np.testing.assert_allclose(B1, B2, rtol=1e-10)
    assert float(rb.covariance_error(Xbar, sc.R)) < 1e-10
    # omnidirectional covariance gives a flat pattern N P_T / N / (4 pi)
    np.testing.assert_allclose(rb.beampattern(2.5 / 16 * jnp.eye(16), ang), 2.5 / (4 * np.pi), rtol=1e-12)


def test_validation_errors_name_the_argument():
    _, H, S, R = small_instance(0)
    with pytest.raises(ValueError, match="S"):
        rb.aasr(H, jnp.zeros((4, 6)), S[:, :3], 0.25)
    with pytest.raises(ValueError, match="noise_var"):
        rb.aasr(H, jnp.zeros((4, 6)), S, -1.0)
    with pytest.raises(ValueError, match="R"):
        rb.sensing_centric_waveform(H, S, -R)
    with pytest.raises(ValueError, match="H"):
        rb.sensing_centric_waveform(H.at[0, 0].set(jnp.nan), S, R)
    with pytest.raises(ValueError, match="theta"):
        rb.worst_case_channel(jnp.zeros((4, 6)), S, H, -0.1)
    with pytest.raises(ValueError, match="budget"):
        rb.worst_case_channel(jnp.zeros((4, 6)), S, H, 0.1, budget=2.0)
    with pytest.raises(ValueError, match="pfa"):
        rb.detection_probability(jnp.ones((4, 6)), 0.0, 1.0, pfa=2.0)
