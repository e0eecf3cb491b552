"""Metrics of the extended-target CRB problem: pure functions of (W, W_aux, problem)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..core.complex import ct

__all__ = ["sinr", "crb", "power"]


def sinr(W, W_aux, problem) -> jax.Array:
    """(K,) linear SINRs |h_k^H w_k|^2 / (sum_{i!=k} |h_k^H w_i|^2 + ||h_k^H W_aux||^2 + sigma_C^2).

    ``W`` (N_t, K), ``W_aux`` (N_t, N_t) complex; powers in the unit of ``problem.power``.
    """
    Hh = jnp.conj(problem.channels)  # row k = h_k^H
    G = jnp.abs(Hh @ W) ** 2
    sig = jnp.diagonal(G)
    interf = jnp.sum(G, axis=-1) - sig + jnp.sum(jnp.abs(Hh @ W_aux) ** 2, axis=-1)
    return sig / (interf + problem.noise_var)


def crb(W, W_aux, problem) -> jax.Array:
    """crb_scale * tr((W W^H + W_aux W_aux^H)^{-1}) (crb_scale = sigma_s^2 N_r / L; default 1)."""
    R = W @ ct(W) + W_aux @ ct(W_aux)
    n = R.shape[-1]
    Rinv = jnp.linalg.solve(0.5 * (R + ct(R)), jnp.eye(n, dtype=R.dtype))
    return problem.crb_scale * jnp.real(jnp.trace(Rinv))


def power(W, W_aux) -> jax.Array:
    """Total transmit power ||W||_F^2 + ||W_aux||_F^2."""
    return jnp.sum(jnp.abs(W) ** 2) + jnp.sum(jnp.abs(W_aux) ** 2)
