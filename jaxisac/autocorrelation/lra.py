"""LRA (Algorithms 1-2) and the trace-minimisation (PhaseLift) baseline, on the library's SDP solver.

* :class:`TM`: ``min tr H  s.t.  A(H) = p, H PSD`` (Hermitian for complex patterns, real symmetric for
  real +-1 patterns), spec §2.1.
* :class:`LRA`: starting from TM, alternate the top-r eigenvectors ``X`` of ``H`` and the
  Charnes-Cooper SDP (10)/(18) ``max tr(G X) s.t. A(G) = gamma p, tr G = 1, G PSD, gamma >= 0``,
  ``H = G / gamma``, while ``g(H) <= eps`` (``g = lambda_1 / tr H``; b = 1: ``(lambda_1 + lambda_2) / tr H``).
  Each Charnes-Cooper SDP is warm-started from the previous one (``warm_start``).
* :class:`RobustTM`: robust trace minimisation (45) / (49 read as min) for interval data
  (noisy, averaged, RSRP-quantised), the penalty ``rho ||delta||^2`` as a second-order-cone epigraph
  on the shared solver; powers in units of ``sigma2`` (spec A9).
* :class:`RobustLRA`: Algorithms 3-4, robust TM then alternating the (G, gamma)-SDP with the slabs
  widened by ``delta`` and the exact one-dimensional (delta, gamma)-step :func:`best_trace`.

The SDPs are thin builders of :class:`jaxisac.core.sdp.SDP` instances solved by the library's SDP
solver (no CVXPY at run time); the ``sdp`` field chooses the algorithm and its configuration:

* default :class:`jaxisac.core.sdp_ipm.IPMSDP` (``step_fraction=0.95, low_rank=1``: the measurement
  rows are of rank one, see ``_default_sdp``), interior point: 14-30 iterations to 1e-8 per SDP where
  the ADMM needs hundreds to thousands for 1e-7; at N = 17, batch 4, 2 CPU cores, 9-22x faster per
  instance than the Anderson-accelerated ADMM and 15-39x faster than CVXPY + Clarabel
  (``experiments/bench_autocorrelation.py``). It ignores warm starts.
* :class:`jaxisac.core.sdp.ADMMSDP`: ``tol=1e-7, max_steps=3000, anderson=10`` by default when
  ``adjoint="unrolled"``, the only algorithm of that mode (its fixed-count iterations are what is
  differentiated).

Powers are divided by ``mean(p)`` before the SDPs and the estimate multiplied back.

Differentiation (``docs/differentiation.md``):

* :class:`TM`, :class:`RobustTM`: **envelope**. The SDP runs on ``stop_gradient`` data; ``objective``
  (the optimal value) carries the envelope-theorem derivative: the SDP's Lagrangian is re-evaluated at
  the computed primal-dual point with the live data (:func:`~jaxisac.core.sdp.envelope_term`), e.g. ``d tr H_hat / d p_t = y_t``
  (the dual multiplier of measurement ``t``). Forward and reverse mode, ``jit``, ``vmap``; with respect
  to every array of the measurements (``p``, ``V``, ``p0``; robust: ``lower``, ``upper``, ``sigma2``) and
  RobustTM's ``rho``. Exact where the SDP's primal and dual optima are unique (generic) and to the SDP
  solver's tolerance (``sdp.tol``). ``value`` (the estimate ``H_hat``) carries no derivative: a minimiser of an
  SDP is in general not a smooth (or unique) function of its data.
* :class:`LRA`: **unrolled** with ``adjoint="unrolled"``: every inner SDP (the TM start and each
  Charnes-Cooper step) runs as a ``lax.scan`` of exactly ``sdp.max_steps`` checks
  (``sdp.check_every`` ADMM iterations each), and ``jaxisac.solve(problem, LRA(adjoint="unrolled", ...),
  unroll=True, max_steps=K)`` runs exactly ``K`` alternations: ``value`` (``H_hat``) and ``objective`` are
  then differentiable maps of the measurements (forward and reverse mode) and of the ADMM penalty
  ``sdp.rho``. Smooth only with the switches off: ``sdp.adaptive=False`` (residual balancing),
  ``sdp.infeas_tol=0`` (certificates), ``sdp.tol`` below what the budget reaches and ``eps=1`` (the
  ``g > eps`` rule). Default ``adjoint="none"``: while loops, no derivative.
* :class:`RobustLRA`: **unrolled** with ``adjoint="unrolled"``, as :class:`LRA` (robust TM and every
  (G, gamma)-SDP a ``lax.scan`` of exactly ``sdp.max_steps`` checks; ``unroll=True, max_steps=K``):
  differentiable in the interval bounds, ``sigma2``, ``V``, ``p0``, the penalty ``rho`` and ``sdp.rho``.
  Smooth with LRA's switches off and the acceptance test too (``monotone=False``); :func:`best_trace`
  is piecewise smooth (its active set is locally constant). Default ``adjoint="none"``: no derivative.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ..core.sdp import ADMMSDP, SDP, SDPValue, soc_square_epigraph
from ..core.sdp import envelope_term
from ..core.sdp_ipm import IPMSDP
from ..core.solution import Solution, Status
from ..core.solve import AbstractSolver, solve, stop_gradient_tree
from ..core.validation import is_concrete
from ..kernels import autocorrelation as _k
from .problems import PowerMeasurements, RobustMeasurements

__all__ = ["TM", "LRA", "RobustTM", "RobustLRA", "tm_sdp", "lra_sdp", "robust_tm_sdp", "robust_lra_sdp",
           "best_trace", "slab_misfit"]


def _meas_blocks(V, p0):
    """``(T, N, N)`` blocks ``p0 v_t v_t^H`` (real for real V)."""
    Vc = jnp.conj(V) if jnp.iscomplexobj(V) else V
    return p0 * V[:, :, None] * Vc[:, None, :]


def tm_sdp(V, p, p0) -> SDP:
    """The trace-minimisation SDP ``min tr H s.t. p0 v_t^H H v_t = p_t, H PSD``."""
    N = V.shape[1]
    dt = V.dtype
    return SDP(C=(jnp.eye(N, dtype=dt),), A=(_meas_blocks(V, p0),), b=p)


def lra_sdp(V, p, p0, X) -> SDP:
    """Charnes-Cooper SDP (10)/(18): variables ``(G, gamma)``; ``X`` ``(N, r)`` orthonormal.

    minimise ``-tr(G X X^H)`` s.t. ``p0 v_t^H G v_t - gamma p_t = 0``, ``tr G = 1``, ``G PSD``,
    ``gamma >= 0``.
    """
    N = V.shape[1]
    dt = V.dtype
    Xc = jnp.conj(X) if jnp.iscomplexobj(X) else X
    P = (X @ Xc.T).astype(dt)
    A = jnp.concatenate([_meas_blocks(V, p0), jnp.eye(N, dtype=dt)[None]], axis=0)
    rd = p.dtype
    b = jnp.concatenate([jnp.zeros_like(p), jnp.ones((1,), rd)])
    G = jnp.concatenate([-p, jnp.zeros((1,), rd)])[:, None]
    return SDP(C=(-P,), A=(A,), b=b, c=jnp.zeros((1,), rd), G=G)



def _scale(p):
    s = jnp.mean(jnp.abs(p))
    return jnp.where(s > 0, s, jnp.ones_like(s))


def _ratio(H, r):
    w = jnp.linalg.eigvalsh(H)
    tr = jnp.sum(w)
    return jnp.sum(w[::-1][:r]) / jnp.where(jnp.abs(tr) > 0, tr, 1.0)


def _default_sdp(adjoint="none"):
    """The SDP solver of TM / LRA and their robust variants when ``sdp`` is not given."""
    if adjoint == "unrolled":
        # the unrolled mode differentiates fixed-count ADMM scans; Anderson acceleration (memory 10)
        # takes 5-15x fewer iterations than the plain ADMM (anderson=0) at the same solution
        return ADMMSDP(tol=1e-7, max_steps=3000, anderson=10)
    # interior point: ~20 iterations where the ADMM needs 500-1800 (experiments/bench_autocorrelation.py).
    # Step fraction 0.95, not 0.98: on exact-recovery (rank-one) TM instances 0.98 stalls near the
    # boundary (50 iterations instead of 16 on one N = 17 drop); 0.95 took 14-29 on every drop tried.
    # low_rank=1: every constraint row is a measurement p0 v v^H except at most one (tr G = 1), so the
    # Schur complement costs O(T N^2 + T^2 N) instead of O(T N^3 + T^2 N^2) (1.7x per LRA at N = 17).
    return IPMSDP(step_fraction=0.95, low_rank=1)


def _check_adjoint(adjoint):
    if adjoint not in ("none", "unrolled"):
        raise ValueError(f"adjoint: expected 'none' or 'unrolled', got {adjoint!r}")


def _check_sdp(sdp, adjoint="none"):
    if not isinstance(sdp, (ADMMSDP, IPMSDP)):
        raise ValueError(f"sdp: expected an ADMMSDP or IPMSDP configuration, got {type(sdp).__name__}")
    if adjoint == "unrolled" and not isinstance(sdp, ADMMSDP):
        raise ValueError("sdp: adjoint='unrolled' differentiates fixed-count ADMM iterations; expected an "
                         f"ADMMSDP, got {type(sdp).__name__}")


def _solve_inner(sdp, config, adjoint, init=None):
    """One inner SDP of LRA / robust LRA: ``"none"`` runs the SDP solver in a ``while_loop`` to
    ``config.tol``; ``"unrolled"`` runs a ``lax.scan`` of exactly ``config.max_steps`` ADMM checks (a
    differentiable map)."""
    if adjoint == "unrolled":
        return solve(sdp, config, init=init, throw=False, unroll=True, max_steps=int(config.max_steps))
    return solve(sdp, config, init=init, throw=False)


class _TMState(eqx.Module):
    H: jax.Array
    status: jax.Array
    iterations: jax.Array
    y: jax.Array  # (T,) multipliers of the measurement rows (those of the unscaled SDP too)


class TM(AbstractSolver):
    """Trace minimisation (PhaseLift) for :class:`PowerMeasurements`: ``value = H_hat`` ``(N, N)``.

    One SDP solve (in ``init``) by ``sdp`` (default :class:`~jaxisac.core.sdp_ipm.IPMSDP`; an
    :class:`~jaxisac.core.sdp.ADMMSDP` works too); ``result`` is the SDP's status;
    ``stats["sdp_iterations"]`` the SDP solver's iterations, ``stats["multipliers"]`` ``(T,)`` the dual
    variables ``y`` of the measurement rows (``d tr H_hat / d p_t``, units 1/p0). ``objective`` is
    ``tr H_hat`` (W / p0 units of ``p``).

    Differentiation: envelope. ``objective`` carries the derivative of the optimal value ``min tr H``
    with respect to ``p``, ``V`` and ``p0`` (forward and reverse mode, ``jit``, ``vmap``): the SDP runs on
    ``stop_gradient`` data and its Lagrangian is re-evaluated with the live data at the computed
    primal-dual point, so ``d objective = sum_t y_t (dp_t - d(p0 v_t^H H_hat v_t))``. Exact to the SDP
    tolerance where the primal and dual optima are unique. ``value`` carries no derivative.
    """

    sdp: ADMMSDP | IPMSDP = eqx.field(default_factory=_default_sdp)
    max_steps: int = 0

    def __check_init__(self):
        _check_sdp(self.sdp)

    def init(self, problem, init):
        if not isinstance(problem, PowerMeasurements):
            raise ValueError(f"problem: TM expects PowerMeasurements, got {type(problem).__name__}")
        pr = stop_gradient_tree(problem)
        s = _scale(pr.p)
        sol = solve(tm_sdp(pr.V, pr.p / s, pr.p0), self.sdp, throw=False)
        # min tr H s.t. A(H) = b is homogeneous in b: the multipliers do not depend on the scale s
        return _TMState(s * sol.value.X[0], sol.result, jnp.asarray(sol.stats["iterations"], jnp.int32), sol.value.y)

    def step(self, problem, state):
        return state

    def terminate(self, problem, state):
        return jnp.asarray(True), state.status

    def postprocess(self, problem, state, result, stats):
        stats = dict(stats)
        stats.update(sdp_iterations=state.iterations, multipliers=state.y)
        st = stop_gradient_tree(state)
        rd = st.y.dtype
        pt = SDPValue(X=(st.H,), s=jnp.zeros((0,), rd), y=st.y, Z=(jnp.zeros_like(st.H),), z=jnp.zeros((0,), rd))
        objective = jnp.real(jnp.trace(st.H)) + envelope_term(tm_sdp(problem.V, problem.p, problem.p0), pt)
        return Solution(value=st.H, objective=objective, result=result, stats=stats)


class _LRAState(eqx.Module):
    H: jax.Array  # scaled estimate
    scale: jax.Array
    g: jax.Array
    it: jax.Array
    sdp_status: jax.Array  # worst status of the SDPs so far
    sdp_iterations: jax.Array
    step_objective: jax.Array  # tr(G X) of the last Charnes-Cooper SDP
    hist_g: jax.Array
    warm: SDPValue  # start of the next Charnes-Cooper SDP (the previous step's solution)


class LRA(AbstractSolver):
    """LRA (Algorithm 1 for complex patterns, Algorithm 2 for real +-1 patterns).

    ``jaxisac.solve(PowerMeasurements(V, p), LRA())`` returns ``value = H_hat`` ``(N, N)`` (PSD),
    ``objective = g(H_hat)``; ``stats``: ``steps`` (SDP steps after TM), ``sdp_status`` (worst status of
    the inner SDPs), ``sdp_iterations`` (SDP solver iterations, TM included), ``step_objective`` (``tr(G X)``
    of the last SDP step), ``trace_ratio`` (``g`` per iterate, entry 0 = TM, when ``trace_length``).

    Args:
        eps: stop when ``g(H) > eps`` (0.95, the paper's rule).
        min_steps: at least this many SDP steps before the rule may stop (spec A22; 0 = paper).
        max_steps: cap on SDP steps (30).
        sdp: the SDP solver of the TM and Charnes-Cooper SDPs: default :class:`IPMSDP` (interior
            point) with ``adjoint="none"``, ``ADMMSDP(tol=1e-7, max_steps=3000, anderson=10)`` with
            ``adjoint="unrolled"`` (which requires an :class:`ADMMSDP`).
        trace_length: record ``g`` of the first iterates in ``stats["trace_ratio"]``.
        warm_start: start every Charnes-Cooper SDP from the previous one's primal-dual solution
            (the first from ``(H/tr H, 1/tr H)``); only the cost ``-X X^H`` changes between steps.
            Used by the ADMM only (an interior-point method restarts from its own centred point).
        adjoint: ``"none"`` (default: every SDP runs in a ``while_loop`` to ``sdp.tol``; no derivative)
            or ``"unrolled"`` (static): every SDP runs as a ``lax.scan`` of exactly ``sdp.max_steps``
            checks, so that ``jaxisac.solve(problem, LRA(adjoint="unrolled"), unroll=True,
            max_steps=K)`` is a differentiable map (see below).

    Warm start: ``init=`` an ``(N, N)`` PSD matrix replaces the TM initialiser.

    Differentiation: unrolled. With ``adjoint="unrolled"`` and ``jaxisac.solve(..., unroll=True,
    max_steps=K)`` the solve is the fixed-count map "TM by ``sdp.max_steps * sdp.check_every`` ADMM
    iterations, then ``K`` alternations (top eigenvectors, Charnes-Cooper SDP by as many ADMM
    iterations, warm-started)"; ``value`` ``H_hat`` and ``objective`` ``g`` are differentiable in the
    measurements (``p``, ``V``, ``p0``) and in the ADMM penalty ``sdp.rho`` (forward and reverse mode;
    reverse mode stores every ADMM iterate: memory ~ (1 + K) x ``sdp.max_steps * check_every`` x
    the SDP's size). It is the derivative of the truncated map, not of an optimum: the
    eigenvalue-ratio alternation has no optimality conditions to differentiate implicitly, and
    the envelope theorem applies only at a fixed point of the alternation, not at the ``g > eps``
    stop. For a smooth map turn the switches off: ``eps=1`` (the stopping rule), ``sdp.adaptive=False``
    (residual balancing), ``sdp.infeas_tol=0`` (certificates) and ``sdp.tol`` below what the budget
    reaches (the convergence freeze); the top eigenvectors need a gap ``lambda_r > lambda_{r+1}``.
    """

    eps: float = 0.95
    min_steps: int = 0
    max_steps: int = 30
    sdp: ADMMSDP | IPMSDP | None = None
    trace_length: int = eqx.field(default=0, static=True)
    warm_start: bool = eqx.field(default=True, static=True)
    adjoint: str = eqx.field(default="none", static=True)

    def __post_init__(self):
        if self.sdp is None:
            _check_adjoint(self.adjoint)
            self.sdp = _default_sdp(self.adjoint)

    def __check_init__(self):
        if not (0.0 < float(self.eps) <= 1.0):
            raise ValueError(f"eps: expected a threshold in (0, 1], got {self.eps}")
        if int(self.min_steps) < 0 or int(self.max_steps) < 0:
            raise ValueError("min_steps, max_steps: expected non-negative integers")
        _check_adjoint(self.adjoint)
        _check_sdp(self.sdp, self.adjoint)

    def _solve_sdp(self, sdp, init=None):
        return _solve_inner(sdp, self.sdp, self.adjoint, init)

    def init(self, problem, init):
        if not isinstance(problem, PowerMeasurements):
            raise ValueError(f"problem: LRA expects PowerMeasurements, got {type(problem).__name__}")
        s = _scale(problem.p)
        rd = problem.p.dtype
        if init is None:
            sol = self._solve_sdp(tm_sdp(problem.V, problem.p / s, problem.p0))
            H = sol.value.X[0]
            status = sol.result
            iters = jnp.asarray(sol.stats["iterations"], jnp.int32)
        else:
            H = jnp.asarray(init, problem.V.dtype) / s
            status = Status.SUCCESS()
            iters = jnp.asarray(0, jnp.int32)
        g = _ratio(H, problem.rank)
        L = int(self.trace_length)
        hist = jnp.zeros((L,), rd)
        if L:
            hist = hist.at[0].set(g)
        T = problem.V.shape[0]
        tr = jnp.real(jnp.trace(H))
        tr = jnp.where(tr > 0, tr, 1.0)
        warm = SDPValue(X=(H / tr,), s=(1.0 / tr)[None].astype(rd), y=jnp.zeros((T + 1,), rd),
                        Z=(jnp.zeros_like(H),), z=jnp.zeros((1,), rd))
        return _LRAState(H, s, g, jnp.asarray(0, jnp.int32), status, iters, jnp.zeros((), rd), hist, warm)

    def step(self, problem, st):
        r = problem.rank
        _, X = _k.top_eig(st.H, r)
        sol = self._solve_sdp(lra_sdp(problem.V, problem.p / st.scale, problem.p0, X),
                              init=st.warm if self.warm_start else None)
        G = sol.value.X[0]
        gamma = sol.value.s[0]
        ok = gamma > jnp.finfo(gamma.dtype).tiny
        H = jnp.where(ok, G / jnp.where(ok, gamma, 1.0), st.H)
        g = _ratio(H, r)
        it = st.it + 1
        hist = st.hist_g
        if hist.shape[0]:
            hist = hist.at[jnp.minimum(it, hist.shape[0] - 1)].set(g)
        return _LRAState(H, st.scale, g, it, jnp.maximum(st.sdp_status, sol.result),
                         st.sdp_iterations + jnp.asarray(sol.stats["iterations"], jnp.int32), -sol.objective, hist,
                         sol.value)

    def terminate(self, problem, st):
        done = (st.g > self.eps) & (st.it >= self.min_steps)
        return done, Status.SUCCESS()

    def postprocess(self, problem, st, result, stats):
        stats = dict(stats)
        stats.update(sdp_status=st.sdp_status, sdp_iterations=st.sdp_iterations, ratio=st.g,
                     step_objective=st.step_objective)
        if int(self.trace_length):
            stats.update(trace_ratio=st.hist_g)
        return Solution(value=st.scale * st.H, objective=st.g, result=result, stats=stats)


# ------------------------------------------------------------------------------------------------
# Robust TM (45)/(49 as min) and robust LRA (Algorithms 3-4), spec §2.5, §3.4
# ------------------------------------------------------------------------------------------------


def _robust_units(problem: RobustMeasurements):
    """Power unit of the robust SDPs: ``sigma2`` (spec A9), or the mean midpoint when ``sigma2 = 0``.

    Returns ``(unit, lo, hi)`` with ``lo = (lower - sigma2)/unit``, ``hi = (upper - sigma2)/unit``."""
    mid = jnp.mean(jnp.abs(problem.midpoint))
    alt = jnp.where(mid > 0, mid, jnp.ones_like(mid))
    unit = jnp.where(problem.sigma2 > 0, problem.sigma2, alt)
    return unit, (problem.lower - problem.sigma2) / unit, (problem.upper - problem.sigma2) / unit


def robust_tm_sdp(V, lo, hi, p0, rho) -> SDP:
    """Robust TM (45) (b >= 2) / (49) read as *min* (b = 1) in epigraph form.

    ``min p0 tr H + rho ||delta||^2  s.t.  lo_t - delta_t <= p0 v_t^H H v_t <= hi_t + delta_t, H PSD``
    with ``lo``/``hi`` the noise-corrected interval bounds (``zeta - sigma2``, ``xi - sigma2``). Rows:
    ``A(H) + delta - l = lo``, ``A(H) - delta + u = hi`` (``l, u >= 0`` the orthant slack) and the
    epigraph row ``a - b = 1`` of the cone ``(a, b, delta)``, so that ``a + b >= ||delta||^2``.
    ``delta >= 0`` need not be imposed: a negative entry only tightens its slab, so every optimum has
    ``delta >= 0``.
    """
    T, N = V.shape
    dt = V.dtype
    rd = lo.dtype
    meas = _meas_blocks(V, p0)
    A = jnp.concatenate([meas, meas, jnp.zeros((1, N, N), dt)], axis=0)
    b = jnp.concatenate([lo, hi, jnp.ones((1,), rd)])
    eye = jnp.eye(T, dtype=rd)
    zT = jnp.zeros((T, T), rd)
    G = jnp.concatenate([jnp.concatenate([-eye, zT], 1), jnp.concatenate([zT, eye], 1), jnp.zeros((1, 2 * T), rd)])
    dco = jnp.concatenate([eye, -eye, jnp.zeros((1, T), rd)])
    Q, q = soc_square_epigraph(dco, 2 * T, 2 * T + 1, weight=rho, dtype=rd)
    return SDP(C=(p0 * jnp.eye(N, dtype=dt),), A=(A,), b=b, c=jnp.zeros((2 * T,), rd), G=G, Q=(Q,), q=(q,))


def robust_lra_sdp(V, lo, hi, p0, X) -> SDP:
    """The (G, gamma)-step of robust LRA (spec §3.4 step 3.2) with the slack ``delta`` folded into
    ``lo``/``hi`` (pass ``lo - delta``, ``hi + delta``)::

        max tr(G X X^H)  s.t.  gamma lo_t <= p0 v_t^H G v_t <= gamma hi_t,  tr G = 1,  G PSD,  gamma >= 0

    Orthant slack ``(gamma, l (T,), u (T,))``: rows ``A(G) - gamma lo - l = 0``,
    ``A(G) - gamma hi + u = 0`` and ``tr G = 1``.
    """
    T, N = V.shape
    dt = V.dtype
    rd = lo.dtype
    Xc = jnp.conj(X) if jnp.iscomplexobj(X) else X
    P = (X @ Xc.T).astype(dt)
    meas = _meas_blocks(V, p0)
    A = jnp.concatenate([meas, meas, jnp.eye(N, dtype=dt)[None]], axis=0)
    b = jnp.concatenate([jnp.zeros((2 * T,), rd), jnp.ones((1,), rd)])
    eye = jnp.eye(T, dtype=rd)
    zT = jnp.zeros((T, T), rd)
    G = jnp.concatenate(
        [
            jnp.concatenate([-lo[:, None], -eye, zT], 1),
            jnp.concatenate([-hi[:, None], zT, eye], 1),
            jnp.zeros((1, 2 * T + 1), rd),
        ]
    )
    return SDP(C=(-P,), A=(A,), b=b, c=jnp.zeros((2 * T + 1,), rd), G=G)


def slab_misfit(a, lo, hi, s):
    """``delta_t = max(0, lo_t - a_t s, a_t s - hi_t)``: the slack of ``lo <= a s <= hi``."""
    return jnp.maximum(0.0, jnp.maximum(lo - a * s, a * s - hi))


def best_trace(a, lo, hi):
    """Exact minimiser ``s >= 0`` of ``sum_t max(0, lo_t - a_t s, a_t s - hi_t)^2`` (``a >= 0``),
    the (delta, gamma)-step of robust LRA with ``s = 1/gamma = tr H`` (spec §2.5).

    The objective is convex and piecewise quadratic with breakpoints ``lo_t/a_t``, ``hi_t/a_t``; on
    every piece the active set is fixed and the minimiser has a closed form, so all ``2T + 1`` pieces
    are evaluated and the best clipped candidate kept (``O(T^2)``, vectorised). Where the slabs
    intersect (a whole interval of minimisers) it returns that interval's midpoint."""
    a = jnp.maximum(a, 0.0)
    pos = a > 0
    safe = jnp.where(pos, a, 1.0)
    bps = jnp.where(pos[None, :], jnp.stack([lo / safe, hi / safe]), 0.0).reshape(-1)
    bps = jnp.sort(jnp.concatenate([jnp.zeros((1,), a.dtype), jnp.maximum(bps, 0.0)]))
    left = bps
    right = jnp.concatenate([bps[1:], bps[-1:] * 2.0 + 1.0])
    mid = 0.5 * (left + right)
    low = (lo[None, :] - a[None, :] * mid[:, None]) > 0
    up = (a[None, :] * mid[:, None] - hi[None, :]) > 0
    num = jnp.sum(jnp.where(low, a * lo, 0.0) + jnp.where(up, a * hi, 0.0), axis=1)
    den = jnp.sum(jnp.where(low | up, a * a, 0.0), axis=1)
    cand = jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), mid)
    last = jnp.arange(cand.shape[0]) == cand.shape[0] - 1
    cand = jnp.clip(cand, left, jnp.where(last, jnp.inf, right))
    f = jnp.sum(slab_misfit(a[None, :], lo[None, :], hi[None, :], cand[:, None]) ** 2, axis=1)
    # Where the slabs intersect the minimiser is not unique: every s of that piece (den = 0) fits, and
    # its neighbours' clipped end points tie with it up to rounding. Return the piece's midpoint then,
    # a smooth function of the data, not whichever end point rounding favours.
    tied = f <= jnp.min(f)
    flat = tied & (den == 0)
    return cand[jnp.where(jnp.any(flat), jnp.argmax(flat), jnp.argmax(tied))]


