"""The appendix's claims as checkable functions (spec §2): rank bounds (Prop 1), interlacing (Prop 2),
singular-value products (Cor 3.2), Horn-type bounds (Cor 3.3), power bounds (Cor 3.4), capacity
(Cor 3.5) and its SNR asymptotes (Cor 3.6).

Singular values are non-increasing; "padded" sequences are extended with zeros to ``N_S`` entries
(the spec's convention ``sigma_n := 0`` beyond the rank). All functions are jittable except
:func:`rank_bounds` and :func:`interlacing_bounds`, which make rank decisions (NumPy).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from jaxisac.core import check_array, check_positive
from jaxisac.kernels import bdris as kb

__all__ = [
    "padded_singular_values",
    "rank_bounds",
    "interlacing_bounds",
    "product_upper_bounds",
    "product_lower_bounds",
    "determinant_invariant",
    "singular_value_bounds",
    "power_bounds",
    "capacity_fully_connected",
    "capacity_asymptotes",
]


def _pair(H_backward, H_forward):
    H_B = check_array(H_backward, "H_backward", ndim=2, kind="complex")
    H_F = check_array(H_forward, "H_forward", ndim=2, kind="complex")
    if H_F.shape[0] != H_B.shape[1]:
        raise ValueError(f"H_forward: expected {H_B.shape[1]} rows (N_S of H_backward), got shape {H_F.shape}")
    return H_B, H_F


def padded_singular_values(A: Any, n: int) -> jnp.ndarray:
    """Singular values of ``A`` (non-increasing) padded with zeros (or truncated) to length ``n``."""
    s = jnp.linalg.svd(jnp.asarray(A), compute_uv=False)
    if s.shape[0] >= n:
        return s[:n]
    return jnp.concatenate([s, jnp.zeros(n - s.shape[0], s.dtype)])


def _sv_pair(H_B, H_F):
    n_s = H_B.shape[1]
    return padded_singular_values(H_B, n_s), padded_singular_values(H_F, n_s)


def rank_bounds(H_backward: Any, H_forward: Any, *, tol: float = 1e-9) -> tuple[int, int]:
    """Prop 1: ``max(r_B + r_F - N_S, 0) <= rank(H_B Theta H_F) <= min(r_B, r_F)`` for every unitary Theta.

    Ranks use the absolute tolerance ``tol * ||H_B||_2 ||H_F||_2`` on the singular values of the
    products with a unit-norm partner (spec A6). Returns ``(lower, upper)``.
    """
    H_B, H_F = (np.asarray(a) for a in _pair(H_backward, H_forward))
    nb, nf = np.linalg.norm(H_B, 2), np.linalg.norm(H_F, 2)
    rb = int(np.sum(np.linalg.svd(H_B, compute_uv=False) * nf > tol * nb * nf))
    rf = int(np.sum(np.linalg.svd(H_F, compute_uv=False) * nb > tol * nb * nf))
    return max(rb + rf - H_B.shape[1], 0), min(rb, rf)


def interlacing_bounds(
    H_direct: Any, H_backward: Any, H_forward: Any, *, side: str = "forward", tol: float = 1e-9
) -> tuple[np.ndarray, np.ndarray, int]:
    """Prop 2 (8a)/(8b): bounds on ``sigma_n(H)`` valid for EVERY scattering matrix when the
    forward (``side="forward"``) or backward channel has rank ``k``.

    With compact SVD bases: ``T = H_D (I - V_F V_F^H)`` (forward) or ``T = (I - U_B U_B^H) H_D``
    (backward). Then ``sigma_n(T) <= sigma_n(H)`` for all ``n`` and ``sigma_n(H) <= sigma_{n-k}(T)``
    for ``n > k`` (``inf`` for ``n <= k``).

    Returns:
        ``(lower, upper, k)`` with ``lower, upper`` of length ``N = min(N_R, N_T)``.
    """
    H_B, H_F = (np.asarray(a) for a in _pair(H_backward, H_forward))
    H_D = np.asarray(check_array(H_direct, "H_direct", shape=(H_B.shape[0], H_F.shape[1]), kind="complex"))
    if side == "forward":
        u, s, vh = np.linalg.svd(H_F, full_matrices=False)
        k = int(np.sum(s > tol * max(s[0], np.finfo(float).tiny)))
        V = vh[:k].conj().T
        T = H_D - (H_D @ V) @ V.conj().T
    elif side == "backward":
        u, s, vh = np.linalg.svd(H_B, full_matrices=False)
        k = int(np.sum(s > tol * max(s[0], np.finfo(float).tiny)))
        U = u[:, :k]
        T = H_D - U @ (U.conj().T @ H_D)
    else:
        raise ValueError(f"side: expected 'forward' or 'backward', got {side!r}")
    N = min(H_D.shape)
    st = np.linalg.svd(T, compute_uv=False)[:N]
    lower = st.copy()
    upper = np.full(N, np.inf)
    for n in range(k, N):  # 0-based n >= k  <=>  1-based n > k
        upper[n] = st[n - k]
    return lower, upper, k


def product_upper_bounds(H_backward: Any, H_forward: Any) -> jnp.ndarray:
    """Cor 3.2 (13a), ``H_D = 0``: ``prod_{n<=k} sigma_n(H) <= prod_{n<=k} sigma_n(H_B) sigma_n(H_F)``,
    returned for ``k = 1..N`` (``N = min(N_R, N_T)``)."""
    H_B, H_F = _pair(H_backward, H_forward)
    sb, sf = _sv_pair(H_B, H_F)
    N = min(H_B.shape[0], H_F.shape[1], H_B.shape[1])
    out = jnp.cumprod(sb[:N] * sf[:N])
    n_full = min(H_B.shape[0], H_F.shape[1])
    return jnp.concatenate([out, jnp.zeros(n_full - N, out.dtype)])


def product_lower_bounds(H_backward: Any, H_forward: Any) -> jnp.ndarray:
    """Cor 3.2 (13b), ``H_D = 0``: the product of the last ``k`` of the ``N_bar``-padded singular
    values of ``H`` is at least the product of the last ``k`` of ``sigma(H_B) sigma(H_F)`` (padded),
    for ``k = 1..N_bar``; returns the latter (non-trivial only when ``N_T = N_S = N_R``)."""
    H_B, H_F = _pair(H_backward, H_forward)
    nbar = max(H_B.shape[0], H_B.shape[1], H_F.shape[1])
    sb = padded_singular_values(H_B, nbar)
    sf = padded_singular_values(H_F, nbar)
    prod = (sb * sf)[::-1]
    return jnp.cumprod(prod)


def determinant_invariant(H_backward: Any, H_forward: Any) -> jnp.ndarray:
    """(x): when ``N_S <= N``, ``prod_{n<=N_S} sigma_n(H) = prod_n sigma_n(H_B) sigma_n(H_F)`` for every
    unitary ``Theta`` (``H_D = 0``). Returns the right-hand side."""
    H_B, H_F = _pair(H_backward, H_forward)
    if H_B.shape[1] > min(H_B.shape[0], H_F.shape[1]):
        raise ValueError("H_backward: the invariant (x) needs N_S <= min(N_R, N_T)")
    sb, sf = _sv_pair(H_B, H_F)
    return jnp.prod(sb * sf)


def singular_value_bounds(H_backward: Any, H_forward: Any) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Cor 3.3 (14), ``H_D = 0``, fully connected:
    ``max_{i+j=n+N_S} s_i(H_B) s_j(H_F) <= sigma_n(H) <= min_{i+j=n+1} s_i(H_B) s_j(H_F)``,
    ``i, j in 1..N_S`` (zero-padded). Returns ``(lower, upper)`` for ``n = 1..min(N_R, N_T)``.

    For ``n > N_S`` the printed upper bound is valid but not tight (``rank H <= N_S``): we return the
    attained value 0 there (found by enumerating permutations, ``tests/bdris/test_appendix.py``)."""
    H_B, H_F = _pair(H_backward, H_forward)
    sb, sf = _sv_pair(H_B, H_F)
    n_s = H_B.shape[1]
    N = min(H_B.shape[0], H_F.shape[1])
    i = jnp.arange(1, n_s + 1)[:, None]
    j = jnp.arange(1, n_s + 1)[None, :]
    prod = sb[:, None] * sf[None, :]
    n = jnp.arange(1, N + 1)[:, None, None]
    big = jnp.asarray(jnp.inf, prod.dtype)
    upper = jnp.min(jnp.where((i + j)[None] == n + 1, prod[None], big), axis=(1, 2))
    lower = jnp.max(jnp.where((i + j)[None] == n + n_s, prod[None], 0.0), axis=(1, 2))
    upper = jnp.where(jnp.arange(1, N + 1) > n_s, 0.0, upper)
    return lower, upper


