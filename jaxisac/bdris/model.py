"""The BD-RIS model: scattering matrices as stacks of unitary blocks and the cascaded channel.

Shapes (spec §1.1): ``H_direct (N_R, N_T)``, ``H_backward (N_R, N_S)``, ``H_forward (N_S, N_T)``; a
scattering matrix with ``G`` groups of size ``L = N_S / G`` is stored as ``theta (G, L, L)`` (group
``g`` acts on the contiguous ports ``gL .. gL+L-1``). ``L = 1`` is the diagonal RIS (D-RIS, phases),
``L = N_S`` the fully-connected BD-RIS. Channels are complex amplitudes (linear scale, not dB).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxisac.core import check_array
from jaxisac.core.manifolds import haar_unitary
from jaxisac.kernels import bdris as kb

__all__ = [
    "channel",
    "as_blocks",
    "to_dense",
    "identity_theta",
    "random_theta",
    "unitarity_error",
    "check_group_size",
]


def check_group_size(n_ris: int, group_size: int) -> int:
    """Validate ``group_size`` (a positive divisor of ``N_S``); returns the number of groups."""
    try:
        L = int(group_size)
    except (TypeError, ValueError):
        raise ValueError(f"group_size: expected a positive integer, got {group_size!r}") from None
    if L < 1 or n_ris % L != 0:
        raise ValueError(f"group_size: expected a positive divisor of N_S = {n_ris}, got {group_size}")
    return n_ris // L


def as_blocks(theta: Any, n_ris: int | None = None) -> jax.Array:
    """Normalise a scattering matrix to blocks ``(G, L, L)``.

    Accepts blocks ``(G, L, L)``, D-RIS phases as a vector ``(N_S,)`` of unit-modulus entries, or one
    dense fully-connected matrix ``(N_S, N_S)`` (taken as ``G = 1``).
    """
    theta = check_array(theta, "theta", kind="complex")
    if theta.ndim == 1:
        theta = theta[:, None, None]
    elif theta.ndim == 2:
        theta = theta[None]
    if theta.ndim != 3 or theta.shape[1] != theta.shape[2]:
        raise ValueError(f"theta: expected blocks (G, L, L), phases (N_S,) or a matrix (N_S, N_S), got {theta.shape}")
    if n_ris is not None and theta.shape[0] * theta.shape[1] != n_ris:
        raise ValueError(f"theta: blocks {theta.shape} do not cover N_S = {n_ris} ports")
    return theta


def channel(theta: Any, H_direct: Any, H_backward: Any, H_forward: Any) -> jax.Array:
    """The equivalent channel ``H = H_D + H_B Theta H_F`` (spec (2)), ``(N_R, N_T)`` complex.

    Args:
        theta: blocks ``(G, L, L)``, phases ``(N_S,)`` or a dense ``(N_S, N_S)`` matrix.
        H_direct: ``(N_R, N_T)`` or ``None`` (no direct link).
        H_backward: RIS -> receiver, ``(N_R, N_S)``.
        H_forward: transmitter -> RIS, ``(N_S, N_T)``.
    """
    H_B = check_array(H_backward, "H_backward", ndim=2, kind="complex")
    H_F = check_array(H_forward, "H_forward", ndim=2, kind="complex")
    if H_F.shape[0] != H_B.shape[1]:
        raise ValueError(f"H_forward: expected {H_B.shape[1]} rows (N_S of H_backward), got shape {H_F.shape}")
    if H_direct is None:
        H_D = jnp.zeros((H_B.shape[0], H_F.shape[1]), jnp.result_type(H_B, H_F))
    else:
        H_D = check_array(H_direct, "H_direct", shape=(H_B.shape[0], H_F.shape[1]), kind="complex")
    th = as_blocks(theta, H_B.shape[1])
    return kb.cascade(th, H_D, H_B, H_F)


def to_dense(theta: Any) -> jax.Array:
    """The ``N_S x N_S`` block-diagonal matrix of blocks ``(G, L, L)`` (checks and small problems)."""
    th = as_blocks(theta)
    G, L, _ = th.shape
    eye = jnp.eye(G, dtype=th.dtype)
    return jnp.einsum("gh,gij->gihj", eye, th).reshape(G * L, G * L)


def identity_theta(n_ris: int, group_size: int, dtype: Any = None) -> jax.Array:
    """``Theta = I`` as blocks ``(N_S / L, L, L)``."""
    G = check_group_size(n_ris, group_size)
    cdt = jnp.result_type(complex) if dtype is None else jnp.result_type(dtype, jnp.complex64)
    return jnp.broadcast_to(jnp.eye(group_size, dtype=cdt), (G, group_size, group_size))


def random_theta(key: jax.Array, n_ris: int, group_size: int, dtype: Any = None) -> jax.Array:
    """Haar-random blocks ``(N_S / L, L, L)`` (uniform phases for ``L = 1``)."""
    G = check_group_size(n_ris, group_size)
    return haar_unitary(key, (G, group_size, group_size), dtype)


def unitarity_error(theta: Any) -> jax.Array:
    """``max |Theta_g^H Theta_g - I|`` over all blocks (0 for a lossless scattering matrix)."""
    th = as_blocks(theta)
    eye = jnp.eye(th.shape[-1], dtype=th.dtype)
    return jnp.max(jnp.abs(jnp.conj(jnp.swapaxes(th, -1, -2)) @ th - eye))


