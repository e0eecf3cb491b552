"""Solutions and per-instance status codes.

A status is a small integer array (``int32``), so it batches under ``vmap`` like any other output:
a sweep of 10⁴ instances returns 10⁴ codes. :class:`Status` names the codes; :func:`status_message`
turns a code into words.
"""

from __future__ import annotations

import enum
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Status", "Solution", "status_message", "SolveError"]


class Status(enum.IntEnum):
    """Per-instance outcome of a solve. Stored in :attr:`Solution.result` as ``int32``."""

    SUCCESS = 0
    MAX_STEPS = 1
    INFEASIBLE = 2
    NONFINITE = 3

    def __call__(self) -> jax.Array:  # Status.SUCCESS() -> traced-friendly int32 array
        return jnp.asarray(int(self), dtype=jnp.int32)


_MESSAGES = {
    Status.SUCCESS: "success",
    Status.MAX_STEPS: "the maximum number of steps was reached before the stopping criterion held",
    Status.INFEASIBLE: "the problem instance is infeasible",
    Status.NONFINITE: "a non-finite value (NaN or inf) appeared in the iterates",
}


def status_message(code: int) -> str:
    """Human-readable description of a status code."""
    try:
        return _MESSAGES[Status(int(code))]
    except ValueError:
        return f"unknown status code {int(code)}"


class SolveError(RuntimeError):
    """Raised by ``solve(..., throw=True)`` when an instance does not end in ``Status.SUCCESS``."""


class Solution(eqx.Module):
    """What every solver returns.

    Attributes:
        value: the optimiser's pytree (e.g. beamformers). Its leaves gain a leading batch axis
            under ``vmap``.
        objective: the objective value at ``value`` (real scalar per instance).
        result: ``int32`` status code (:class:`Status`), one per instance.
        stats: dictionary of diagnostics: always ``"steps"`` (iterations taken); solvers add
            residuals, traces, etc.
    """

    value: Any
    objective: jax.Array
    result: jax.Array
    stats: dict

    @property
    def success(self) -> jax.Array:
        """Boolean array: which instances ended in ``Status.SUCCESS``."""
        return self.result == int(Status.SUCCESS)

    def summary(self) -> str:
        """Counts of each status (works on batched solutions)."""
        codes = np.asarray(self.result).ravel()
        parts = []
        for s in Status:
            n = int(np.sum(codes == int(s)))
            if n:
                parts.append(f"{s.name.lower()}: {n}")
        return ", ".join(parts) if parts else "empty"
