"""Manifolds for Riemannian optimisation (complex circle, unitary groups, oblique, ...)."""

from .base import AbstractManifold

__all__ = ["AbstractManifold"]
