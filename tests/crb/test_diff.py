"""Derivatives of the CRB optimum (seed 001): envelope theorem (T15), implicit function theorem on
the KKT system (T16, forward and reverse mode), unrolled R-BAL; all against finite differences of
re-solves, on REG-A (N_t = 16, K = 8, the active regime S-A)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
import jaxisac.crb as C

SOLVER = C.RBAL()
BASE = C.make_instance(0, 16, 8)
rng = np.random.default_rng(7)
DIR = jnp.asarray(rng.standard_normal((8, 16)) + 1j * rng.standard_normal((8, 16)))  # channel direction


def _prob(theta):
    """theta = [sigma^2, P_T, Gamma_2, t]: channels + t DIR."""
    g = BASE.sinr_targets.at[2].set(theta[2])
    return C.ExtendedTargetCRB(BASE.channels + theta[3] * DIR, g, theta[1], theta[0])


THETA = jnp.array([1.0, 100.0, 10.0, 0.0])


def _fd(fun, i, rel=1e-6):
    h = rel * max(abs(float(THETA[i])), 1.0)
    e = jnp.zeros(4).at[i].set(h)
    return (fun(THETA + e) - fun(THETA - e)) / (2 * h)


def _resolve_crb(theta):
    return np.asarray(jaxisac.solve(_prob(theta), SOLVER).objective)


def test_envelope_gradients_T15():
    jac = jax.jit(jax.jacfwd(lambda th: C.optimal_crb(_prob(th), SOLVER)))(THETA)
    jac = np.asarray(jac)
    assert jac[0] == pytest.approx(2.644679001e-2, rel=1e-8)  # sum mu (spec §9.7)
    assert jac[1] == pytest.approx(-2.637639593e-2, rel=1e-8)  # -omega
    for i in range(4):
        assert jac[i] == pytest.approx(float(_fd(_resolve_crb, i)), rel=2e-5, abs=1e-10), i


@pytest.mark.slow
def test_envelope_reverse_mode():
    jac = np.asarray(jax.jit(jax.jacfwd(lambda th: C.optimal_crb(_prob(th), SOLVER)))(THETA))
    grad = jax.grad(lambda th: C.optimal_crb(_prob(th), SOLVER))(THETA)
    np.testing.assert_allclose(np.asarray(grad), jac, rtol=1e-10)


def _kkt_outputs(theta):
    o = C.optimal_solution(_prob(theta), SOLVER)
    return jnp.concatenate([jnp.sum(jnp.abs(o.W) ** 2)[None], o.mu, jnp.abs(o.W[:2, 0])])


@pytest.mark.slow
def test_implicit_derivatives_T16_forward():
    out = np.asarray(_kkt_outputs(THETA))
    jac = np.asarray(jax.jit(jax.jacfwd(_kkt_outputs))(THETA))
    assert jac[0, 0] == pytest.approx(0.5912831860, rel=1e-7)  # d tr R~ / d sigma^2 (spec §9.7)
    assert jac[0, 1] == pytest.approx(0.5015009459, rel=1e-8)  # d tr R~ / d P_T
    np.testing.assert_allclose(jac[1:9, 0], [0.002257, 0.00155, 0.001093, 0.001156, 0.001046, 0.00144, 0.001008, 0.000878], rtol=2e-3)

    def resolve(theta):
        sol = jaxisac.solve(_prob(theta), SOLVER)
        W = sol.value.W
        return np.concatenate([[np.sum(np.abs(W) ** 2)], np.asarray(sol.stats["mu"]), np.abs(np.asarray(W[:2, 0]))])

    np.testing.assert_allclose(resolve(THETA), out, rtol=1e-9)
    for i in range(4):
        fd = _fd(resolve, i)
        np.testing.assert_allclose(jac[:, i], fd, rtol=1e-4, atol=1e-7 * np.abs(fd).max())
    assert bool(C.optimal_solution(BASE, SOLVER).smooth)


@pytest.mark.slow
def test_implicit_derivatives_reverse_mode():
    jac = np.asarray(jax.jit(jax.jacfwd(_kkt_outputs))(THETA))
    g = jax.grad(lambda th: _kkt_outputs(th)[0] + 10 * _kkt_outputs(th)[-1])(THETA)
    np.testing.assert_allclose(np.asarray(g), jac[0] + 10 * jac[-1], rtol=1e-7)


@pytest.mark.slow
def test_solution_tangents_are_nan_flagged_on_the_isotropic_branch():
    iso = C.make_instance(0, 16, 8, sinr_db=0.0)  # Löwdin branch
    f = lambda P: C.optimal_solution(C.ExtendedTargetCRB(iso.channels, iso.sinr_targets, P, iso.noise_var), SOLVER)  # noqa: E731
    o, do = jax.jvp(f, (iso.power,), (jnp.ones(()),))
    assert not bool(o.smooth)
    assert np.all(np.isnan(np.asarray(do.W)))
    # the value derivative is still the envelope one: d(N_t^2/P)/dP
    assert float(do.crb) == pytest.approx(-(16**2) / 100.0**2, rel=1e-10)
    assert float(o.crb) == pytest.approx(2.56, rel=1e-12)


UNROLL = C.RBAL(polish=False)
T = 25


@jax.jit
def _unrolled(theta):
    sol = jaxisac.solve(_prob(theta), UNROLL, max_steps=T, unroll=True, throw=False)
    return sol.objective


@pytest.mark.slow
def test_unrolled_gradient_matches_finite_differences_of_the_truncated_map():
    v = float(_unrolled(THETA))
    assert np.isfinite(v)
    g = np.asarray(jax.jit(jax.grad(_unrolled))(THETA))
    assert np.all(np.isfinite(g))
    for i in range(4):
        fd = float(_fd(_unrolled, i, rel=1e-5))
        assert g[i] == pytest.approx(fd, rel=1e-4, abs=1e-8), (i, g[i], fd)


def test_unrolled_kernel_gradient_from_the_isotropic_start():
    """Reverse mode through 12 R-BAL iterations (scan of the kernel step) from X = 0, Y = (P/N_t) I,
    where every spectral map starts at repeated eigenvalues: finite and equal to finite differences."""
    from jaxisac.kernels import crb as K

    rho = 1 + 1 / BASE.sinr_targets
    k = BASE.k

    def f(P):
        _, d = K.preprocess(BASE.H, rho, BASE.noise_var, P, 1e-4)
        eye = jnp.eye(k, dtype=complex)
        it0 = K.RBALIterate(jnp.zeros((k, k, k), complex), (P / 16) * eye, (P / 16) * eye, jnp.zeros(k), 0 * eye, 0 * eye)
        it, _ = jax.lax.scan(lambda it, _: (K.rbal_step(it, d, 0.1 * (P / 16) ** 3), None), it0, None, length=12)
        return K.reduced_objective(jnp.sum(it.X, 0), d.c, d.P)

    g = float(jax.jit(jax.grad(f))(jnp.asarray(100.0)))
    fj = jax.jit(f)
    h = 1e-4
    fd = float((fj(jnp.asarray(100.0 + h)) - fj(jnp.asarray(100.0 - h))) / (2 * h))
    assert np.isfinite(g) and g == pytest.approx(fd, rel=1e-5)
