"""Manifolds for Riemannian optimisation (complex circle, unitary groups, oblique, ...).

All manifolds implement :class:`AbstractManifold`; the generic solvers of
:mod:`jaxisac.core.riemannian` run on any of them.
"""

from .base import AbstractManifold
from .circle import ComplexCircle
from .unitary import BlockUnitary, UnitaryGroup, haar_unitary, polar_factor, skew

__all__ = [
    "AbstractManifold",
    "BlockUnitary",
    "ComplexCircle",
    "UnitaryGroup",
    "haar_unitary",
    "polar_factor",
    "skew",
]

import importlib.util as _ilu

if _ilu.find_spec(__name__ + ".oblique") is not None:  # written by the robust-waveform system
    from .oblique import ComplexOblique  # noqa: F401

    __all__.append("ComplexOblique")
