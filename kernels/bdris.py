"""Hot loops of the BD-RIS system (seed 003) as pure functions: arrays in, arrays out.

Scattering matrices are stacks of unitary blocks ``theta: (G, L, L)``; the backward channel is
``H_B: (N_R, N_S)`` and the forward channel ``H_F: (N_S, N_T)`` with ``N_S = G L`` and contiguous groups.
The ``N_S x N_S`` block-diagonal matrix is never formed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "split_backward",
    "split_forward",
    "cascade",
    "power_gain_gradient_blocks",
    "power_mm_parallel",
    "power_mm_sequential",
    "waterfill_levels",
]


def _ct(a):
    return jnp.conj(jnp.swapaxes(a, -1, -2))


def split_backward(H_B: jax.Array, n_groups: int) -> jax.Array:
    """``(N_R, G L) -> (G, N_R, L)``: column blocks ``H_B,g``."""
    n_r, n_s = H_B.shape
    return jnp.transpose(H_B.reshape(n_r, n_groups, n_s // n_groups), (1, 0, 2))


def split_forward(H_F: jax.Array, n_groups: int) -> jax.Array:
    """``(G L, N_T) -> (G, L, N_T)``: row blocks ``H_F,g``."""
    n_s, n_t = H_F.shape
    return H_F.reshape(n_groups, n_s // n_groups, n_t)


def cascade(theta: jax.Array, H_D: jax.Array, H_B: jax.Array, H_F: jax.Array) -> jax.Array:
    """``H = H_D + sum_g H_B,g Theta_g H_F,g`` for ``theta: (G, L, L)``."""
    G, L, _ = theta.shape
    hb = H_B.reshape(H_B.shape[0], G, L)
    hf = H_F.reshape(G, L, H_F.shape[1])
    return H_D + jnp.einsum("rgl,glm,gmt->rt", hb, theta, hf)


def power_gain_gradient_blocks(theta, H_D, H_B, H_F) -> jax.Array:
    """``M_g = H_B,g^H H H_F,g^H`` (G, L, L): half the Euclidean gradient of ``||H||_F^2`` (spec (xv))."""
    G = theta.shape[0]
    H = cascade(theta, H_D, H_B, H_F)
    hb = split_backward(H_B, G)
    hf = split_forward(H_F, G)
    return _ct(hb) @ H[None] @ _ct(hf)


def _polar(m):
    u, _, vh = jnp.linalg.svd(m, full_matrices=False)
    return u @ vh


def power_mm_parallel(theta, H_D, H_B, H_F) -> jax.Array:
    """One parallel Prop-5 step: every block ``Theta_g <- polar(M_g)`` at the same ``Theta``."""
    return _polar(power_gain_gradient_blocks(theta, H_D, H_B, H_F))


def power_mm_sequential(theta, H_D, H_B, H_F) -> jax.Array:
    """One sweep of the sequential Prop-5 iteration (40)-(41): blocks updated in turn, ``H`` kept current."""
    G = theta.shape[0]
    hb = split_backward(H_B, G)
    hf = split_forward(H_F, G)

    def body(g, carry):
        th, H = carry
        m = _ct(hb[g]) @ H @ _ct(hf[g])
        new = _polar(m)
        H = H + hb[g] @ (new - th[g]) @ hf[g]
        return th.at[g].set(new), H

    th, _ = jax.lax.fori_loop(0, G, body, (theta, cascade(theta, H_D, H_B, H_F)))
    return th


def waterfill_levels(gains: jax.Array, power: jax.Array) -> jax.Array:
    """Water-filling powers ``p_n = (mu - 1/g_n)_+`` with ``sum p_n = power`` (exact, by sorting).

    ``gains``: ``(N,)`` non-negative; zero gains get zero power. Differentiable almost everywhere
    (double-``where`` guards at zero gains).
    """
    order = jnp.argsort(-gains)
    g = gains[order]
    pos = g > 0
    inv = jnp.where(pos, 1.0 / jnp.where(pos, g, 1.0), 0.0)
    k = jnp.arange(1, g.shape[0] + 1, dtype=g.dtype)
    mu = (power + jnp.cumsum(inv)) / k
    valid = (mu > inv) & pos
    # the valid set is a prefix; its last member fixes the water level
    kstar = jnp.max(jnp.where(valid, jnp.arange(g.shape[0]), -1))
    level = jnp.where(kstar >= 0, mu[jnp.maximum(kstar, 0)], 0.0)
    p_sorted = jnp.where(pos, jnp.maximum(level - inv, 0.0), 0.0)
    return jnp.zeros_like(p_sorted).at[order].set(p_sorted)