def _robust_tm_start(problem, rho, config, adjoint):
    """Robust TM's estimate and slack as a :class:`_RobustState` (units of ``sigma2``), the SDP solved by
    :func:`_solve_inner` (``adjoint="unrolled"``: a differentiable map of ``problem`` and ``rho``)."""
    unit, lo, hi = _robust_units(problem)
    rd = lo.dtype
    sol = _solve_inner(robust_tm_sdp(problem.V, lo, hi, problem.p0, jnp.asarray(rho, rd)), config, adjoint)
    H = sol.value.X[0]
    delta = slab_misfit(_k.forward(problem.V, H, problem.p0), lo, hi, 1.0)
    return _RobustState(H, unit, delta, _ratio(H, problem.rank), jnp.asarray(0, jnp.int32), sol.result,
                        jnp.asarray(sol.stats["iterations"], jnp.int32), jnp.zeros((), rd), jnp.zeros((0,), rd),
                        jnp.zeros((0,), rd), sol.objective, sol.value)


class RobustTM(AbstractSolver):
    """Robust trace minimisation (45) / (49 as min) for :class:`RobustMeasurements`.

    ``min p0 tr H + rho ||delta||^2  s.t.  zeta_t - delta_t <= p0 tr(H V_t) + sigma2 <= xi_t + delta_t``,
    ``H PSD``, with every power in units of ``sigma2`` (spec A9; the mean noise-corrected midpoint
    when ``sigma2 = 0``): ``rho`` is the paper's penalty *per sigma2 unit*. One SDP with a
    second-order-cone epigraph of the penalty on the shared solver (``sdp``: default
    :class:`~jaxisac.core.sdp_ipm.IPMSDP`, or an :class:`~jaxisac.core.sdp.ADMMSDP`).
    ``value = H_hat`` (W units),
    ``objective = p0 tr H_hat / unit + rho ||delta||^2 / unit^2``; ``stats``: ``delta`` (W),
    ``sdp_iterations``.

    Differentiation: envelope, as :class:`TM`: ``objective`` (the optimal value of
    :func:`robust_tm_sdp`) carries its derivative with respect to ``lower``, ``upper``, ``sigma2``,
    ``V``, ``p0`` and ``rho`` (through the unit as well), forward and reverse mode; ``value`` none.
    """

    rho: float = eqx.field(default=10.0, converter=jnp.asarray)
    sdp: ADMMSDP | IPMSDP = eqx.field(default_factory=_default_sdp)
    max_steps: int = 0

    def __check_init__(self):
        if is_concrete(self.rho) and not float(self.rho) > 0:
            raise ValueError(f"rho: expected a positive penalty, got {self.rho}")
        _check_sdp(self.sdp)

    def init(self, problem, init):
        if not isinstance(problem, RobustMeasurements):
            raise ValueError(f"problem: RobustTM expects RobustMeasurements, got {type(problem).__name__}")
        # envelope: the SDP runs on stop-gradient data; postprocess re-attaches the derivative
        return _robust_tm_start(stop_gradient_tree(problem), jax.lax.stop_gradient(self.rho), self.sdp, "none")

    def step(self, problem, state):
        return state

    def terminate(self, problem, state):
        return jnp.asarray(True), state.sdp_status

    def postprocess(self, problem, st, result, stats):
        stats = dict(stats)
        stats.update(sdp_iterations=st.sdp_iterations, delta=st.unit * st.delta, ratio=st.g)
        st = stop_gradient_tree(st)
        _, lo, hi = _robust_units(problem)
        live = robust_tm_sdp(problem.V, lo, hi, problem.p0, jnp.asarray(self.rho, lo.dtype))
        objective = st.tm_objective + envelope_term(live, st.sdp)
        return Solution(value=st.unit * st.H, objective=objective, result=result, stats=stats)


