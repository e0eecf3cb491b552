"""Symmetric (reciprocal) BD-RIS (spec §3.3, §4.10): Takagi factorisation and ``Theta = Q Q^T``.

The paper's "projection" ``(Theta + Theta^T)/2`` is NOT unitary (the surface becomes lossy, spec A11);
:func:`enforce_symmetry_paper` reproduces it only to measure that. Exact alternatives:

* optimise over ``Q`` with ``Theta_g = Q_g Q_g^T`` (``ChannelShaping(..., symmetric=True)``);
* replace ``U V^H`` by ``Q Q^T`` from the Takagi factorisation of the symmetric part
  (:func:`takagi`, :func:`symmetric_polar`; ``PowerGainMM(variant="takagi")``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxisac.core import check_array

__all__ = ["takagi", "symmetric_polar", "enforce_symmetry_paper", "symmetry_error"]


def takagi(A: Any) -> tuple[jax.Array, jax.Array]:
    """Autonne-Takagi factorisation ``A = Q diag(s) Q^T`` of a complex symmetric ``A`` (batched).

    From the SVD ``A = U S V^H``: ``t = diag(U^H conj(V))`` and ``Q = U diag(exp(j arg(t)/2))``.
    Valid for distinct singular values (repeated ones need a block treatment).

    Returns:
        ``(Q, s)``: unitary ``(..., n, n)`` and non-increasing ``(..., n)``.
    """
    A = check_array(A, "A", kind="complex")
    u, s, vh = jnp.linalg.svd(A)
    t = jnp.sum(jnp.conj(u) * jnp.swapaxes(vh, -1, -2), axis=-2)  # diag(U^H conj(V)), conj(V) = vh^T
    ph = jnp.exp(0.5j * jnp.angle(t)).astype(u.dtype)
    return u * ph[..., None, :], s


def symmetric_polar(M: Any) -> jax.Array:
    """``Q Q^T`` from the Takagi factorisation of ``(M + M^T)/2``: maximises ``Re tr(Theta^H M)`` over
    symmetric unitary ``Theta`` (and over all unitary ones when ``M`` is symmetric)."""
    M = check_array(M, "M", kind="complex")
    S = 0.5 * (M + jnp.swapaxes(M, -1, -2))
    Q, _ = takagi(S)
    return Q @ jnp.swapaxes(Q, -1, -2)


def enforce_symmetry_paper(theta: Any) -> jax.Array:
    """The paper's variant ``(Theta + Theta^T)/2`` (not unitary; for comparison only)."""
    th = check_array(theta, "theta", kind="complex")
    return 0.5 * (th + jnp.swapaxes(th, -1, -2))


def symmetry_error(theta: Any) -> jax.Array:
    """``max |Theta - Theta^T|``."""
    th = check_array(theta, "theta", kind="complex")
    return jnp.max(jnp.abs(th - jnp.swapaxes(th, -1, -2)))
