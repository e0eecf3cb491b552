"""jaxisac: batched, differentiable optimisation for ISAC and reconfigurable-surface research in JAX.

Problems are Equinox modules of arrays, solvers are Equinox configurations, and
``jaxisac.solve(problem, solver)`` runs one compiled loop that ``vmap`` batches over instances.
System families live in subpackages (``jaxisac.crb``, ``jaxisac.robust``, ``jaxisac.bdris``,
``jaxisac.autocorrelation``, ``jaxisac.dma``); shared machinery in ``jaxisac.core``; channel and
array generators in ``jaxisac.scenarios``; the hot loops as pure functions in ``jaxisac.kernels``.
"""

import importlib.util as _ilu
import os as _os
import sys as _sys
import warnings as _warnings

from . import _runtime

# Before anything starts JAX's backend: avoid the CPU deadlock of concurrent batched LAPACK calls
# (see _runtime.py). Too late if the user already ran a JAX computation: say so once.
if _runtime.configure_xla_flags() and _runtime.backend_started():
    _warnings.warn(
        "jaxisac: JAX's CPU backend started before jaxisac was imported, so XLA_FLAGS could not get "
        f"{_runtime.SCHEDULER_FLAG}=false; large vmapped solves on CPU can deadlock. Import jaxisac "
        "first, or set that flag in XLA_FLAGS yourself.",
        RuntimeWarning,
        stacklevel=2,
    )

# From a plain checkout (no install) the top-level `kernels/` folder is registered as
# `jaxisac.kernels`, as the installed package maps it (see setup.py).
_here = _os.path.dirname(_os.path.abspath(__file__))
_kernels = _os.path.join(_os.path.dirname(_here), "kernels")
if not _os.path.isdir(_os.path.join(_here, "kernels")) and _os.path.isfile(_os.path.join(_kernels, "__init__.py")):
    _spec = _ilu.spec_from_file_location(
        "jaxisac.kernels", _os.path.join(_kernels, "__init__.py"), submodule_search_locations=[_kernels]
    )
    _module = _ilu.module_from_spec(_spec)
    _sys.modules["jaxisac.kernels"] = _module
    _spec.loader.exec_module(_module)
    kernels = _module

from . import core, scenarios  # noqa: E402
from . import autocorrelation, bdris, crb, dma, robust  # noqa: E402
from .core import Solution, SolveError, Status, solve, sweep  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "Solution", "SolveError", "Status", "__version__", "autocorrelation", "bdris", "core", "crb", "dma",
    "robust", "scenarios", "solve", "sweep",
]