class _RobustState(eqx.Module):
    H: jax.Array  # estimate in units of `unit`
    unit: jax.Array
    delta: jax.Array  # (T,) slack in units of `unit`
    g: jax.Array
    it: jax.Array
    sdp_status: jax.Array
    sdp_iterations: jax.Array
    step_objective: jax.Array
    hist_g: jax.Array
    hist_delta: jax.Array
    tm_objective: jax.Array
    sdp: Any = None  # robust TM's primal-dual solution (RobustTM only; envelope derivative)


class RobustLRA(AbstractSolver):
    """Robust LRA (Algorithms 3-4) for :class:`RobustMeasurements` (noisy / averaged / RSRP-quantised).

    Starting from :class:`RobustTM` (``rho`` enters only there, spec §3.4), alternate

    1. the top-r eigenvectors ``X`` of ``H`` (r = 1 complex patterns, r = 2 real patterns);
    2. the (G, gamma)-SDP :func:`robust_lra_sdp` with the slabs widened by the current ``delta``;
    3. the exact (delta, gamma)-step :func:`best_trace` for ``s = tr H`` with ``G`` fixed,
       ``delta = max(0, lo - a s, a s - hi)``, ``H = s G``,

    while ``g(H) <= eps`` (at least ``min_steps``, at most ``max_steps`` steps). ``g`` is non-decreasing
    and ``||delta||`` non-increasing (the previous point is feasible in both steps). With
    un-quantised data (``lower == upper``) every slab is active at the robust-TM point and the
    iteration cannot move (spec A14): robust LRA then returns robust TM, as the paper's algorithm does.

    ``value = H_hat`` (W units), ``objective = g(H_hat)``; ``stats``: ``steps``, ``delta`` (W),
    ``sdp_status``, ``sdp_iterations``, ``step_objective``, ``ratio``, and with ``trace_length`` the
    histories ``trace_ratio`` and ``trace_delta`` (``||delta||`` in units of ``sigma2``; entry 0 = robust
    TM). A step is kept only if ``g`` does not decrease and ``||delta||`` grows by at most
    ``accept_tol * ||q_hat - sigma2||`` (ADMM solves the degenerate (G, gamma)-SDP to about 1e-5
    relative, which moves the tiny slack by that much; ``accept_tol = 0`` demands exact monotonicity;
    ``monotone=False`` accepts every step with a finite ``G``).

    ``adjoint``: ``"none"`` (default: every SDP in a ``while_loop`` to ``sdp.tol``; no derivative) or
    ``"unrolled"`` (static), as :class:`LRA`. ``sdp``: the SDP solver, as :class:`LRA` (default
    :class:`IPMSDP` with ``adjoint="none"``, the Anderson-accelerated ADMM with ``"unrolled"``).

    Differentiation: unrolled. With ``adjoint="unrolled"`` and ``jaxisac.solve(..., unroll=True,
    max_steps=K)`` the solve is the fixed-count map "robust TM by ``sdp.max_steps * sdp.check_every``
    ADMM iterations, then ``K`` steps (top eigenvectors, (G, gamma)-SDP by as many ADMM iterations from
    a cold start, :func:`best_trace`)"; ``value``, ``objective`` and ``stats["delta"]`` are then
    differentiable (forward and reverse mode) in ``lower``, ``upper``, ``sigma2``, ``V``, ``p0``, the
    penalty ``rho`` (it enters robust TM) and the ADMM penalty ``sdp.rho``; reverse mode stores every
    ADMM iterate (memory ~ (1 + K) x ``sdp.max_steps * check_every`` x the SDP's size). It is the
    derivative of the truncated map. Smooth only with the switches off: LRA's (``eps=1``,
    ``sdp.adaptive=False``, ``sdp.infeas_tol=0``, ``sdp.tol`` below what the budget reaches) and the
    acceptance test (``monotone=False``); :func:`best_trace` and the slack ``max(0, .)`` are piecewise
    smooth (kinks where a measurement enters or leaves its slab, measure zero); the top eigenvectors
    need a gap ``lambda_r > lambda_{r+1}``; ``sigma2 > 0`` (the unit switches at 0).
    """

    rho: float = eqx.field(default=10.0, converter=jnp.asarray)
    eps: float = 0.95
    min_steps: int = 0
    max_steps: int = 30
    sdp: ADMMSDP | IPMSDP | None = None
    accept_tol: float = 1e-3
    trace_length: int = eqx.field(default=0, static=True)
    monotone: bool = eqx.field(default=True, static=True)
    adjoint: str = eqx.field(default="none", static=True)

    def __post_init__(self):
        if self.sdp is None:
            _check_adjoint(self.adjoint)
            self.sdp = _default_sdp(self.adjoint)

    def __check_init__(self):
        if is_concrete(self.rho) and not float(self.rho) > 0:
            raise ValueError(f"rho: expected a positive penalty, got {self.rho}")
        if not (0.0 < float(self.eps) <= 1.0):
            raise ValueError(f"eps: expected a threshold in (0, 1], got {self.eps}")
        if int(self.min_steps) < 0 or int(self.max_steps) < 0:
            raise ValueError("min_steps, max_steps: expected non-negative integers")
        if not isinstance(self.monotone, bool):
            raise ValueError(f"monotone: expected a bool, got {self.monotone!r}")
        _check_adjoint(self.adjoint)
        _check_sdp(self.sdp, self.adjoint)

    def init(self, problem, init):
        if not isinstance(problem, RobustMeasurements):
            raise ValueError(f"problem: RobustLRA expects RobustMeasurements, got {type(problem).__name__}")
        unit, lo, hi = _robust_units(problem)
        rd = lo.dtype
        r = problem.rank
        if init is None:
            if self.adjoint == "unrolled":
                tm = _robust_tm_start(problem, self.rho, self.sdp, "unrolled")
            else:
                tm = RobustTM(rho=self.rho, sdp=self.sdp).init(problem, None)
            H, status, iters, tm_obj = tm.H, tm.sdp_status, tm.sdp_iterations, tm.tm_objective
        else:
            H = jnp.asarray(init, problem.V.dtype) / unit
            status, iters, tm_obj = Status.SUCCESS(), jnp.asarray(0, jnp.int32), jnp.zeros((), rd)
        a = _k.forward(problem.V, H, problem.p0)
        tr = jnp.real(jnp.trace(H))
        a_unit = a / jnp.where(tr > 0, tr, 1.0)
        s = best_trace(a_unit, lo, hi) if init is not None else tr
        H = H * jnp.where(tr > 0, s / jnp.where(tr > 0, tr, 1.0), 1.0)
        delta = slab_misfit(a_unit, lo, hi, s)
        g = _ratio(H, r)
        L = int(self.trace_length)
        hg, hd = jnp.zeros((L,), rd), jnp.zeros((L,), rd)
        if L:
            hg, hd = hg.at[0].set(g), hd.at[0].set(jnp.linalg.norm(delta))
        return _RobustState(H, unit, delta, g, jnp.asarray(0, jnp.int32), status, iters, jnp.zeros((), rd), hg, hd,
                            tm_obj)

    def step(self, problem, st):
        r = problem.rank
        V, p0 = problem.V, problem.p0
        _, lo, hi = _robust_units(problem)
        _, X = _k.top_eig(st.H, r)
        # the step is homogeneous in gamma: bounds divided by tr H make gamma = O(1) (conditioning)
        tr = jnp.real(jnp.trace(st.H))
        c = jnp.where(tr > 0, tr, 1.0)
        sol = _solve_inner(robust_lra_sdp(V, (lo - st.delta) / c, (hi + st.delta) / c, p0, X), self.sdp, self.adjoint)
        G = sol.value.X[0]
        trG = jnp.real(jnp.trace(G))
        G = G / jnp.where(trG > 0, trG, 1.0)
        a = _k.forward(V, G, p0)
        s = best_trace(a, lo, hi)
        delta_new = slab_misfit(a, lo, hi, s)
        g_new = _ratio(s * G, r)
        # The (delta, gamma)-step is exact, so the new point is valid whatever the SDP's accuracy;
        # it is accepted when it keeps g non-decreasing and ||delta|| non-increasing up to
        # accept_tol * ||(lo + hi)/2|| (ADMM solves this degenerate SDP to ~1e-5 relative only, and
        # delta is tiny next to the powers).
        ok = (trG > 0) & jnp.all(jnp.isfinite(G))
        if self.monotone:
            slack = self.accept_tol * jnp.linalg.norm(0.5 * (lo + hi))
            ok = ok & (g_new >= st.g) & (jnp.linalg.norm(delta_new) <= jnp.linalg.norm(st.delta) + slack)
        H = jnp.where(ok, s * G, st.H)
        delta = jnp.where(ok, delta_new, st.delta)
        g = jnp.where(ok, g_new, st.g)
        it = st.it + 1
        hg, hd = st.hist_g, st.hist_delta
        if hg.shape[0]:
            k = jnp.minimum(it, hg.shape[0] - 1)
            hg, hd = hg.at[k].set(g), hd.at[k].set(jnp.linalg.norm(delta))
        return _RobustState(H, st.unit, delta, g, it, jnp.maximum(st.sdp_status, sol.result),
                            st.sdp_iterations + jnp.asarray(sol.stats["iterations"], jnp.int32), -sol.objective,
                            hg, hd, st.tm_objective)

    def terminate(self, problem, st):
        done = (st.g > self.eps) & (st.it >= self.min_steps)
        return done, Status.SUCCESS()

    def postprocess(self, problem, st, result, stats):
        stats = dict(stats)
        stats.update(sdp_status=st.sdp_status, sdp_iterations=st.sdp_iterations, ratio=st.g,
                     step_objective=st.step_objective, delta=st.unit * st.delta)
        if int(self.trace_length):
            stats.update(trace_ratio=st.hist_g, trace_delta=st.hist_delta)
        return Solution(value=st.unit * st.H, objective=st.g, result=result, stats=stats)
