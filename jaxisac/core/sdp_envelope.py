"""Envelope-theorem derivatives of SDP optimal values at a primal-dual point computed elsewhere.

:func:`jaxisac.core.sdp.optimal_value` solves an SDP and differentiates its optimal value. The
solvers that already hold a primal-dual solution (TM, robust TM, the DMA AO's last P2) need only the
derivative: :func:`envelope_term` is a zero-valued scalar whose derivative with respect to the data
of ``sdp`` is that of its optimal value, obtained by re-evaluating the :func:`lagrangian` at the
fixed (``stop_gradient``) primal-dual point with live data. Exact where the primal and dual optima
are unique, to the accuracy of the point. (The formula is the one of ``optimal_value``'s JVP; it
belongs in ``jaxisac.core.sdp`` and lives here only until that module is next edited.)
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .sdp import SDP, SDPValue

__all__ = ["lagrangian", "envelope_term"]


def _re_inner(A, X):
    """``Re <A, X> = Re tr(A^H X)`` over the trailing two axes."""
    return jnp.sum(jnp.real(jnp.conj(A) * X), axis=(-2, -1))


def lagrangian(sdp: SDP, value: SDPValue) -> jax.Array:
    """Lagrangian of ``sdp`` at the primal-dual point ``value`` (real scalar)::

        sum_j Re<C_j, X_j> + c^T s + sum_k q_k^T u_k - y^T (sum_j Re<A_j, X_j> + G s + sum_k Q_k u_k - b)

    At a primal-dual optimum it equals the optimal value; its derivative with respect to the data of
    ``sdp`` at fixed ``value`` is the derivative of the optimal value (envelope theorem).
    """
    if not isinstance(sdp, SDP):
        raise ValueError(f"sdp: expected a jaxisac.core.sdp.SDP, got {type(sdp).__name__}")
    if not isinstance(value, SDPValue):
        raise ValueError(f"value: expected a jaxisac.core.sdp.SDPValue, got {type(value).__name__}")
    y = value.y
    L = jnp.asarray(jnp.dot(sdp.c, value.s), sdp.real_dtype)
    r = -sdp.b + sdp.G @ value.s
    for C, A, X in zip(sdp.C, sdp.A, value.X):
        L = L + _re_inner(C, X)
        r = r + _re_inner(A, X[None])
    for q, Q, u in zip(sdp.q, sdp.Q, value.u):
        L = L + jnp.dot(q, u)
        r = r + Q @ u
    return L - jnp.dot(y, r)


def envelope_term(sdp: SDP, value: SDPValue) -> jax.Array:
    """Zero-valued scalar whose derivative (forward and reverse mode) is the envelope derivative of
    ``sdp``'s optimal value at the primal-dual point ``value`` (held fixed). Add it to a value
    computed on ``stop_gradient`` data."""
    value = jax.tree_util.tree_map(lambda a: jax.lax.stop_gradient(a) if eqx.is_inexact_array(a) else a, value)
    L = lagrangian(sdp, value)
    return L - jax.lax.stop_gradient(L)
