"""The one solve loop: solvers are configurations with ``init / step / terminate / postprocess``.

``solve(problem, solver)`` runs ``solver.step`` inside a ``lax.while_loop`` (or a ``lax.scan`` of
exactly ``max_steps`` iterations when ``unroll=True``, which makes the loop reverse-differentiable).
Finished instances are frozen (``jnp.where(done, old, new)``), so ``vmap(solve)`` over a batch gives
what a Python loop over the instances gives, even when their iteration counts differ.

Status handling, per instance:
* ``terminate`` may already say "done" before the first step (closed forms, certificates,
  infeasibility tests): the loop then never steps that instance.
* an iterate with a NaN/inf leaf is rejected: the instance stops at its last finite state with
  ``Status.NONFINITE``.
* an instance that is still running at ``max_steps`` ends with ``Status.MAX_STEPS``.
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .solution import Solution, SolveError, Status

__all__ = ["AbstractSolver", "solve", "tree_where"]


class AbstractSolver(eqx.Module):
    """Interface of every iterative solver in jaxisac (an Equinox module holding hyper-parameters).

    Subclasses define a field ``max_steps: int`` (the default iteration cap) and the four methods
    below. ``state`` is any pytree of arrays with fixed shapes and dtypes.
    """

    @abc.abstractmethod
    def init(self, problem: Any, init: Any | None) -> Any:
        """Initial state. ``init`` is the user's warm start (``None``: the solver's default)."""

    @abc.abstractmethod
    def step(self, problem: Any, state: Any) -> Any:
        """One iteration: ``state -> state``."""

    @abc.abstractmethod
    def terminate(self, problem: Any, state: Any) -> tuple[jax.Array, jax.Array]:
        """``(done, status)``: a boolean and an ``int32`` :class:`Status` code for ``state``."""

    @abc.abstractmethod
    def postprocess(self, problem: Any, state: Any, result: jax.Array, stats: dict) -> Solution:
        """Build the :class:`Solution` from the final state. ``stats`` holds ``"steps"``."""


def tree_where(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    """Leaf-wise ``jnp.where(pred, a, b)`` over two pytrees of the same structure."""
    return jax.tree_util.tree_map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def stop_gradient_tree(tree: Any) -> Any:
    """``stop_gradient`` on every inexact array leaf of ``tree`` (other leaves unchanged): the data a
    solver iterates on when its derivative comes from the envelope theorem or an implicit rule."""
    return jax.tree_util.tree_map(lambda a: jax.lax.stop_gradient(a) if eqx.is_inexact_array(a) else a, tree)


def _all_finite(tree: Any) -> jax.Array:
    leaves = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree_util.tree_leaves(tree)
        if jnp.issubdtype(jnp.result_type(x), jnp.inexact)
    ]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _changed_leaves(new: Any, old: Any) -> list:
    """The leaves of ``new`` that the step recomputed: a leaf passed through unchanged (the same traced
    value, e.g. constant data a solver keeps in its state) was checked when it entered the state."""
    new_leaves, old_leaves = jax.tree_util.tree_leaves(new), jax.tree_util.tree_leaves(old)
    if len(new_leaves) != len(old_leaves):
        return new_leaves
    return [n for n, o in zip(new_leaves, old_leaves) if n is not o]


def _start(problem, solver, init):
    """Loop carry ``(state, steps, done, result)`` before the first step (one instance)."""
    state0 = solver.init(problem, init)
    done0, result0 = solver.terminate(problem, state0)
    finite0 = _all_finite(state0)
    result0 = jnp.where(finite0, jnp.asarray(result0, jnp.int32), Status.NONFINITE())
    return state0, jnp.asarray(0, jnp.int32), jnp.asarray(done0) | ~finite0, result0


def _advance(problem, solver, carry):
    """One iteration of the loop on one instance's carry; a finished instance stays frozen and a
    non-finite iterate is rejected (the instance keeps its last finite state, ``NONFINITE``)."""
    state, steps, done, result = carry
    new = solver.step(problem, state)
    finite = _all_finite(_changed_leaves(new, state))
    new_done, new_result = solver.terminate(problem, new)
    new_result = jnp.where(finite, jnp.asarray(new_result, jnp.int32), Status.NONFINITE())
    state = tree_where(done | ~finite, state, new)
    result = jnp.where(done, result, new_result)
    steps = jnp.where(done, steps, steps + 1)
    done = done | jnp.asarray(new_done) | ~finite
    return state, steps, done, result


def _finish(problem, solver, carry) -> Solution:
    """The :class:`Solution` of a final carry: still running means ``MAX_STEPS``."""
    state, steps, done, result = carry
    result = jnp.where(done, result, Status.MAX_STEPS())
    return solver.postprocess(problem, state, result, {"steps": steps})


def _run(problem, solver, init, max_steps: int, unroll: bool) -> Solution:
    carry0 = _start(problem, solver, init)

    def body(carry):
        return _advance(problem, solver, carry)

    if max_steps == 0:  # closed-form solvers: no loop, so outputs the caller drops are dead code
        carry = carry0
    elif unroll:
        carry, _ = jax.lax.scan(lambda c, _: (body(c), None), carry0, None, length=max_steps)
    else:
        carry = jax.lax.while_loop(lambda c: (~c[2]) & (c[1] < max_steps), body, carry0)
    return _finish(problem, solver, carry)


_run_jit = eqx.filter_jit(_run)


def _check_solver(solver: Any, max_steps: int | None) -> int:
    """Validate ``solver`` and return the iteration cap (``max_steps`` or the solver's default)."""
    if not isinstance(solver, AbstractSolver):
        raise ValueError(f"solver: expected a jaxisac solver configuration, got {type(solver).__name__}")
    steps = int(solver.max_steps if max_steps is None else max_steps)
    if steps < 0:
        raise ValueError(f"max_steps: expected a non-negative integer, got {steps}")
    return steps


def _is_traced(x: Any) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(x))


