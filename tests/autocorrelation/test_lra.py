"""LRA and TM on the shared ADMM SDP solver, certified against CVXPY + Clarabel (spec §3.8, §10.2)."""

import cvxpy as cp
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import autocorrelation as ac


def _re(x, real):
    return x if real else cp.real(x)


def _cvx_tm(V, p):
    n = V.shape[1]
    real = np.isrealobj(V)
    H = cp.Variable((n, n), symmetric=True) if real else cp.Variable((n, n), hermitian=True)
    cons = [H >> 0] + [_re(cp.trace(np.outer(v, np.conj(v)) @ H), real) == pt for v, pt in zip(V, p)]
    cp.Problem(cp.Minimize(_re(cp.trace(H), real)), cons).solve(solver=cp.CLARABEL)
    return H.value


def _cvx_lra_step(V, p, X, solution=False):
    """Optimal value of the Charnes-Cooper SDP; with ``solution``, also ``(G, gamma)``."""
    n = V.shape[1]
    real = np.isrealobj(V)
    G = cp.Variable((n, n), symmetric=True) if real else cp.Variable((n, n), hermitian=True)
    gam = cp.Variable(nonneg=True)
    P = X @ np.conj(X).T
    cons = [G >> 0, _re(cp.trace(G), real) == 1]
    cons += [_re(cp.trace(np.outer(v, np.conj(v)) @ G), real) == pt * gam for v, pt in zip(V, p)]
    prob = cp.Problem(cp.Maximize(_re(cp.trace(P @ G), real)), cons)
    prob.solve(solver=cp.CLARABEL)
    return (prob.value, G.value, gam.value) if solution else prob.value


@pytest.mark.oracle
@pytest.mark.parametrize("b,T", [(2, 24), (1, 24)])
def test_tm_and_one_lra_step_match_cvxpy(b, T):
    d = ac.paper_drop(5, T, b, nx=3, nz=3)
    p = d.p / np.mean(d.p)
    prob = ac.PowerMeasurements(d.V, p)
    tm = jaxisac.solve(prob, ac.TM())
    H_ref = _cvx_tm(d.V, p)
    Hbar = np.asarray(ac.true_autocorrelation(d.hbar, b)) / np.mean(d.p)
    e_admm, e_ref = float(ac.nmse(tm.value, Hbar)), float(ac.nmse(H_ref, Hbar))
    assert e_admm == pytest.approx(e_ref, rel=2e-3, abs=1e-6)
    assert float(tm.objective) == pytest.approx(np.real(np.trace(H_ref)), rel=1e-4)
    # one Charnes-Cooper step from the TM point (warm start = the ADMM TM estimate)
    r = 1 if b >= 2 else 2
    lra = jaxisac.solve(prob, ac.LRA(min_steps=1), init=tm.value, max_steps=1, throw=False)
    assert int(lra.stats["steps"]) == 1 and int(lra.stats["sdp_status"]) == 0
    w, Q = np.linalg.eigh(np.asarray(tm.value))
    ref = _cvx_lra_step(d.V, p, Q[:, ::-1][:, :r])
    assert float(lra.stats["step_objective"]) == pytest.approx(ref, rel=1e-4)
    # monotonicity (11)-(13): g(H1) >= f(H1, x1) >= g(H0)
    g0 = float(ac.eigenvalue_ratio(tm.value, r))
    assert float(lra.objective) >= float(lra.stats["step_objective"]) - 1e-6 >= g0 - 2e-6


@pytest.mark.slow
@pytest.mark.oracle
@pytest.mark.parametrize("b,it,e,gain", [(2, 4, 0.1933, -0.430), (1, 1, 1.607e-2, 0.0)])
def test_lra_regression_r17(b, it, e, gain):
    # spec §10.2, T = 40: LRA steps, NMSE and gain; g non-decreasing
    d = ac.paper_drop(2024, 40, b, nx=4, nz=4)
    sol = jaxisac.solve(ac.PowerMeasurements(d.V, d.p), ac.LRA(trace_length=31))
    assert int(sol.stats["steps"]) == it
    assert float(ac.nmse(sol.value, ac.true_autocorrelation(d.hbar, b))) == pytest.approx(e, rel=2e-2)
    ub = ac.effective_gain(ac.upper_bound_reflection(d.hbar, b), d.hbar)
    g = float(ac.gain_db(ac.effective_gain(ac.design_reflection(sol.value, b), d.hbar), ub))
    assert g == pytest.approx(gain, abs=0.01)
    hist = np.asarray(sol.stats["trace_ratio"])[: it + 1]
    assert np.all(np.diff(hist) >= -1e-6)
