"""The channel / geometry generator of the paper's §VII (spec §5.1, exact recipe §10.1).

Geometry: BS at (50, -150, 20) m, IRS at (-2, -1, 0) m with an ``N_x x N_z`` half-wavelength array in
the x-z plane, user at (x_u, y_u, 0) with x_u, y_u ~ U[0, 10] m. Path loss ``C0 d^-alpha`` with
(C0, alpha) = (-33 dB, 3.7) BS-user and (-30 dB, 2) BS-IRS and IRS-user; Rician factors 0 (BS-user),
10 (BS-IRS), 1 (IRS-user). The LoS array response towards a point P is
``kron(a_Nx(e_x), a_Nz(e_z))`` with ``e`` the unit vector IRS -> P and ``a_n(phi)_k = exp(j pi k phi)``.
The equivalent channel is ``hbar = [h_r * conj(g); h_d]`` (spec A1).

Two entry points:

* :func:`make_drop` (JAX, key first, vmappable over keys): the library's generator.
* :func:`paper_drop` (NumPy ``default_rng(seed)``, draws in the exact order of spec §10.1): reproduces
  the spec's regression instances bit-for-bit; for tests and experiments only.
"""

from __future__ import annotations

import functools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..scenarios import path_loss
from .model import _check_bits, cascade, measure_power, received_power, training_patterns

__all__ = ["Drop", "BS_POSITION", "IRS_POSITION", "channel_from_draws", "make_drop", "paper_drop"]

BS_POSITION = (50.0, -150.0, 20.0)
IRS_POSITION = (-2.0, -1.0, 0.0)
_K_BI, _K_IU = 10.0, 1.0


class Drop(eqx.Module):
    """One Monte-Carlo drop.

    Attributes:
        hbar: ``(N,)`` complex equivalent channel (amplitude).
        V: ``(T, N)`` training patterns (real +-1 for b = 1, complex otherwise), last column 1.
        p: ``(T,)`` noiseless powers ``p0 |v_t^H hbar|^2`` (W).
        q: ``(T,)`` measured (averaged, noisy) powers (W); equal to ``p`` without noise.
        user: ``(3,)`` user position (m).
    """

    hbar: jax.Array
    V: jax.Array
    p: jax.Array
    q: jax.Array
    user: jax.Array


def _los(point, nx, nz, dtype):
    irs = jnp.asarray(IRS_POSITION, point.dtype)
    e = (point - irs) / jnp.linalg.norm(point - irs)
    ax = jnp.exp(1j * jnp.pi * jnp.arange(nx, dtype=point.dtype) * e[0])
    az = jnp.exp(1j * jnp.pi * jnp.arange(nz, dtype=point.dtype) * e[2])
    return jnp.kron(ax, az).astype(dtype)


def channel_from_draws(user_xy: Any, g_tilde: Any, hr_tilde: Any, hd_tilde: Any, nx: int, nz: int) -> jax.Array:
    """Equivalent channel ``(nx*nz + 1,)`` from the user position and the CN(0, 1) NLoS draws."""
    g_tilde = jnp.asarray(g_tilde)
    cdtype = g_tilde.dtype
    rd = jnp.finfo(cdtype).dtype
    ue = jnp.concatenate([jnp.asarray(user_xy, rd), jnp.zeros((1,), rd)])
    bs = jnp.asarray(BS_POSITION, rd)
    irs = jnp.asarray(IRS_POSITION, rd)
    eta_bi = path_loss(jnp.linalg.norm(bs - irs), 2.0, reference_db=-30.0)
    eta_iu = path_loss(jnp.linalg.norm(ue - irs), 2.0, reference_db=-30.0)
    eta_bu = path_loss(jnp.linalg.norm(bs - ue), 3.7, reference_db=-33.0)
    g = jnp.sqrt(eta_bi) * (jnp.sqrt(_K_BI / (_K_BI + 1)) * _los(bs, nx, nz, cdtype) + jnp.sqrt(1 / (_K_BI + 1)) * g_tilde)
    h_r = jnp.sqrt(eta_iu) * (jnp.sqrt(_K_IU / (_K_IU + 1)) * _los(ue, nx, nz, cdtype) + jnp.sqrt(1 / (_K_IU + 1)) * jnp.asarray(hr_tilde, cdtype))
    h_d = jnp.sqrt(eta_bu) * jnp.asarray(hd_tilde, cdtype)
    return cascade(g.astype(cdtype), h_r.astype(cdtype), h_d.astype(cdtype))


