"""Achievable rate, water-filling and capacity (spec §3.2, §4.8). Rates are in nats (``to_bits``)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxisac.core import check_array, check_positive
from jaxisac.kernels import bdris as kb

__all__ = ["rate", "waterfill", "waterfilling_covariance", "capacity", "to_bits", "rate_objective"]


def _logdet_hpd(A: jax.Array) -> jax.Array:
    c = jnp.linalg.cholesky(A)
    return 2.0 * jnp.sum(jnp.log(jnp.real(jnp.diagonal(c, axis1=-2, axis2=-1))), axis=-1)


def _rate(H, Q, noise):
    n_r = H.shape[0]
    A = jnp.eye(n_r, dtype=H.dtype) + (H @ Q @ jnp.conj(H.T)) / noise
    A = 0.5 * (A + jnp.conj(A.T))
    return _logdet_hpd(A)


def rate(H: Any, Q: Any, noise: Any) -> jax.Array:
    """``log det(I + H Q H^H / noise)`` in nats (spec (35a)).

    Args:
        H: channel ``(N_R, N_T)`` complex.
        Q: transmit covariance ``(N_T, N_T)`` Hermitian PSD (``W W^H``), power in the same linear unit
            as ``noise``.
        noise: noise power ``eta > 0`` (linear).
    """
    H = check_array(H, "H", ndim=2, kind="complex")
    Q = check_array(Q, "Q", shape=(H.shape[1], H.shape[1]), kind="complex")
    noise = check_positive(noise, "noise")
    return _rate(H, Q.astype(H.dtype), noise.astype(jnp.real(H).dtype))


def rate_objective(H: jax.Array, params: tuple[jax.Array, jax.Array]) -> jax.Array:
    """Shaping objective ``f(H, (Q, noise)) = rate(H, Q, noise)`` (the passive subproblem (36))."""
    Q, noise = params
    return _rate(H, Q.astype(H.dtype), noise)


def waterfill(gains: Any, power: Any) -> jax.Array:
    """Water-filling powers ``p_n = (mu - 1/g_n)_+`` with ``sum_n p_n = power`` (exact, by sorting).

    Args:
        gains: ``(N,)`` non-negative channel gains ``sigma_n^2 / noise`` (zero gains get no power).
        power: total power ``P > 0``.

    Returns:
        ``(N,)`` powers in the order of ``gains``.
    """
    g = check_array(gains, "gains", ndim=1, kind="real")
    P = check_positive(power, "power")
    return kb.waterfill_levels(g, P.astype(g.dtype))


def _wf_covariance(H, power, noise):
    _, s, vh = jnp.linalg.svd(H, full_matrices=False)
    p = kb.waterfill_levels(s**2 / noise, jnp.asarray(power, s.dtype))
    v = jnp.conj(vh.T)
    return (v * p.astype(H.dtype)) @ vh


def waterfilling_covariance(H: Any, power: Any, noise: Any) -> jax.Array:
    """Capacity-achieving covariance ``Q = V diag(s*) V^H`` of ``H`` (spec (38)), ``(N_T, N_T)``."""
    H = check_array(H, "H", ndim=2, kind="complex")
    P = check_positive(power, "power")
    noise = check_positive(noise, "noise")
    rdt = jnp.real(H).dtype
    return _wf_covariance(H, P.astype(rdt), noise.astype(rdt))


def capacity(H: Any, power: Any, noise: Any) -> jax.Array:
    """MIMO capacity ``sum_n log(1 + s_n sigma_n^2(H) / noise)`` with water-filling ``s`` (nats)."""
    H = check_array(H, "H", ndim=2, kind="complex")
    P = check_positive(power, "power")
    noise = check_positive(noise, "noise")
    rdt = jnp.real(H).dtype
    s = jnp.linalg.svd(H, compute_uv=False)
    g = s**2 / noise.astype(rdt)
    p = kb.waterfill_levels(g, P.astype(rdt))
    return jnp.sum(jnp.log1p(p * g))


def to_bits(nats: Any) -> jax.Array:
    """Nats -> bit/s/Hz (the paper's figures use bits; the library returns nats)."""
    return jnp.asarray(nats) / jnp.log(2.0)
