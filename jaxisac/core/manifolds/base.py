"""The manifold interface shared by every Riemannian step in jaxisac.

A manifold is a stateless Equinox module (static fields only where they fix shapes) whose methods act
on points ``x`` (complex arrays, or pytrees of them) and tangent vectors at ``x``. Everything works on
one point; batch with ``vmap``. The Euclidean gradient that ``proj`` receives is always the ascent
direction from :func:`jaxisac.core.ascent_grad` (never the raw ``jax.grad``).

The metric is the real inner product ``Re sum conj(u) * v`` unless a manifold says otherwise.
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax

from ..complex import real_inner

__all__ = ["AbstractManifold"]


class AbstractManifold(eqx.Module):
    """Riemannian submanifold of a complex Euclidean space."""

    @abc.abstractmethod
    def proj(self, x: Any, g: Any) -> Any:
        """Orthogonal projection of the ambient vector ``g`` onto the tangent space at ``x``."""

    @abc.abstractmethod
    def retract(self, x: Any, v: Any) -> Any:
        """Map the tangent vector ``v`` at ``x`` back to the manifold."""

    def transport(self, x: Any, y: Any, v: Any) -> Any:
        """Vector transport of ``v`` from ``x`` to ``y`` (default: projection onto ``T_y``)."""
        return self.proj(y, v)

    def inner(self, x: Any, u: Any, v: Any) -> jax.Array:
        """Riemannian metric at ``x`` (default: the embedded real inner product)."""
        del x
        return real_inner(u, v)

    @abc.abstractmethod
    def random_point(self, key: jax.Array, dtype: Any = None) -> Any:
        """A random point (key first)."""

    @abc.abstractmethod
    def distance_to_manifold(self, x: Any) -> jax.Array:
        """How far ``x`` is from satisfying the manifold's constraints (for tests and diagnostics)."""
