"""Symmetric (reciprocal) BD-RIS (spec §3.3, §4.10): Takagi factorisation and ``Theta = Q Q^T``.

The paper's "projection" ``(Theta + Theta^T)/2`` is NOT unitary (the surface becomes lossy, spec A11);
:func:`enforce_symmetry_paper` reproduces it only to measure that. Exact alternatives:

* optimise over ``Q`` with ``Theta_g = Q_g Q_g^T`` (``ChannelShaping(..., symmetric=True)``);
* replace ``U V^H`` by ``Q Q^T`` from the Takagi factorisation of the symmetric part
  (:func:`takagi`, :func:`symmetric_polar`; ``PowerGainMM(variant="takagi")``).

Symmetric rate maximisation: :class:`~jaxisac.bdris.RateAO` on a
``RateMaximisation(..., symmetric=True)`` runs the AO of spec §4.8 with the passive step over ``Q``
(RCG on ``log det`` through ``Theta_g = Q_g Q_g^T``). Start it from :func:`symmetric_power_max`, the
symmetric analogue of the library's default ``Theta_0 = Theta_P-max`` (spec A5)::

    prob = RateMaximisation(H_D, H_B, H_F, power=P, noise=eta, group_size=L, symmetric=True)
    q0 = symmetric_power_max(H_D, H_B, H_F, group_size=L)
    sol = jaxisac.solve(prob, RateAO(), init=q0)
    theta = prob.theta(sol.value["theta"])          # symmetric and unitary blocks (G, L, L)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxisac.core import check_array
from jaxisac.kernels import bdris as kb

__all__ = ["takagi", "symmetric_polar", "enforce_symmetry_paper", "symmetry_error", "symmetric_power_max"]


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


def _qqt(q: jax.Array) -> jax.Array:
    return q @ jnp.swapaxes(q, -1, -2)


def _takagi_factor(M: jax.Array) -> jax.Array:
    Q, _ = takagi(0.5 * (M + jnp.swapaxes(M, -1, -2)))
    return Q


def symmetric_power_max(
    H_direct: Any,
    H_backward: Any,
    H_forward: Any,
    *,
    group_size: int,
    init: Any = None,
    max_steps: int = 200,
    rtol: float = 1e-10,
) -> jax.Array:
    """Symmetric (reciprocal) P-max: the Takagi-modified Prop 5 iteration, returning the FACTOR ``Q``.

    Maximises ``||H_D + H_B Theta H_F||_F^2`` over ``Theta_g = Q_g Q_g^T`` (``Q_g in U(L)``) by
    ``Q_g <- Takagi factor of (M_g + M_g^T)/2`` with ``M_g = H_B,g^H H H_F,g^H`` (spec §3.3). ``Q Q^T``
    maximises ``Re tr(Theta^H M_g)`` over all unitary ``Theta`` when ``M_g`` is replaced by its
    symmetric part, so every step is a minorise-maximise step and the power never decreases. Same
    iterates as ``PowerGainMM(variant="takagi")`` from ``Theta = I``, but it keeps ``Q``: use it as the
    warm start of a symmetric :class:`~jaxisac.bdris.RateAO` or ``ChannelShaping(symmetric=True)``.

    Args:
        H_direct: ``(N_R, N_T)`` complex, or ``None`` (no direct link).
        H_backward: ``(N_R, N_S)`` complex.
        H_forward: ``(N_S, N_T)`` complex.
        group_size: ``L``, a divisor of ``N_S``.
        init: initial factor ``Q`` as blocks ``(G, L, L)`` (unitary); default ``I`` (``Theta = I``).
        max_steps: iteration cap (static).
        rtol: stop when the relative power increase is ``<= rtol``.

    Returns:
        ``Q``: blocks ``(G, L, L)`` of the channels' complex dtype; ``Theta_g = Q_g Q_g^T`` is symmetric
        exactly and unitary to rounding. Not differentiated (a ``lax.while_loop``).
    """
    from .problems import ChannelShaping  # validation of channels and group size

    base = ChannelShaping(H_direct, H_backward, H_forward, group_size=group_size)
    if int(max_steps) < 0:
        raise ValueError(f"max_steps: expected a non-negative integer, got {max_steps}")
    if not float(rtol) >= 0:
        raise ValueError(f"rtol: expected a non-negative tolerance, got {rtol}")
    HD, HB, HF = base.H_direct, base.H_backward, base.H_forward
    G, L = base.manifold.n_blocks, base.manifold.block_size
    if init is None:
        q0 = jnp.broadcast_to(jnp.eye(L, dtype=HB.dtype), (G, L, L))
    else:
        q0 = check_array(init, "init", shape=(G, L, L), kind="complex").astype(HB.dtype)

    def power(q):
        return jnp.sum(jnp.abs(kb.cascade(_qqt(q), HD, HB, HF)) ** 2)

    def cond(c):
        _, p, p_prev, k = c
        return (k < int(max_steps)) & ((k == 0) | (p - p_prev > rtol * jnp.abs(p_prev)))

    def body(c):
        q, p, _, k = c
        new = _takagi_factor(kb.power_gain_gradient_blocks(_qqt(q), HD, HB, HF))
        p_new = power(new)
        keep = p_new < p  # never accept a decrease (rounding at the fixed point)
        return jnp.where(keep, q, new), jnp.where(keep, p, p_new), p, k + 1

    p0 = power(q0)
    q, *_ = jax.lax.while_loop(cond, body, (q0, p0, p0, jnp.zeros((), jnp.int32)))
    return q
