"""CVXPY + Clarabel reference solvers for the DMA tests and benchmark (test/benchmark-only)."""

from __future__ import annotations

import numpy as np


def p4mm_cvxpy(c, gamma, p_max, beta_lo, beta_hi, radius, *, maxmin=False, has_upper=False, has_lower=False):
    """P4-MM of spec §2.5 with CVXPY (c: the dict of jaxisac.dma.analog.coefficients, numpy)."""
    import cvxpy as cp

    e, g = np.asarray(c["e"]), np.asarray(c["g"])
    L = g.shape[1]
    z = cp.Variable(L)
    P_lin = e + g @ z
    cons = [cp.abs(z) <= radius]
    if has_lower:
        cons.append(P_lin >= np.asarray(beta_lo))
    if has_upper:
        fd, Gd = np.asarray(c["fd"]), np.asarray(c["Gd"])
        for d in range(fd.shape[0]):
            v = fd[d] - 1j * (z @ Gd[d])
            cons.append(cp.sum_squares(cp.real(v)) + cp.sum_squares(cp.imag(v)) <= beta_hi)
    fi, Gi, S0, slin = (np.asarray(c[k]) for k in ("fi", "Gi", "S0", "slin"))
    gamma = np.broadcast_to(np.asarray(gamma), S0.shape)
    for m in range(S0.shape[0]):
        v = fi[m] - 1j * (z @ Gi[m])
        cons.append(cp.sum_squares(cp.real(v)) + cp.sum_squares(cp.imag(v)) + 1 <= (S0[m] + slin[m] @ z) / gamma[m])
    cons.append(float(c["pt0"]) + np.asarray(c["plin"]) @ z <= p_max)
    if maxmin:
        t = cp.Variable()
        cons.append(P_lin >= t)
        obj = cp.Maximize(t)
    else:
        obj = cp.Maximize(cp.sum(P_lin) / e.shape[0])
    prob = cp.Problem(obj, cons)
    prob.solve(solver=cp.CLARABEL)
    return np.asarray(z.value), float(prob.value), prob.status


def p2_cvxpy(H, AP, D, M, gamma, p_max, *, beta_lo=None, beta_hi=None, maxmin=False):
    """P2 (spec §2.2, merged sensing block) with CVXPY; returns (value, [R_1..R_M, R_s], status).

    H: (D + M, N) effective rows (steering rows then noise-normalised users); AP: (N, N) PSD power form.
    """
    import cvxpy as cp

    H = np.asarray(H)
    AP = np.asarray(AP)
    N = H.shape[1]
    X = [cp.Variable((N, N), hermitian=True) for _ in range(M + 1)]
    R = sum(X)
    cons = [x >> 0 for x in X]
    Ad = [np.outer(np.conj(h), h) for h in H[:D]]
    Ym = [np.outer(np.conj(h), h) for h in H[D:]]
    P = [cp.real(cp.trace(A @ R)) for A in Ad]
    gamma = np.broadcast_to(np.asarray(gamma), (M,))
    for m in range(M):
        sig = cp.real(cp.trace(Ym[m] @ X[m]))
        tot = cp.real(cp.trace(Ym[m] @ R))
        cons.append(tot - sig - sig / gamma[m] + 1 <= 0)
    cons.append(cp.real(cp.trace(AP @ R)) <= p_max)
    if beta_lo is not None:
        cons += [P[d] >= beta_lo[d] for d in range(D)]
    if beta_hi is not None:
        cons += [P[d] <= beta_hi for d in range(D)]
    if maxmin:
        t = cp.Variable()
        cons += [P[d] >= t for d in range(D)]
        obj = cp.Maximize(t)
    else:
        obj = cp.Maximize(sum(P) / D)
    prob = cp.Problem(obj, cons)
    prob.solve(solver=cp.CLARABEL)
    return float(prob.value), [np.asarray(x.value) for x in X], prob.status
