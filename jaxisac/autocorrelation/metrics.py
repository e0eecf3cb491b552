"""Metrics: NMSE, eigenvalue ratios, gains in dB."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ..core.validation import check_array

__all__ = ["nmse", "eigenvalue_ratio", "true_autocorrelation", "gain_db"]


def nmse(R_hat: Any, R: Any) -> jax.Array:
    """Normalised error ``||R_hat - R||_F^2 / ||R||_F^2`` over the last two axes (batched)."""
    R_hat = check_array(R_hat, "R_hat")
    R = check_array(R, "R")
    if R_hat.shape[-2:] != R.shape[-2:] or R.ndim < 2:
        raise ValueError(f"R_hat: expected matrices of shape {R.shape[-2:]} to match R, got {R_hat.shape}")
    num = jnp.sum(jnp.abs(R_hat - R) ** 2, axis=(-2, -1))
    return num / jnp.sum(jnp.abs(R) ** 2, axis=(-2, -1))


def eigenvalue_ratio(H: Any, rank: int = 1) -> jax.Array:
    """``(lambda_1 + ... + lambda_rank) / tr H`` (``g`` of (7); ``g_r`` of (15) with ``rank=2``)."""
    H = check_array(H, "H")
    w = jnp.linalg.eigvalsh(H)
    return jnp.sum(w[..., ::-1][..., :rank], axis=-1) / jnp.real(jnp.trace(H, axis1=-2, axis2=-1))


def true_autocorrelation(hbar: Any, bits: int) -> jax.Array:
    """The estimand: ``Hbar = hbar hbar^H`` (``bits >= 2``) or ``Re Hbar`` (``bits = 1``)."""
    hbar = check_array(hbar, "hbar", kind="complex")
    H = hbar[..., :, None] * jnp.conj(hbar[..., None, :])
    return jnp.real(H) if int(bits) == 1 else H


def gain_db(gain: Any, reference: Any) -> jax.Array:
    """``10 log10(gain / reference)`` (dB)."""
    return 10.0 * jnp.log10(jnp.asarray(gain) / jnp.asarray(reference))
