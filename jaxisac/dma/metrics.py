"""Metrics of a DMA configuration (loads ``y``, digital precoder ``B``): exact, via one LU solve.

Shapes: ``y`` (L,) real susceptances (normalised S); ``B`` (N, K) complex with K = M + N streams
(columns 1..M serve the users, the rest are sensing streams); ``directions`` (D, 2) radians
(azimuth from boresight +y, elevation from the horizontal). Powers are in the normalised units of
the model (``P_t`` in W for l = 1 volts/amperes of the circuit model; beampatterns in |V|^2).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from ..core.validation import check_array, check_positive
from .model import DMAModel, steering

__all__ = [
    "excitations",
    "beampattern",
    "p_tot",
    "sinr",
    "transmit_power",
    "transmit_power_ports",
    "effective_channels",
    "noise_variance",
    "sensing_only_bound",
    "crude_bound",
]


def _check(model: DMAModel, y: Any, B: Any) -> tuple[jax.Array, jax.Array]:
    if not isinstance(model, DMAModel):
        raise ValueError(f"model: expected a DMAModel, got {type(model).__name__}")
    y = check_array(y, "y", shape=(model.L,), kind="real")
    B = check_array(B, "B", ndim=2, kind="complex")
    if B.shape[0] != model.N:
        raise ValueError(f"B: expected shape ({model.N}, K), got {B.shape}")
    return y.astype(model.R0.dtype), B.astype(model.Y_ss.dtype)


@jax.jit
def _U(model, y, B):
    return jnp.linalg.solve(model.loads(y), model.Y_st @ B)


def excitations(model: DMAModel, y: Any, B: Any) -> jax.Array:
    """(L, K) element excitations ``U = (R0 I + Y_ss + j diag y)^{-1} Y_st B`` (LU solve)."""
    y, B = _check(model, y, B)
    return _U(model, y, B)


def beampattern(model: DMAModel, y: Any, B: Any, directions: Any, *, element_factor: bool = False) -> jax.Array:
    """(D,) transmit beampattern ``P(theta, phi) = ||a^T U||^2`` (spec (3), Omega = a* a^T, A1)."""
    directions = check_array(directions, "directions", ndim=2, kind="real")
    if directions.shape[-1] != 2:
        raise ValueError(f"directions: expected shape (D, 2) (azimuth, elevation), got {directions.shape}")
    y, B = _check(model, y, B)
    return _bp(model, y, B, directions.astype(model.R0.dtype), element_factor)


@functools.partial(jax.jit, static_argnums=4)
def _bp(model, y, B, directions, element_factor):
    A = steering(model, directions, element_factor=element_factor)
    return jnp.sum(jnp.abs(A @ _U(model, y, B)) ** 2, axis=-1)


def p_tot(model: DMAModel, y: Any, B: Any, directions: Any) -> jax.Array:
    """Average beampattern over the directions of interest (spec (4)); scalar."""
    return jnp.mean(beampattern(model, y, B, directions))


def effective_channels(model: DMAModel, y: Any) -> jax.Array:
    """(M, N) effective channels ``h_m = y_RS,m Ytilde Y_st`` (rows)."""
    y = check_array(y, "y", shape=(model.L,), kind="real").astype(model.R0.dtype)
    return _heff(model, y)


@jax.jit
def _heff(model, y):
    C = jnp.linalg.solve(model.loads(y), model.y_RS.T).T  # y_RS Ytilde (Ytilde symmetric)
    return C @ model.Y_st


def sinr(model: DMAModel, y: Any, B: Any, noise_var: Any) -> jax.Array:
    """(M,) SINR of each user, spec (1): all other M + N - 1 streams interfere. ``noise_var`` > 0."""
    y, B = _check(model, y, B)
    noise_var = check_positive(noise_var, "noise_var")
    if B.shape[1] < model.M:
        raise ValueError(f"B: expected at least M = {model.M} columns, got {B.shape[1]}")
    return _sinr(model, y, B, noise_var)


@jax.jit
def _sinr(model, y, B, noise_var):
    g = jnp.abs(_heff(model, y) @ B) ** 2  # (M, K)
    sig = jnp.diagonal(g[:, : model.M])
    return sig / (jnp.sum(g, axis=1) - sig + noise_var)


def transmit_power(model: DMAModel, y: Any, B: Any) -> jax.Array:
    """Transmit power via the energy identity ``P_t = 1/2 tr(U^H (R0 I + Re Y_ss) U)`` (>= 0)."""
    y, B = _check(model, y, B)
    return _pt(model, y, B)


@jax.jit
def _pt(model, y, B):
    U = _U(model, y, B)
    return 0.5 * jnp.real(jnp.sum(jnp.conj(U) * (model.W.astype(U.dtype) @ U)))


def transmit_power_ports(model: DMAModel, y: Any, B: Any) -> jax.Array:
    """Transmit power from the port formula (5): ``1/2 Re tr((Y_tt - Y_st^T Ytilde Y_st) B B^H)``."""
    y, B = _check(model, y, B)
    return _pt_ports(model, y, B)


@jax.jit
def _pt_ports(model, y, B):
    F = jnp.linalg.solve(model.loads(y), model.Y_st)
    Yp = model.Y_tt - model.Y_st.T @ F
    return 0.5 * jnp.real(jnp.trace(Yp @ B @ jnp.conj(B).T))


def noise_variance(model: DMAModel, snr_db: Any = 30.0, p_max: Any = 1.0) -> jax.Array:
    """Noise power from a reference SNR (spec §4.2):
    ``sigma^2 = 2 P_max mean_m ||y_RS,m||^2 / (tr W / L) / 10^(SNR/10)``."""
    yrs = model.y_RS
    num = 2.0 * p_max * jnp.mean(jnp.sum(jnp.abs(yrs) ** 2, axis=-1))
    return num / (jnp.trace(model.W) / model.L) / 10.0 ** (jnp.asarray(snr_db) / 10.0)


def sensing_only_bound(model: DMAModel, directions: Any, p_max: Any = 1.0) -> jax.Array:
    """Fully-digital sensing-only optimum ``2 P_max lambda_max(W^{-1/2} Omega_T W^{-1/2})`` (§3.4).

    An upper bound on P_tot for every load configuration (uniform in y)."""
    A = steering(model, jnp.asarray(directions, model.R0.dtype))
    Om = jnp.conj(A).T @ A / A.shape[0]  # Omega_T = mean a* a^T
    w, V = jnp.linalg.eigh(model.W)
    Wih = (V / jnp.sqrt(w)) @ V.T
    return 2.0 * p_max * jnp.linalg.eigvalsh(Wih @ Om @ Wih)[-1]


def crude_bound(model: DMAModel, p_max: Any = 1.0) -> jax.Array:
    """``2 L P_max / lambda_min(W)`` (§3.4), >= :func:`sensing_only_bound`."""
    return 2.0 * model.L * p_max / jnp.linalg.eigvalsh(model.W)[0]
