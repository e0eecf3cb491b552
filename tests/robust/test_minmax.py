"""The first-order min-max solver (MinMax) for the joint problems (10): never worse than Method 3 or the
nominal waveform in certified worst-case cost, sandwich certificates, the S-lemma dual form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import robust as rb
from jaxisac.core import Status
from jaxisac.core.manifolds.oblique import ComplexOblique
from jaxisac.kernels import robust as kr
from jaxisac.robust.minmax import _JointDualProblem, _ObliqueTimesLine

from .helpers import small_instance

P = 2.5


@pytest.fixture(scope="module")
def inst():
    _, Hb, S, R = small_instance(3, K=2, N=4, L=6)
    Xs = rb.random_sensing_waveform(jax.random.key(7), R, 6)
    return Hb, S, Xs


def _phi(Hb, S, Xs, rho, theta, X):
    wc = rb.worst_case_value(X, S, Hb, theta)
    return float(rho * wc + (1 - rho) * jnp.sum(jnp.abs(X - Xs) ** 2))


def test_dual_form_equals_worst_case_at_the_multiplier(inst):
    # psi(X, lam*) = phi(X) at the TRS multiplier, psi >= phi for every lam > q_max (weak duality)
    Hb, S, Xs = inst
    rho, theta = 0.9, 0.4
    X = Xs * jnp.sqrt(6 * P / jnp.sum(jnp.abs(Xs) ** 2)) + 0.1 * Hb[:1].T.conj() @ S[:1]  # some waveform
    man = ComplexOblique((1, 24), radius=1.0)
    scale = jnp.linalg.norm(X).astype(X.dtype)

    @jax.jit
    def check(ds):
        H, lam, _ = kr.worst_case_trs(X, S, Hb, theta)
        phi = rho * jnp.sum(jnp.abs(H @ X - S) ** 2) + (1 - rho) * jnp.sum(jnp.abs(X - Xs) ** 2)
        s_star = jnp.log(lam - jnp.linalg.eigvalsh(X @ X.conj().T)[-1])

        def psi(d):
            pr = _JointDualProblem(Hbar=Hb, S=S, X_s=Xs, rho=jnp.asarray(rho), radius=jnp.asarray(theta),
                                   x0=(X / scale).reshape(1, 24), s0=s_star + d, scale=scale,
                                   manifold=_ObliqueTimesLine(man))
            return -pr.objective(pr.initial_point())

        return phi, jax.vmap(psi)(ds)

    phi, vals = check(jnp.array([0.0, -2.0, -0.5, 0.5, 2.0]))
    phi, vals = float(phi), np.asarray(vals)
    np.testing.assert_allclose(vals[0], phi, rtol=1e-9)
    # the TRS value itself is the global maximum: no point of the ball (random samples) exceeds it
    D = jax.random.normal(jax.random.key(2), (2000,) + Hb.shape, Hb.dtype)
    D = theta * D / jnp.linalg.norm(D, axis=(1, 2), keepdims=True)
    wc = (phi - (1 - rho) * float(jnp.sum(jnp.abs(X - Xs) ** 2))) / rho
    assert float(jnp.max(jnp.sum(jnp.abs((Hb + D) @ X - S) ** 2, axis=(1, 2)))) <= wc * (1 + 1e-12)
    assert np.all(vals[1:] >= phi * (1 + 1e-6))  # strictly above away from the optimal multiplier

@pytest.mark.slow
def test_joint_minmax_tpc_never_worse_and_certified(inst):
    Hb, S, Xs = inst
    rhos = jnp.array([0.5, 0.95, 0.95])
    thetas = jnp.array([0.05, 0.3, 0.8])
    run = lambda r, t: jaxisac.solve(rb.JointProblem(Hb, S, Xs, P, r, t), rb.MinMax(), throw=False)
    sol = jax.jit(jax.vmap(run))(rhos, thetas)
    assert np.all(np.asarray(sol.result) == Status.SUCCESS)
    np.testing.assert_allclose(np.sum(np.abs(np.asarray(sol.value)) ** 2, axis=(1, 2)), 6 * P, rtol=1e-10)
    up, lo = np.asarray(sol.stats["upper"]), np.asarray(sol.stats["lower"])
    up3, upn = np.asarray(sol.stats["upper_method3"]), np.asarray(sol.stats["upper_nominal"])
    for i in range(3):  # the objective is the certified worst-case cost (independent TRS)
        np.testing.assert_allclose(up[i], _phi(Hb, S, Xs, float(rhos[i]), float(thetas[i]), sol.value[i]), rtol=1e-10)
    assert np.all(up <= np.minimum(up3, upn) * (1 + 1e-12))  # never worse than Method 3 or Xbar
    assert np.all(lo <= up * (1 + 1e-10))
    assert (up[0] - lo[0]) / lo[0] <= 1e-3  # tight certificate at small rho theta
    assert up[2] <= 0.995 * min(up3[2], upn[2])  # a real improvement where Method 3 fails
    assert up3[2] > upn[2]  # ... namely where Method 3 is worse than the nominal waveform
    # the certified lower bound lies below the certified cost of random feasible waveforms
    Z = jax.random.normal(jax.random.key(1), (500, 4, 6), jnp.complex128)
    Z = Z / jnp.linalg.norm(Z, axis=(1, 2), keepdims=True) * np.sqrt(6 * P)
    phis = jax.vmap(lambda X: 0.95 * rb.worst_case_value(X, S, Hb, 0.8) + 0.05 * jnp.sum(jnp.abs(X - Xs) ** 2))(Z)
    assert float(jnp.min(phis)) >= up[2] * (1 - 1e-12) and float(jnp.min(phis)) >= lo[2]
    # vmap == one at a time
    one = jax.jit(run)(rhos[1], thetas[1])
    np.testing.assert_allclose(one.objective, sol.objective[1], rtol=1e-10)


@pytest.mark.slow
def test_joint_minmax_papc_never_worse_and_certified(inst):
    Hb, S, Xs = inst
    for rho, theta in ((0.5, 0.05), (0.95, 0.8)):
        s = jaxisac.solve(rb.JointProblem(Hb, S, Xs, P, rho, theta, constraint="papc"), rb.MinMax(), throw=False)
        assert int(s.result) == Status.SUCCESS
        np.testing.assert_allclose(jnp.sum(jnp.abs(s.value) ** 2, axis=1), 6 * P / 4, rtol=1e-10)
        up = float(s.stats["upper"])
        np.testing.assert_allclose(up, _phi(Hb, S, Xs, rho, theta, s.value), rtol=1e-10)
        assert up <= min(float(s.stats["upper_method3"]), float(s.stats["upper_nominal"])) * (1 + 1e-12)
        lr = float(s.stats["lower_relaxed"])
        assert lr <= up * (1 + 1e-10) and lr <= float(s.stats["lower"]) * (1 + 1e-10)
        if theta < 0.1:
            assert (up - float(s.stats["lower"])) / up <= 1e-3
