"""The SDP solver of TM / LRA / RobustTM / RobustLRA: interior point by default, the ADMM in the
unrolled mode; the defaults certified against CVXPY + Clarabel (whole LRA runs, robust TM and one
robust step) on N = 10 drops."""

import jax
import numpy as np
import pytest

import jaxisac
from jaxisac import autocorrelation as ac
from jaxisac.core.sdp import ADMMSDP
from jaxisac.core.sdp_ipm import IPMSDP
from jaxisac.kernels import autocorrelation as K_

from .test_lra import _cvx_lra_step, _cvx_tm
from .test_robust_lra import SIGMA2, _cvx_robust_tm, _cvx_step, _quantised


def test_default_solvers_and_validation():
    for cls in (ac.TM, ac.LRA, ac.RobustTM, ac.RobustLRA):
        assert isinstance(cls().sdp, IPMSDP)
    for cls in (ac.LRA, ac.RobustLRA):
        assert isinstance(cls(adjoint="unrolled").sdp, ADMMSDP)
        assert isinstance(cls(sdp=ADMMSDP(tol=1e-5)).sdp, ADMMSDP)
        with pytest.raises(ValueError, match="sdp"):
            cls(adjoint="unrolled", sdp=IPMSDP())
        with pytest.raises(ValueError, match="sdp"):
            cls(sdp="ipm")
        with pytest.raises(ValueError, match="adjoint"):
            cls(adjoint="implicit")
    with pytest.raises(ValueError, match="sdp"):
        ac.TM(sdp=None)


def _cvx_lra(V, p, eps=0.95, max_steps=30):
    """LRA (Algorithm 1/2) with every SDP solved by CVXPY + Clarabel."""
    r = 2 if np.isrealobj(V) else 1
    H = _cvx_tm(V, p)
    for steps in range(max_steps + 1):
        w, Q = np.linalg.eigh(H)
        if np.sum(w[::-1][:r]) / np.sum(w) > eps or steps == max_steps:
            return H, steps
        _, G, gam = _cvx_lra_step(V, p, Q[:, ::-1][:, :r], solution=True)
        H = G / gam


@pytest.mark.oracle
@pytest.mark.parametrize("b,seed", [(2, 4000), (1, 4001)])
def test_default_lra_matches_cvxpy_lra(b, seed):
    d = ac.paper_drop(seed, 24, b, nx=3, nz=3)
    p = d.p / np.mean(d.p)
    sol = jax.jit(lambda V, p: jaxisac.solve(ac.PowerMeasurements(V, p), ac.LRA(), throw=False))(d.V, p)
    H_ref, steps = _cvx_lra(np.asarray(d.V), p)
    # drop 4001's TM stalls at gap 1.7e-8 > tol 1e-8 (ill-conditioned Schur complement at a degenerate
    # optimum): the interior-point solver returns its best iterate with MAX_STEPS, which is accurate
    assert int(sol.result) == 0 and int(sol.stats["sdp_status"]) in (0, 1)
    assert int(sol.stats["steps"]) == steps
    r = 2 if b == 1 else 1
    assert float(sol.objective) == pytest.approx(float(ac.eigenvalue_ratio(H_ref, r)), abs=1e-5)
    assert float(ac.nmse(sol.value, H_ref)) <= 1e-6
    # ~15-30 interior-point iterations per SDP (the ADMM needs hundreds)
    assert int(sol.stats["sdp_iterations"]) <= 40 * (1 + steps)


@pytest.mark.oracle
def test_default_robust_tm_and_step_match_cvxpy():
    d, prob = _quantised(3, 24, 2, 4.0)
    tm = jaxisac.solve(prob, ac.RobustTM(), throw=False)
    assert int(tm.result) == 0
    lo = (np.asarray(prob.lower) - SIGMA2) / SIGMA2
    hi = (np.asarray(prob.upper) - SIGMA2) / SIGMA2
    val, _ = _cvx_robust_tm(np.asarray(d.V), lo, hi, 10.0)
    assert float(tm.objective) == pytest.approx(val, rel=1e-6)
    # one robust (G, gamma)-step from the robust-TM point
    H0 = np.asarray(tm.value) / SIGMA2
    a = np.asarray(K_.forward(d.V, H0, 1.0))
    delta = np.maximum(0, np.maximum(lo - a, a - hi))
    ref = _cvx_step(np.asarray(d.V), lo - delta, hi + delta, np.linalg.eigh(H0)[1][:, -1:])
    one = jaxisac.solve(prob, ac.RobustLRA(min_steps=1), init=tm.value, max_steps=1, throw=False)
    assert int(one.stats["sdp_status"]) == 0
    # Clarabel reports this instance as solved inaccurately; the ADMM test allows 2e-4
    assert float(one.stats["step_objective"]) == pytest.approx(ref, rel=1e-4)


