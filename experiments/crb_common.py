"""Shared helpers of the seed-001 experiments and benchmark: a NumPy R-BAL (the reference a user
would otherwise write, looping over instances), timing, and the paper's MATLAB figures."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# Tables I/II of the paper (MATLAB R2024b, Intel i9-10900X): seconds per instance
PAPER_TABLE_I = {  # N_t = 64, vs K
    "K": [4, 6, 8, 10, 12, 14, 16],
    "IPM": [411.49, 502.05, 657.59, 669.93, 688.94, 724.21, 787.53],
    "R-IPM": [1.18, 1.72, 2.95, 5.13, 6.35, 7.26, 8.67],
    "BAL": [6.53, 8.96, 10.61, 11.65, 12.145, 12.97, 13.07],
    "R-BAL": [0.15, 0.19, 0.24, 0.30, 0.39, 0.54, 0.81],
}
PAPER_TABLE_II = {  # K = 8, vs N_t
    "N_t": [16, 24, 32, 48, 64, 96, 128],
    "IPM": [4.62, 17.09, 46.97, 281.18, 678.05, 1967.30, 2859.75],
    "R-IPM": [2.968, 2.88, 2.85, 2.88, 2.95, 2.89, 3.03],
    "BAL": [0.67, 1.27, 2.54, 5.09, 9.55, 20.10, 36.97],
    "R-BAL": [0.25, 0.26, 0.25, 0.25, 0.25, 0.26, 0.27],
}


def results_dir():
    d = os.path.join(ROOT, "results", "crb")
    os.makedirs(d, exist_ok=True)
    return d


def numpy_rbal(H, gamma, P, s2, tau0=0.1, tol=1e-9, delta=1e-4, max_iter=20000):
    """R-BAL (Algorithm 1, line 6 corrected) in NumPy for one instance; ``H`` (N_t, K).
    Returns ``(tr(R^{-1}), iterations)``. No pre-tests (the reference loop the paper describes)."""
    n, k = H.shape
    rho = 1 + 1 / np.broadcast_to(gamma, (k,))
    c = n - k
    _, Ht = np.linalg.qr(H)
    Q = np.einsum("ik,jk->kij", Ht, Ht.conj())
    G2 = np.abs(Ht.conj().T @ Ht) ** 2
    al, be = delta + k + 1, delta + 2
    ka = 1 / (al * be - 1)
    r1 = rho + 1
    one = np.ones(k)
    Pm = be * np.outer(r1, r1) - np.outer(r1, one) - np.outer(one, r1) + al * np.outer(one, one)
    L = delta * np.eye(k) + G2 * (np.diag(rho**2) + np.outer(one, one) - ka * Pm)
    Lc = np.linalg.cholesky(L)
    th1, th2 = ka * (1 - be * rho - be), ka * (al - rho - 1)
    tau = tau0 * (P / n) ** 3
    X = np.zeros((k, k, k), complex)
    Y = (P / n) * np.eye(k, dtype=complex)
    Z = Y.copy()
    mu = np.zeros(k)
    O1 = np.zeros((k, k), complex)
    O2 = np.zeros((k, k), complex)
    herm = lambda A: 0.5 * (A + A.conj().swapaxes(-1, -2))  # noqa: E731
    quadX = lambda X: np.real(np.einsum("ik,kij,jk->k", Ht.conj(), X, Ht))  # noqa: E731
    quad = lambda M: np.real(np.einsum("ik,ij,jk->k", Ht.conj(), M, Ht))  # noqa: E731
    sp = 1 + s2 * np.sqrt(k)
    for it in range(1, max_iter + 1):
        lam, U = np.linalg.eigh(herm(X - tau * (rho * mu)[:, None, None] * Q - tau * O1[None]))
        if np.maximum(lam, 0).sum() > P:
            s = np.sort(lam.ravel())[::-1]
            cs = np.cumsum(s)
            j = np.arange(1, s.size + 1)
            m = np.sum(s - (cs - P) / j > 0)
            nu = (cs[m - 1] - P) / m
        else:
            nu = 0.0
        Xn = (U * np.maximum(lam - nu, 0)[:, None, :]) @ U.conj().swapaxes(-1, -2)
        lam, U = np.linalg.eigh(herm(Y + tau * (np.einsum("k,kij->ij", mu, Q) + O1 - O2)))
        y = np.where(lam >= 0, lam + np.cbrt(tau), np.minimum(np.cbrt(tau), np.sqrt(tau / np.where(lam < 0, -lam, 1))))
        for _ in range(30):
            y = np.maximum(y - (y * y * (y - lam) - tau) / (y * (3 * y - 2 * lam)), 0.5 * y)
        Yn = (U * y) @ U.conj().T
        lam, U = np.linalg.eigh(herm(Z + tau * O2))
        lo, hi = 0.0, max(lam.max(), tau * c * c / P**2) + 1.0
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            if np.sqrt(mid) * (P - np.maximum(lam - mid, 0).sum()) < np.sqrt(tau) * c:
                lo = mid
            else:
                hi = mid
        Zn = (U * np.maximum(lam - 0.5 * (lo + hi), 0)) @ U.conj().T
        Xb, Yb, Zb = 2 * Xn - X, 2 * Yn - Y, 2 * Zn - Z
        r = rho * quadX(Xb) - quad(Yb) - s2
        R1, R2 = Xb.sum(0) - Yb, Yb - Zb
        dmu = np.linalg.solve(Lc.T, np.linalg.solve(Lc, r + th1 * quad(R1) + th2 * quad(R2))) / tau
        O1 = herm(O1 + (ka * be * R1 + ka * R2) / tau + (Ht * (th1 * dmu)) @ Ht.conj().T)
        O2 = herm(O2 + (ka * R1 + ka * al * R2) / tau + (Ht * (th2 * dmu)) @ Ht.conj().T)
        mu = mu + dmu
        rn = rho * quadX(Xn) - quad(Yn) - s2
        rp = np.sqrt(np.sum(rn**2) + np.linalg.norm(Xn.sum(0) - Yn) ** 2 + np.linalg.norm(Yn - Zn) ** 2)
        du = np.sqrt(np.linalg.norm(Xn - X) ** 2 + np.linalg.norm(Yn - Y) ** 2 + np.linalg.norm(Zn - Z) ** 2)
        X, Y, Z = Xn, Yn, Zn
        if rp <= tol * sp and du <= tol * (1 + np.linalg.norm(Y)):
            break
    R = X.sum(0)
    return float(np.real(np.trace(np.linalg.inv(R))) + c * c / (P - np.real(np.trace(R)))), it


def timed(fn, *args, repeat=1):
    """(result, best wall seconds) with jax.block_until_ready."""
    import jax

    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return out, best
