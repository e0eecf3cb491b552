"""The 95 %-coverage calibration of the uncertainty radius (spec §6.4, target 10).

For a scenario and Monte-Carlo true channels ``H0``, the coverage of a radius ``theta`` is the
fraction of draws whose true AASR ``R_{H0, X*(theta)}`` is at least the robust characterisation
``R_{H*, X*}(theta)``. :func:`calibrate_theta` finds the smallest ``theta`` with coverage
``>= coverage`` (the robust line at or below the ``1 - coverage`` quantile of the true AASRs) by
bisection with :func:`jaxisac.core.roots.bracketed_root`. Vmappable over scenarios.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxisac.core.roots import bracketed_root
from jaxisac.core.solve import AbstractSolver, solve

from .methods import JointProblem, Method1, Method3, SensingCentricProblem

__all__ = ["Calibration", "coverage_fraction", "calibrate_theta"]


class Calibration(eqx.Module):
    """Result of :func:`calibrate_theta`: ``theta`` (smallest radius reaching the coverage, to
    ``tol``), ``fraction`` (its coverage), ``status`` (``int32``; INFEASIBLE when even ``theta_max``
    does not reach the coverage or ``theta = 0`` already does), ``steps``."""

    theta: jax.Array
    fraction: jax.Array
    status: jax.Array
    steps: jax.Array


def _default_solver(problem, line="paper"):
    c = line == "certified"
    return Method3(certify=c) if isinstance(problem, JointProblem) else Method1(certify=c)


def coverage_fraction(
    problem: Any, H0: jax.Array, *, solver: AbstractSolver | None = None, theta: Any = None, line: str = "paper"
) -> jax.Array:
    """Fraction of the draws ``H0 (M, K, N)`` with ``R_{H0, X*} >= line`` for the design of
    ``problem`` (its ``theta``, or the given ``theta``) by ``solver`` (default Method 1 / Method 3).

    ``line="paper"``: the paper's ``R_{H*, X*}`` (``H*`` the worst case of the nominal waveform);
    ``line="certified"``: ``R_{H_w(X*), X*}`` with ``H_w(X*)`` the worst case of ``X*`` itself."""
    if line not in ("paper", "certified"):
        raise ValueError(f"line: expected 'paper' or 'certified', got {line!r}")
    solver = _default_solver(problem, line) if solver is None else solver
    if line == "certified":
        if not getattr(solver, "certify", False):
            raise ValueError("solver: line='certified' needs a solver configured with certify=True")
    if theta is not None:
        problem = eqx.tree_at(lambda p: p.theta, problem, jnp.asarray(theta, problem.theta.dtype))
    sol = solve(problem, solver, throw=False)
    X = sol.value
    L = problem.S.shape[1]
    n0 = problem.noise_var
    mui = jnp.sum(jnp.abs(jnp.einsum("mkn,nl->mkl", H0, X) - problem.S) ** 2, axis=-1) / L
    sig = jnp.sum(jnp.abs(problem.S) ** 2, axis=-1) / L
    rates = jnp.mean(jnp.log2(1 + sig / (mui + n0)), axis=-1)
    ref = sol.stats["aasr_robust"] if line == "paper" else sol.stats["aasr_certified"]
    return jnp.mean((rates >= ref).astype(rates.dtype))


def calibrate_theta(
    problem: SensingCentricProblem | JointProblem, H0: jax.Array, *, theta_max: float, coverage: float = 0.95,
    solver: AbstractSolver | None = None, tol: float = 1e-4, max_steps: int = 40, line: str = "paper",
) -> Calibration:
    """Smallest ``theta`` in ``[0, theta_max]`` whose robust line is covered by a fraction ``coverage``
    of the true AASRs (bisection on the Monte-Carlo coverage; ``tol`` absolute in ``theta``).

    The paper's line (``line="paper"``) is not monotone in ``theta`` over large ranges: for
    ``theta`` much larger than the perturbation, ``X*`` adapts to ``H*`` and ``R_{H*, X*}`` rises above
    the true AASRs again (``H*`` is the worst case of ``Xbar``, not of ``X*``, spec §6.8). Keep
    ``theta_max`` at a few ``epsilon`` (the paper's grid ends at ``4 epsilon``), or use
    ``line="certified"``."""
    if not 0 < coverage < 1:
        raise ValueError(f"coverage: expected a fraction in (0, 1), got {coverage}")
    if not theta_max > 0:
        raise ValueError(f"theta_max: expected a positive radius, got {theta_max}")
    solver = _default_solver(problem, line) if solver is None else solver
    rd = problem.theta.dtype
    g = lambda t: coverage_fraction(problem, H0, solver=solver, theta=t, line=line) - coverage
    res = bracketed_root(g, jnp.asarray(0.0, rd), jnp.asarray(theta_max, rd), method="bisect", tol=tol, rtol=0.0,
                         max_steps=max_steps)
    theta = jnp.where(res.status == 0, res.hi, res.root)
    frac = coverage_fraction(problem, H0, solver=solver, theta=theta, line=line)
    return Calibration(theta, frac, res.status, res.steps)