@pytest.mark.oracle
def test_ipm_stall_returns_best_iterate():
    # drop 4001 (b = 1): the interior-point TM reaches gap 1.7e-8, then the residuals grow and the
    # iterates overflow; the solver stops and returns its best iterate (was NONFINITE)
    from jaxisac.autocorrelation.lra import tm_sdp
    from jaxisac.core.sdp import solve_sdp

    d = ac.paper_drop(4001, 24, 1, nx=3, nz=3)
    p = d.p / np.mean(d.p)
    sol = solve_sdp(tm_sdp(d.V, p, 1.0), ac.TM().sdp)
    assert int(sol.result) in (0, 1)  # SUCCESS or MAX_STEPS (stalled above tol), never NONFINITE
    res = max(float(sol.stats[k]) for k in ("primal_residual", "dual_residual", "gap"))
    assert res <= 1e-7 and int(sol.stats["iterations"]) <= 40
    H_ref = _cvx_tm(np.asarray(d.V), p)
    assert float(sol.objective) == pytest.approx(np.trace(H_ref), rel=1e-6)
    assert float(ac.nmse(sol.value.X[0], H_ref)) <= 1e-6


@pytest.mark.parametrize("b", [2, pytest.param(1, marks=pytest.mark.slow)])  # b = 1 (20-30 s): slow
def test_rank_one_schur_complement_equals_dense(b):
    # the LRA step's rows (measurements of both signs and tr G = 1, shuffled): exact with k >= 1 dense
    # row, an approximation with k = 0
    from jaxisac.autocorrelation.lra import _meas_blocks
    from jaxisac.kernels import sdp_ipm as KI

    d = ac.paper_drop(7, 20, b, nx=3, nz=3)
    n = d.V.shape[1]
    meas = _meas_blocks(d.V, 1.0)
    A = np.concatenate([-meas[:8], meas[8:], np.eye(n, dtype=d.V.dtype)[None]])
    A = A[np.random.default_rng(0).permutation(A.shape[0])]
    rng = np.random.default_rng(1)
    draw = (lambda: rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) if b == 2 else (
        lambda: rng.standard_normal((n, n)))
    W1, W2 = draw(), draw()
    X, Zi = W1 @ np.conj(W1).T + np.eye(n), W2 @ np.conj(W2).T + np.eye(n)
    dense = np.asarray(KI._schur_dense(A, X, Zi))
    for k in (1, 3):
        fast = np.asarray(KI._schur_rank_one(A, X, Zi, k))
        np.testing.assert_allclose(fast, dense, rtol=0, atol=1e-12 * np.abs(dense).max())
    assert np.abs(np.asarray(KI._schur_rank_one(A, X, Zi, 0)) - dense).max() > 1e-3 * np.abs(dense).max()
    # the whole solve: same iterates up to round-off
    p = d.p / np.mean(d.p)
    H0 = jax.jit(lambda V, p: jaxisac.solve(ac.PowerMeasurements(V, p), ac.TM()).value)(d.V, p)
    X0 = np.linalg.eigh(np.asarray(H0))[1][:, -(3 - b):]
    from jaxisac.autocorrelation.lra import lra_sdp
    from jaxisac.core.sdp import solve_sdp

    sdp = lra_sdp(d.V, p, 1.0, X0)
    ref = jax.jit(lambda q: solve_sdp(q, IPMSDP(step_fraction=0.95)))(sdp)
    fast = jax.jit(lambda q: solve_sdp(q, IPMSDP(step_fraction=0.95, low_rank=1)))(sdp)
    assert int(fast.result) == int(ref.result) == 0
    assert int(fast.stats["iterations"]) == int(ref.stats["iterations"])
    assert float(fast.objective) == pytest.approx(float(ref.objective), rel=1e-9)
    with pytest.raises(ValueError, match="low_rank"):
        IPMSDP(low_rank=-1)


@pytest.mark.parametrize("b", [2, 1])
def test_default_lra_float32_close_to_float64(b):
    # drop 4000 with b = 1 repeats +-1 patterns: a singular Schur complement, which float32 could not
    # factorise (NONFINITE at the first iteration) before the kernel's refactorisation fallback
    d = ac.paper_drop(4000, 24, b, nx=3, nz=3)
    p = d.p / np.mean(d.p)
    f = jax.jit(lambda V, p: jaxisac.solve(ac.PowerMeasurements(V, p), ac.LRA(max_steps=6), throw=False))
    s64 = f(d.V, p)
    s32 = f(np.asarray(d.V).astype(np.complex64 if b == 2 else np.float32), p.astype(np.float32))
    assert s32.value.dtype == (np.complex64 if b == 2 else np.float32)
    assert int(s32.stats["sdp_status"]) in (0, 1)  # float32 may stall just above tol 1e-4, never NONFINITE
    assert int(s32.stats["steps"]) == int(s64.stats["steps"])
    assert float(s32.objective) == pytest.approx(float(s64.objective), abs=1e-3)
    assert float(ac.nmse(np.asarray(s32.value).astype(np.complex128), s64.value)) <= 1e-3
