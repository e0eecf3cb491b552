"""Channel generators (key first, any complex dtype).

Shapes follow the library's convention: a multi-user downlink channel is ``(K, N)`` whose row ``k``
is user ``k``'s channel to the ``N`` transmit antennas. Path loss is a *power* gain (linear); the
generators return amplitudes, i.e. multiplied by ``sqrt(gain)``.
"""

from __future__ import annotations

from typing import Any, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from ..core.validation import check_array, check_positive
from .arrays import _complex_dtype, ula_steering

__all__ = [
    "rayleigh",
    "rician",
    "scattering_channel",
    "path_loss",
    "RISCascade",
    "ris_cascade",
]


def rayleigh(key: jax.Array, shape: Sequence[int], *, variance: Any = 1.0, dtype: Any = None) -> jax.Array:
    """I.i.d. circularly-symmetric Gaussian entries ``CN(0, variance)`` of the given shape."""
    cdtype = _complex_dtype(dtype)
    check_positive(variance, "variance", strict=False)
    z = jax.random.normal(key, tuple(shape), dtype=cdtype)  # JAX's complex normal has E|z|^2 = 1
    return (jnp.sqrt(jnp.asarray(variance, jnp.finfo(cdtype).dtype)) * z).astype(cdtype)


def rician(key: jax.Array, los: Any, k_factor: Any, *, variance: Any = 1.0) -> jax.Array:
    """Rician channel ``sqrt(variance) (sqrt(K/(K+1)) los + sqrt(1/(K+1)) CN(0, 1))``.

    Args:
        los: deterministic line-of-sight component, shape ``S`` (e.g. steering vectors with
            unit-modulus entries, so that the mean entry power is ``variance``).
        k_factor: Rician K-factor (linear, >= 0; 0 gives Rayleigh).
    """
    los = check_array(los, "los", kind="complex")
    kf = check_positive(k_factor, "k_factor", strict=False)
    nlos = rayleigh(key, los.shape, dtype=los.dtype)
    rd = jnp.finfo(los.dtype).dtype
    kf = kf.astype(rd)
    h = jnp.sqrt(kf / (kf + 1)) * los + jnp.sqrt(1 / (kf + 1)) * nlos
    return (jnp.sqrt(jnp.asarray(variance, rd)) * h).astype(los.dtype)


def scattering_channel(
    key: jax.Array,
    n_users: int,
    n_antennas: int,
    *,
    min_paths: int = 60,
    max_paths: int = 100,
    spacing: float = 0.5,
    dtype: Any = None,
) -> jax.Array:
    """Geometric scattering channel of seed 002 (spec seed-002 §6.13), shape ``(n_users, n_antennas)``.

    ``h_k = sum_p g_kp a(phi_kp)^T / sqrt(P_k)`` with ``P_k ~ U{min_paths..max_paths}``,
    ``phi_kp ~ U[-90°, 90°]``, ``g_kp ~ CN(0, 1)`` and ``a`` the edge-referenced ULA steering vector
    with ``spacing`` wavelengths. Paths beyond ``P_k`` are masked, so shapes are static.
    """
    if not (1 <= min_paths <= max_paths):
        raise ValueError(f"min_paths/max_paths: expected 1 <= min_paths <= max_paths, got {min_paths}, {max_paths}")
    cdtype = _complex_dtype(dtype)
    rd = jnp.finfo(cdtype).dtype
    k_paths, k_ang, k_gain = jax.random.split(key, 3)
    n_paths = jax.random.randint(k_paths, (n_users,), min_paths, max_paths + 1)
    angles = jax.random.uniform(k_ang, (n_users, max_paths), rd, -jnp.pi / 2, jnp.pi / 2)
    gains = rayleigh(k_gain, (n_users, max_paths), dtype=cdtype)
    mask = (jnp.arange(max_paths)[None, :] < n_paths[:, None]).astype(rd)
    a = ula_steering(n_antennas, angles, spacing=spacing, reference="edge", dtype=cdtype)
    h = jnp.einsum("kp,kpn->kn", gains * mask, a) / jnp.sqrt(n_paths.astype(rd))[:, None]
    return h.astype(cdtype)


def path_loss(distance: Any, exponent: Any, *, reference_db: float = -30.0, reference_distance: float = 1.0) -> jax.Array:
    """Distance-based power gain ``C0 (d / d0)^(-exponent)`` with ``C0 = 10^(reference_db / 10)``.

    Distances in metres (any consistent unit with ``reference_distance``). Returns a linear gain.
    """
    d = check_positive(distance, "distance")
    a = check_positive(exponent, "exponent", strict=False)
    return 10.0 ** (reference_db / 10.0) * (d / reference_distance) ** (-a)


class RISCascade(eqx.Module):
    """Channels of a RIS-assisted downlink.

    Attributes:
        direct: ``(K, N_t)`` BS -> users.
        bs_ris: ``(N_ris, N_t)`` BS -> RIS.
        ris_user: ``(K, N_ris)`` RIS -> users.
    """

    direct: jax.Array
    bs_ris: jax.Array
    ris_user: jax.Array

    def effective(self, reflection: Any) -> jax.Array:
        """Effective channel ``direct + ris_user diag(v) bs_ris`` ``(K, N_t)`` for RIS coefficients ``v``."""
        v = jnp.asarray(reflection)
        return self.direct + (self.ris_user * v[None, :]) @ self.bs_ris


def ris_cascade(
    key: jax.Array,
    n_bs: int,
    n_ris: int,
    n_users: int,
    *,
    d_direct: Any = 100.0,
    d_bs_ris: Any = 50.0,
    d_ris_user: Any = 10.0,
    exponents: tuple[float, float, float] = (3.5, 2.2, 2.8),
    k_factors: tuple[float, float, float] = (0.0, 0.0, 0.0),
    spacing: float = 0.5,
    dtype: Any = None,
) -> RISCascade:
    """A RIS cascade with distance-based path loss (``path_loss`` with -30 dB at 1 m).

    Distances are scalars or per-user arrays ``(K,)`` (metres); ``exponents`` and ``k_factors`` are
    for (direct, BS->RIS, RIS->user). Rician links take a LoS component from ULA steering vectors at
    uniformly drawn angles; ``k_factor = 0`` gives Rayleigh fading.
    """
    cdtype = _complex_dtype(dtype)
    rd = jnp.finfo(cdtype).dtype
    keys = jax.random.split(key, 6)
    shapes = [(n_users, n_bs), (n_ris, n_bs), (n_users, n_ris)]
    dists = [d_direct, d_bs_ris, d_ris_user]
    out = []
    for i, (shape, d, a, kf) in enumerate(zip(shapes, dists, exponents, k_factors)):
        ang = jax.random.uniform(keys[2 * i], shape[:1], rd, -jnp.pi / 2, jnp.pi / 2)
        los = ula_steering(shape[1], ang, spacing=spacing, dtype=cdtype)
        h = rician(keys[2 * i + 1], los, kf)
        gain = path_loss(jnp.asarray(d, rd), a).astype(rd)
        gain = jnp.broadcast_to(gain, shape[:1]) if gain.ndim else gain
        out.append((jnp.sqrt(gain)[..., None] if gain.ndim else jnp.sqrt(gain)) * h)
    return RISCascade(*[o.astype(cdtype) for o in out])
