"""Measurement model of seed 004: received power under IRS reflection patterns.

Convention (spec A1, fixed once for the whole package): the equivalent channel is
``hbar = [h_r * conj(g); h_d]`` (``(N,)``, ``N = N_irs + 1``), a reflection pattern is
``v = [u; 1]`` with ``u`` the IRS coefficients (``Theta = diag(u)``), and the received power is
``p = p0 |v^H hbar|^2 = p0 tr(Hbar v v^H)`` with ``Hbar = hbar hbar^H`` (W). The same ``v`` is applied
by the IRS in training and in data transmission.

Training patterns ``V`` are ``(T, N)`` arrays whose row ``t`` is ``v_t^T``: complex for ``b >= 2`` bit
phase shifters, real +-1 for ``b = 1`` (then only ``Re Hbar`` is identifiable).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..core.validation import check_array, check_positive, is_concrete
from ..kernels import autocorrelation as _k

__all__ = [
    "cascade",
    "training_patterns",
    "received_power",
    "measure_power",
    "quantize_rsrp",
    "forward_map",
    "adjoint_map",
    "gram_matrix",
    "dbm_to_watt",
    "watt_to_dbm",
]


def dbm_to_watt(dbm: Any) -> jax.Array:
    """dBm -> W."""
    return 10.0 ** ((jnp.asarray(dbm) - 30.0) / 10.0)


def watt_to_dbm(w: Any) -> jax.Array:
    """W -> dBm."""
    return 10.0 * jnp.log10(jnp.asarray(w)) + 30.0


def _check_bits(bits: Any, name: str = "bits") -> int:
    try:
        b = int(bits)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a positive integer number of phase-shifter bits, got {bits!r}") from None
    if b < 1 or b != bits:
        raise ValueError(f"{name}: expected a positive integer number of phase-shifter bits, got {bits!r}")
    return b


def cascade(g: Any, h_r: Any, h_d: Any) -> jax.Array:
    """Equivalent channel ``hbar = [h_r * conj(g); h_d]`` ``(N_irs + 1,)`` complex (spec A1).

    Args:
        g: ``(N_irs,)`` BS -> IRS channel (amplitude, sqrt(W/W)).
        h_r: ``(N_irs,)`` IRS -> user channel.
        h_d: scalar BS -> user direct channel.
    """
    g = check_array(g, "g", ndim=1, kind="complex")
    h_r = check_array(h_r, "h_r", shape=(g.shape[0],), kind="complex")
    h_d = check_array(h_d, "h_d", ndim=0, kind="complex")
    return jnp.concatenate([h_r * jnp.conj(g), h_d[None].astype(g.dtype)])


def training_patterns(key: jax.Array, n_patterns: int, n: int, bits: int, *, dtype: Any = None) -> jax.Array:
    """I.i.d. uniform ``b``-bit training patterns ``(T, N)`` with last entry 1 (spec §4.1).

    Entries ``exp(j 2 pi k / 2^b)``, ``k`` uniform. ``bits = 1`` gives a real +-1 array (float dtype of
    ``dtype``), ``bits >= 2`` a complex array (default: JAX's default complex).
    """
    b = _check_bits(bits)
    if int(n_patterns) < 1 or int(n) < 2:
        raise ValueError(f"n_patterns, n: expected n_patterns >= 1 and n >= 2, got {n_patterns}, {n}")
    cdtype = jnp.dtype(dtype) if dtype is not None else jnp.result_type(complex)
    if not jnp.issubdtype(cdtype, jnp.complexfloating):
        cdtype = jnp.result_type(cdtype, jnp.complex64)
    rdtype = jnp.finfo(cdtype).dtype
    K = 2**b
    k = jax.random.randint(key, (int(n_patterns), int(n) - 1), 0, K)
    if b == 1:
        u = jnp.where(k == 0, 1.0, -1.0).astype(rdtype)
        return jnp.concatenate([u, jnp.ones((int(n_patterns), 1), rdtype)], axis=1)
    u = jnp.exp(1j * (2.0 * jnp.pi / K) * k.astype(rdtype)).astype(cdtype)
    return jnp.concatenate([u, jnp.ones((int(n_patterns), 1), cdtype)], axis=1)


def _check_patterns(V: Any, name: str = "V") -> jax.Array:
    V = check_array(V, name, ndim=2)
    if V.shape[1] < 2:
        raise ValueError(f"{name}: expected patterns of length N >= 2 (IRS elements + direct path), got {V.shape}")
    if is_concrete(V):
        dev = float(np.max(np.abs(np.abs(np.asarray(V)) - 1.0)))
        if dev > 1e-4:
            raise ValueError(f"{name}: expected unit-modulus reflection coefficients, max | |v| - 1 | = {dev:.3g}")
    return V


def received_power(V: Any, hbar: Any, p0: Any = 1.0) -> jax.Array:
    """Noiseless powers ``p_t = p0 |v_t^H hbar|^2`` ``(T,)`` in W (also for one pattern ``(N,)``)."""
    V = check_array(V, "V")
    hbar = check_array(hbar, "hbar", ndim=1, kind="complex")
    if V.shape[-1] != hbar.shape[0]:
        raise ValueError(f"V: expected patterns of length {hbar.shape[0]} to match hbar, got {V.shape}")
    p0 = check_positive(p0, "p0")
    z = jnp.conj(V.astype(hbar.dtype)) @ hbar
    return p0 * jnp.real(z * jnp.conj(z))


def measure_power(
    key: jax.Array,
    V: Any,
    hbar: Any,
    *,
    p0: Any = 1.0,
    sigma2: Any = 0.0,
    n_samples: int = 1,
) -> jax.Array:
    """Simulated (averaged) power measurements ``(T,)`` in W (spec §1.2, (38)-(39)).

    ``q_t = (1/N0) sum_i |sqrt(p0) v_t^H hbar + z_{i,t}|^2`` with ``z ~ CN(0, sigma2)`` i.i.d.,
    ``N0 = n_samples``; ``E q_t = p_t + sigma2``, ``Var q_t = (sigma2^2 + 2 p_t sigma2)/N0``. With
    ``sigma2 = 0`` this is the noiseless ``p_t = p0 |v_t^H hbar|^2``.

    Args:
        key: PRNG key (used only when ``sigma2 > 0``).
        V: ``(T, N)`` training patterns.
        hbar: ``(N,)`` complex equivalent channel.
        p0: transmit power (W).
        sigma2: noise power (W), >= 0.
        n_samples: number of averaged reference-signal samples ``N0`` (static, >= 1).
    """
    V = _check_patterns(V)
    hbar = check_array(hbar, "hbar", shape=(V.shape[1],), kind="complex")
    p0 = check_positive(p0, "p0").astype(jnp.finfo(hbar.dtype).dtype)
    sigma2 = check_positive(sigma2, "sigma2", strict=False).astype(p0.dtype)
    if int(n_samples) < 1:
        raise ValueError(f"n_samples: expected a positive integer, got {n_samples}")
    s = jnp.sqrt(p0) * (jnp.conj(V.astype(hbar.dtype)) @ hbar)  # (T,)
    z = jax.random.normal(key, (int(n_samples), V.shape[0]), dtype=hbar.dtype) * jnp.sqrt(sigma2)
    r = s[None, :] + z
    return jnp.mean(jnp.real(r * jnp.conj(r)), axis=0)


def quantize_rsrp(q: Any, gap_db: Any, *, top_dbm: float = -44.0, bottom_dbm: float = -156.0):
    """RSRP-style quantisation (TS 36.133; spec §1.2): level index and the interval in W.

    Levels of width ``D = gap_db`` dB over ``[bottom_dbm, top_dbm]`` (``M = round((top - bottom)/D)``
    levels); level ``l`` is reported when ``q`` lies in ``[top - (l+1) D, top - l D]`` dBm; indices
    are clipped to ``[0, M-1]``.

    Returns:
        ``(level (T,) int32, lower (T,) W, upper (T,) W)`` with ``lower <= q <= upper`` inside the range.
    """
    q = check_positive(q, "q")
    D = check_positive(gap_db, "gap_db")
    M = jnp.round((top_dbm - bottom_dbm) / D)
    q_dbm = watt_to_dbm(q)
    level = jnp.clip(jnp.floor((top_dbm - q_dbm) / D), 0, M - 1)
    lower = dbm_to_watt(top_dbm - (level + 1) * D).astype(q.dtype)
    upper = dbm_to_watt(top_dbm - level * D).astype(q.dtype)
    return level.astype(jnp.int32), lower, upper


def forward_map(V: Any, H: Any, p0: Any = 1.0) -> jax.Array:
    """``A(H)_t = p0 v_t^H H v_t`` ``(T,)`` for ``V`` ``(T, N)`` and Hermitian ``H`` ``(N, N)``."""
    V = check_array(V, "V", ndim=2)
    H = check_array(H, "H", shape=(V.shape[1], V.shape[1]))
    return _k.forward(V, H, jnp.asarray(p0))


def adjoint_map(V: Any, y: Any, p0: Any = 1.0) -> jax.Array:
    """``A*(y) = p0 sum_t y_t v_t v_t^H`` ``(N, N)``."""
    V = check_array(V, "V", ndim=2)
    y = check_array(y, "y", shape=(V.shape[0],), kind="real")
    return _k.adjoint(V, y, jnp.asarray(p0))


def gram_matrix(V: Any, p0: Any = 1.0) -> jax.Array:
    """``K = A A*`` ``(T, T)``: ``K_st = p0^2 |v_s^H v_t|^2``."""
    V = check_array(V, "V", ndim=2)
    return _k.gram(V, jnp.asarray(p0))
