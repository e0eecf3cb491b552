"""Communication and sensing metrics of seed 002 as pure functions (batch with ``jax.vmap``).

Shapes: ``H (K, N)`` (row k = ``h_k^T``, no conjugation), ``X (N, L)``, ``S (K, L)``, ``R (N, N)``.
Powers in watts, rates in bps/Hz/user, angles in radians.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxisac.core.complex import ct
from jaxisac.core.validation import check_array, check_positive
from jaxisac.kernels import robust as _k
from jaxisac.scenarios.arrays import ula_steering

_f_value_jit = jax.jit(_k.f_value)

__all__ = [
    "mui",
    "per_user_mui",
    "sinr",
    "aasr",
    "beampattern",
    "covariance_error",
    "detection_probability",
    "value_function",
    "upper_bound",
    "lower_bound",
    "lipschitz_constant",
]


def _hxs(H, X, S):
    H = check_array(H, "H", ndim=2, kind="complex")
    X = check_array(X, "X", ndim=2, kind="complex")
    S = check_array(S, "S", ndim=2, kind="complex")
    if H.shape[1] != X.shape[0]:
        raise ValueError(f"H/X: H has {H.shape[1]} antennas but X has {X.shape[0]} rows")
    if S.shape != (H.shape[0], X.shape[1]):
        raise ValueError(f"S: expected shape ({H.shape[0]}, {X.shape[1]}) (users x frame), got {S.shape}")
    dt = jnp.result_type(H.dtype, X.dtype, S.dtype)
    return H.astype(dt), X.astype(dt), S.astype(dt)


@jax.jit
def _per_user_mui(H, X, S):
    return jnp.sum(jnp.abs(H @ X - S) ** 2, axis=-1)


@jax.jit
def _sinr(H, X, S, n0):
    L = S.shape[-1]
    sig = jnp.sum(jnp.abs(S) ** 2, axis=-1) / L
    return sig / (_per_user_mui(H, X, S) / L + n0)


def per_user_mui(H: Any, X: Any, S: Any) -> jax.Array:
    """Per-user MUI energy ``||h_k^T X - s_k||^2``, shape ``(K,)``."""
    H, X, S = _hxs(H, X, S)
    return _per_user_mui(H, X, S)


def mui(H: Any, X: Any, S: Any) -> jax.Array:
    """Total multi-user-interference energy ``||H X - S||_F^2`` (real scalar)."""
    return jnp.sum(per_user_mui(H, X, S))


def sinr(H: Any, X: Any, S: Any, noise_var: Any) -> jax.Array:
    """Per-user SINR (4): ``(sum_l |s_kl|^2 / L) / (sum_l |h_k^T x_l - s_kl|^2 / L + N0)``, shape ``(K,)``."""
    H, X, S = _hxs(H, X, S)
    n0 = check_positive(noise_var, "noise_var", strict=False)
    return _sinr(H, X, S, n0.astype(jnp.finfo(H.dtype).dtype))


def aasr(H: Any, X: Any, S: Any, noise_var: Any) -> jax.Array:
    """Average achievable sum-rate (3), ``(1/K) sum_k log2(1 + SINR_k)`` in bps/Hz/user."""
    return _mean_log2(sinr(H, X, S, noise_var))


@jax.jit
def _mean_log2(g):
    return jnp.mean(jnp.log2(1 + g), axis=-1)


def beampattern(R: Any, angles: Any, *, spacing: float = 0.5) -> jax.Array:
    """``B(phi) = |a(phi)^H R a(phi)| / (4 pi)`` with the centred ULA steering vector (shape of ``angles``)."""
    R = check_array(R, "R", ndim=2, kind="complex")
    a = ula_steering(R.shape[0], jnp.asarray(angles), spacing=spacing, reference="centre", dtype=R.dtype)
    return jnp.abs(jnp.einsum("...i,ij,...j->...", jnp.conj(a), R, a)) / (4 * jnp.pi)


def covariance_error(X: Any, R: Any) -> jax.Array:
    """Sensing metric ``||X X^H / L - R||_F``."""
    X = check_array(X, "X", ndim=2, kind="complex")
    R = check_array(R, "R", shape=(X.shape[0], X.shape[0]), kind="complex")
    return jnp.linalg.norm(X @ ct(X) / X.shape[1] - R)


@jax.jit
def _pd_kernel(X, a, n0, amplitude, pfa):
    rd = jnp.finfo(X.dtype).dtype
    Rx = X @ ct(X) / X.shape[1]
    g = jnp.abs(jnp.conj(a) @ Rx @ a)
    delta = (amplitude**2) * g**2 / n0
    thr = -2.0 * jnp.log(pfa)  # chi2(2) quantile of 1 - pfa
    return _marcum_q1_sq(delta.astype(rd), thr.astype(rd))


def _marcum_q1_sq(delta, x, terms: int = 1024):
    """``P(ncchi2(2, delta) > x)`` as a Poisson mixture of central chi-square tails (window of ``terms``)."""
    half = 0.5 * delta
    j0 = jnp.maximum(jnp.floor(half - terms / 2), 0.0)
    j = j0 + jnp.arange(terms, dtype=delta.dtype)
    logp = j * jnp.log(jnp.maximum(half, jnp.finfo(delta.dtype).tiny)) - half - jax.scipy.special.gammaln(j + 1)
    logp = jnp.where((half == 0) & (j == 0), 0.0, logp)
    tail = jax.scipy.special.gammaincc(j + 1, 0.5 * x)
    return jnp.clip(jnp.sum(jnp.exp(logp) * tail), 0.0, 1.0)


def detection_probability(X: Any, angle: Any, noise_var: Any, *, pfa: float = 1e-3, amplitude: float = 0.9) -> jax.Array:
    """Detection probability of spec §1.2 (as coded by the paper):
    ``P_d = 1 - F_{ncchi2(2, delta)}(F^{-1}_{chi2(2)}(1 - P_fa))``, ``delta = amplitude^2 |a^H (X X^H/L) a|^2 / N0``,
    i.e. ``P_d = Q_1(sqrt(delta), sqrt(-2 ln P_fa))``. ``angle`` in radians (scalar)."""
    X = check_array(X, "X", ndim=2, kind="complex")
    if not 0 < pfa < 1:
        raise ValueError(f"pfa: expected a probability in (0, 1), got {pfa}")
    n0 = check_positive(noise_var, "noise_var")
    rd = jnp.finfo(X.dtype).dtype
    a = ula_steering(X.shape[0], jnp.asarray(angle, rd), reference="centre", dtype=X.dtype)
    return _pd_kernel(X, a, n0.astype(rd), jnp.asarray(amplitude, rd), jnp.asarray(pfa, rd))


def value_function(H: Any, S: Any, R: Any) -> jax.Array:
    """``f(H) = min_{X X^H = L R} ||H X - S||^2`` in its differentiable K x K form (spec §2.1)."""
    H = check_array(H, "H", ndim=2, kind="complex")
    S = check_array(S, "S", shape=(H.shape[0], None), kind="complex")
    R = check_array(R, "R", shape=(H.shape[1], H.shape[1]), kind="complex")
    dt = jnp.result_type(H.dtype, S.dtype, R.dtype)
    return _f_value_jit(H.astype(dt), S.astype(dt), R.astype(dt))


def upper_bound(H: Any, Xbar: Any, S: Any) -> jax.Array:
    """Prop. 3 upper bound ``fbar(H) = ||H Xbar - S||^2`` (convex quadratic in H)."""
    return mui(H, Xbar, S)


def lower_bound(H: Any, S: Any, R: Any) -> jax.Array:
    """Prop. 3 lower bound ``[sqrt(L tr(H^H H R)) - ||S||_F]^2``."""
    H = check_array(H, "H", ndim=2, kind="complex")
    S = check_array(S, "S", ndim=2, kind="complex")
    R = check_array(R, "R", ndim=2, kind="complex")
    L = S.shape[1]
    return (jnp.sqrt(L * jnp.real(jnp.trace(ct(H) @ H @ R))) - jnp.linalg.norm(S)) ** 2


def lipschitz_constant(H_nominal: Any, S: Any, power: Any, theta: Any) -> jax.Array:
    """Prop. 1 (31): ``L_f = 2 L P_T (||Hbar||_F + theta) + 2 sqrt(L P_T) ||S||_F`` (Frobenius ball, B = 1)."""
    Hb = check_array(H_nominal, "H_nominal", ndim=2, kind="complex")
    S = check_array(S, "S", ndim=2, kind="complex")
    L = S.shape[1]
    P = jnp.asarray(power)
    return 2 * L * P * (jnp.linalg.norm(Hb) + theta) + 2 * jnp.sqrt(L * P) * jnp.linalg.norm(S)
