"""Analog step: Neumann linearisation (spec §2.4, corrected) and the convex minorised problem P4-MM
(spec §2.5), solved in JAX by an augmented Lagrangian (``jaxisac.kernels.dma.p4mm_solve``).

Differentiation: P4-MM runs a fixed number of iterations (``fori_loop``), so it can be
differentiated by unrolling; the library uses it inside the AO only.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..core.sdp import SDP, solve_sdp
from ..core.sdp_ipm import IPMSDP
from ..kernels import dma as _k
from .problem import DMAProblem

__all__ = ["P4MMConfig", "coefficients", "analog_step", "p4mm_conic"]


class P4MMConfig(eqx.Module):
    """Iteration counts of the P4-MM augmented Lagrangian (static: they set the loop lengths)."""

    outer: int = eqx.field(static=True, default=30)
    inner: int = eqx.field(static=True, default=40)
    rho0: float = 1.0
    rho_growth: float = 1.5


def solve_loads_at(problem: DMAProblem, y):
    """:func:`jaxisac.kernels.dma.solve_loads` at loads ``y``: ``(F, C, ||Z(y)^{-1}||_2)`` from one LU."""
    model = problem.model
    return _k.solve_loads(model.loads(y), model.Y_st, problem.observers)


def coefficients(problem: DMAProblem, y, B, *, loads=None):
    """Linearised-field data at ``(y, B)``: the dict of :func:`jaxisac.kernels.dma.linearise`
    merged with the P4-MM coefficients of :func:`jaxisac.kernels.dma.p4mm_data`.

    Key facts (tested): ``g`` (D, L) is the exact gradient of the beampattern in y, ``slin`` the exact
    gradient of the signal power, ``plin`` the exact gradient of the transmit power (spec T4).
    """
    model = problem.model
    if loads is None:  # ``(F, C, ynorm)`` of :func:`solve_loads_at`, when the caller has it
        loads = solve_loads_at(problem, y)
    lin = _k.linearise_from(*loads[:2], B, model.Y_st, model.W, loads[2])
    data = _k.p4mm_data(lin["f"], lin["G"], lin["pt0"], lin["plin"], problem.D, model.M)
    return {**lin, **data}


def _square_norm_cone(t0, tlin, v0, V):
    """Second-order cone ``(q, Q^T)`` rows (dual form ``q - Q^T y``) of ``t >= ||v||^2`` with
    ``t = t0 + tlin^T y`` and ``v = v0 + V y``: ``((t + 1)/2, (t - 1)/2, v)`` in the cone."""
    q = jnp.concatenate([jnp.stack([0.5 * (t0 + 1.0), 0.5 * (t0 - 1.0)]), v0])
    QT = jnp.concatenate([-0.5 * tlin[None], -0.5 * tlin[None], -V], axis=0)
    return q, QT.T


def _field_rows(f, G):
    """Real form ``v0 + V z`` of the linearised field ``f - j z^T G`` (``f`` (K,), ``G`` (L, K))."""
    v0 = jnp.concatenate([jnp.real(f), jnp.imag(f)])
    V = jnp.concatenate([jnp.imag(G).T, -jnp.real(G).T], axis=0)  # -j G = Im G - j Re G
    return v0, V


def p4mm_conic(problem: DMAProblem, c, radius, *, phase1=False, p_cap=None) -> SDP:
    """P4-MM (spec §2.5) as a conic problem in the shared SDP format, in its dual form
    ``max b^T y s.t. c - G^T y >= 0, q_k - Q_k^T y in SOC`` with ``y = z`` (``(z, t)`` for max-min).

    Rows: the trust box ``|z_l| <= radius``, the linearised power ``pt0 + plin^T z <= P_max``
    (``p_cap`` in Phase I), the lower beampattern minorants, the max-min epigraph, and one
    second-order cone per convex quadratic (SINR ``||f_i - j z^T G_i||^2 + 1 <= (S0 + slin^T z) /
    Gamma``, upper beampattern ``||f_d - j z^T G_d||^2 <= beta_hi``). ``c``: the dict of
    :func:`coefficients`. Phase I minimises the linearised power (``phase1`` may be traced)."""
    e, g = c["e"], c["g"]
    rdt = e.dtype
    D, L = g.shape
    M = c["S0"].shape[0]
    maxmin = problem.objective == "maxmin"
    ny = L + int(maxmin)
    pad = (lambda a: jnp.concatenate([a, jnp.zeros(a.shape[:-1] + (1,), rdt)], axis=-1)) if maxmin else (lambda a: a)
    cap = jnp.where(phase1, 10.0 * problem.p_max if p_cap is None else p_cap, problem.p_max)
    eye = jnp.eye(L, ny, dtype=rdt)
    cols = [eye, -eye, pad(c["plin"])[None]]
    rhs = [jnp.full((L,), radius, rdt), jnp.full((L,), radius, rdt), (cap - c["pt0"])[None]]
    if problem.has_lower:
        cols.append(pad(-g))
        rhs.append(e - problem.beta_lo)
    if maxmin:
        cols.append(jnp.concatenate([-g, jnp.ones((D, 1), rdt)], axis=1))
        rhs.append(e)
    Gm = jnp.concatenate(cols, axis=0).T
    cvec = jnp.concatenate(rhs)
    qs, Qs = [], []
    gamma = jnp.broadcast_to(problem.gamma, (M,))
    for m in range(M):
        v0, V = _field_rows(c["fi"][m], c["Gi"][m])
        q, Q = _square_norm_cone(c["S0"][m] / gamma[m] - 1.0, pad(c["slin"][m] / gamma[m]), v0, pad(V))
        qs.append(q)
        Qs.append(Q)
    if problem.has_upper:
        for d in range(D):
            v0, V = _field_rows(c["fd"][d], c["Gd"][d])
            q, Q = _square_norm_cone(problem.beta_hi * jnp.ones((), rdt), jnp.zeros((ny,), rdt), v0, pad(V))
            qs.append(q)
            Qs.append(Q)
    if maxmin:
        b = jnp.zeros((ny,), rdt).at[L].set(1.0)
    else:
        b = pad(jnp.mean(g, axis=0))
    b = jnp.where(phase1, -pad(c["plin"]), b)
    return SDP(C=(), A=(), b=b, c=cvec, G=Gm, Q=tuple(Qs), q=tuple(qs))


def analog_step(problem: DMAProblem, y, B, kappa, config: P4MMConfig = P4MMConfig(), *, phase1=False, p_cap=None,
                init=None, return_state=False, solver: IPMSDP | None = None, loads=None):
    """Solve P4-MM at ``(y, B)`` with the trust box ``|z_l| <= kappa / ||Yhat||_2``.

    Returns ``(z, info)``: ``z`` (L,) the susceptance step, ``info`` = (model objective, max scaled
    constraint violation of P4-MM at z). ``phase1``: minimise the power model instead (Phase I),
    with the power row relaxed to ``p_cap``. ``init`` / ``return_state``: warm start of the augmented
    Lagrangian from a previous solve's state ``(v, lam, rho)`` (see :func:`jaxisac.kernels.dma.p4mm_solve`).
    ``solver``: an :class:`~jaxisac.core.sdp_ipm.IPMSDP` solves the conic form :func:`p4mm_conic`
    instead, to the interior-point tolerance (``config`` and ``init`` unused; ``info`` = (model
    objective, the solver's status code)). ``loads``: :func:`jaxisac.kernels.dma.solve_loads` at ``y``
    when the caller has it.
    """
    c = coefficients(problem, y, B, loads=loads)
    radius = kappa / c["ynorm"]
    if solver is not None:  # the conic form, solved to the interior-point tolerance
        sol = solve_sdp(p4mm_conic(problem, c, radius, phase1=phase1, p_cap=p_cap), solver)
        z = sol.value.y[: c["g"].shape[1]]
        P_lin = c["e"] + c["g"] @ z
        model_obj = jnp.min(P_lin) if problem.objective == "maxmin" else jnp.mean(P_lin)
        info = (model_obj, sol.result)
        return (z, info, init) if return_state else (z, info)
    return _k.p4mm_solve(
        c, problem.gamma, problem.p_max, problem.beta_lo, problem.beta_hi, radius,
        maxmin=problem.objective == "maxmin", has_upper=problem.has_upper, has_lower=problem.has_lower,
        outer=config.outer, inner=config.inner, rho0=config.rho0, rho_growth=config.rho_growth,
        phase1=phase1, p_cap=p_cap, init=init, return_state=return_state,
    )