def make_drop(
    key: jax.Array,
    n_patterns: int,
    bits: int,
    *,
    nx: int = 8,
    nz: int = 8,
    p0: float = 1.0,
    sigma2: float = 0.0,
    n_samples: int = 1,
    dtype: Any = None,
) -> Drop:
    """A random drop of the §VII scenario (JAX; ``jax.vmap`` over keys gives a Monte-Carlo batch).

    Args:
        key: PRNG key.
        n_patterns: ``T``, number of training measurements.
        bits: phase-shifter resolution ``b`` (1: real +-1 patterns).
        nx, nz: IRS size (``N = nx * nz + 1``).
        p0: transmit power (W); sigma2: noise power (W); n_samples: averaged samples ``N0``.
        dtype: complex dtype of the channel (default: JAX's default complex).
    """
    b = _check_bits(bits)
    if int(n_patterns) < 1 or int(nx) < 1 or int(nz) < 1 or int(n_samples) < 1:
        raise ValueError(f"n_patterns, nx, nz, n_samples: expected positive integers, got {n_patterns}, {nx}, {nz}, {n_samples}")
    cdtype = jnp.dtype(dtype) if dtype is not None else jnp.result_type(complex)
    if not jnp.issubdtype(cdtype, jnp.complexfloating):
        raise ValueError(f"dtype: expected a complex dtype, got {cdtype}")
    return _make_drop(key, jnp.asarray(p0), jnp.asarray(sigma2), int(n_patterns), b, int(nx), int(nz), int(n_samples), cdtype)


@functools.partial(jax.jit, static_argnums=(3, 4, 5, 6, 7, 8))
def _make_drop(key, p0, sigma2, n_patterns, b, nx, nz, n_samples, cdtype):
    rd = jnp.finfo(cdtype).dtype
    p0 = p0.astype(rd)
    sigma2 = sigma2.astype(rd)
    k_user, k_g, k_hr, k_hd, k_v, k_z = jax.random.split(key, 6)
    n_irs = nx * nz
    user_xy = jax.random.uniform(k_user, (2,), rd, 0.0, 10.0)
    g_t = jax.random.normal(k_g, (n_irs,), cdtype)
    hr_t = jax.random.normal(k_hr, (n_irs,), cdtype)
    hd_t = jax.random.normal(k_hd, (), cdtype)
    hbar = channel_from_draws(user_xy, g_t, hr_t, hd_t, nx, nz)
    V = training_patterns(k_v, n_patterns, n_irs + 1, b, dtype=cdtype)
    p = received_power(V, hbar, p0)
    q = measure_power(k_z, V, hbar, p0=p0, sigma2=sigma2, n_samples=n_samples)
    return Drop(hbar=hbar, V=V, p=p, q=q, user=jnp.concatenate([user_xy, jnp.zeros((1,), rd)]))


def paper_drop(
    seed: int,
    n_patterns: int,
    bits: int,
    *,
    nx: int = 8,
    nz: int = 8,
    p0: float = 1.0,
    sigma2_dbm: float | None = None,
    n_samples: int = 1,
) -> Drop:
    """The drop of spec §10.1 for ``numpy.random.default_rng(seed)`` (float64/complex128).

    Draw order: user position, ``g~``, ``h_r~``, ``h_d~``, training phase indices
    ``integers(1, 2^b + 1, (T, N-1))``, then (only if ``sigma2_dbm`` is given) the noise
    ``sqrt(sigma2) CN(0, 1)`` of shape ``(N0, T)``. Enable ``jax_enable_x64`` for the float64
    channel (otherwise it is computed in complex64). Returns NumPy arrays in the :class:`Drop`.
    """
    b = _check_bits(bits)
    rng = np.random.default_rng(int(seed))
    n_irs = int(nx) * int(nz)

    def cn(*shape):
        z = rng.standard_normal((2,) + shape)
        return (z[0] + 1j * z[1]) / np.sqrt(2.0)

    user_xy = rng.uniform(0, 10, 2)
    g_t = cn(n_irs)
    hr_t = cn(n_irs)
    hd_t = cn(1)[0]
    K = 2**b
    k = rng.integers(1, K + 1, size=(int(n_patterns), n_irs))
    u = np.exp(1j * 2 * np.pi * k / K)
    if b == 1:
        u = np.real(u)
    V = np.concatenate([u, np.ones((int(n_patterns), 1), u.dtype)], axis=1)
    hbar = np.asarray(channel_from_draws(user_xy, jnp.asarray(g_t), hr_t, hd_t, nx, nz))
    s = np.sqrt(p0) * (np.conj(V) @ hbar)
    p = np.abs(s) ** 2
    if sigma2_dbm is None:
        q = p
    else:
        sigma2 = 10 ** ((sigma2_dbm - 30) / 10)
        z = np.sqrt(sigma2) * cn(int(n_samples), int(n_patterns))
        q = np.mean(np.abs(s[None, :] + z) ** 2, axis=0)
    return Drop(hbar=hbar, V=V, p=p, q=q, user=np.array([user_xy[0], user_xy[1], 0.0]))
