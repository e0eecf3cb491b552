"""Problem data of the autocorrelation estimators (Equinox modules of arrays)."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core.validation import check_array, check_positive, is_concrete
from .model import _check_patterns

__all__ = ["PowerMeasurements", "RobustMeasurements"]


def _real_dtype(V):
    return jnp.finfo(jnp.result_type(V.dtype, jnp.float32)).dtype


class PowerMeasurements(eqx.Module):
    """Noiseless (or noise-corrected) power measurements ``p_t = p0 tr(Hbar v_t v_t^H)``.

    Attributes:
        V: ``(T, N)`` training patterns, rows ``v_t^T``. Real (+-1, b = 1): the estimand is the real
            symmetric ``Re Hbar`` and the estimators work in real arithmetic with rank two; complex
            (b >= 2): the estimand is the Hermitian ``Hbar`` (rank one).
        p: ``(T,)`` powers (W), same real precision as ``V``.
        p0: transmit power (W), scalar.
    """

    V: jax.Array
    p: jax.Array
    p0: jax.Array

    def __init__(self, V: Any, p: Any, p0: Any = 1.0):
        V = _check_patterns(V)
        rd = _real_dtype(V)
        p = check_array(p, "p", shape=(V.shape[0],), kind="real").astype(rd)
        if is_concrete(p) and bool(np.any(np.asarray(p) < 0)):
            raise ValueError("p: expected non-negative powers")
        self.V = V
        self.p = p
        self.p0 = check_positive(p0, "p0").astype(rd)

    @property
    def rank(self) -> int:
        """Target rank: 2 for real patterns (b = 1), 1 otherwise."""
        return 1 if jnp.iscomplexobj(self.V) else 2


class RobustMeasurements(eqx.Module):
    """Noisy / averaged / quantised measurements: interval bounds ``lower <= q_t <= upper`` (W).

    For un-quantised noisy powers pass ``lower = upper = q`` (spec A13). ``sigma2`` is the noise
    power (W) whose mean is removed (``y = (lower + upper)/2 - sigma2``).

    Attributes:
        V: ``(T, N)`` training patterns (see :class:`PowerMeasurements`).
        lower, upper: ``(T,)`` interval bounds (W).
        sigma2: noise power (W), scalar >= 0.
        p0: transmit power (W).
    """

    V: jax.Array
    lower: jax.Array
    upper: jax.Array
    sigma2: jax.Array
    p0: jax.Array

    def __init__(self, V: Any, lower: Any, upper: Any = None, sigma2: Any = 0.0, p0: Any = 1.0):
        V = _check_patterns(V)
        rd = _real_dtype(V)
        lower = check_array(lower, "lower", shape=(V.shape[0],), kind="real").astype(rd)
        upper = lower if upper is None else check_array(upper, "upper", shape=(V.shape[0],), kind="real").astype(rd)
        if is_concrete(lower) and is_concrete(upper) and bool(np.any(np.asarray(upper) < np.asarray(lower))):
            raise ValueError("upper: expected upper >= lower entrywise")
        self.V = V
        self.lower = lower
        self.upper = upper
        self.sigma2 = check_positive(sigma2, "sigma2", strict=False).astype(rd)
        self.p0 = check_positive(p0, "p0").astype(rd)

    @property
    def rank(self) -> int:
        return 1 if jnp.iscomplexobj(self.V) else 2

    @property
    def midpoint(self) -> jax.Array:
        """``q_hat - sigma2`` ``(T,)``: the noise-corrected interval midpoints (W)."""
        return 0.5 * (self.lower + self.upper) - self.sigma2
