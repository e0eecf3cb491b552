"""Batched solving: one compiled ``vmap`` of ``jaxisac.solve`` per (solver, shapes)."""

from __future__ import annotations

import equinox as eqx
import jax

from ..core.solve import solve

__all__ = ["solve_batch"]


@eqx.filter_jit
def _solve_batch(problems, solver, init, max_steps):
    if init is None:
        return jax.vmap(lambda p: solve(p, solver, max_steps=max_steps, throw=False))(problems)
    return jax.vmap(lambda p, i: solve(p, solver, init=i, max_steps=max_steps, throw=False))(problems, init)


def solve_batch(problems, solver, *, init=None, max_steps: int | None = None):
    """``jit(vmap(solve))`` over the leading axis of a batched problem (and of ``init``), never
    throwing: each instance reports its own ``Solution.result``."""
    steps = int(solver.max_steps if max_steps is None else max_steps)
    return _solve_batch(problems, solver, init, steps)
