"""Array geometry: steering vectors of uniform linear / planar arrays and beampatterns.

Conventions (used by every system unless its spec says otherwise):

* Angles are in **radians**; ``theta = 0`` is broadside, positive angles rotate towards the array's
  positive axis. Use :func:`deg2rad` for degrees.
* Element ``n`` of an ``N``-element ULA with spacing ``d`` (in wavelengths, default 1/2) sits at
  ``p_n = d * (n - c)`` with ``c = 0`` (``reference="edge"``: the first element is the phase
  reference) or ``c = (N - 1) / 2`` (``reference="centre"``: the array centre is, so ``a(theta)`` is
  conjugate-symmetric and the beampattern of a real covariance is symmetric).
* ``a(theta)[n] = exp(+j 2 pi p_n sin(theta))``; all entries have unit modulus, ``||a||^2 = N``.
* A UPA with ``Nx x Ny`` elements in the x-y plane uses azimuth ``phi`` and elevation ``theta`` (from
  the z axis): ``a = kron(a_x, a_y)`` with ``a_x[m] = exp(j 2 pi d_x (m - c_x) sin(theta) cos(phi))``
  and ``a_y[n] = exp(j 2 pi d_y (n - c_y) sin(theta) sin(phi))``; index ``m * Ny + n``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ..core.validation import check_array

__all__ = ["deg2rad", "ula_steering", "upa_steering", "beampattern", "element_positions"]


def deg2rad(deg: Any) -> jax.Array:
    """Degrees -> radians."""
    return jnp.asarray(deg) * (jnp.pi / 180.0)


def _complex_dtype(dtype: Any) -> Any:
    dtype = jnp.dtype(dtype) if dtype is not None else jnp.result_type(complex)
    return dtype if jnp.issubdtype(dtype, jnp.complexfloating) else jnp.result_type(dtype, jnp.complex64)


def element_positions(n: int, spacing: float = 0.5, reference: str = "centre", dtype: Any = None) -> jax.Array:
    """Positions ``(n,)`` in wavelengths of a uniform linear array."""
    if int(n) < 1:
        raise ValueError(f"n: expected a positive number of elements, got {n}")
    if reference not in ("centre", "center", "edge"):
        raise ValueError(f"reference: expected 'centre' or 'edge', got {reference!r}")
    rdtype = jnp.finfo(_complex_dtype(dtype)).dtype
    idx = jnp.arange(int(n), dtype=rdtype)
    offset = 0.0 if reference == "edge" else (int(n) - 1) / 2.0
    return spacing * (idx - offset)


def ula_steering(
    n: int, angles: Any, *, spacing: float = 0.5, reference: str = "centre", dtype: Any = None
) -> jax.Array:
    """Steering vectors of an ``n``-element ULA.

    Args:
        angles: radians, any shape ``S``.
        spacing: element spacing in wavelengths.
        reference: ``"centre"`` or ``"edge"`` (see module docstring).
        dtype: complex dtype of the result (default: JAX's default complex).

    Returns:
        Complex array of shape ``S + (n,)``.
    """
    cdtype = _complex_dtype(dtype)
    rdtype = jnp.finfo(cdtype).dtype
    ang = check_array(angles, "angles", kind="real").astype(rdtype)
    pos = element_positions(n, spacing, reference, cdtype)
    phase = 2.0 * jnp.pi * pos * jnp.sin(ang)[..., None]
    return jnp.exp(1j * phase).astype(cdtype)


def upa_steering(
    nx: int,
    ny: int,
    azimuth: Any,
    elevation: Any,
    *,
    spacing: tuple[float, float] = (0.5, 0.5),
    reference: str = "centre",
    dtype: Any = None,
) -> jax.Array:
    """Steering vectors ``S + (nx * ny,)`` of a planar array (see module docstring for the geometry)."""
    cdtype = _complex_dtype(dtype)
    rdtype = jnp.finfo(cdtype).dtype
    az = check_array(azimuth, "azimuth", kind="real").astype(rdtype)
    el = check_array(elevation, "elevation", kind="real").astype(rdtype)
    az, el = jnp.broadcast_arrays(az, el)
    px = element_positions(nx, spacing[0], reference, cdtype)
    py = element_positions(ny, spacing[1], reference, cdtype)
    ax = jnp.exp(1j * 2 * jnp.pi * px * (jnp.sin(el) * jnp.cos(az))[..., None])
    ay = jnp.exp(1j * 2 * jnp.pi * py * (jnp.sin(el) * jnp.sin(az))[..., None])
    return (ax[..., :, None] * ay[..., None, :]).reshape(az.shape + (nx * ny,)).astype(cdtype)


def beampattern(covariance: Any, steering: Any) -> jax.Array:
    """Transmit beampattern ``P(theta) = a(theta)^H R a(theta)`` (real, power units of ``R``).

    Args:
        covariance: ``(N, N)`` Hermitian PSD transmit covariance ``R`` (e.g. ``W W^H``).
        steering: ``(..., N)`` steering vectors on an angle grid.

    Returns:
        Real array ``(...,)``.
    """
    R = check_array(covariance, "covariance")
    A = check_array(steering, "steering")
    if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] != A.shape[-1]:
        raise ValueError(
            f"covariance: expected shape ({A.shape[-1]}, {A.shape[-1]}) to match steering, got {R.shape}"
        )
    return jnp.real(jnp.einsum("...i,ij,...j->...", jnp.conj(A), R, A))
