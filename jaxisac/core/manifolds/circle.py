"""The complex circle manifold (unit-modulus vectors, i.e. a torus of phases)."""

from __future__ import annotations

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .base import AbstractManifold

__all__ = ["ComplexCircle"]

_RETRACTIONS = ("exp", "normalize")


def _complex_dtype(dtype: Any) -> Any:
    if dtype is None:
        return jnp.result_type(complex)
    return jnp.result_type(dtype, jnp.complex64)


class ComplexCircle(AbstractManifold):
    """Vectors ``x`` in ``C^n`` with ``|x_i| = 1`` for all ``i`` (the D-RIS / phase-shifter set).

    Points have shape ``(n,)`` (any leading axes are treated element-wise as well). The metric is the
    embedded real inner product ``Re sum conj(u) v``; the tangent space at ``x`` is
    ``{v : Re(conj(x_i) v_i) = 0}`` and the Riemannian gradient of ``f`` is
    ``g - Re(g conj(x)) x`` with ``g = ascent_grad(f)(x)`` (= Manopt's complex-circle gradient).

    Args:
        n: number of entries.
        retraction: ``"exp"`` (default; the exact geodesic ``x_i exp(j Im(conj(x_i) v_i))``) or
            ``"normalize"`` (``(x + v) / |x + v|``, second order).
    """

    n: int = eqx.field(static=True)
    retraction: str = eqx.field(static=True, default="exp")

    def __check_init__(self):
        if int(self.n) < 1:
            raise ValueError(f"n: expected a positive integer, got {self.n}")
        if self.retraction not in _RETRACTIONS:
            raise ValueError(f"retraction: expected one of {_RETRACTIONS}, got {self.retraction!r}")

    def proj(self, x, g):
        return g - jnp.real(g * jnp.conj(x)) * x

    def retract(self, x, v):
        return self.curve(x, v)(jnp.ones((), jnp.real(x).dtype))

    def curve(self, x, v) -> Callable[[jax.Array], jax.Array]:
        if self.retraction == "exp":
            omega = jnp.imag(jnp.conj(x) * v)  # angular velocity per entry
            return lambda t: x * jnp.exp(1j * (t * omega)).astype(x.dtype)

        def _norm(t):
            y = x + t * v
            return y / jnp.abs(y)

        return _norm

    def transport(self, x, y, v):
        return self.proj(y, v)

    def random_point(self, key, dtype=None):
        cdt = _complex_dtype(dtype)
        phase = jax.random.uniform(key, (self.n,), dtype=jnp.finfo(cdt).dtype, maxval=2 * jnp.pi)
        return jnp.exp(1j * phase).astype(cdt)

    def distance_to_manifold(self, x):
        return jnp.max(jnp.abs(jnp.abs(x) - 1.0))

    def closest_point(self, x):
        a = jnp.abs(x)
        return jnp.where(a > 0, x / jnp.where(a > 0, a, 1.0), jnp.ones_like(x))
