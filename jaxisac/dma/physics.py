"""Multiport admittance model of a dynamic metasurface antenna (Williams et al., TWC 2022).

Closed forms W1-W10 of the spec (``shared/specs/seed-000-dma.md`` §1.2). SI units throughout:
frequencies in Hz, lengths in metres, admittances in siemens up to the dipole normalisation ``l``
(``l = 1``: the "normalised S" of the spec). All functions are pure JAX, differentiable with respect to
the geometry (element and user positions) and vmappable over drops.

* The free-space Green's function is singular at ``R = 0`` (the diagonal). It is evaluated with the
  "double where": the distance is replaced by 1 on the diagonal *inside* the formula and the diagonal
  is overwritten afterwards, so gradients with respect to positions stay finite.
* The waveguide Green's function has the factor ``1 / sin(k_x S)``: at a waveguide resonance it blows
  up. :func:`resonance_margin` returns ``|sin(k_x S)|``; the builders raise ``ValueError`` when it is
  below ``1e-2`` (concrete inputs).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "C0",
    "MU0",
    "EPS0",
    "wavenumbers",
    "resonance_margin",
    "dma_geometry",
    "green_waveguide",
    "green_free_space",
    "admittance_blocks",
    "user_admittances",
    "los_channel",
    "dipole_correlation",
    "rayleigh_channel",
]

C0 = 299792458.0
MU0 = 4e-7 * math.pi
EPS0 = 1.0 / (MU0 * C0**2)


def wavenumbers(freq: Any, a: Any) -> tuple[jax.Array, jax.Array]:
    """Free-space wavenumber ``k`` and TE10 guide wavenumber ``k_x = sqrt(k^2 - (pi/a)^2)`` (rad/m)."""
    k = 2.0 * jnp.pi * freq * jnp.sqrt(MU0 * EPS0)
    return k, jnp.sqrt(k**2 - (jnp.pi / a) ** 2)


def resonance_margin(freq: Any, a: Any, S: Any) -> jax.Array:
    """``|sin(k_x S)|``: the waveguide resonance guard (W1, W3); must stay above ``1e-2``."""
    _, kx = wavenumbers(freq, a)
    return jnp.abs(jnp.sin(kx * S))


def dma_geometry(N: int, L_mu: int, *, wavelength: Any, d_el: Any = None, d_wg: Any = None, a: Any = None,
                 b: Any = None, dtype: Any = None) -> dict:
    """Element geometry of W10 (site at the origin; add the site position yourself).

    Waveguides run along x with their feed at x = 0 and length ``S = (L_mu + 1) d_el``; element
    ``i = 1..L_mu`` of each waveguide sits at ``x = i d_el`` on the top wall ``y = b``; waveguide
    ``n = 0..N-1`` is centred at ``z = a/2 + n d_wg``. Elements are ordered waveguide-major.

    Returns a dict with ``positions`` (L, 3) [m], ``x_local`` (L,) [m] (coordinate along the own
    waveguide), ``guide`` (L,) int (waveguide index) and ``S`` [m].
    """
    dtype = jnp.result_type(float) if dtype is None else dtype
    lam = jnp.asarray(wavelength, dtype)
    d_el = lam / 2 if d_el is None else jnp.asarray(d_el, dtype)
    d_wg = lam if d_wg is None else jnp.asarray(d_wg, dtype)
    a = 0.73 * lam if a is None else jnp.asarray(a, dtype)
    b = 0.17 * lam if b is None else jnp.asarray(b, dtype)
    i = jnp.arange(1, L_mu + 1, dtype=dtype)
    n = jnp.arange(N, dtype=dtype)
    x = jnp.tile(i * d_el, N)
    z = jnp.repeat(a / 2 + n * d_wg, L_mu)
    y = jnp.full_like(x, 1.0) * b
    return {
        "positions": jnp.stack([x, y, z], axis=-1),
        "x_local": x,
        "guide": jnp.repeat(jnp.arange(N), L_mu),
        "S": (L_mu + 1) * d_el,
        "a": a,
        "b": b,
    }


def green_waveguide(x: jax.Array, xp: jax.Array, *, k, kx, a, b, S) -> jax.Array:
    """W1: TE10 waveguide Green's function of two z-dipoles at mid-width (real), broadcasting."""
    num = jnp.cos(kx * (x + xp - S)) + jnp.cos(kx * (S - jnp.abs(x - xp)))
    return -kx * num / (a * b * k**2 * jnp.sin(kx * S))


def _safe_distance(d: jax.Array, eye: jax.Array) -> jax.Array:
    """``||d||`` over the last axis with 1 where ``eye`` (first half of the double where)."""
    sq = jnp.sum(d * d, axis=-1)
    sq = jnp.where(eye, 1.0, sq)
    return jnp.sqrt(sq)


def green_free_space(r: jax.Array, rp: jax.Array, *, k, eye: jax.Array | None = None) -> jax.Array:
    """W2: zz component of the free-space dyadic Green's function, ``e^{-jkR}`` convention.

    ``r`` (..., 3) and ``rp`` (..., 3) broadcast; where ``eye`` is True (coincident points) the result
    is 0 and its gradient is finite (double where).
    """
    d = r - rp
    if eye is None:
        eye = jnp.zeros(d.shape[:-1], bool)
    R = _safe_distance(d, eye)
    c2 = (d[..., 2] / R) ** 2
    kR = k * R
    cplx = jnp.result_type(R.dtype, jnp.complex64)
    t = (1.0 - c2) - 1j * (1.0 - 3.0 * c2) / kR - (1.0 - 3.0 * c2) / kR**2
    G = t.astype(cplx) * jnp.exp(-1j * kR) / (4.0 * jnp.pi * R)
    return jnp.where(eye, 0.0, G)


