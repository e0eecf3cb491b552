"""Sensing helpers: MMSE covariance fit vs CVXPY, cyclic-algorithm PAR bound; detection (Table III)."""

import cvxpy as cp
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac import robust as rb
from jaxisac.robust import sensing
from jaxisac.scenarios.arrays import ula_steering


@pytest.mark.oracle
def test_mmse_covariance_matches_cvxpy():
    N, M = 8, 60
    ang = jnp.linspace(-np.pi / 2, np.pi / 2, M)
    P = sensing.desired_beampattern(ang, jnp.deg2rad(jnp.array([-45.0, 45.0])), np.deg2rad(10.0))
    R = sensing.mmse_covariance(ang, P, N, 2.5)
    np.testing.assert_allclose(np.real(np.diag(R)), 2.5 / N, rtol=1e-10)
    assert np.linalg.eigvalsh(np.asarray(R)).min() > -1e-10
    A = np.asarray(ula_steering(N, ang, reference="centre", dtype=jnp.complex128))
    w, Pn = np.cos(np.asarray(ang)), np.asarray(P)

    def cost(Rn):
        g = np.real(np.einsum("mi,ij,mj->m", A.conj(), Rn, A))
        a = np.sum(w * Pn * g) / np.sum(w * Pn**2)
        return np.sum(w * (a * Pn - g) ** 2)

    Rv, a = cp.Variable((N, N), hermitian=True), cp.Variable()
    G = np.stack([np.outer(A[m], A[m].conj()) for m in range(M)])  # a^H R a = tr(R a a^H)
    g = cp.hstack([cp.real(cp.trace(Rv @ G[m])) for m in range(M)])
    prob = cp.Problem(cp.Minimize(cp.sum(cp.multiply(w, cp.square(a * Pn - g)))), [Rv >> 0, cp.real(cp.diag(Rv)) == 1])
    prob.solve(solver=cp.CLARABEL)
    np.testing.assert_allclose(cost(np.asarray(R) * N / 2.5), prob.value, rtol=1e-5)


def test_cyclic_waveform_par_and_covariance():
    N, L = 6, 12
    Z = jax.random.normal(jax.random.key(0), (N, N), jnp.complex128)
    R = Z @ Z.conj().T / N + 0.5 * jnp.eye(N)
    R = R * (2.5 / N) / jnp.mean(jnp.real(jnp.diag(R)))
    X = sensing.cyclic_waveform(jax.random.key(1), R, L, par_max=1.1, max_steps=100)
    assert float(jnp.max(sensing.par(X))) <= 1.1 + 1e-9
    np.testing.assert_allclose(jnp.sum(jnp.abs(X) ** 2, axis=1), L * jnp.real(jnp.diag(R)), rtol=1e-9)
    # covariance matched much better than a random waveform with the same row powers
    Xr = jax.random.normal(jax.random.key(2), (N, L), jnp.complex128)
    Xr = Xr * jnp.sqrt(L * jnp.real(jnp.diag(R)))[:, None] / jnp.linalg.norm(Xr, axis=1, keepdims=True)
    assert float(rb.covariance_error(X, R)) < 0.5 * float(rb.covariance_error(Xr, R))
    with pytest.raises(ValueError, match="par_max"):
        sensing.cyclic_waveform(jax.random.key(1), R, L, par_max=0.5)
