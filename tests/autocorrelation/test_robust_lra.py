"""Robust TM and robust LRA (spec §2.5, §3.4) on the shared SDP solver with its second-order-cone
epigraph, certified against CVXPY + Clarabel on small instances."""

import cvxpy as cp
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import autocorrelation as ac
from jaxisac.core.sdp import ADMMSDP
from jaxisac.kernels import autocorrelation as K_

SIGMA2 = 1e-12  # -90 dBm
FAST = ADMMSDP(tol=1e-6, max_steps=300)


def _quantised(seed, T, b, gap_db, n_samples=8):
    d = ac.paper_drop(seed, T, b, nx=3, nz=3)
    q = ac.measure_power(jax.random.key(seed), d.V, d.hbar, sigma2=SIGMA2, n_samples=n_samples)
    _, lo, hi = ac.quantize_rsrp(q, gap_db)
    return d, ac.RobustMeasurements(d.V, lo, hi, SIGMA2)


def _re(x, real):
    return x if real else cp.real(x)


def _cvx_robust_tm(V, lo, hi, rho):
    """min tr H + rho ||delta||^2 s.t. lo - delta <= A(H) <= hi + delta, delta >= 0, H PSD."""
    n = V.shape[1]
    real = np.isrealobj(V)
    H = cp.Variable((n, n), symmetric=True) if real else cp.Variable((n, n), hermitian=True)
    dl = cp.Variable(len(lo), nonneg=True)
    AH = cp.hstack([_re(cp.trace(np.outer(v, np.conj(v)) @ H), real) for v in V])
    prob = cp.Problem(cp.Minimize(_re(cp.trace(H), real) + rho * cp.sum_squares(dl)),
                      [H >> 0, AH >= lo - dl, AH <= hi + dl])
    prob.solve(solver=cp.CLARABEL)
    assert prob.status in ("optimal", "optimal_inaccurate")
    return prob.value, H.value


def _cvx_step(V, lo, hi, X):
    n = V.shape[1]
    real = np.isrealobj(V)
    G = cp.Variable((n, n), symmetric=True) if real else cp.Variable((n, n), hermitian=True)
    gam = cp.Variable(nonneg=True)
    AG = cp.hstack([_re(cp.trace(np.outer(v, np.conj(v)) @ G), real) for v in V])
    prob = cp.Problem(cp.Maximize(_re(cp.trace(X @ np.conj(X).T @ G), real)),
                      [G >> 0, _re(cp.trace(G), real) == 1, AG >= gam * lo, AG <= gam * hi])
    prob.solve(solver=cp.CLARABEL)
    assert prob.status in ("optimal", "optimal_inaccurate")
    return prob.value


@pytest.fixture(scope="module")
def q4db():
    d, prob = _quantised(3, 24, 2, 4.0)
    tm = jaxisac.solve(prob, ac.RobustTM(sdp=ADMMSDP(tol=1e-7, max_steps=3000)), throw=False)
    return d, prob, tm


@pytest.mark.oracle
def test_robust_tm_matches_cvxpy(q4db):
    d, prob, tm = q4db
    assert int(tm.result) == 0
    lo = (np.asarray(prob.lower) - SIGMA2) / SIGMA2
    hi = (np.asarray(prob.upper) - SIGMA2) / SIGMA2
    val, H_ref = _cvx_robust_tm(np.asarray(d.V), lo, hi, 10.0)
    assert float(tm.objective) == pytest.approx(val, rel=1e-5)
    Hbar = ac.true_autocorrelation(d.hbar, 2)
    e_admm, e_ref = float(ac.nmse(tm.value, Hbar)), float(ac.nmse(SIGMA2 * H_ref, Hbar))
    assert e_admm == pytest.approx(e_ref, rel=1e-3)
    # delta is the slab misfit of the estimate, and the objective is p0 tr H + rho ||delta||^2
    delta = np.asarray(tm.stats["delta"]) / SIGMA2
    assert delta.min() >= 0
    assert np.real(np.trace(tm.value)) / SIGMA2 + 10.0 * delta @ delta == pytest.approx(val, rel=1e-5)


@pytest.mark.oracle
def test_robust_lra_improves_on_robust_tm_monotonically(q4db):
    d, prob, tm = q4db
    Hbar = ac.true_autocorrelation(d.hbar, 2)
    sol = jaxisac.solve(prob, ac.RobustLRA(min_steps=3, sdp=FAST, trace_length=8), init=tm.value, throw=False)
    n = int(sol.stats["steps"])
    g = np.asarray(sol.stats["trace_ratio"])[: n + 1]
    dn = np.asarray(sol.stats["trace_delta"])[: n + 1]
    assert n >= 3 and g[-1] > 0.99 > float(tm.stats["ratio"]) + 0.1  # 0.775 -> 1.000
    assert np.all(np.diff(g) >= 0)
    # ||delta|| non-increasing up to the documented tolerance accept_tol * ||q_hat - sigma2||
    mid = np.linalg.norm(np.asarray(prob.midpoint)) / SIGMA2
    assert np.all(np.diff(dn) <= 1e-3 * mid)
    # regression (seed 3, N = 10, T = 24, D = 4 dB): robust TM NMSE 0.6250 -> robust LRA 0.3287
    e_tm, e_lra = float(ac.nmse(tm.value, Hbar)), float(ac.nmse(sol.value, Hbar))
    assert e_lra < 0.6 * e_tm
    assert e_tm == pytest.approx(0.6250, rel=1e-2) and e_lra == pytest.approx(0.3287, rel=3e-2)


