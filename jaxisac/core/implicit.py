"""Implicit differentiation of a solution map through its optimality conditions.

:func:`implicit_solution` wraps ``solve_fn(params) -> x`` (any algorithm, not differentiated itself)
with a ``custom_jvp`` given by the implicit function theorem on ``residual(x, params) = 0``:

    dx = -(d residual / dx)^{-1} (d residual / d params) dparams.

Complex leaves are handled through their real and imaginary parts, so ``x`` and ``params`` may be
pytrees of complex arrays and ``residual`` need not be holomorphic. Because the tangent rule is
linear in ``dparams``, JAX transposes it for reverse mode: both ``jax.jvp`` and ``jax.grad`` work,
also under ``vmap`` and ``jit``.

The Jacobian with respect to ``x`` is formed densely (``jax.jacfwd``), which suits the small
optimality systems of the library (reduced KKT systems, worst-case multipliers). The residual must
have as many real components as ``x`` and a non-singular Jacobian at the solution; where it is
singular (non-smooth branches), the solver documents what it does instead.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

__all__ = ["implicit_solution", "ravel_real"]


def ravel_real(tree: Any) -> tuple[jax.Array, Callable[[jax.Array], Any]]:
    """Flatten a pytree of real/complex arrays into one real vector, and the inverse map."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    is_c = [jnp.iscomplexobj(leaf) for leaf in leaves]
    parts = []
    for leaf, c in zip(leaves, is_c):
        leaf = jnp.asarray(leaf)
        parts.append(jnp.stack([leaf.real, leaf.imag], -1) if c else leaf)
    flat, unravel_parts = ravel_pytree(parts)

    def unravel(vec: jax.Array) -> Any:
        out = unravel_parts(vec)
        rebuilt = [jax.lax.complex(p[..., 0], p[..., 1]) if c else p for p, c in zip(out, is_c)]
        return jax.tree_util.tree_unflatten(treedef, rebuilt)

    return flat, unravel


def implicit_solution(
    solve_fn: Callable[[Any], Any], residual: Callable[[Any, Any], Any]
) -> Callable[[Any], Any]:
    """``params -> x`` that evaluates ``solve_fn`` and differentiates by the implicit function theorem.

    Args:
        solve_fn: computes a root ``x`` of ``residual(., params)``; it is never differentiated
            (wrap iterations freely, including ``lax.while_loop``).
        residual: ``(x, params) -> r`` with ``r`` a pytree with the same number of real components
            as ``x``, smooth near the solution.

    ``params`` must be a pytree of inexact arrays. Both functions may close over arrays, traced ones
    included (e.g. data of an outer ``jit``): closed-over values are hoisted into explicit arguments
    with ``jax.closure_convert``, and the residual's dependence on them is differentiated too.
    """

    def solution(params):
        solve_closed, solve_consts = jax.closure_convert(solve_fn, params)
        x_example = jax.tree_util.tree_map(
            lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(solve_closed, params, *solve_consts)
        )
        res_closed, res_consts = jax.closure_convert(residual, x_example, params)
        return _implicit(solve_closed, res_closed, params, tuple(solve_consts), tuple(res_consts))

    return solution


@partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def _implicit(solve_closed, res_closed, params, solve_consts, res_consts):
    return solve_closed(params, *solve_consts)


@_implicit.defjvp
def _implicit_jvp(solve_closed, res_closed, primals, tangents):
    params, solve_consts, res_consts = primals
    dparams, _, dres_consts = tangents  # solve_fn is never differentiated
    x = solve_closed(params, *solve_consts)
    x_flat, unravel_x = ravel_real(x)

    def res_flat(xf):
        return ravel_real(res_closed(unravel_x(xf), params, *res_consts))[0]

    jac = jax.jacfwd(res_flat)(x_flat)
    _, dres = jax.jvp(lambda p, c: res_closed(x, p, *c), (params, res_consts), (dparams, dres_consts))
    dres_flat = ravel_real(dres)[0]
    dx = unravel_x(jnp.linalg.solve(jac, -dres_flat))
    return x, dx
