"""Worst-case channel of a fixed waveform: ``max_{||H - Hbar||_F <= beta theta} ||H X - S||_F^2``.

Default ``method="trs"``: the exact global solution of this trust-region subproblem (one ``eigh`` of
``X X^H`` and a scalar secular equation solved by :func:`jaxisac.core.roots.bracketed_root`),
including ``theta = 0`` and the hard case. ``method="paper"``: the paper's Prop. 5 iteration in
its degenerate matrix form ``H_k = Hbar + theta G_k / ||G_k||`` (spec §3.1) with a tolerance stop.

Differentiation: implicit. The output ``H*`` is differentiated (forward and reverse mode, under
``vmap``) with respect to ``X``, ``S``, ``H_nominal`` and ``theta`` by the implicit function theorem
applied to the optimality system ``(H - Hbar)(lam I - X X^H) = (Hbar X - S) X^H``,
``||H - Hbar||_F^2 = theta^2`` (:func:`jaxisac.core.implicit_solution`). The system is singular in
the hard case and at ``theta = 0`` (where the derivative is not defined); there the tangent is
that of the regular branch's formula and should not be trusted.
"""

from __future__ import annotations

import functools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxisac.core.complex import ct
from jaxisac.core.implicit import implicit_solution
from jaxisac.core.solution import Status
from jaxisac.core.validation import check_array, check_positive, is_concrete
from jaxisac.kernels import robust as _k

__all__ = ["WorstCase", "worst_case", "worst_case_channel", "worst_case_value"]


class WorstCase(eqx.Module):
    """Worst case of a fixed waveform.

    Attributes:
        H: the worst-case channel ``(K, N)``.
        value: ``||H X - S||_F^2`` at ``H``.
        multiplier: the trust-region multiplier ``lam >= lambda_max(X X^H)``.
        status: ``int32`` :class:`~jaxisac.core.Status` code.
        steps: iterations (Prop. 5 rounds, or secular-equation iterations are not reported: 0).
    """

    H: jax.Array
    value: jax.Array
    multiplier: jax.Array
    status: jax.Array
    steps: jax.Array


def _residual(x, params):
    H, lam, aux = x
    X, S, Hbar, theta = params
    D = H - Hbar
    N = X.shape[0]
    r1 = D @ (lam.astype(X.dtype) * jnp.eye(N, dtype=X.dtype) - X @ ct(X)) - (Hbar @ X - S) @ ct(X)
    r2 = jnp.sum(jnp.abs(D) ** 2) - theta**2
    return r1, r2, aux - jax.lax.stop_gradient(aux)


def _solve_trs(params, max_steps):
    X, S, Hbar, theta = params
    H, lam, status = _k.worst_case_trs(X, S, Hbar, theta, max_steps)
    rd = lam.dtype
    return H, lam, jnp.stack([status.astype(rd), jnp.zeros((), rd)])


def _solve_paper(params, tol, max_steps):
    X, S, Hbar, theta = params
    H, steps, conv, _ = _k.worst_case_prop5(X, S, Hbar, theta, tol, max_steps)
    G = (H @ X - S) @ ct(X)
    rd = jnp.real(G).dtype
    theta = jnp.asarray(theta, rd)
    lam = jnp.where(theta > 0, jnp.linalg.norm(G) / jnp.where(theta > 0, theta, 1.0), jnp.linalg.eigvalsh(X @ ct(X))[-1])
    status = jnp.where(conv, Status.SUCCESS(), Status.MAX_STEPS())
    return H, lam, jnp.stack([status.astype(rd), steps.astype(rd)])


def _prepare(X, S, H_nominal, theta, budget):
    X = check_array(X, "X", ndim=2, kind="complex")
    S = check_array(S, "S", ndim=2, kind="complex")
    Hb = check_array(H_nominal, "H_nominal", ndim=2, kind="complex")
    if Hb.shape[1] != X.shape[0]:
        raise ValueError(f"H_nominal: expected {X.shape[0]} columns (antennas of X), got shape {Hb.shape}")
    if S.shape != (Hb.shape[0], X.shape[1]):
        raise ValueError(f"S: expected shape ({Hb.shape[0]}, {X.shape[1]}), got {S.shape}")
    th = check_positive(theta, "theta", strict=False, shape=())
    b = check_positive(budget, "budget", strict=False, shape=())
    if is_concrete(b) and float(b) > 1:
        raise ValueError(f"budget: expected a value in [0, 1], got {float(b)}")
    dt = jnp.result_type(X.dtype, S.dtype, Hb.dtype)
    rd = jnp.finfo(dt).dtype
    return X.astype(dt), S.astype(dt), Hb.astype(dt), (b.astype(rd) * th.astype(rd))


def worst_case(
    X: Any,
    S: Any,
    H_nominal: Any,
    theta: Any,
    *,
    budget: Any = 1.0,
    method: str = "trs",
    tol: float = 1e-12,
    max_steps: int | None = None,
) -> WorstCase:
    """Worst-case channel of the waveform ``X`` in the Frobenius ball of radius ``budget * theta``.

    Args:
        X: waveform ``(N, L)``, complex. S: symbols ``(K, L)``. H_nominal: ``Hbar (K, N)``.
        theta: radius (>= 0, same units as H). budget: ``beta in [0, 1]`` (radius ``beta theta``).
        method: ``"trs"`` (exact, default) or ``"paper"`` (Prop. 5 iteration, init ``Hbar``).
        tol: Prop. 5 stopping tolerance on ``||H_k - H_{k-1}|| / max(1, ||H_k||)``.
        max_steps: secular-equation iterations (trs) or Prop. 5 rounds (default 100 for both).

    Returns:
        :class:`WorstCase`. Implicitly differentiable (see the module docstring).
    """
    if method not in ("trs", "paper"):
        raise ValueError(f"method: expected 'trs' or 'paper', got {method!r}")
    X, S, Hb, radius = _prepare(X, S, H_nominal, theta, budget)
    steps = 100 if max_steps is None else int(max_steps)
    return _worst_case_impl(X, S, Hb, radius, method, float(tol), steps)


@functools.partial(jax.jit, static_argnums=(4, 5, 6))
def _worst_case_impl(X, S, Hb, radius, method, tol, max_steps):
    if method == "trs":
        solve_fn = lambda p: _solve_trs(p, max_steps)
    else:
        solve_fn = lambda p: _solve_paper(p, tol, max_steps)
    H, lam, aux = implicit_solution(solve_fn, _residual)((X, S, Hb, radius))
    value = jnp.sum(jnp.abs(H @ X - S) ** 2)
    aux = jax.lax.stop_gradient(aux)
    return WorstCase(H, value, lam, aux[0].astype(jnp.int32), aux[1].astype(jnp.int32))


def worst_case_channel(X: Any, S: Any, H_nominal: Any, theta: Any, **kwargs) -> jax.Array:
    """``H* = argmax_{||H - H_nominal||_F <= theta} ||H X - S||_F^2`` (K x N); see :func:`worst_case`."""
    return worst_case(X, S, H_nominal, theta, **kwargs).H


def worst_case_value(X: Any, S: Any, H_nominal: Any, theta: Any, **kwargs) -> jax.Array:
    """``max_{||H - H_nominal||_F <= theta} ||H X - S||_F^2``; see :func:`worst_case`."""
    return worst_case(X, S, H_nominal, theta, **kwargs).value
