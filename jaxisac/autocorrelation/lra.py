"""LRA (Algorithms 1-2) and the trace-minimisation (PhaseLift) baseline, on the library's SDP solver.

* :class:`TM`: ``min tr H  s.t.  A(H) = p, H PSD`` (Hermitian for complex patterns, real symmetric for
  real +-1 patterns), spec §2.1.
* :class:`LRA`: starting from TM, alternate the top-r eigenvectors ``X`` of ``H`` and the
  Charnes-Cooper SDP (10)/(18) ``max tr(G X) s.t. A(G) = gamma p, tr G = 1, G PSD, gamma >= 0``,
  ``H = G / gamma``, while ``g(H) <= eps`` (``g = lambda_1 / tr H``; b = 1: ``(lambda_1 + lambda_2) / tr H``).

Both SDPs are thin builders of :class:`jaxisac.core.sdp.SDP` instances solved by
:class:`jaxisac.core.sdp.ADMMSDP` (no CVXPY at run time); the ADMM configuration is the ``sdp`` field.
Powers are divided by ``mean(p)`` before the SDPs and the estimate multiplied back.

Differentiation: none through the estimate (the SDP solutions are not differentiated; see
``jaxisac.core.sdp``). Use ALRA's unrolled mode for gradients.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..core.sdp import ADMMSDP, SDP
from ..core.solution import Solution, Status
from ..core.solve import AbstractSolver, solve
from ..kernels import autocorrelation as _k
from .problems import PowerMeasurements

__all__ = ["TM", "LRA", "tm_sdp", "lra_sdp"]


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


def _default_sdp():
    return ADMMSDP(tol=1e-7, max_steps=3000)


class _TMState(eqx.Module):
    H: jax.Array
    status: jax.Array
    iterations: jax.Array


class TM(AbstractSolver):
    """Trace minimisation (PhaseLift) for :class:`PowerMeasurements`: ``value = H_hat`` ``(N, N)``.

    One SDP solve (in ``init``); ``result`` is the SDP's status; ``stats["sdp_iterations"]`` the ADMM
    iterations. ``objective`` is ``tr H_hat``.
    """

    sdp: ADMMSDP = eqx.field(default_factory=_default_sdp)
    max_steps: int = 0

    def init(self, problem, init):
        if not isinstance(problem, PowerMeasurements):
            raise ValueError(f"problem: TM expects PowerMeasurements, got {type(problem).__name__}")
        s = _scale(problem.p)
        sol = solve(tm_sdp(problem.V, problem.p / s, problem.p0), self.sdp, throw=False)
        return _TMState(s * sol.value.X[0], sol.result, jnp.asarray(sol.stats["iterations"], jnp.int32))

    def step(self, problem, state):
        return state

    def terminate(self, problem, state):
        return jnp.asarray(True), state.status

    def postprocess(self, problem, state, result, stats):
        stats = dict(stats)
        stats.update(sdp_iterations=state.iterations)
        return Solution(value=state.H, objective=jnp.real(jnp.trace(state.H)), result=result, stats=stats)


class _LRAState(eqx.Module):
    H: jax.Array  # scaled estimate
    scale: jax.Array
    g: jax.Array
    it: jax.Array
    sdp_status: jax.Array  # worst status of the SDPs so far
    sdp_iterations: jax.Array
    step_objective: jax.Array  # tr(G X) of the last Charnes-Cooper SDP
    hist_g: jax.Array


class LRA(AbstractSolver):
    """LRA (Algorithm 1 for complex patterns, Algorithm 2 for real +-1 patterns).

    ``jaxisac.solve(PowerMeasurements(V, p), LRA())`` returns ``value = H_hat`` ``(N, N)`` (PSD),
    ``objective = g(H_hat)``; ``stats``: ``steps`` (SDP steps after TM), ``sdp_status`` (worst status of
    the inner SDPs), ``sdp_iterations`` (ADMM iterations, TM included), ``step_objective`` (``tr(G X)``
    of the last SDP step), ``trace_ratio`` (``g`` per iterate, entry 0 = TM, when ``trace_length``).

    Args:
        eps: stop when ``g(H) > eps`` (0.95, the paper's rule).
        min_steps: at least this many SDP steps before the rule may stop (spec A22; 0 = paper).
        max_steps: cap on SDP steps (30).
        sdp: the :class:`ADMMSDP` configuration of the TM and Charnes-Cooper SDPs.
        trace_length: record ``g`` of the first iterates in ``stats["trace_ratio"]``.

    Warm start: ``init=`` an ``(N, N)`` PSD matrix replaces the TM initialiser.
    """

    eps: float = 0.95
    min_steps: int = 0
    max_steps: int = 30
    sdp: ADMMSDP = eqx.field(default_factory=_default_sdp)
    trace_length: int = eqx.field(default=0, static=True)

    def __check_init__(self):
        if not (0.0 < float(self.eps) <= 1.0):
            raise ValueError(f"eps: expected a threshold in (0, 1], got {self.eps}")
        if int(self.min_steps) < 0 or int(self.max_steps) < 0:
            raise ValueError("min_steps, max_steps: expected non-negative integers")

    def init(self, problem, init):
        if not isinstance(problem, PowerMeasurements):
            raise ValueError(f"problem: LRA expects PowerMeasurements, got {type(problem).__name__}")
        s = _scale(problem.p)
        rd = problem.p.dtype
        if init is None:
            sol = solve(tm_sdp(problem.V, problem.p / s, problem.p0), self.sdp, throw=False)
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
        return _LRAState(H, s, g, jnp.asarray(0, jnp.int32), status, iters, jnp.zeros((), rd), hist)

    def step(self, problem, st):
        r = problem.rank
        _, X = _k.top_eig(st.H, r)
        sol = solve(lra_sdp(problem.V, problem.p / st.scale, problem.p0, X), self.sdp, throw=False)
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
                         st.sdp_iterations + jnp.asarray(sol.stats["iterations"], jnp.int32), -sol.objective, hist)

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