def admittance_blocks(geom: dict, freq: Any, *, N: int, ell: float = 1.0) -> dict:
    """W3-W5: ``Y_tt`` (N, N), ``Y_st`` (L, N), ``Y_ss`` (L, L) (complex), plus ``k``, ``k_x``."""
    r = geom["positions"]
    x = geom["x_local"]
    guide = geom["guide"]
    a, b, S = geom["a"], geom["b"], geom["S"]
    k, kx = wavenumbers(freq, a)
    omega = 2.0 * jnp.pi * freq
    w_eps = omega * EPS0
    L = x.shape[0]
    gw = dict(k=k, kx=kx, a=a, b=b, S=S)
    same = guide[:, None] == guide[None, :]
    eye = jnp.eye(L, dtype=bool)
    Gw = green_waveguide(x[:, None], x[None, :], **gw)
    Ga = green_free_space(r[:, None, :], r[None, :, :], k=k, eye=eye)
    off = 1j * w_eps * ell**2 * (2.0 * Ga + jnp.where(same, Gw, 0.0))
    diag = ell**2 * k * w_eps / (3.0 * jnp.pi) + 1j * w_eps * jnp.diagonal(Gw)
    Y_ss = jnp.where(eye, jnp.diag(diag), off)
    yw = 1j * w_eps * ell**2 * green_waveguide(x, 0.0, **gw)
    Y_st = jnp.where(guide[:, None] == jnp.arange(N)[None, :], yw[:, None], 0.0).astype(Y_ss.dtype)
    ytt = -1j * 2.0 * ell**2 * kx * jnp.cos(kx * S) / (a * b * omega * MU0 * jnp.sin(kx * S))
    Y_tt = (ytt * jnp.eye(N)).astype(Y_ss.dtype)
    return {"Y_tt": Y_tt, "Y_st": Y_st, "Y_ss": Y_ss, "k": k, "kx": kx}


def user_admittances(users: jax.Array, freq: Any, *, ell: float = 1.0) -> tuple[jax.Array, jax.Array]:
    """W6-W7: ``Y_rr`` (M, M) and the conjugate-matched load ``Y_r`` (M, M) of z-dipole users."""
    k = 2.0 * jnp.pi * freq * jnp.sqrt(MU0 * EPS0)
    w_eps = 2.0 * jnp.pi * freq * EPS0
    M = users.shape[0]
    eye = jnp.eye(M, dtype=bool)
    Ga = green_free_space(users[:, None, :], users[None, :, :], k=k, eye=eye)
    Y_rr = jnp.where(eye, ell**2 * k * w_eps / (6.0 * jnp.pi), 1j * w_eps * ell**2 * Ga)
    Y_r = jnp.diag(jnp.conj(jnp.diagonal(Y_rr)))
    return Y_rr, Y_r


def _path_loss(users: jax.Array, elements: jax.Array, k) -> tuple[jax.Array, jax.Array]:
    d = users[:, None, :] - elements[None, :, :]
    D = jnp.sqrt(jnp.sum(d * d, axis=-1))
    lam = 2.0 * jnp.pi / k
    sin2 = 1.0 - (d[..., 2] / D) ** 2  # Delta z with the *user's* z (the reference code's bug fixed)
    PL = (lam / (4.0 * jnp.pi * D)) ** 2 * (1.5 * sin2) * (3.0 * sin2)
    return PL, D


def los_channel(users: jax.Array, elements: jax.Array, freq: Any) -> jax.Array:
    """W8: line-of-sight element->user admittances ``Y_rs`` (M, L) = sqrt(PL) e^{-jkD}.

    ``users`` (M, 3) and ``elements`` (L, 3) are absolute positions in metres.
    """
    k = 2.0 * jnp.pi * freq * jnp.sqrt(MU0 * EPS0)
    PL, D = _path_loss(users, elements, k)
    return jnp.sqrt(PL) * jnp.exp(-1j * k * D)


def dipole_correlation(elements: jax.Array, k) -> jax.Array:
    """W9: spatial correlation ``Sigma`` (L, L) of z-dipoles (real, unit diagonal)."""
    d = elements[:, None, :] - elements[None, :, :]
    L = elements.shape[0]
    eye = jnp.eye(L, dtype=bool)
    dR = _safe_distance(d, eye)
    dZ = jnp.abs(d[..., 2])
    kd = k * dR
    S = 1.5 * ((1.0 + (-(k**2) * dZ**2 - 1.0) / (dR**2 * k**2) + 3.0 * dZ**2 / (dR**4 * k**2)) * jnp.sin(kd) / kd
               + jnp.cos(kd) * (1.0 / kd - 3.0 * dZ**2 / (dR**3 * k)) / kd)
    return jnp.where(eye, 1.0, S)


def rayleigh_channel(key: jax.Array, users: jax.Array, elements: jax.Array, freq: Any) -> jax.Array:
    """W9: correlated Rayleigh ``Y_rs`` (M, L) = (CN(0,1) * sqrt(PL/2)) Sigma^{1/2} (real square root).

    The unit-variance-per-component draws times sqrt(PL/2) give entries of variance PL.
    """
    k = 2.0 * jnp.pi * freq * jnp.sqrt(MU0 * EPS0)
    PL, _ = _path_loss(users, elements, k)
    kr, ki = jax.random.split(key)
    g = jax.random.normal(kr, PL.shape, PL.dtype) + 1j * jax.random.normal(ki, PL.shape, PL.dtype)
    Sig = dipole_correlation(elements, k)
    w, V = jnp.linalg.eigh(Sig)
    root = (V * jnp.sqrt(jnp.clip(w, 0.0))) @ V.T
    return (g * jnp.sqrt(PL / 2.0)) @ root
