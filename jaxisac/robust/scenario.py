"""The seed-002 scenario as a generator (key first): N = 16, K = 4, L = 30, P_T = 2.5 W, SNR 10 dB.

``H_ref`` is the geometric scattering channel of :func:`jaxisac.scenarios.scattering_channel`;
``Hbar = H_ref + eps Delta`` and the true channels ``H0 = H_ref + eps Delta'`` (53), with ``Delta``
uniform (real and imaginary parts i.i.d. U[-1, 1], the reference code) or standard complex Gaussian.
Symbols are QPSK (phase offset pi/4) scaled so that ``|s|^2 = symbol_power`` (default ``P_T``).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxisac.core.complex import ct
from jaxisac.core.validation import check_array, check_positive
from jaxisac.scenarios.channels import scattering_channel

__all__ = ["RobustScenario", "qpsk", "perturb_channel", "random_sensing_waveform", "paper_reference_waveform", "make_scenario"]


def qpsk(key: jax.Array, shape, *, power: Any = 1.0, dtype: Any = jnp.complex64) -> jax.Array:
    """QPSK symbols ``sqrt(power) exp(j (pi/4 + k pi/2))``, ``k ~ U{0..3}``, of ``shape``."""
    check_positive(power, "power")
    k = jax.random.randint(key, tuple(shape), 0, 4)
    rd = jnp.finfo(dtype).dtype
    ph = jnp.pi / 4 + (jnp.pi / 2) * k.astype(rd)
    return (jnp.sqrt(jnp.asarray(power, rd)) * jnp.exp(1j * ph)).astype(dtype)


def perturb_channel(key: jax.Array, H_ref: Any, epsilon: Any, *, shape=(), dist: str = "uniform") -> jax.Array:
    """``H_ref + epsilon Delta`` (53) with ``shape + H_ref.shape`` draws.

    ``dist="uniform"``: Re and Im of Delta i.i.d. U[-1, 1] (reference code);
    ``dist="gaussian"``: Delta ~ CN(0, 1) entry-wise.
    """
    H_ref = check_array(H_ref, "H_ref", ndim=2, kind="complex")
    check_positive(epsilon, "epsilon", strict=False)
    if dist not in ("uniform", "gaussian"):
        raise ValueError(f"dist: expected 'uniform' or 'gaussian', got {dist!r}")
    full = tuple(shape) + H_ref.shape
    rd = jnp.finfo(H_ref.dtype).dtype
    if dist == "uniform":
        kr, ki = jax.random.split(key)
        d = jax.random.uniform(kr, full, rd, -1, 1) + 1j * jax.random.uniform(ki, full, rd, -1, 1)
    else:
        d = jax.random.normal(key, full, H_ref.dtype)
    return H_ref + jnp.asarray(epsilon, rd) * d.astype(H_ref.dtype)


def random_sensing_waveform(key: jax.Array, R: Any, frame: int) -> jax.Array:
    """Fallback reference waveform ``X_s = sqrt(L) F A0`` with a random semi-unitary ``A0`` (no PAR control)."""
    R = check_array(R, "R", ndim=2, kind="complex")
    N = R.shape[0]
    F = jnp.linalg.cholesky(R)
    Z = jax.random.normal(key, (frame, N), R.dtype)
    Qm, _ = jnp.linalg.qr(Z)
    return jnp.sqrt(jnp.asarray(frame, jnp.finfo(R.dtype).dtype)) * (F @ ct(Qm))


class RobustScenario(eqx.Module):
    """One seed-002 scenario (arrays only; batch by ``vmap`` over keys of :func:`make_scenario`).

    Attributes:
        H_ref: reference channel ``(K, N)``; H_nominal: ``Hbar (K, N)``; S: symbols ``(K, L)``;
        R: beampattern covariance ``(N, N)`` (``X_s X_s^H / L``, spec §6.10); X_s: reference
        sensing waveform ``(N, L)``; power: ``P_T`` (W); noise_var: ``N0`` (W); epsilon: perturbation.
    """

    H_ref: jax.Array
    H_nominal: jax.Array
    S: jax.Array
    R: jax.Array
    X_s: jax.Array
    power: jax.Array
    noise_var: jax.Array
    epsilon: jax.Array

    def true_channels(self, key: jax.Array, n: int, dist: str = "uniform") -> jax.Array:
        """``n`` Monte-Carlo draws ``H0 = H_ref + eps Delta`` of shape ``(n, K, N)``."""
        return perturb_channel(key, self.H_ref, self.epsilon, shape=(n,), dist=dist)


def make_scenario(
    key: jax.Array,
    *,
    n_antennas: int = 16,
    n_users: int = 4,
    frame: int = 30,
    power: float = 2.5,
    snr_db: float = 10.0,
    epsilon: float = 0.05,
    dist: str = "uniform",
    X_s: Any = None,
    dtype: Any = jnp.complex64,
) -> RobustScenario:
    """The paper's set-up as a generator.

    Args:
        key: PRNG key (first).
        X_s: reference sensing waveform ``(N, L)`` (e.g. from :func:`jaxisac.robust.cyclic_waveform`);
            default a random semi-unitary waveform with ``X_s X_s^H / L`` a random PD matrix of trace
            ``P_T``. ``R`` is set to ``X_s X_s^H / L`` as in the reference code.
        dtype: complex64 or complex128.
    """
    if not n_users <= n_antennas <= frame:
        raise ValueError(f"n_users/n_antennas/frame: expected K <= N <= L, got {n_users}, {n_antennas}, {frame}")
    check_positive(power, "power")
    check_positive(epsilon, "epsilon", strict=False)
    if X_s is not None:
        X_s = check_array(X_s, "X_s", shape=(n_antennas, frame), kind="complex").astype(dtype)
    return _build(key, n_antennas, n_users, frame, float(power), float(snr_db), float(epsilon), dist, X_s, jnp.dtype(dtype))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5, 6, 7, 9))
def _build(key, n_antennas, n_users, frame, power, snr_db, epsilon, dist, X_s, dtype):
    rd = jnp.finfo(dtype).dtype
    kh, kb, ks, kr, kx = jax.random.split(key, 5)
    H_ref = scattering_channel(kh, n_users, n_antennas, dtype=dtype)
    Hbar = perturb_channel(kb, H_ref, epsilon, dist=dist)
    S = qpsk(ks, (n_users, frame), power=power, dtype=dtype)
    if X_s is None:
        Z = jax.random.normal(kr, (n_antennas, n_antennas), dtype)
        R0 = Z @ ct(Z) / n_antennas + 0.2 * jnp.eye(n_antennas, dtype=dtype)
        R0 = R0 * (power / jnp.real(jnp.trace(R0)))
        X_s = random_sensing_waveform(kx, R0, frame)
    R = X_s @ ct(X_s) / frame
    R = 0.5 * (R + ct(R))
    n0 = power / 10 ** (snr_db / 10)
    return RobustScenario(
        H_ref, Hbar, S, R, X_s, jnp.asarray(power, rd), jnp.asarray(n0, rd), jnp.asarray(epsilon, rd)
    )


def paper_reference_waveform(
    key: jax.Array, *, n_antennas: int = 16, frame: int = 30, power: float = 2.5,
    targets_deg=(-45.0, 45.0), beamwidth_deg: float = 10.0, grid: int = 200, par_max: float = 1.1,
    dtype: Any = jnp.complex128,
) -> tuple[jax.Array, jax.Array]:
    """The paper's sensing reference: MMSE covariance of the two-beam pattern (1 within +-5 deg of
    +-45 deg, 0.01 elsewhere, 200 angles, ``diag R = P_T / N``) and its cyclic-algorithm waveform with
    PAR <= 1.1. Returns ``(R_mmse, X_s)``; pass ``X_s`` to :func:`make_scenario` (which then uses
    ``R = X_s X_s^H / L``, spec §6.10)."""
    from .sensing import cyclic_waveform, desired_beampattern, mmse_covariance

    ang = jnp.linspace(-jnp.pi / 2, jnp.pi / 2, grid)
    P = desired_beampattern(ang, jnp.deg2rad(jnp.asarray(targets_deg)), math.radians(beamwidth_deg))
    R = mmse_covariance(ang, P, n_antennas, power, dtype=dtype)
    jitter = 1e-3 * power / n_antennas * jnp.eye(n_antennas, dtype=dtype)
    X_s = cyclic_waveform(key, R + jitter, frame, par_max=par_max)
    return R, X_s
