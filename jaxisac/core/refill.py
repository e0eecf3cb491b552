"""Batched solves whose stragglers do not hold up the batch: a fixed number of slots, refilled.

``jax.vmap(solve)`` over n instances runs one ``while_loop`` until the slowest instance stops;
finished instances are frozen but still pay for a step in every iteration, so the batch costs
``n * max(steps)`` steps. :func:`solve_refill` keeps ``width`` slots instead: every iteration steps
all slots at once (one ``vmap(solver.step)``), stores each instance that has just finished and puts
the next waiting instance in its slot. The batch then costs about ``sum(steps) / width`` iterations
of ``width`` lanes, plus a tail of at most ``max(steps)`` iterations once no instance is waiting.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .solution import Solution
from .solve import _advance, _check_solver, _finish, _is_traced, _start

__all__ = ["solve_refill"]


def _take(tree: Any, idx: jax.Array) -> Any:
    return jax.tree_util.tree_map(lambda a: a[idx], tree)


def _where_rows(mask: jax.Array, new: Any, old: Any) -> Any:
    """Row-wise select: row ``i`` of every leaf from ``new`` where ``mask[i]``, else from ``old``."""

    def pick(a, b):
        return jnp.where(mask.reshape(mask.shape + (1,) * (a.ndim - 1)), a, b)

    return jax.tree_util.tree_map(pick, new, old)


def _leading(tree: Any, name: str) -> int | None:
    """The common leading axis length of the array leaves of ``tree`` (``None``: no array leaf)."""
    sizes = set()
    for leaf in jax.tree_util.tree_leaves(tree):
        if not eqx.is_array(leaf):
            continue
        if leaf.ndim == 0:
            raise ValueError(f"{name}: every array needs a leading batch axis, got a scalar array")
        sizes.add(int(leaf.shape[0]))
    if len(sizes) > 1:
        raise ValueError(f"{name}: array leaves disagree on the leading (batch) axis: sizes {sorted(sizes)}")
    return sizes.pop() if sizes else None


def _refill(problems, solver, init, width: int, max_steps: int) -> Solution:
    arrays, static = eqx.partition(problems, eqx.is_array)
    n = jax.tree_util.tree_leaves(arrays)[0].shape[0]

    def start(p, i):
        return _start(eqx.combine(p, static), solver, i)

    def advance(p, c):
        return _advance(eqx.combine(p, static), solver, c)

    def finish(p, c):
        return _finish(eqx.combine(p, static), solver, c)

    def finished(carry):
        _, steps, done, _ = carry
        return done | (steps >= max_steps)

    # One init per instance, all batched up front. The buffer holds each instance's initial carry
    # until its slot takes it, then its final carry; instances finished at init never take a slot.
    buf = jax.vmap(start)(arrays, init)
    fin0 = finished(buf)
    queue = jnp.argsort(fin0, stable=True).astype(jnp.int32)  # waiting instances first, in order
    m = jnp.sum(~fin0).astype(jnp.int32)
    pos = jnp.arange(width, dtype=jnp.int32)  # queue position held by each slot (>= m: idle)
    slot = _take(buf, queue[pos])
    slot_prob = _take(arrays, queue[pos])
    stored_at = jnp.zeros((n,), jnp.int32)
    loop0 = (buf, slot, slot_prob, pos, jnp.int32(width), jnp.int32(0), jnp.int32(0), stored_at)

    def body(loop):
        buf, slot, slot_prob, pos, nxt, n_done, it, stored_at = loop
        slot = jax.vmap(advance)(slot_prob, slot)
        it = it + 1
        fin = finished(slot) & (pos < m)

        def store_and_reload(args):
            buf, slot, slot_prob, pos, nxt, stored_at = args
            inst = jnp.where(fin, queue[jnp.minimum(pos, n - 1)], n)  # n: dropped write
            buf = jax.tree_util.tree_map(lambda b, s: b.at[inst].set(s, mode="drop"), buf, slot)
            stored_at = stored_at.at[inst].set(it, mode="drop")
            new_pos = jnp.where(fin, nxt + jnp.cumsum(fin, dtype=jnp.int32) - 1, pos)
            load = fin & (new_pos < m)
            new_inst = queue[jnp.minimum(new_pos, n - 1)]
            slot = _where_rows(load, _take(buf, new_inst), slot)
            slot_prob = _where_rows(load, _take(arrays, new_inst), slot_prob)
            return buf, slot, slot_prob, new_pos, nxt + jnp.sum(fin, dtype=jnp.int32), stored_at

        # most iterations finish no instance: skip the scatter and gathers then
        buf, slot, slot_prob, pos, nxt, stored_at = jax.lax.cond(
            jnp.any(fin), store_and_reload, lambda a: a, (buf, slot, slot_prob, pos, nxt, stored_at)
        )
        return buf, slot, slot_prob, pos, nxt, n_done + jnp.sum(fin, dtype=jnp.int32), it, stored_at

    loop = jax.lax.while_loop(lambda lp: lp[5] < m, body, loop0)
    buf, stored_at = loop[0], loop[7]
    sol = jax.vmap(finish)(arrays, buf)
    stats = dict(sol.stats)
    stats["loop_iteration"] = stored_at
    return eqx.tree_at(lambda s: s.stats, sol, stats)


_refill_jit = eqx.filter_jit(_refill)


def solve_refill(
    problems: Any,
    solver: Any,
    *,
    width: int,
    init: Any | None = None,
    max_steps: int | None = None,
) -> Solution:
    """Solve a batch of instances in ``width`` refilled slots; same result as ``vmap(solve)``.

    Equal, instance by instance (to round-off), to
    ``jax.vmap(lambda p, i: jaxisac.solve(p, solver, init=i, max_steps=max_steps, throw=False))``:
    each instance follows its own trajectory from ``solver.init`` to its ``terminate`` (or
    ``Status.NONFINITE`` at a non-finite iterate, ``Status.MAX_STEPS`` at the cap), whichever slot
    runs it and whatever runs beside it. "To round-off": XLA's batched CPU kernels can round an
    instance differently at another batch width (``vmap(solve)`` over 8 draws and over 32 differ
    too), and a solver stopped by a tolerance can amplify that (BD-RIS CG at ``atol=1e-6``: 3e-10
    relative in the objective, a step more or less); where the kernels agree the results are
    bitwise equal.

    Cost model: ``n`` inits (batched, once), then ``T`` loop iterations of ``width`` lanes each with
    ``ceil(S / width) <= T <= floor(S / width) + max(steps)``, where ``S`` is the sum of the
    instances' step counts; plus, in iterations where some instance finishes, a gather and a scatter
    of ``width`` states. ``vmap(solve)`` costs ``max(steps)`` iterations of ``n`` lanes. Refilling
    therefore pays when step counts vary a lot (``S / n`` well below ``max(steps)``) and the batch
    is large compared with ``width``; with uniform step counts it only adds the bookkeeping. On a
    CPU, ``width`` around the batch size that saturates the cores is enough; on an accelerator, the
    largest width that fills the device. Every iteration still waits for the slowest slot's step
    (a line search, an inner loop): small widths suit a CPU (``experiments/bench_bdris.py``).

    Args:
        problems: a batched problem pytree: every array leaf has the same leading axis ``n``
            (non-array leaves are shared by all instances).
        solver: an :class:`~jaxisac.core.AbstractSolver` configuration.
        width: number of slots (an int >= 1); a width above ``n`` is reduced to ``n``.
        init: ``None`` or warm starts batched like ``problems`` (leading axis ``n``).
        max_steps: iteration cap per instance (default ``solver.max_steps``).

    Returns:
        A batched :class:`Solution` (leading axis ``n``), as ``vmap(solve, throw=False)`` returns;
        ``stats["loop_iteration"]`` adds, per instance, the loop iteration in which it finished (0
        if it never needed a step): its maximum is the number of loop iterations run. Nothing is
        raised for instances that fail: read ``Solution.result``.

    Differentiation: as ``vmap(solve)`` (``unroll=False``): ``postprocess`` sees the live problems,
    so the derivatives that solvers build there (envelope theorem, implicit rules) are those of
    ``solve``; forward mode also runs through the iterations, reverse mode cannot go through the
    ``while_loop`` (use ``solve(..., unroll=True)`` for that).
    """
    steps = _check_solver(solver, max_steps)
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width: expected an int >= 1, got {width!r}")
    n = _leading(problems, "problems")
    if n is None:
        raise ValueError("problems: expected a batched problem with array leaves, got no arrays")
    if n == 0:
        raise ValueError("problems: the batch is empty (leading axis 0)")
    if init is not None:
        n_init = _leading(init, "init")
        if n_init is not None and n_init != n:
            raise ValueError(f"init: expected a leading (batch) axis of {n} like problems, got {n_init}")
    run = _refill if _is_traced((problems, solver, init)) else _refill_jit
    return run(problems, solver, init, min(width, n), steps)
