"""Channel generators for the spec's set-up (§5, §10.1): Rayleigh/Rician fading, path loss,
rank-deficient (few-path line-of-sight) forward and backward channels."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxisac.core import check_array
from jaxisac.scenarios import rayleigh, ula_steering

from .model import channel

__all__ = ["Channels", "make_channels", "los_channel", "spec_instance", "PAPER_PATHLOSS_DB"]

PAPER_PATHLOSS_DB = (-65.0, -54.0, -46.0)
"""Large-scale gains (direct, forward, backward) of the paper's set-up in dB (spec §5)."""


class Channels(eqx.Module):
    """Direct ``(N_R, N_T)``, backward ``(N_R, N_S)`` and forward ``(N_S, N_T)`` channels (complex)."""

    H_direct: jax.Array
    H_backward: jax.Array
    H_forward: jax.Array

    def effective(self, theta: Any) -> jax.Array:
        """``H_D + H_B Theta H_F`` (see :func:`jaxisac.bdris.channel`)."""
        return channel(theta, self.H_direct, self.H_backward, self.H_forward)


def los_channel(key: jax.Array, n_rx: int, n_tx: int, *, rank: int = 1, dtype: Any = None) -> jax.Array:
    """Rank-``rank`` line-of-sight matrix ``sqrt(1/rank) sum_k a_rx(phi_k) a_tx(psi_k)^H``.

    Half-wavelength ULAs with ``a_k = exp(j pi k cos(angle))`` and angles uniform on ``[0, 2 pi)``,
    drawn independently per side and per path (spec §5, ``fading_los``/``fading_rankn``). Entries have
    unit mean power for ``rank = 1``.
    """
    if int(rank) < 1:
        raise ValueError(f"rank: expected a positive integer, got {rank}")
    k1, k2 = jax.random.split(key)
    a1 = jax.random.uniform(k1, (rank,), maxval=2 * jnp.pi)
    a2 = jax.random.uniform(k2, (rank,), maxval=2 * jnp.pi)
    # ula_steering uses sin(angle): pi/2 - angle turns it into the spec's cos(angle)
    ar = ula_steering(n_rx, jnp.pi / 2 - a1, reference="edge", dtype=dtype)  # (rank, n_rx)
    at = ula_steering(n_tx, jnp.pi / 2 - a2, reference="edge", dtype=dtype)
    return jnp.einsum("kr,kt->rt", ar, jnp.conj(at)) / jnp.sqrt(jnp.asarray(rank, jnp.real(ar).dtype))


def _fading(key, n_rx, n_tx, k_factor, rank, dtype):
    k_nlos, k_los = jax.random.split(key)
    if rank is not None:  # rank-deficient channel: pure few-path line of sight
        return los_channel(k_los, n_rx, n_tx, rank=rank, dtype=dtype)
    nlos = rayleigh(k_nlos, (n_rx, n_tx), dtype=dtype)
    if k_factor is None or (not isinstance(k_factor, jax.Array) and float(k_factor) == 0.0):
        return nlos
    if not isinstance(k_factor, jax.Array) and np.isinf(float(k_factor)):
        return los_channel(k_los, n_rx, n_tx, dtype=dtype)
    kf = jnp.asarray(k_factor, jnp.real(nlos).dtype)
    return jnp.sqrt(kf / (1 + kf)) * los_channel(k_los, n_rx, n_tx, dtype=dtype) + jnp.sqrt(1 / (1 + kf)) * nlos


def make_channels(
    key: jax.Array,
    n_tx: int,
    n_ris: int,
    n_rx: int,
    *,
    pathloss_db: tuple[float, float, float] = PAPER_PATHLOSS_DB,
    k_factor: tuple[Any, Any, Any] = (0.0, 0.0, 0.0),
    rank_forward: int | None = None,
    rank_backward: int | None = None,
    direct: bool = True,
    dtype: Any = None,
) -> Channels:
    """Random channels of the paper's set-up (spec §5).

    Args:
        key: PRNG key (first, as everywhere).
        n_tx, n_ris, n_rx: ``N_T``, ``N_S``, ``N_R``.
        pathloss_db: large-scale power gains (direct, forward, backward) in dB (default -65/-54/-46).
        k_factor: Rician K-factors (direct, forward, backward), linear; ``0`` Rayleigh (default), ``inf``
            pure line of sight.
        rank_forward, rank_backward: make ``H_F`` / ``H_B`` a rank-k line-of-sight channel (spec's
            ``fading_rankn``), e.g. 1 for Cor 2.1.
        direct: ``False`` sets ``H_D = 0`` (the "no direct link" cases).
        dtype: complex dtype (default: JAX's default complex).

    Returns:
        :class:`Channels`; batch with ``jax.vmap`` over keys.
    """
    for name, n in (("n_tx", n_tx), ("n_ris", n_ris), ("n_rx", n_rx)):
        if int(n) < 1:
            raise ValueError(f"{name}: expected a positive integer, got {n}")
    if len(pathloss_db) != 3:
        raise ValueError(f"pathloss_db: expected three values (direct, forward, backward), got {pathloss_db}")
    if len(k_factor) != 3:
        raise ValueError(f"k_factor: expected three values (direct, forward, backward), got {k_factor}")
    kd, kf, kb = jax.random.split(key, 3)
    gain = [10.0 ** (float(p) / 20.0) for p in pathloss_db]
    H_D = gain[0] * _fading(kd, n_rx, n_tx, k_factor[0], None, dtype)
    H_F = gain[1] * _fading(kf, n_ris, n_tx, k_factor[1], rank_forward, dtype)
    H_B = gain[2] * _fading(kb, n_rx, n_ris, k_factor[2], rank_backward, dtype)
    if not direct:
        H_D = jnp.zeros_like(H_D)
    return Channels(H_direct=H_D, H_backward=H_B, H_forward=H_F)


def spec_instance(seed: int, n_tx: int = 4, n_ris: int = 16, n_rx: int = 4, *, direct: bool = True):
    """The spec's exact NumPy instance generator (§10.1), for regression against its numbers.

    ``numpy.random.default_rng(seed)``; H_D (-65 dB), H_F (-54 dB), H_B (-46 dB) drawn in that order,
    each as (whole real block + j whole imaginary block)/sqrt(2). ``R1 = spec_instance(0)``,
    ``R0 = spec_instance(1, direct=False)``.

    Returns:
        ``(H_direct, H_backward, H_forward, noise, power)``: complex128 NumPy arrays, noise
        ``10^(-7.5)`` and transmit power ``100`` (20 dB).
    """
    rng = np.random.default_rng(seed)

    def cn(m, n):
        return (rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))) / np.sqrt(2)

    H_D = np.sqrt(10 ** (-65 / 10)) * cn(n_rx, n_tx)
    H_F = np.sqrt(10 ** (-54 / 10)) * cn(n_ris, n_tx)
    H_B = np.sqrt(10 ** (-46 / 10)) * cn(n_rx, n_ris)
    if not direct:
        H_D = np.zeros_like(H_D)
    return H_D, H_B, H_F, 10 ** (-75 / 10), 10 ** (20 / 10)
