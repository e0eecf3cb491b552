"""Hot loops of the generic Riemannian solvers (pure functions; no configuration objects).

:func:`armijo_search` is the line search of :class:`jaxisac.core.riemannian.RiemannianAscent` and
:class:`~jaxisac.core.riemannian.RiemannianCG`: Armijo's sufficient-increase rule with step doubling
and halving (Abrudan et al.), tested against the TRUE directional slope of the search direction (the
BD-RIS paper's reference slope 1/2 tr(D D^H) is wrong for conjugate directions, see spec A2).
"""

from __future__ import annotations

from typing import Any, Callable

import equinox.internal as eqxi
import jax
import jax.numpy as jnp

__all__ = ["armijo_search", "polak_ribiere"]


def _where(pred, a, b):
    return jax.tree_util.tree_map(lambda u, v: jnp.where(pred, u, v), a, b)


def armijo_search(
    phi: Callable[[jax.Array], tuple[jax.Array, Any]],
    f0: jax.Array,
    slope: jax.Array,
    mu0: jax.Array,
    point0: Any,
    *,
    c: float = 0.5,
    max_doublings: int = 30,
    max_halvings: int = 50,
    loop_kind: str = "lax",
    accept_last: bool = False,
) -> tuple[jax.Array, jax.Array, Any, jax.Array, jax.Array]:
    """Armijo step with doubling / halving along a retraction curve.

    A step ``mu`` is *acceptable* when ``phi(mu)[0] - f0 >= c * mu * slope`` (and finite). Starting
    from ``mu0``: if acceptable, double while the doubled step stays acceptable; otherwise halve until
    acceptable. With ``slope > 0`` every accepted step strictly increases the objective.

    Args:
        phi: ``mu -> (f(R_x(mu d)), R_x(mu d))`` for a real scalar ``mu``.
        f0: objective at ``mu = 0`` (real scalar).
        slope: the true directional derivative ``<grad f(x), d>`` (must be > 0 to accept anything).
        mu0: initial trial step (real scalar, > 0).
        point0: a pytree with the structure of a point (returned when nothing is accepted).
        c: Armijo constant in ``(0, 1)``.
        max_doublings, max_halvings: caps on the two phases (``max_doublings=0``: plain backtracking,
            an acceptable first trial is taken at once).
        loop_kind: ``"lax"`` (fast; not reverse-differentiable) or ``"checkpointed"`` (equinox's
            reverse-differentiable while loop, for unrolled differentiation).
        accept_last: when the halving phase ends without an acceptable step, return its last
            (smallest) trial anyway, as the BD-RIS paper's code does (only for reproducing that rule).

    Returns:
        ``(mu, f, point, ok, evaluations)``: the accepted step, its objective and point, whether a
        step was accepted (``False``: ``mu = 0``, ``f = f0``, ``point = point0``), and the number of
        objective evaluations.
    """
    f0 = jnp.asarray(f0)
    mu0 = jnp.asarray(mu0, f0.dtype)
    slope = jnp.asarray(slope, f0.dtype)

    def acceptable(mu, f):
        return jnp.isfinite(f) & (f - f0 >= c * mu * slope) & (slope > 0)

    f1, p1 = phi(mu0)
    ok1 = acceptable(mu0, f1)
    zero = jnp.zeros((), f0.dtype)
    carry0 = dict(
        mu_try=jnp.where(ok1, 2 * mu0, 0.5 * mu0),
        mu=jnp.where(ok1, mu0, zero),
        f=jnp.where(ok1, f1, f0),
        point=_where(ok1, p1, point0),
        have=ok1,
        grow=ok1,
        k=jnp.zeros((), jnp.int32),
        done=(slope <= 0) | (ok1 & (max_doublings == 0)),  # no doubling phase: take the first success
        evals=jnp.ones((), jnp.int32),
    )

    def cond(s):
        return ~s["done"]

    def body(s):
        ft, pt = phi(s["mu_try"])
        ok = acceptable(s["mu_try"], ft)
        take = ok  # in both phases an acceptable trial becomes the incumbent
        new = dict(s)
        new["mu"] = jnp.where(take, s["mu_try"], s["mu"])
        new["f"] = jnp.where(take, ft, s["f"])
        new["point"] = _where(take, pt, s["point"])
        new["have"] = s["have"] | ok
        new["mu_try"] = jnp.where(s["grow"], 2 * s["mu_try"], 0.5 * s["mu_try"])
        k = s["k"] + 1
        cap = jnp.where(s["grow"], max_doublings, max_halvings)
        # doubling stops at the first failure; halving stops at the first success
        stop = jnp.where(s["grow"], ~ok, ok) | (k >= cap)
        new["k"] = k
        new["done"] = stop
        new["evals"] = s["evals"] + 1
        return new

    if accept_last:
        carry0["last"] = (mu0, f1, p1)

        def step_fn(s):
            ft, pt = phi(s["mu_try"])  # re-evaluated (cheap next to the loop; keeps body() unchanged)
            new = body(s)
            new["last"] = (s["mu_try"], ft, pt)
            return new

    else:
        step_fn = body
    if loop_kind == "lax":
        out = jax.lax.while_loop(cond, step_fn, carry0)
    else:
        out = eqxi.while_loop(cond, step_fn, carry0, max_steps=max_doublings + max_halvings + 1, kind=loop_kind)
    if accept_last:  # nothing acceptable: take the last (smallest) trial, as the paper's code does
        use = ~out["have"] & (slope > 0)
        mu_l, f_l, p_l = out["last"]
        return (jnp.where(use, mu_l, out["mu"]), jnp.where(use, f_l, out["f"]), _where(use, p_l, out["point"]),
                out["have"] | use, out["evals"])
    return out["mu"], out["f"], out["point"], out["have"], out["evals"]


def polak_ribiere(inner_new_diff: jax.Array, inner_old: jax.Array, *, nonnegative: bool = False) -> jax.Array:
    """Polak-Ribiere coefficient ``<g1 - T g0, g1> / <g0, g0>`` (optionally clipped at 0: PR+)."""
    tiny = jnp.finfo(jnp.asarray(inner_old).dtype).tiny
    beta = inner_new_diff / jnp.maximum(inner_old, tiny)
    return jnp.maximum(beta, 0.0) if nonnegative else beta
