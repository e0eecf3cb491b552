"""Reflection design from an estimated autocorrelation, and the baselines UB / RMS / CSM (spec §4).

All designs return the ``N``-vector ``v`` with ``v_N = 1`` (the direct path), the IRS part being
``v[:-1]``; the achieved effective gain is ``|v^H hbar|^2`` (:func:`effective_gain`). For ``bits = 1``
the vector is real (+-1); for ``bits >= 2`` complex with entries ``exp(j 2 pi k / 2^b)``; for
``bits=None`` continuous phases.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ..core.validation import check_array, check_hermitian
from ..kernels import autocorrelation as _k
from .model import _check_bits, _check_patterns

__all__ = [
    "align_discrete",
    "design_reflection",
    "effective_gain",
    "upper_bound_reflection",
    "continuous_bound",
    "rms_reflection",
    "csm_reflection",
]


def _to_output(v, bits):
    v = v * jnp.conj(v[-1])  # v_N = 1 (|c^H v| is invariant to a common phase of the alphabet)
    v = v.at[-1].set(1.0)  # exactly (removes round-off)
    if bits == 1:
        return jnp.real(v)
    return v


def align_discrete(c: Any, bits: int | None) -> jax.Array:
    """``argmax_v |v^H c|`` over ``v`` with ``b``-bit phases (exact, spec §4.3) or continuous phases.

    Args:
        c: ``(N,)`` complex.
        bits: ``b >= 1`` or ``None`` (continuous).

    Returns:
        ``(N,)`` with ``v_N = 1`` (real for ``bits = 1``).
    """
    c = check_array(c, "c", ndim=1, kind="complex")
    if bits is None:
        v = jnp.exp(1j * jnp.angle(c)).astype(c.dtype)
        return _to_output(v, None)
    b = _check_bits(bits)
    # |v^H c| = |sum_n conj(c_n) v_n|
    return _to_output(_k.align_discrete(jnp.conj(c), 2**b), b)


def _surrogate(R):
    """Rank-one (complex R) or rank-two (real R, b = 1) surrogate channel of spec §4.2."""
    if jnp.iscomplexobj(R):
        lam, X = _k.top_eig(R, 1)
        return X[:, 0].astype(R.dtype)
    lam, X = _k.top_eig(R, 2)
    lam = jnp.maximum(lam, 0.0)  # ALRA estimates are indefinite: clip (spec §4.2)
    cd = jnp.result_type(R.dtype, jnp.complex64)
    return (jnp.sqrt(lam[0]) * X[:, 0] + 1j * jnp.sqrt(lam[1]) * X[:, 1]).astype(cd)


def design_reflection(R_hat: Any, bits: int | None = None) -> jax.Array:
    """Reflection vector ``v`` ``(N,)``, ``v_N = 1``, designed from an estimated autocorrelation.

    Complex ``R_hat`` (b >= 2 estimate of ``Hbar``): top eigenvector ``x`` and ``argmax |v^H x|``.
    Real ``R_hat`` (b = 1 estimate of ``Re Hbar``): ``h = sqrt(l1) x1 + j sqrt(l2) x2`` (negative
    eigenvalues clipped) and ``argmax |v^H h|``. The maximisation is exact for ``b``-bit phases
    (``bits=b``, spec §4.3) or continuous (``bits=None``).

    Args:
        R_hat: ``(N, N)`` Hermitian (real symmetric for b = 1), any scale.
        bits: phase-shifter bits or ``None``.
    """
    R = check_hermitian(R_hat, "R_hat")
    if R.ndim != 2:
        raise ValueError(f"R_hat: expected one (N, N) matrix (use jax.vmap for batches), got shape {R.shape}")
    if bits is not None:
        _check_bits(bits)
    return align_discrete(_surrogate(R), bits)


def effective_gain(v: Any, hbar: Any) -> jax.Array:
    """Achieved effective channel gain ``|v^H hbar|^2`` (dimensionless power gain)."""
    hbar = check_array(hbar, "hbar", kind="complex")
    v = check_array(v, "v", shape=hbar.shape[-1:] if v is not None and jnp.ndim(v) == 1 else None)
    z = jnp.sum(jnp.conj(v.astype(hbar.dtype)) * hbar, axis=-1)
    return jnp.real(z * jnp.conj(z))


def upper_bound_reflection(hbar: Any, bits: int | None) -> jax.Array:
    """UB: the optimal ``b``-bit (or continuous) reflection for the true channel ``hbar``."""
    return align_discrete(hbar, bits)


def continuous_bound(hbar: Any) -> jax.Array:
    """Continuous-phase gain bound ``(sum_n |hbar_n|)^2``."""
    hbar = check_array(hbar, "hbar", kind="complex")
    return jnp.sum(jnp.abs(hbar), axis=-1) ** 2


def rms_reflection(V: Any, q: Any) -> jax.Array:
    """RMS (random-max sampling): the training pattern with the largest measured power."""
    V = _check_patterns(V)
    q = check_array(q, "q", shape=(V.shape[0],), kind="real")
    return V[jnp.argmax(q)]


def csm_reflection(V: Any, q: Any, bits: int) -> jax.Array:
    """CSM (conditional sample mean, Ren et al.): per element the phase of largest mean power.

    Args:
        V: ``(T, N)`` i.i.d. uniform ``b``-bit training patterns (last entry 1).
        q: ``(T,)`` measured powers.
        bits: phase-shifter bits ``b``.
    """
    V = _check_patterns(V)
    q = check_array(q, "q", shape=(V.shape[0],), kind="real")
    b = _check_bits(bits)
    k = _k.csm_indices(V, q, 2**b)
    rd = jnp.finfo(jnp.result_type(q.dtype, jnp.float32)).dtype
    u = jnp.exp(1j * (2.0 * jnp.pi / 2**b) * k.astype(rd))
    if b == 1:
        return jnp.concatenate([jnp.real(u), jnp.ones((1,), rd)])
    u = u.astype(jnp.result_type(V.dtype, jnp.complex64))
    return jnp.concatenate([u, jnp.ones((1,), u.dtype)])