def power_bounds(H_backward: Any, H_forward: Any, *, printed: bool = False) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Cor 3.4 (19), ``H_D = 0``: bounds on ``||H_B Theta H_F||_F^2`` over unitary Theta.

    Upper: ``sum_n s_n^2(H_B) s_n^2(H_F)`` (attained by ``V_B U_F^H``). Lower (tight, spec A7):
    ``sum_{n=1}^{N_S} s_n^2(H_B) s_{N_S-n+1}^2(H_F)`` (zero-padded; attained by ``V_B J U_F^H``);
    ``printed=True`` gives the paper's sum truncated at ``n <= N`` (valid, not always tight).
    """
    H_B, H_F = _pair(H_backward, H_forward)
    sb, sf = _sv_pair(H_B, H_F)
    upper = jnp.sum(sb**2 * sf**2)
    terms = sb**2 * sf[::-1] ** 2
    if printed:
        terms = terms[: min(H_B.shape[0], H_F.shape[1])]
    return jnp.sum(terms), upper


def capacity_fully_connected(H_backward: Any, H_forward: Any, power: Any, noise: Any) -> jnp.ndarray:
    """Cor 3.5 (22), ``H_D = 0``, fully connected: ``C = sum_n log(1 + s_n s_n^2(H_B) s_n^2(H_F)/eta)``
    with water-filling ``s`` (nats); achieved by ``Theta = V_B U_F^H`` (23)."""
    H_B, H_F = _pair(H_backward, H_forward)
    P = check_positive(power, "power")
    eta = check_positive(noise, "noise")
    sb, sf = _sv_pair(H_B, H_F)
    N = min(H_B.shape[0], H_F.shape[1], H_B.shape[1])
    g = (sb[:N] * sf[:N]) ** 2 / eta
    p = kb.waterfill_levels(g, jnp.asarray(P, g.dtype))
    return jnp.sum(jnp.log1p(p * g))


def capacity_asymptotes(H_backward: Any, H_forward: Any, snr: Any) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Cor 3.6 (24a/b) with ``rho = P / eta``: low-SNR ``rho s_1^2(H_B) s_1^2(H_F)`` and high-SNR
    ``N log(rho / N) + 2 log prod_{n<=N} s_n(H_B) s_n(H_F)`` (nats; ``N = min(N_R, N_T)``, assumed
    ``<= N_S`` with full-rank channels)."""
    H_B, H_F = _pair(H_backward, H_forward)
    rho = check_positive(snr, "snr")
    sb, sf = _sv_pair(H_B, H_F)
    N = min(H_B.shape[0], H_F.shape[1])
    low = rho * sb[0] ** 2 * sf[0] ** 2
    high = N * jnp.log(rho / N) + 2 * jnp.sum(jnp.log(sb[:N] * sf[:N]))
    return low, high
