"""The complex oblique manifold: matrices whose rows (or columns) have a fixed Euclidean norm.

``{X in C^{n x m} : ||X[i, :]||_2 = radius for every i}`` (``axis="rows"``) or the same for
columns (``axis="cols"``). With ``radius = sqrt(L P_T / N)`` and rows this is the per-antenna power
constraint ``diag(X X^H) = (L P_T / N) 1`` of seed 002 (PAPC).

Geometry (real inner product ``Re tr(U^H V)``):

* tangent space at X: ``Re(diag(Z X^H)) = 0`` (row-wise), so the projection is
  ``P_X(Z) = Z - diag(Re(diag(Z X^H))) X / radius^2``. This is the *real part* projection; the
  MathWorks helper used by the seed paper's code takes the complex ``diag(Z X^H)``, which is not an
  orthogonal projection (spec seed-002 §6.12b);
* retraction: row-wise normalisation of ``X + V`` (metric projection onto the manifold);
* vector transport: projection onto the new tangent space (the default of the base class).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .base import AbstractManifold

__all__ = ["ComplexOblique"]


class ComplexOblique(AbstractManifold):
    """Complex oblique manifold of ``shape = (n, m)`` matrices with rows (or columns) of norm ``radius``.

    Args:
        shape: ``(n, m)``, static.
        radius: common norm of every row (``axis="rows"``) or column (``axis="cols"``); a positive
            float (e.g. ``sqrt(L * P_T / N)`` for PAPC waveforms ``N x L``).
        axis: ``"rows"`` or ``"cols"``.

    Points and tangent vectors are complex arrays of ``shape``; batch with ``vmap``.
    """

    shape: tuple[int, int] = eqx.field(static=True)
    radius: float = eqx.field(static=True, default=1.0)
    axis: str = eqx.field(static=True, default="rows")

    def __check_init__(self):
        if len(self.shape) != 2 or min(self.shape) < 1:
            raise ValueError(f"shape: expected (n, m) with n, m >= 1, got {self.shape}")
        if not float(self.radius) > 0:
            raise ValueError(f"radius: expected a positive norm, got {self.radius}")
        if self.axis not in ("rows", "cols"):
            raise ValueError(f"axis: expected 'rows' or 'cols', got {self.axis!r}")

    @property
    def _ax(self) -> int:
        return -1 if self.axis == "rows" else -2

    def _norms(self, x: jax.Array) -> jax.Array:
        return jnp.sqrt(jnp.sum(jnp.abs(x) ** 2, axis=self._ax, keepdims=True))

    def proj(self, x: Any, g: Any) -> Any:
        coef = jnp.sum(jnp.real(jnp.conj(x) * g), axis=self._ax, keepdims=True)
        return g - (coef / jnp.asarray(self.radius, coef.dtype) ** 2) * x

    def normalize(self, x: Any) -> Any:
        """Scale every row (column) to norm ``radius``; zero rows become ``radius / sqrt(m)`` constant rows."""
        n = self._norms(x)
        m = x.shape[self._ax]
        fallback = jnp.full_like(x, 1.0) * (1.0 / jnp.sqrt(jnp.asarray(m, n.dtype)))
        tiny = n <= jnp.finfo(n.dtype).tiny * 1e4
        unit = jnp.where(tiny, fallback, x / jnp.where(tiny, jnp.ones_like(n), n))
        return jnp.asarray(self.radius, n.dtype) * unit

    def retract(self, x: Any, v: Any) -> Any:
        return self.normalize(x + v)

    def closest_point(self, x: Any) -> Any:
        """Nearest point of the manifold (row/column normalisation)."""
        return self.normalize(x)

    def random_point(self, key: jax.Array, dtype: Any = None) -> Any:
        dtype = jnp.complex64 if dtype is None else dtype
        if not jnp.issubdtype(dtype, jnp.complexfloating):
            dtype = jnp.result_type(dtype, jnp.complex64)
        z = jax.random.normal(key, self.shape, dtype=dtype)
        return self.normalize(z)

    def distance_to_manifold(self, x: Any) -> jax.Array:
        return jnp.max(jnp.abs(self._norms(x) - jnp.asarray(self.radius, jnp.real(x).dtype)))
