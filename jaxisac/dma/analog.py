"""Analog step: Neumann linearisation (spec §2.4, corrected) and the convex minorised problem P4-MM
(spec §2.5), solved in JAX by an augmented Lagrangian (``jaxisac.kernels.dma.p4mm_solve``).

Differentiation: P4-MM runs a fixed number of iterations (``fori_loop``), so it can be
differentiated by unrolling; the library uses it inside the AO only.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..kernels import dma as _k
from .problem import DMAProblem

__all__ = ["P4MMConfig", "coefficients", "analog_step"]


class P4MMConfig(eqx.Module):
    """Iteration counts of the P4-MM augmented Lagrangian (static: they set the loop lengths)."""

    outer: int = eqx.field(static=True, default=30)
    inner: int = eqx.field(static=True, default=40)
    rho0: float = 1.0
    rho_growth: float = 1.5


def coefficients(problem: DMAProblem, y, B):
    """Linearised-field data at ``(y, B)``: the dict of :func:`jaxisac.kernels.dma.linearise`
    merged with the P4-MM coefficients of :func:`jaxisac.kernels.dma.p4mm_data`.

    Key facts (tested): ``g`` (D, L) is the exact gradient of the beampattern in y, ``slin`` the exact
    gradient of the signal power, ``plin`` the exact gradient of the transmit power (spec T4).
    """
    model = problem.model
    lin = _k.linearise(model.loads(y), model.Y_st, B, problem.observers, model.W)
    data = _k.p4mm_data(lin["f"], lin["G"], lin["pt0"], lin["plin"], problem.D, model.M)
    return {**lin, **data}


def analog_step(problem: DMAProblem, y, B, kappa, config: P4MMConfig = P4MMConfig(), *, phase1=False, p_cap=None,
                init=None, return_state=False):
    """Solve P4-MM at ``(y, B)`` with the trust box ``|z_l| <= kappa / ||Yhat||_2``.

    Returns ``(z, info)``: ``z`` (L,) the susceptance step, ``info`` = (model objective, max scaled
    constraint violation of P4-MM at z). ``phase1``: minimise the power model instead (Phase I),
    with the power row relaxed to ``p_cap``. ``init`` / ``return_state``: warm start of the augmented
    Lagrangian from a previous solve's state ``(v, lam, rho)`` (see :func:`jaxisac.kernels.dma.p4mm_solve`).
    """
    c = coefficients(problem, y, B)
    radius = kappa / c["ynorm"]
    return _k.p4mm_solve(
        c, problem.gamma, problem.p_max, problem.beta_lo, problem.beta_hi, radius,
        maxmin=problem.objective == "maxmin", has_upper=problem.has_upper, has_lower=problem.has_lower,
        outer=config.outer, inner=config.inner, rho0=config.rho0, rho_growth=config.rho_growth,
        phase1=phase1, p_cap=p_cap, init=init, return_state=return_state,
    )
