"""CVXPY + Clarabel oracles for the extended-target CRB problem (tests and experiments only).

* :func:`full_sdr` — the SDR (2) in N_t x N_t blocks (the paper's "IPM"); Schur epigraph of
  tr(R^{-1}) because ``cp.tr_inv`` rejects complex arguments (spec §3.5).
* :func:`reduced` — (7) in K x K blocks (the paper's "R-IPM"); ``equality=True`` gives (13).
* :func:`power_min` — the minimal power P_low (Prop 1) in reduced coordinates.
"""

from __future__ import annotations

import time

import cvxpy as cp
import numpy as np


def _data(problem):
    H = np.asarray(problem.channels).T.astype(np.complex128)  # (N_t, K)
    g = np.asarray(problem.sinr_targets, np.float64)
    return H, 1 + 1 / g, float(problem.power), float(problem.noise_var)


def _solve(prob, time_limit=None):
    """Solve with Clarabel; with ``time_limit`` (seconds of Clarabel time) a run that hits it raises
    ``TimeoutError`` after the elapsed wall time is known (``err.args[1]``)."""
    t0 = time.perf_counter()
    kw = {} if time_limit is None else {"time_limit": float(time_limit)}
    try:
        prob.solve(solver=cp.CLARABEL, **kw)
    except cp.error.SolverError as e:
        if time_limit is None:
            raise
        raise TimeoutError(f"Clarabel stopped: {e}", time.perf_counter() - t0) from e
    if time_limit is not None and prob.status not in ("optimal", "optimal_inaccurate"):
        raise TimeoutError(f"Clarabel status {prob.status}", time.perf_counter() - t0)
    return time.perf_counter() - t0


def full_sdr(problem, time_limit=None):
    """Returns ``(value, R (N_t, N_t), seconds)`` (``TimeoutError`` past ``time_limit`` seconds)."""
    H, rho, P, s2 = _data(problem)
    n, k = H.shape
    W = [cp.Variable((n, n), hermitian=True) for _ in range(k + 1)]
    R = sum(W)
    M = cp.Variable((2 * n, 2 * n), hermitian=True)
    cons = [M >> 0, M[n:, n:] == R, M[:n, n:] == np.eye(n), cp.real(cp.trace(R)) <= P]
    cons += [w >> 0 for w in W]
    for i in range(k):
        h = H[:, i]
        cons.append(rho[i] * cp.real(h.conj() @ W[i] @ h) - cp.real(h.conj() @ R @ h) >= s2)
    prob = cp.Problem(cp.Minimize(cp.real(cp.trace(M[:n, :n]))), cons)
    t = _solve(prob, time_limit)
    return float(prob.value), np.asarray(R.value), t


def reduced(problem, equality: bool = False):
    """Returns ``(value, R~ (K, K) in the QR basis of H, seconds)``."""
    H, rho, P, s2 = _data(problem)
    n, k = H.shape
    _, Ht = np.linalg.qr(H)
    c = n - k
    X = [cp.Variable((k, k), hermitian=True) for _ in range(k)]
    R = sum(X)
    M = cp.Variable((2 * k, 2 * k), hermitian=True)
    cons = [M >> 0, M[k:, k:] == R, M[:k, k:] == np.eye(k), cp.real(cp.trace(R)) <= P]
    cons += [x >> 0 for x in X]
    for i in range(k):
        h = Ht[:, i]
        row = rho[i] * cp.real(h.conj() @ X[i] @ h) - cp.real(h.conj() @ R @ h)
        cons.append(row == s2 if equality else row >= s2)
    obj = cp.real(cp.trace(M[:k, :k])) + c**2 * cp.inv_pos(P - cp.real(cp.trace(R)))
    prob = cp.Problem(cp.Minimize(obj), cons)
    t = _solve(prob)
    return float(prob.value), np.asarray(R.value), t


def power_min(problem):
    """Minimal total power meeting all SINR targets without sensing streams (P_low)."""
    H, rho, P, s2 = _data(problem)
    n, k = H.shape
    _, Ht = np.linalg.qr(H)
    X = [cp.Variable((k, k), hermitian=True) for _ in range(k)]
    R = sum(X)
    cons = [x >> 0 for x in X]
    for i in range(k):
        h = Ht[:, i]
        cons.append(rho[i] * cp.real(h.conj() @ X[i] @ h) - cp.real(h.conj() @ R @ h) >= s2)
    prob = cp.Problem(cp.Minimize(cp.real(cp.trace(R))), cons)
    _solve(prob)
    return float(prob.value)


def point_target(problem):
    """The point-target SDP (spec §3.6) in full N_t x N_t blocks; trace matrices scaled by
    1/||A^H A||_2 (Clarabel fails without, spec §9.8). Returns ``(t*, R, status, seconds)``."""
    H, rho, P, s2 = _data(problem)
    n, k = H.shape
    D1, D2, D3 = (np.asarray(D, np.complex128) for D in problem.trace_matrices())
    sc = np.linalg.norm(D3, 2)
    D1, D2, D3 = D1 / sc, D2 / sc, D3 / sc
    W = [cp.Variable((n, n), hermitian=True) for _ in range(k + 1)]
    R = sum(W)
    t = cp.Variable()
    M = cp.bmat([[cp.trace(D1 @ R) - t, cp.trace(D2 @ R)], [cp.trace(D2.conj().T @ R), cp.trace(D3 @ R)]])
    Mv = cp.Variable((2, 2), hermitian=True)
    cons = [Mv >> 0, Mv == M, cp.real(cp.trace(R)) <= P] + [w >> 0 for w in W]
    for i in range(k):
        h = H[:, i]
        cons.append(rho[i] * cp.real(h.conj() @ W[i] @ h) - cp.real(h.conj() @ R @ h) >= s2)
    prob = cp.Problem(cp.Maximize(t), cons)
    sec = _solve(prob)
    return sc * float(t.value), sum(w.value for w in W), prob.status, sec
