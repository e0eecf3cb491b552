"""Sensing-centric waveform steps: closed form (29), Method 1 remedy (39), Method 2 (Prop. 9).

All take the lower Cholesky factor ``F`` of ``R`` implicitly (computed here from ``R``; pass
``R`` Hermitian positive definite). Shapes: ``H (K, N)``, ``S (K, L)``, ``R (N, N)``, ``K <= N <= L``.

Differentiation: these maps return *one* member of a non-unique set of minimisers (the completion of
the rank-K part is arbitrary, spec §2.1), so the waveform itself is not differentiated (its SVD has
N - K zero singular values). Differentiate the optimal value with :func:`~jaxisac.robust.value_function`
(K x K form) or the metrics, which depend on the waveform only through ``X X^H = L R`` and ``X S^H``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxisac.core.validation import check_array, check_hermitian, check_positive, is_concrete
from jaxisac.kernels import robust as _k

_sc_jit = jax.jit(_k.sc_closed_form)
_remedy_jit = jax.jit(_k.remedy_exact)
_prop8_jit = jax.jit(_k.remedy_prop8, static_argnums=(6, 7))
_m2_jit = jax.jit(_k.method2_waveform)

__all__ = [
    "cholesky_factor",
    "sensing_centric_waveform",
    "remedy_waveform",
    "method2_step",
]


def _check_dims(K, N, L, name="S"):
    if not K <= N <= L:
        raise ValueError(f"{name}: expected users <= antennas <= frame length (K <= N <= L), got K={K}, N={N}, L={L}")


def cholesky_factor(R: Any) -> jax.Array:
    """Lower Cholesky factor ``F`` of the Hermitian positive definite ``R`` (``R = F F^H``)."""
    R = check_hermitian(check_array(R, "R", ndim=2, kind="complex"), "R", psd=True)
    F = jnp.linalg.cholesky(R)
    if is_concrete(F) and not bool(jnp.all(jnp.isfinite(F))):
        raise ValueError("R: expected a positive definite matrix (Cholesky failed); add a small jitter")
    return F


def _common(H, S, R, hname="H"):
    H = check_array(H, hname, ndim=2, kind="complex")
    S = check_array(S, "S", ndim=2, kind="complex")
    if S.shape[0] != H.shape[0] and hname == "H":
        raise ValueError(f"S: expected {H.shape[0]} rows (users of {hname}), got shape {S.shape}")
    F = cholesky_factor(R)
    if F.shape[0] != H.shape[1]:
        raise ValueError(f"R: expected shape ({H.shape[1]}, {H.shape[1]}), got {F.shape}")
    _check_dims(S.shape[0], H.shape[1], S.shape[1])
    dt = jnp.result_type(H.dtype, S.dtype, F.dtype)
    return H.astype(dt), S.astype(dt), F.astype(dt)


def sensing_centric_waveform(H: Any, S: Any, R: Any) -> jax.Array:
    """Closed form (29) of ``min ||H X - S||^2 s.t. X X^H = L R``: ``X = sqrt(L) F U I V^H``.

    Args:
        H: channel ``(K, N)`` (or any stacked ``(M, N)`` matrix with ``S (M, L)``).
        S: symbols ``(K, L)``. R: covariance ``(N, N)`` Hermitian PD.

    Returns:
        ``X (N, L)`` with ``X X^H = L R``; complex dtype of the inputs.
    """
    H, S, F = _common(H, S, R)
    return _sc_jit(H, S, F)


def remedy_waveform(
    H_star: Any, S: Any, R: Any, X_nominal: Any, *, method: str = "exact", alpha: float = 1e4,
    tol: float = 1e-6, max_steps: int = 5000, projection: str = "svals",
) -> jax.Array:
    """Method 1 step: the minimiser of ``||H* X - S||^2`` over ``X X^H = L R`` closest to ``X_nominal``.

    ``method="exact"``: the alpha -> infinity closed form of spec §3.2 (deterministic, no loop).
    ``method="prop8"``: the paper's Prop. 8 block iteration with penalty ``alpha``.
    """
    if method not in ("exact", "prop8"):
        raise ValueError(f"method: expected 'exact' or 'prop8', got {method!r}")
    if projection not in ("svals", "diag"):
        raise ValueError(f"projection: expected 'svals' or 'diag', got {projection!r}")
    Hs, S, F = _common(H_star, S, R, "H_star")
    Xn = check_array(X_nominal, "X_nominal", shape=(F.shape[0], S.shape[1]), kind="complex").astype(S.dtype)
    L = S.shape[1]
    sqL = jnp.sqrt(jnp.asarray(L, jnp.finfo(S.dtype).dtype))
    Abar = jax.scipy.linalg.solve_triangular(F, Xn, lower=True) / sqL
    if method == "exact":
        A = _remedy_jit(Hs, S, F, Abar)
    else:
        check_positive(alpha, "alpha")
        A, _, _ = _prop8_jit(Hs, S, F, Abar, alpha, tol, int(max_steps), projection)
    return sqL * (F @ A)


def method2_step(H_star: Any, S: Any, R: Any, X_nominal: Any, *, alpha: float = 1e4) -> jax.Array:
    """Method 2 step (Prop. 9): ``argmin_{X X^H = L R} alpha ||H* X - S||^2 + ||X - X_nominal||^2``."""
    Hs, S, F = _common(H_star, S, R, "H_star")
    check_positive(alpha, "alpha")
    Xn = check_array(X_nominal, "X_nominal", shape=(F.shape[0], S.shape[1]), kind="complex").astype(S.dtype)
    return _m2_jit(Hs, S, F, Xn, alpha)
