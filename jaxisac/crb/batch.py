"""Batched solving: one compiled ``vmap`` of ``jaxisac.solve`` per (solver, shapes), with the
stragglers of a batch re-solved apart.

Under ``vmap`` a while loop runs until its *slowest* member stops, so one weakly active draw that
needs ~1,400 R-BAL iterations makes a whole batch pay for 1,400 while the median draw stops after
one block and a Newton polish. :func:`solve_batch` therefore runs the batch with a short iteration
budget first and re-solves only the unfinished members, warm-started from where they stopped, in a
small padded batch (sizes are powers of two, so repeated calls reuse the compiled kernels).

For solvers with closed-form pre-tests (R-BAL: Theorem 4 and the isotropic certificate) a pass 0
runs only those tests (no iteration, no feasibility fixed point): at the paper's defaults they
answer most draws (96/100 at N_t = 32, K = 8), and only the rest pay for iterating.
"""

from __future__ import annotations

import dataclasses

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


@eqx.filter_jit
def _take(tree, idx):
    # compiled once per (tree, padded size): one gather per leaf, not one dispatch each
    return jax.tree_util.tree_map(lambda x: x[idx] if isinstance(x, jax.Array) and x.ndim > 0 else x, tree)


def solve_batch(problems, solver, *, init=None, max_steps: int | None = None, first_budget: int | None = None):
    """``jit(vmap(solve))`` over the leading axis of a batched problem (and of ``init``), never
    throwing: each instance reports its own ``Solution.result``.

    Args:
        problems: a batched problem (leading axis = instances), e.g. from ``make_instances``.
        solver: e.g. :class:`jaxisac.crb.RBAL`; its ``max_steps`` caps the iterations per instance.
        init: optional batched warm start (a batched solution ``value``).
        max_steps: cap on the outer solve steps (default ``solver.max_steps``).
        first_budget: iteration budget of the first pass (default: one polish block,
            ``solver.polish_every``, for R-BAL with its polish, else ``solver.max_steps``, i.e. one
            pass). The members that end with ``Status.MAX_STEPS`` within it are re-solved, warm-started,
            with the remaining budget; ``stats`` counters (iterations, steps, Newton attempts) add up
            over both passes. ``first_budget >= solver.max_steps`` gives a plain
            single pass (after pass 0), whose results equal one-at-a-time ``jaxisac.solve`` calls.

    Host-level (not traceable: it inspects the first pass's statuses); use ``jax.vmap(jaxisac.solve)``
    inside your own ``jit``.
    """
    cap = int(solver.max_steps)
    steps = int(cap if max_steps is None else max_steps)
    if first_budget is None:
        first_budget = int(solver.polish_every) if getattr(solver, "polish", False) else cap
    first_budget = int(first_budget)
    if hasattr(solver, "feas_max_iter") and init is None:
        # pass 0: the closed-form pre-tests alone (0 iterations; the fixed point (4) is deferred,
        # so undecided members end with MAX_STEPS and are solved from scratch below)
        pre = dataclasses.replace(solver, max_steps=0, feas_max_iter=0)
        sol0 = _solve_batch(problems, pre, None, steps)
        todo = np.flatnonzero(np.asarray(sol0.result) == int(Status.MAX_STEPS()))
        if todo.size == 0:
            return sol0
        sub = _passes(_take(problems, _padded(todo)), solver, None, steps, first_budget, cap)
        return _merge(sol0, sub, _padded(todo))
    return _passes(problems, solver, init, steps, first_budget, cap)


def _padded(idx):
    """Indices padded to a power of two by repeating the last (compiled-size reuse)."""
    size = 1 << int(np.ceil(np.log2(idx.size)))
    return jnp.asarray(np.concatenate([idx, np.full(size - idx.size, idx[-1])]))


@eqx.filter_jit
def _merge(sol, sub, padded, summed=()):
    """``sol`` with rows ``padded`` replaced by the rows of ``sub`` (whose stats in ``summed`` are
    added to ``sol``'s at ``padded``). The padding repeats the last row, whose copies in ``sub`` are
    the same solve, so the repeated writes agree; one compiled scatter per (tree, padded size)."""
    stats = dict(sub.stats)
    for key in summed:
        if key in stats and key in sol.stats:
            stats[key] = stats[key] + sol.stats[key][padded]

    def put(a, b):
        return a.at[padded].set(b) if isinstance(a, jax.Array) and a.ndim > 0 else a

    return jax.tree_util.tree_map(put, sol, eqx.tree_at(lambda s: s.stats, sub, stats))


def _with_budget(solver, budget):
    """``solver`` with an iteration cap given as an array: a traced value under ``jit``, so
    passes of different budgets share one compiled kernel per batch size."""
    return eqx.tree_at(lambda s: s.max_steps, solver, jnp.asarray(budget, jnp.int32))


def _passes(problems, solver, init, steps, first_budget, cap):
    """A short pass over all members, then the unfinished ones re-solved, warm-started, with the
    remaining budget in one padded batch. (One pass, not several of growing budget: a warm restart
    resets the adaptive step and the active-set guess, which costs the weakly active draws more
    than it saves: measured 250 -> 600 iterations on spec §9.6 seed 92.)"""
    if first_budget >= cap:
        return _solve_batch(problems, solver, init, steps)
    sol = _solve_batch(problems, _with_budget(solver, first_budget), init, steps)
    late = np.flatnonzero(np.asarray(sol.result) == int(Status.MAX_STEPS()))
    if late.size == 0:
        return sol
    idx = _padded(late)
    sub = _solve_batch(_take(problems, idx), _with_budget(solver, cap - first_budget), _take(sol.value, idx), steps)
    return _merge(sol, sub, idx, _SUMMED_STATS)
