"""Seed 001 building blocks: generator (T1), proximal maps (T5), the closed-form dual update (T6),
the spectral-map derivative, input validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac.crb as C
from jaxisac.kernels import crb as K


def test_generator_fingerprint_T1():
    p = C.make_instance(0, 16, 8)
    H = np.asarray(p.H)
    assert H[0, 0] == 0.08890469193522228 - 0.4020251744677081j
    assert H[1, 0] == -0.4976159573990385 + 0.9915509680302299j
    assert H[0, 1] == -0.09341224466100137 - 0.7281817014139076j
    assert H[15, 7] == 0.1827537210711624 + 0.6029842261895384j
    assert abs(np.sum(np.abs(H) ** 2) - 131.04596162699366) <= 1e-12
    assert float(p.power) == pytest.approx(100.0) and float(p.noise_var) == pytest.approx(1.0)
    np.testing.assert_allclose(p.sinr_targets, 10.0)


def test_validation_names_the_argument():
    H = np.asarray(C.make_instance(0, 8, 4).channels)
    with pytest.raises(ValueError, match="channels"):
        C.ExtendedTargetCRB(H.T, 10.0, 100.0, 1.0)  # N_t <= K after the transpose
    with pytest.raises(ValueError, match="sinr_targets"):
        C.ExtendedTargetCRB(H, -1.0, 100.0, 1.0)
    with pytest.raises(ValueError, match="sinr_targets"):
        C.ExtendedTargetCRB(H, np.ones(3), 100.0, 1.0)
    with pytest.raises(ValueError, match="power"):
        C.ExtendedTargetCRB(H, 10.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="noise_var"):
        C.ExtendedTargetCRB(H, 10.0, 100.0, -1.0)
    with pytest.raises(ValueError, match="channels"):
        C.ExtendedTargetCRB(np.where(np.isfinite(H), H, 0) * np.nan, 10.0, 100.0, 1.0)
    with pytest.raises(ValueError, match="rank"):
        C.ExtendedTargetCRB(np.stack([H[0], H[0], H[2], H[3]]), 10.0, 100.0, 1.0)
    p32 = C.ExtendedTargetCRB(H.astype(np.complex64), 10.0, 100.0, 1.0)
    assert p32.power.dtype == jnp.float32 and p32.sinr_targets.dtype == jnp.float32


_xproj = jax.jit(jax.vmap(K.capped_simplex_values))
_yprox = jax.jit(jax.vmap(K.cubic_prox_values))
_zprox = jax.jit(jax.vmap(K.zprox_values))


def test_prox_operators_satisfy_their_optimality_conditions_T5():
    rng = np.random.default_rng(1)
    n, k = 400, 6
    scale = 10 ** rng.uniform(-1, 2.5, (n, 1))
    lam = rng.standard_normal((n, k)) * scale
    tau = 10 ** rng.uniform(-3, 3, n)
    P = 10 ** rng.uniform(0, 2.5, n)
    c = rng.integers(1, 100, n).astype(float)
    # X: projection onto {x >= 0, sum x <= P}: x = max(lam - nu, 0), nu >= 0, nu (P - sum x) = 0
    x, _ = _xproj(lam, P)
    x, lam_ = np.asarray(x), lam
    assert np.all(x >= 0) and np.all(x.sum(1) <= P * (1 + 1e-12))
    nu = np.where(x > 0, lam_ - x, np.nan)
    nu_row = np.nanmax(np.where(np.isnan(nu), -np.inf, nu), axis=1)
    has = np.isfinite(nu_row)
    with np.errstate(all="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        spread = np.nanmax(nu, 1) - np.nanmin(nu, 1)
    assert np.all(spread[has] <= 1e-11 * (1 + np.abs(lam_).max(1)[has]))
    assert np.all(nu_row[has] >= -1e-11 * (1 + np.abs(lam_).max(1)[has]))
    slack = P - x.sum(1)
    assert np.all(np.minimum(np.abs(slack) / P, np.abs(np.maximum(nu_row, 0)) / (1 + np.abs(lam_).max(1))) <= 1e-11)
    # Y: y^3 - lam y^2 - tau = 0, y > 0
    y, _ = _yprox(lam, tau)
    y = np.asarray(y)
    assert np.all(y > 0)
    res = (y**3 - lam * y**2 - tau[:, None]) / (y**3 + np.abs(lam) * y**2 + tau[:, None])
    assert np.max(np.abs(res)) <= 1e-12
    # Z: z = max(lam - nu, 0) with sqrt(nu) (P - sum z) = sqrt(tau) c, sum z < P
    z, _ = _zprox(lam, (tau, c, P))
    z = np.asarray(z)
    s = P - z.sum(1)
    assert np.all(s > 0)
    nu = tau * c**2 / s**2
    np.testing.assert_allclose(z, np.maximum(lam - nu[:, None], 0), rtol=0, atol=1e-10 * (1 + np.abs(lam).max()))
    # exact piecewise-cubic root == bisection on phi(nu) = sqrt(nu) s(nu) - sqrt(tau) c
    lo, hi = np.zeros(n), np.maximum(lam.max(1), tau * c**2 / P**2) + 1
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        phi = np.sqrt(mid) * (P - np.maximum(lam - mid[:, None], 0).sum(1)) - np.sqrt(tau) * c
        lo, hi = np.where(phi < 0, mid, lo), np.where(phi < 0, hi, mid)
    np.testing.assert_allclose(nu, 0.5 * (lo + hi), rtol=1e-9)


def test_zprox_avoids_the_spurious_roots_of_the_printed_equation_A3():
    z, _ = K.zprox_values(jnp.array([200.0]), (jnp.asarray(1.0), jnp.asarray(1.0), jnp.asarray(100.0)))
    nu = 200.0 - float(z[0])
    assert nu == pytest.approx(100.09995, rel=1e-7)  # the valid root; (23) also vanishes near 1e-4
    assert float(z[0]) == pytest.approx(99.90005, rel=1e-7)


def _dense_D(Ht, rho):
    """Dense D of (14) with column-major vec (x = [vec X_1; ...; vec X_K], y, z)."""
    k = Ht.shape[0]
    k2 = k * k
    vec = lambda M: M.reshape(-1, order="F")  # noqa: E731
    Q = [np.outer(Ht[:, i], Ht[:, i].conj()) for i in range(k)]
    D = np.zeros((k + 2 * k2, k * k2 + 2 * k2), complex)
    for i in range(k):
        D[i, i * k2 : (i + 1) * k2] = rho[i] * vec(Q[i]).conj()
        D[i, k * k2 : k * k2 + k2] = -vec(Q[i]).conj()
        D[k : k + k2, i * k2 : (i + 1) * k2] = np.eye(k2)
    D[k : k + k2, k * k2 : k * k2 + k2] = -np.eye(k2)
    D[k + k2 :, k * k2 : k * k2 + k2] = np.eye(k2)
    D[k + k2 :, k * k2 + k2 :] = -np.eye(k2)
    return D


@pytest.mark.parametrize("k", [2, 3])
def test_closed_form_dual_update_equals_dense_inverse_T6(k):
    p = C.make_instance(11, 7, k)
    rho = 1 + 1 / p.sinr_targets
    delta, tau = 1e-4, 0.7
    _, d = K.preprocess(p.H, rho, p.noise_var, p.power, delta)
    Ht = np.asarray(d.Ht)
    D = _dense_D(Ht, np.asarray(rho))
    assert np.linalg.matrix_rank(D) == k + 2 * k * k
    rng = np.random.default_rng(k)
    herm = lambda: (lambda A: A + A.conj().T)(rng.standard_normal((k, k)) + 1j * rng.standard_normal((k, k)))  # noqa: E731
    r, R1, R2 = rng.standard_normal(k), herm(), herm()
    pvec = np.concatenate([r, R1.reshape(-1, order="F"), R2.reshape(-1, order="F")])
    lam = np.linalg.solve(D @ D.conj().T + delta * np.eye(D.shape[0]), pvec) / tau
    # closed form (26)-(28), as in kernels.crb.rbal_step
    d1 = np.real(np.einsum("ik,ij,jk->k", Ht.conj(), R1, Ht))
    d2 = np.real(np.einsum("ik,ij,jk->k", Ht.conj(), R2, Ht))
    L = np.asarray(d.Lchol) @ np.asarray(d.Lchol).T
    dmu = np.linalg.solve(tau * L, r + np.asarray(d.th1) * d1 + np.asarray(d.th2) * d2)
    kap, al, be = float(d.kappa), float(d.alpha), float(d.beta)
    dO1 = (kap * be * R1 + kap * R2) / tau + (Ht * (np.asarray(d.th1) * dmu)) @ Ht.conj().T
    dO2 = (kap * R1 + kap * al * R2) / tau + (Ht * (np.asarray(d.th2) * dmu)) @ Ht.conj().T
    k2 = k * k
    scale = np.abs(lam).max()
    assert np.max(np.abs(lam[:k] - dmu)) <= 1e-12 * scale
    assert np.max(np.abs(lam[k : k + k2] - dO1.reshape(-1, order="F"))) <= 1e-12 * scale
    assert np.max(np.abs(lam[k + k2 :] - dO2.reshape(-1, order="F"))) <= 1e-12 * scale


def test_spectral_map_jvp_matches_finite_differences_and_is_finite_at_repeated_eigenvalues():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    A = A + A.conj().T
    dA = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    dA = dA + dA.conj().T
    f = lambda A: K.spectral_map(lambda l, p: K.cubic_prox_values(l, p), A, jnp.asarray(0.3))  # noqa: E731
    _, t = jax.jvp(f, (jnp.asarray(A),), (jnp.asarray(dA),))
    eps = 1e-6
    fd = (f(jnp.asarray(A + eps * dA)) - f(jnp.asarray(A - eps * dA))) / (2 * eps)
    np.testing.assert_allclose(t, fd, rtol=1e-6, atol=1e-8)
    # at A = 0 (all eigenvalues equal) the derivative is the divided-difference limit, finite
    g = lambda A: K.spectral_map(lambda l, p: K.capped_simplex_values(l, p), A, jnp.asarray(5.0))  # noqa: E731
    _, t0 = jax.jvp(g, (jnp.zeros((4, 4), complex),), (jnp.asarray(dA),))
    assert np.all(np.isfinite(np.asarray(t0)))
    fd0 = (g(jnp.asarray(1e-7 * dA)) - g(jnp.zeros((4, 4), complex))) / 1e-7
    # one-sided: the projection is positively homogeneous near 0 only on the PSD part of dA
    lam, U = np.linalg.eigh(dA)
    np.testing.assert_allclose(fd0, (U * np.maximum(lam, 0)) @ U.conj().T, atol=1e-6)
