"""Digital step: the SDR P2 of the paper (spec §2.2) on the library's batched SDP solver, and the
exact rank-one recovery of Liu et al.

The sensing covariances are merged into one block ``R_s`` (exact), so P2 has ``M + 1`` Hermitian
PSD blocks of size N x N. Constraints (noise-normalised, inequalities with the orthant slack of
:class:`jaxisac.core.sdp.SDP`):

* upper beampattern rows (if ``has_upper``), lower rows (if any ``beta_lo > 0``), or the max-min
  epigraph rows ``P_d >= t``;
* SINR rows ``sum_{i != m} tr(Y_m X_i) - tr(Y_m X_m) / Gamma_m + 1 <= 0`` (sensing interferes);
* the power row ``tr(A_P,H sum X) <= P_max`` with the PSD form ``A_P,H = 1/2 F^H W F`` of the energy
  identity (spec §1.6).

``margin`` tightens every constraint by a relative ``margin`` so that the ADMM solution, accurate to
its tolerance, is exactly feasible after recovery.

Solvers: the shared SDP solver's ADMM by default (:func:`default_sdp_solver`); its interior-point
algorithm (``solver=IPMSDP()``) solves P2 to 1e-8 in about 10 iterations.

Differentiation: the SDP is solved inside a ``while_loop`` (not differentiated); see
:func:`jaxisac.core.sdp.optimal_value` for envelope-theorem gradients of its optimal value.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..core.sdp import SDP, ADMMSDP, solve_sdp
from ..core.sdp_ipm import IPMSDP
from ..core.solution import Status
from ..kernels import dma as _k
from .problem import DMAProblem

__all__ = [
    "p2_sdp", "digital_step", "evaluate", "default_sdp_solver", "scale_to_min_power", "scale_to_max_power", "p2_value",
]


def default_sdp_solver(dtype) -> ADMMSDP:
    """ADMM configuration used by the digital step for a real dtype (float32: looser tolerance).

    Fixed penalty (``adaptive=False``): the shared solver's residual balancing stalls or diverges
    on P2 instances whose sensing block vanishes at the optimum (measured; see the module notes)."""
    if jnp.dtype(dtype) == jnp.float32:
        return ADMMSDP(tol=2e-5, max_steps=300, alpha=1.6, adaptive=False)
    return ADMMSDP(tol=1e-6, max_steps=500, alpha=1.6, adaptive=False)


def _outer(h):
    return jnp.conj(h)[..., :, None] * h[..., None, :]


def p2_sdp(problem: DMAProblem, H, AP, *, margin=0.0, phase1=False, p_cap=None) -> SDP:
    """Build P2 at the loads giving effective rows ``H`` (D + M, N) and power form ``AP`` (N, N).

    ``phase1=False``: the problem's objective (avg or max-min) under all constraints.
    ``phase1=True`` (may be traced): the same problem with the power row relaxed to ``p_cap``
    (default 10 P_max), the start of Phase I (spec §3.3; followed by :func:`scale_to_min_power`).
    Both have the same shapes, so the phase is data. (A power-minimisation objective would be the
    textbook Phase I, but the shared ADMM solver does not converge on it; see the README notes.)
    Slack layout: one per inequality row, then ``t`` (max-min only).
    """
    D, M, N = problem.D, problem.model.M, H.shape[-1]
    rdt = problem.p_max.dtype
    Ad = _outer(H[:D])  # (D, N, N)
    Ym = _outer(H[D:])  # (M, N, N)
    nb = M + 1
    maxmin = problem.objective == "maxmin"
    p_cap = 10.0 * problem.p_max if p_cap is None else p_cap
    has_lower = problem.has_lower
    rows, b, gdiag, gt = [], [], [], []
    one = jnp.ones((), rdt)

    def same(A):  # the same matrix in every block: (rows, nb, N, N)
        return jnp.broadcast_to(A[:, None], (A.shape[0], nb) + A.shape[1:])

    if problem.has_upper:
        rows.append(same(Ad)); b.append(jnp.full((D,), problem.beta_hi * (1 - margin))); gdiag.append(jnp.ones((D,), rdt)); gt.append(jnp.zeros((D,), rdt))
    if has_lower:
        rows.append(same(Ad)); b.append(problem.beta_lo * (1 + margin)); gdiag.append(-jnp.ones((D,), rdt)); gt.append(jnp.zeros((D,), rdt))
    if maxmin:
        rows.append(same(Ad)); b.append(jnp.zeros((D,), rdt)); gdiag.append(-jnp.ones((D,), rdt)); gt.append(-jnp.ones((D,), rdt))
    gam = problem.gamma * (1 + margin)
    coef = jnp.ones((M, nb), rdt).at[jnp.arange(M), jnp.arange(M)].set(-1.0 / gam)
    rows.append(coef[:, :, None, None] * Ym[:, None]); b.append(-jnp.ones((M,), rdt) * (1 + margin)); gdiag.append(jnp.ones((M,), rdt)); gt.append(jnp.zeros((M,), rdt))
    pb = jnp.where(phase1, p_cap, problem.p_max * (1 - margin))
    rows.append(same(AP[None])); b.append(pb[None] * one); gdiag.append(jnp.ones((1,), rdt)); gt.append(jnp.zeros((1,), rdt))
    Arows = jnp.concatenate(rows, axis=0)  # (m, nb, N, N)
    bvec = jnp.concatenate(b).astype(rdt)
    Gm = jnp.diag(jnp.concatenate(gdiag))
    cvec = jnp.zeros((Gm.shape[1],), rdt)
    cdt = H.dtype
    if maxmin:
        Gm = jnp.concatenate([Gm, jnp.concatenate(gt)[:, None]], axis=1)
        cvec = jnp.concatenate([cvec, -jnp.ones((1,), rdt)])
        C = jnp.zeros((N, N), cdt)
    else:
        C = -jnp.mean(Ad, axis=0)
    Cs = tuple(C for _ in range(nb))
    As = tuple(Arows[:, j].astype(cdt) for j in range(nb))
    return SDP(C=Cs, A=As, b=bvec, c=cvec, G=Gm)


def digital_step(problem: DMAProblem, y, *, solver: ADMMSDP | IPMSDP | None = None, init=None, margin=None, phase1=False,
                 F=None):
    """Solve P2 at loads ``y`` (L,) and recover a rank-one optimal precoder.

    Returns ``(B, ok, sol)``: ``B`` (N, M + N) complex, ``ok`` whether the SDP solve succeeded (not
    infeasible, converged), and the SDP :class:`~jaxisac.core.Solution` (for warm starts).
    ``phase1``: the power-minimisation form (Phase I). ``F``: ``Z(y)^{-1} Y_st`` (L, N) when the
    caller has it (:func:`jaxisac.kernels.dma.solve_loads`; saves the solve).
    """
    model = problem.model
    rdt = problem.p_max.dtype
    solver = default_sdp_solver(rdt) if solver is None else solver
    if margin is None:
        margin = 1e-5 if rdt == jnp.float64 else 1e-3
    if F is None:
        F = jnp.linalg.solve(model.loads(y), model.Y_st)
    H, AP = _k.effective_rows_from(F, problem.observers, model.W)
    sdp = p2_sdp(problem, H, AP, margin=margin, phase1=phase1)
    sol = solve_sdp(sdp, solver, init=init)
    M = model.M
    X = sol.value.X
    Xu = jnp.stack(X[:M])
    B = _k.rank_one_recovery(Xu, X[M], H[problem.D:])
    ok = sol.result == int(Status.SUCCESS)
    return B, ok, sol


def _currents(problem: DMAProblem, y, B, F=None):
    """``U = Z(y)^{-1} Y_st B``: one LU solve, or a product with ``F = Z(y)^{-1} Y_st`` when given."""
    model = problem.model
    if F is None:
        return jnp.linalg.solve(model.loads(y), model.Y_st @ B)
    return F @ B


def evaluate(problem: DMAProblem, y, B, *, F=None):
    """Exact metrics of ``(y, B)`` for ``problem`` (one LU; none with ``F = Z(y)^{-1} Y_st``, see
    :func:`digital_step`): dict with ``P`` (D,) beampattern,
    ``sinr`` (M,) (noise-normalised), ``pt`` transmit power, ``value`` (avg: mean P; max-min: min P),
    ``violation`` (largest relative constraint violation, <= 0 when feasible)."""
    model = problem.model
    U = _currents(problem, y, B, F)
    f = problem.observers @ U
    D, M = problem.D, model.M
    P = jnp.sum(jnp.abs(f[:D]) ** 2, axis=-1)
    g = jnp.abs(f[D:]) ** 2
    sig = jnp.diagonal(g[:, :M])
    sinr = sig / (jnp.sum(g, axis=1) - sig + 1.0)
    pt = 0.5 * jnp.real(jnp.sum(jnp.conj(U) * (model.W.astype(U.dtype) @ U)))
    viol = [1.0 - sinr / problem.gamma, (pt / problem.p_max - 1.0)[None]]
    if problem.has_lower:
        viol.append((problem.beta_lo - P) / jnp.maximum(problem.beta_lo, jnp.finfo(P.dtype).tiny))
    if problem.has_upper:
        viol.append(P / problem.beta_hi - 1.0)
    value = jnp.min(P) if problem.objective == "maxmin" else jnp.mean(P)
    return {"P": P, "sinr": sinr, "pt": pt, "value": value, "violation": jnp.max(jnp.concatenate(viol))}


def scale_to_min_power(problem: DMAProblem, y, B, margin=1e-6, *, F=None):
    """Smallest scaling ``c B`` that keeps every SINR and lower beampattern bound (closed form):
    ``c^2 = max(max_m 1/(S_m/Gamma_m - I_m), max_d beta_d/P_d) (1 + margin)``. Returns
    ``(c B, ok)`` with ``ok = False`` when some ``S_m/Gamma_m <= I_m`` (no scaling helps)."""
    model = problem.model
    U = _currents(problem, y, B, F)
    f = problem.observers @ U
    D, M = problem.D, model.M
    g = jnp.abs(f[D:]) ** 2
    sig = jnp.diagonal(g[:, :M])
    slack = sig / problem.gamma - (jnp.sum(g, axis=1) - sig)
    ok = jnp.all(slack > 0)
    c2 = jnp.max(1.0 / jnp.where(slack > 0, slack, 1.0))
    if problem.has_lower:
        P = jnp.sum(jnp.abs(f[:D]) ** 2, axis=-1)
        c2 = jnp.maximum(c2, jnp.max(problem.beta_lo / jnp.maximum(P, jnp.finfo(P.dtype).tiny)))
    c = jnp.sqrt(c2 * (1 + margin))
    return (c * B).astype(B.dtype), ok


def scale_to_max_power(problem: DMAProblem, y, B, margin=1e-9, *, F=None):
    """Largest feasible scaling ``c B`` (exact repair of an inexact digital step).

    Every beampattern value and the transmit power scale with ``c^2``, so both objectives grow with
    ``c``: take ``c^2 = P_max (1 - margin) / P_t`` (and at most ``beta_hi (1 - margin) / max_d P_d``
    with an upper bound). ``ok`` is whether this ``c`` also meets every SINR
    (``c^2 (S_m - Gamma_m I_m) >= Gamma_m (1 + margin)``) and lower beampattern bound; the exact
    test of the AO decides in the end. Returns ``(c B, ok)``."""
    model = problem.model
    U = _currents(problem, y, B, F)
    f = problem.observers @ U
    D, M = problem.D, model.M
    tiny = jnp.finfo(problem.p_max.dtype).tiny
    P = jnp.sum(jnp.abs(f[:D]) ** 2, axis=-1)
    pt = 0.5 * jnp.real(jnp.sum(jnp.conj(U) * (model.W.astype(U.dtype) @ U)))
    c2 = problem.p_max * (1 - margin) / jnp.maximum(pt, tiny)
    if problem.has_upper:
        c2 = jnp.minimum(c2, problem.beta_hi * (1 - margin) / jnp.maximum(jnp.max(P), tiny))
    g = jnp.abs(f[D:]) ** 2
    sig = jnp.diagonal(g[:, :M])
    ok = jnp.all(c2 * (sig - problem.gamma * (jnp.sum(g, axis=1) - sig)) >= problem.gamma * (1 + margin))
    if problem.has_lower:
        ok = ok & jnp.all(c2 * P >= problem.beta_lo * (1 + margin))
    ok = ok & jnp.isfinite(c2) & (pt > 0)
    c = jnp.sqrt(jnp.where(ok, c2, 1.0))
    return (c * B).astype(B.dtype), ok


def p2_value(problem: DMAProblem, y, *, solver: ADMMSDP | IPMSDP | None = None):
    """Optimal value of P2 at loads ``y`` (avg: max mean beampattern; max-min: max min), as a
    differentiable function of every problem array (``p_max``, ``gamma``, ``beta``, ``model.R0``,
    channels) and of ``y``: envelope theorem through :func:`jaxisac.core.sdp.optimal_value`
    (forward and reverse mode). At a converged AO point ``y*`` (stationary in y) this is the
    sensitivity of the optimised P_tot to the scenario parameters."""
    from ..core.sdp import optimal_value

    model = problem.model
    solver = default_sdp_solver(problem.p_max.dtype) if solver is None else solver
    H, AP = _k.effective_rows(model.loads(y), model.Y_st, problem.observers, model.W)
    return -optimal_value(p2_sdp(problem, H, AP), solver)