def solve(
    problem: Any,
    solver: AbstractSolver,
    *,
    init: Any | None = None,
    max_steps: int | None = None,
    throw: bool = True,
    unroll: bool = False,
) -> Solution:
    """Solve ``problem`` with the configuration ``solver``.

    Args:
        problem: a problem module (arrays); batch it with ``jax.vmap``.
        solver: an :class:`AbstractSolver` configuration.
        init: warm start, in the solver's value format (``None``: the solver's own initialisation).
        max_steps: iteration cap (default: ``solver.max_steps``). Static: changing it recompiles.
        throw: when an instance does not end in ``Status.SUCCESS``, raise :class:`SolveError`
            (outside ``jit``/``vmap``) or a runtime error (inside). Use ``throw=False`` in sweeps:
            every instance then reports its own status in ``Solution.result``.
        unroll: run exactly ``max_steps`` iterations in a ``lax.scan`` (finished instances frozen) so
            that reverse-mode autodiff can differentiate through the iterations.

    Returns:
        A :class:`Solution`.
    """
    steps = _check_solver(solver, max_steps)
    traced = _is_traced((problem, solver, init))
    sol = (_run if traced else _run_jit)(problem, solver, init, steps, unroll)
    if not throw:
        return sol
    if traced or _is_traced(sol.result):
        return eqx.error_if(
            sol,
            sol.result != int(Status.SUCCESS),
            "jaxisac.solve: an instance did not succeed (pass throw=False to get per-instance status codes)",
        )
    codes = np.asarray(sol.result)
    if np.any(codes != int(Status.SUCCESS)):
        raise SolveError(
            f"jaxisac.solve: {type(solver).__name__} did not succeed ({sol.summary()}); "
            "pass throw=False to inspect per-instance status codes in Solution.result"
        )
    return sol
