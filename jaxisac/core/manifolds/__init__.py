"""Manifolds for Riemannian optimisation (complex circle, unitary groups, oblique, ...).

All manifolds implement :class:`AbstractManifold`; the generic solvers of
:mod:`jaxisac.core.riemannian` run on any of them.
"""

from .base import AbstractManifold
from .circle import ComplexCircle
from .oblique import ComplexOblique
from .unitary import BlockUnitary, UnitaryGroup, haar_unitary, polar_factor, skew

__all__ = [
    "AbstractManifold",
    "BlockUnitary",
    "ComplexCircle",
    "ComplexOblique",
    "UnitaryGroup",
    "haar_unitary",
    "polar_factor",
    "skew",
]
