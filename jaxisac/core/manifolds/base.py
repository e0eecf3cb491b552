"""The manifold interface shared by every Riemannian step in jaxisac.

A manifold is a stateless Equinox module (static fields only where they fix shapes) whose methods act
on points ``x`` (complex arrays, or pytrees of them) and tangent vectors at ``x``. Everything works on
one point; batch with ``vmap``. The Euclidean gradient that ``proj`` / ``egrad_to_rgrad`` receive is
always the ascent direction from :func:`jaxisac.core.ascent_grad` (never the raw ``jax.grad``).

The metric is the real inner product ``Re sum conj(u) * v`` unless a manifold says otherwise.

Beyond the abstract methods, the interface has defaults that concrete manifolds may override:

* ``egrad_to_rgrad(x, egrad)``: Riemannian gradient (default: tangent projection, exact for an
  embedded submanifold with the embedded metric);
* ``norm(x, v)``: ``sqrt(inner(x, v, v))``;
* ``curve(x, v)``: a function ``t -> retract(x, t v)``. Manifolds whose retraction can share work
  between step sizes (the unitary exponential through one ``eigh``) override it; line searches call
  it once per direction and then evaluate many trial steps cheaply;
* ``closest_point(x)``: the nearest point of the manifold (re-projection against round-off drift).
"""

from __future__ import annotations

import abc
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp

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

    # ----------------------------------------------------------------- defaults (overridable)
    def egrad_to_rgrad(self, x: Any, egrad: Any) -> Any:
        """Riemannian gradient from the Euclidean ascent direction ``egrad`` (= ``ascent_grad(f)(x)``).

        Default: the tangent projection (exact for the embedded metric).
        """
        return self.proj(x, egrad)

    def norm(self, x: Any, v: Any) -> jax.Array:
        """Riemannian norm of the tangent vector ``v`` at ``x``."""
        return jnp.sqrt(jnp.maximum(self.inner(x, v, v), 0.0))

    def curve(self, x: Any, v: Any) -> Callable[[jax.Array], Any]:
        """The retraction curve ``t -> retract(x, t v)`` (``t`` a real scalar)."""
        return lambda t: self.retract(x, jax.tree_util.tree_map(lambda a: t * a, v))

    # Optional transport-free coordinates (solvers that store tangent vectors, e.g. L-BFGS, use them
    # when ``has_coords``): ``coords(x, v)`` maps a tangent vector (or an ambient vector, through its
    # tangent part) at ``x`` to real coordinates in which every vector transport is the identity and the
    # metric is the plain dot product; ``from_coords`` is its inverse and ``curve_coords(x, c)`` is
    # ``curve(x, from_coords(x, c))`` without forming the ambient vector.
    has_coords = False

    def coords(self, x: Any, v: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no transport-free coordinates")

    def from_coords(self, x: Any, c: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no transport-free coordinates")

    def curve_coords(self, x: Any, c: Any) -> Callable[[jax.Array], Any]:
        return self.curve(x, self.from_coords(x, c))

    def closest_point(self, x: Any) -> Any:
        """Nearest point of the manifold to the ambient point ``x``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement closest_point")
