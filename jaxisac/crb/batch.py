"""Batched solving: one compiled ``vmap`` of ``jaxisac.solve`` per (solver, shapes), with the
stragglers of a batch re-solved apart.

Under ``vmap`` a while loop runs until its *slowest* member stops, so one weakly active draw that
needs ~1,400 R-BAL iterations makes a whole batch pay for 1,400 while the median draw stops after
one block and a Newton polish. :func:`solve_batch` therefore runs the batch with a short iteration
budget first and re-solves only the unfinished members, warm-started from where they stopped, in a
small padded batch (sizes are powers of two, so repeated calls reuse the compiled kernels).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core.solution import Status
from ..core.solve import solve

__all__ = ["solve_batch"]

_SUMMED_STATS = ("iterations", "steps", "newton_attempts")


@eqx.filter_jit
def _solve_batch(problems, solver, init, max_steps):
    if init is None:
        return jax.vmap(lambda p: solve(p, solver, max_steps=max_steps, throw=False))(problems)
    return jax.vmap(lambda p, i: solve(p, solver, init=i, max_steps=max_steps, throw=False))(problems, init)


def _take(tree, idx):
    return jax.tree_util.tree_map(lambda x: x[idx] if isinstance(x, jax.Array) and x.ndim > 0 else x, tree)


def solve_batch(problems, solver, *, init=None, max_steps: int | None = None, first_budget: int | None = None):
    """``jit(vmap(solve))`` over the leading axis of a batched problem (and of ``init``), never
    throwing: each instance reports its own ``Solution.result``.

    Args:
        problems: a batched problem (leading axis = instances), e.g. from ``make_instances``.
        solver: e.g. :class:`jaxisac.crb.RBAL`; its ``max_steps`` caps the iterations per instance.
        init: optional batched warm start (a batched solution ``value``).
        max_steps: cap on the outer solve steps (default ``solver.max_steps``).
        first_budget: iteration budget of the first pass (default: two polish blocks,
            ``2 * solver.polish_every`` for R-BAL with its polish, else ``solver.max_steps``, i.e. one
            pass). The members that end with ``Status.MAX_STEPS`` within it are re-solved, warm-started,
            with the remaining budget; ``stats`` counters (iterations, steps, Newton attempts) add up
            over both passes. ``first_budget >= solver.max_steps`` gives the plain single pass, whose
            results equal one-at-a-time ``jaxisac.solve`` calls exactly.

    Host-level (not traceable: it inspects the first pass's statuses); use ``jax.vmap(jaxisac.solve)``
    inside your own ``jit``.
    """
    cap = int(solver.max_steps)
    steps = int(cap if max_steps is None else max_steps)
    if first_budget is None:
        first_budget = 2 * int(solver.polish_every) if getattr(solver, "polish", False) else cap
    first_budget = int(first_budget)
    if first_budget >= cap:
        return _solve_batch(problems, solver, init, steps)
    sol = _solve_batch(problems, eqx.tree_at(lambda s: s.max_steps, solver, first_budget), init, steps)
    late = np.flatnonzero(np.asarray(sol.result) == int(Status.MAX_STEPS()))
    if late.size == 0:
        return sol
    size = 1 << int(np.ceil(np.log2(late.size)))  # pad to a power of two (compiled-size reuse)
    idx = jnp.asarray(np.concatenate([late, np.full(size - late.size, late[-1])]))
    rest = eqx.tree_at(lambda s: s.max_steps, solver, cap - first_budget)
    sol2 = _solve_batch(_take(problems, idx), rest, _take(sol.value, idx), steps)
    late_j = jnp.asarray(late)
    n = late.size

    def merge(a, b):
        return a.at[late_j].set(b[:n]) if isinstance(a, jax.Array) and a.ndim > 0 else a

    stats2 = dict(sol2.stats)
    for key in _SUMMED_STATS:
        if key in stats2 and key in sol.stats:
            stats2[key] = stats2[key] + sol.stats[key][idx]
    merged = jax.tree_util.tree_map(merge, sol, eqx.tree_at(lambda s: s.stats, sol2, stats2))
    return merged
