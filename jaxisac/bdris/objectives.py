"""Channel-shaping objectives ``f(H, params) -> real scalar`` (to maximise) and the closed-form
Euclidean gradients of spec §4.1 (for tests and for users who want them).

Any differentiable JAX function of the channel can be shaped: pass it as ``objective=`` to
:class:`~jaxisac.bdris.ChannelShaping`; its Euclidean gradient with respect to the scattering
matrix is taken by :func:`jaxisac.core.ascent_grad` (``conj(jax.grad)``, the spec's
``nabla_E = 2 df/dTheta*``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxisac.kernels import bdris as kb

from .rate import rate_objective

__all__ = [
    "power_gain",
    "weighted_singular_values",
    "nuclear_norm",
    "nuclear_norm_jacobi",
    "rate_objective",
    "OBJECTIVES",
    "power_gain_egrad",
    "weighted_sv_egrad",
    "rate_egrad",
]


def power_gain(H: jax.Array, params: Any = None) -> jax.Array:
    """Channel power gain ``||H||_F^2 = sum_n sigma_n^2(H)`` (spec (39))."""
    del params
    return jnp.sum(jnp.real(H) ** 2 + jnp.imag(H) ** 2)


@jax.custom_jvp
def _weighted_sv(H, weights):
    s = jnp.linalg.svd(H, compute_uv=False)
    return jnp.sum(weights.astype(s.dtype) * s)


@_weighted_sv.defjvp
def _weighted_sv_jvp(primals, tangents):
    # Prop 4 / (26): d f = Re tr((U diag(rho) V^H)^H dH) with U, V held constant (a Clarke
    # subgradient at ties; never differentiates through singular vectors).
    H, w = primals
    dH, dw = tangents
    u, s, vh = jnp.linalg.svd(H, full_matrices=False)
    w = w.astype(s.dtype)
    val = jnp.sum(w * s)
    proj = jnp.real(jnp.einsum("rn,rt,nt->n", jnp.conj(u), dH, jnp.conj(vh)))
    return val, jnp.sum(w * proj) + jnp.sum(jnp.asarray(dw, s.dtype) * s)


def weighted_singular_values(H: jax.Array, weights: jax.Array) -> jax.Array:
    """Pareto objective (34) ``sum_n rho_n sigma_n(H)`` (``rho``: ``(min(N_R, N_T),)``, any signs).

    ``rho = e_n`` maximises ``sigma_n``, ``-e_n`` minimises it. The derivative is the closed form
    (26) through a ``custom_jvp`` (finite at repeated and zero singular values).
    """
    return _weighted_sv(H, jnp.asarray(weights, jnp.real(H).dtype))


def nuclear_norm(H: jax.Array, params: Any = None) -> jax.Array:
    """``sum_n sigma_n(H)`` (the benchmark objective of the paper's Table I)."""
    del params
    return _weighted_sv(H, jnp.ones(min(H.shape), jnp.real(H).dtype))


def nuclear_norm_jacobi(H: jax.Array, params: Any = None) -> jax.Array:
    """``sum_n sigma_n(H)`` by an unrolled one-sided Jacobi SVD (:func:`jaxisac.kernels.bdris.polar_small`):
    no LAPACK call, fused and vectorised over a batch; for small channels (``min(N_R, N_T) <= 8``).
    The derivative is ``Re tr(Q^H dH)`` with the polar factor ``Q`` (a zero singular value adds
    nothing to ``Q``, where the SVD form :func:`nuclear_norm` adds an arbitrary null pair)."""
    del params
    return kb.nuclear_norm_small(H)


OBJECTIVES = {
    "power": power_gain,
    "pareto": weighted_singular_values,
    "nuclear": nuclear_norm,
    "nuclear_jacobi": nuclear_norm_jacobi,
    "rate": rate_objective,
}
"""Named objectives accepted by :class:`~jaxisac.bdris.ChannelShaping` (``params`` in brackets):
``"power"``, ``"pareto"`` (weights), ``"nuclear"``, ``"nuclear_jacobi"`` (the same, LAPACK-free for small
channels), ``"rate"`` ((Q, noise))."""


# ------------------------------------------------------------ closed-form Euclidean gradients (§4.1)
def _pinch(theta, H_B, H_F, mid):
    """``H_B,g^H mid H_F,g^H`` for every group: the pinched Euclidean gradient (G, L, L)."""
    G = theta.shape[0]
    hb = kb.split_backward(H_B, G)
    hf = kb.split_forward(H_F, G)
    return jnp.conj(jnp.swapaxes(hb, -1, -2)) @ mid[None] @ jnp.conj(jnp.swapaxes(hf, -1, -2))


def power_gain_egrad(theta, H_D, H_B, H_F):
    """``nabla_E,g ||H||^2 = 2 H_B,g^H H H_F,g^H`` (twice the paper's (xv), which is Wirtinger)."""
    H = kb.cascade(theta, H_D, H_B, H_F)
    return 2.0 * _pinch(theta, H_B, H_F, H)


def weighted_sv_egrad(theta, H_D, H_B, H_F, weights):
    """``nabla_E,g sum rho_n sigma_n = H_B,g^H U diag(rho) V^H H_F,g^H`` (the paper's (26) as printed)."""
    H = kb.cascade(theta, H_D, H_B, H_F)
    u, _, vh = jnp.linalg.svd(H, full_matrices=False)
    return _pinch(theta, H_B, H_F, (u * jnp.asarray(weights, u.real.dtype)) @ vh)


def rate_egrad(theta, H_D, H_B, H_F, Q, noise):
    """``nabla_E,g log det(I + H Q H^H / eta) = (2/eta) H_B,g^H (I + H Q H^H/eta)^{-1} H Q H_F,g^H``
    (twice Lemma 1's (37), which is Wirtinger)."""
    H = kb.cascade(theta, H_D, H_B, H_F)
    A = jnp.eye(H.shape[0], dtype=H.dtype) + H @ Q @ jnp.conj(H.T) / noise
    return (2.0 / noise) * _pinch(theta, H_B, H_F, jnp.linalg.solve(A, H @ Q))