@pytest.mark.slow
@pytest.mark.oracle
def test_robust_lra_step_sdp_matches_cvxpy(q4db):
    d, prob, tm = q4db
    H0 = np.asarray(tm.value) / SIGMA2
    lo = (np.asarray(prob.lower) - SIGMA2) / SIGMA2
    hi = (np.asarray(prob.upper) - SIGMA2) / SIGMA2
    a = np.asarray(K_.forward(d.V, H0, 1.0))
    delta = np.maximum(0, np.maximum(lo - a, a - hi))
    _, X = np.linalg.eigh(H0)
    ref = _cvx_step(np.asarray(d.V), lo - delta, hi + delta, X[:, -1:])
    one = jaxisac.solve(prob, ac.RobustLRA(min_steps=1, sdp=ADMMSDP(tol=1e-7, max_steps=3000)), init=tm.value,
                        max_steps=1, throw=False)
    assert float(one.stats["step_objective"]) == pytest.approx(ref, rel=2e-4)


def test_best_trace_is_the_exact_minimiser():
    rng = np.random.default_rng(0)
    best = jax.jit(ac.best_trace)
    for trial in range(20):
        T = 12
        a = rng.random(T) * (rng.random(T) > 0.1)  # some zero rows
        mid = rng.random(T) * 3
        w = rng.random(T) * (trial % 2)  # equal bounds on even trials
        lo, hi = mid - w, mid + w
        s = float(best(jnp.asarray(a), jnp.asarray(lo), jnp.asarray(hi)))
        f = lambda x: np.sum(np.maximum(0, np.maximum(lo - a * x, a * x - hi)) ** 2)  # noqa: E731
        grid = np.linspace(0, 20, 100001)
        fg = np.sum(np.maximum(0, np.maximum(lo[None] - a[None] * grid[:, None], a[None] * grid[:, None] - hi[None])) ** 2, 1)
        assert s >= 0 and f(s) <= fg.min() + 1e-12
        assert f(s) <= min(f(s - 1e-6), f(s + 1e-6)) + 1e-15 or s == 0


def test_robust_solvers_validate_inputs():
    d = ac.paper_drop(0, 8, 2, nx=2, nz=2)
    with pytest.raises(ValueError, match="rho"):
        ac.RobustTM(rho=-1.0)
    with pytest.raises(ValueError, match="rho"):
        ac.RobustLRA(rho=0.0)
    with pytest.raises(ValueError, match="eps"):
        ac.RobustLRA(eps=1.5)
    with pytest.raises(ValueError, match="problem"):
        jaxisac.solve(ac.PowerMeasurements(d.V, d.p), ac.RobustTM())
    with pytest.raises(ValueError, match="problem"):
        jaxisac.solve(ac.PowerMeasurements(d.V, d.p), ac.RobustLRA())


@pytest.mark.slow
def test_unquantised_data_returns_robust_tm_and_vmap_equals_loop():
    # spec A14: with lower == upper every slab is active at the robust-TM point and the step cannot move
    d = ac.paper_drop(33, 30, 1, nx=3, nz=3)
    q = ac.measure_power(jax.random.key(0), d.V, d.hbar, sigma2=10 * SIGMA2, n_samples=1)
    prob = ac.RobustMeasurements(d.V, q, q, 10 * SIGMA2)
    tm = jaxisac.solve(prob, ac.RobustTM(sdp=FAST), throw=False)
    lra = jaxisac.solve(prob, ac.RobustLRA(min_steps=2, sdp=FAST, accept_tol=0.0), throw=False)
    assert float(lra.objective) <= float(tm.stats["ratio"]) + 1e-3
    assert float(ac.nmse(lra.value, tm.value)) <= 1e-4
    # batched robust TM (b = 1, real) equals the loop and matches CVXPY
    drops = [_quantised(s, 30, 1, 2.0) for s in (4, 5)]
    Vs = jnp.stack([p.V for _, p in drops])
    los = jnp.stack([p.lower for _, p in drops])
    his = jnp.stack([p.upper for _, p in drops])
    batched = jax.vmap(lambda V, lo, hi: jaxisac.solve(ac.RobustMeasurements(V, lo, hi, SIGMA2),
                                                       ac.RobustTM(sdp=FAST), throw=False))(Vs, los, his)
    for i, (_, p) in enumerate(drops):
        one = jaxisac.solve(p, ac.RobustTM(sdp=FAST), throw=False)
        np.testing.assert_allclose(np.asarray(batched.value[i]), np.asarray(one.value), rtol=1e-10,
                                   atol=1e-10 * np.abs(np.asarray(one.value)).max())
        val, _ = _cvx_robust_tm(np.asarray(p.V), (np.asarray(p.lower) - SIGMA2) / SIGMA2,
                                (np.asarray(p.upper) - SIGMA2) / SIGMA2, 10.0)
        assert float(one.objective) == pytest.approx(val, rel=1e-4)
