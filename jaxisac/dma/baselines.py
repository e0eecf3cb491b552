"""Baselines (spec §4.4): digital-only DMA at fixed loads, the fully-digital upper bound (FD-UB, an
L x L SDP on the shared solver), and the closed-form sensing-only bound (re-exported from metrics)."""

from __future__ import annotations

import jax.numpy as jnp

from ..core.sdp import ADMMSDP, solve_sdp
from ..core.solution import Status
from ..kernels import dma as _k
from .digital import digital_step, evaluate, p2_sdp
from .metrics import crude_bound, sensing_only_bound
from .problem import DMAProblem

__all__ = ["digital_only", "fd_upper_bound", "sensing_only_bound", "crude_bound"]


def digital_only(problem: DMAProblem, y=None, *, solver: ADMMSDP | None = None):
    """Digital-only DMA: P2 at fixed loads ``y`` (default ``problem.y0``) with rank-one recovery.

    Returns ``(value, B, ok)``; ``value`` is the exact objective (avg or max-min) of the recovered B.
    Differentiation: not differentiated (ADMM in a while loop).
    """
    y = problem.y0 if y is None else y
    B, ok, _ = digital_step(problem, y, solver=solver)
    return evaluate(problem, y, B)["value"], B, ok


def fd_upper_bound(problem: DMAProblem, *, solver: ADMMSDP | None = None, margin: float = 0.0):
    """Fully-digital upper bound (spec §4.4): the same SDP as P2 with the element excitations as
    variables: covariances of size L x L, observer rows ``a_d^T`` / ``y_RS,m / sigma`` and the power
    form ``W / 2``. Every DMA point is feasible for it, so FD-UB >= DMA optimum for every y.

    Returns ``(value, ok, R)``: the SDP optimum of the problem's objective, the success flag, and
    the optimal total excitation covariance ``R = U U^H`` (L, L) (beampattern ``a^T R a*``)."""
    model = problem.model
    solver = ADMMSDP(tol=1e-6, max_steps=2000, alpha=1.6, adaptive=False) if solver is None else solver
    H = problem.observers
    AP = (0.5 * model.W).astype(H.dtype)
    sdp = p2_sdp(problem, H, AP, margin=margin)
    sol = solve_sdp(sdp, solver)
    R = sum(sol.value.X)
    value = -sol.objective if problem.objective == "avg" else sol.value.s[-1]
    return value, sol.result == int(Status.SUCCESS), R
