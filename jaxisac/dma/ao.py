"""Alternating optimisation (spec §3) with the acceptance test of §3.2, as a ``jaxisac.solve`` solver.

One solver *step* is one attempt:

1. analog step: P4-MM at ``(y, B)`` with trust factor ``kappa`` -> ``z``;
2. digital step: P2 at ``y + z`` (SDP on the shared solver) -> rank-one ``B'``;
3. accept if the SDP succeeded, ``(y + z, B')`` is exactly feasible (exact inverse) and the true
   objective did not decrease; then ``kappa <- min(kappa * kappa_grow, kappa0)``. Otherwise keep
   ``(y, B)`` and halve ``kappa``.

So the accepted sequence is exactly feasible and its true objective (average beampattern, or
min_d P_d for the max-min variant) is non-decreasing (spec T10/T11).

Subproblems (the acceptance test is exact in every mode): by default both are solved to
interior-point accuracy on the shared SDP solver (:class:`~jaxisac.core.sdp_ipm.IPMSDP`): P2 in
about 10 iterations to 1e-8, P4-MM in its conic form (:func:`~jaxisac.dma.analog.p4mm_conic`) in
10-20, as the spec's CVXPY procedure does. On S0 this mode follows the spec's reference trace (0.682
at iteration 5, 0.783 at 10 with ``repair=False``); against the inexact mode below it runs as fast
or faster, leaves fewer runs infeasible or at the attempt cap (``experiments/000_montecarlo.py``),
and batched runs equal sequential ones to 2e-6 (worst of 24 drops, 15 iterations) where the inexact
mode differs by up to 6e-3. Each recovered precoder is scaled to the largest feasible power
(:func:`~jaxisac.dma.digital.scale_to_max_power`, the objective grows with the scale; ``repair``)
and then tested exactly.

Inexact mode (``sdp=ADMMSDP(...)``, ``p4mm_solver=None``): P4-MM by its augmented Lagrangian,
warm-started from the previous attempt's point and multipliers (``p4mm`` 8 x 15 iterations instead
of 30 x 40 cold); the P2 ADMM gets a fixed budget of ``sdp_steps`` checks (10 iterations each) per
attempt, warm-started from the last accepted SDP iterate, so an unconverged SDP may still give an
accepted step. An attempt whose SDP ran out of budget without an acceptable point is *resumed*
(same loads, SDP continued) up to ``sdp_resumes`` times before it counts as a rejection; under vmap
this keeps one slow SDP from holding up the batch. (Mixing the two, interior-point P2 with the
warm-started augmented Lagrangian, amplifies round-off: batched and sequential runs then drift
apart by a median 1e-3 in 15 iterations.)

A step is accepted only if it gains more than ``accept_rtol`` (relative; 1e-9 in float64, 1e-5 in
float32): gains at round-off level are rejected consistently, so batched and sequential runs (and
complex64 vs complex128) take the same decisions (spec T17).

Stopping (spec §3.2): ``kappa < kappa_min`` (converged, SUCCESS), relative improvement below ``rtol``
on ``patience`` consecutive accepted iterations (SUCCESS), ``max_iters`` accepted iterations
(SUCCESS: the cap of the spec), ``max_steps`` attempts (MAX_STEPS). An instance whose P2 is infeasible
at the start ends with ``Status.INFEASIBLE`` unless ``phase_one`` is on: then the AO first minimises
the transmit power under the SINR/beampattern constraints until
``P_t <= P_max``, and continues with the problem's objective (stats ``phase_one_steps``). Phase I
starts from P2 with the power budget relaxed to 10 P_max; each Phase I step is P4-MM with the
linearised power as objective, followed by the closed-form least-power rescaling of B
(:func:`~jaxisac.dma.digital.scale_to_min_power`), accepted when exactly feasible and the power
decreased. Instances needing more than 10 P_max at y0, or whose Phase I stalls, are INFEASIBLE.

Differentiation: **envelope** (``docs/differentiation.md``). The AO runs on ``stop_gradient`` data
(its iterations are never differentiated); ``Solution.objective`` (the optimised P_tot) carries the
derivative of the P2 optimal value at the AO's final loads ``y*`` held fixed, with respect to every
array of the problem (``p_max``, ``gamma``, ``beta_lo``/``beta_hi``, ``model.R0``, the admittances and
channels): P2 is solved once more at ``y*`` (at most ``envelope_steps`` iterations; the ADMM
warm-started from the last accepted SDP iterate) and its Lagrangian is re-evaluated with the live data at that
primal-dual point (:func:`jaxisac.core.sdp.envelope_term`), the same derivative as
``jax.grad(dma.p2_value)`` at fixed ``y*``. It is the derivative of the optimised P_tot because
``y*`` is stationary for ``y -> P2(y)`` (``d/dy`` vanishes there) and the SDR of P2 is tight.
Forward and reverse mode, ``jit``, ``vmap``. Valid where the AO converged (``result == SUCCESS``, not
Phase I) to a point where P2's optima are unique and its active set does not change; accurate to the
tolerance of that last solve (1e-8 interior point, 1e-6 ADMM, relative in float64) and to the AO's stationarity
(``rtol``). ``value`` (``y``, ``B``) and ``stats`` carry no derivative.
:mod:`jaxisac.dma.direct` is the joint (y, B) alternative (often a higher P_tot; unrolled derivative,
to be checked at full size).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ..core.sdp import ADMMSDP, solve_sdp
from ..core.sdp import envelope_term
from ..core.sdp_ipm import IPMSDP
from ..core.solution import Solution, Status
from ..core.solve import AbstractSolver, stop_gradient_tree, tree_where
from ..kernels import dma as _kd
from .analog import P4MMConfig, analog_step, solve_loads_at
from .digital import default_sdp_solver, digital_step, evaluate, p2_sdp, scale_to_max_power, scale_to_min_power
from .problem import DMAProblem



def _p2_at(problem: DMAProblem, y):
    model = problem.model
    H, AP = _kd.effective_rows(model.loads(y), model.Y_st, problem.observers, model.W)
    return p2_sdp(problem, H, AP)

__all__ = ["DMAAO", "AOState"]


class AOState(eqx.Module):
    y: jax.Array
    B: jax.Array
    value: jax.Array
    kappa: jax.Array
    iters: jax.Array
    stall: jax.Array
    phase: jax.Array  # 1: Phase I (power minimisation), 0: main phase
    feasible: jax.Array
    sdp: Any
    trace: jax.Array  # (max_iters + 1,) accepted true objective values (NaN-free: padded with last)
    p1_steps: jax.Array
    attempts: jax.Array
    rejected: jax.Array
    p4: Any  # warm start (v, lam, rho) of the P4-MM augmented Lagrangian
    sdp_iters: jax.Array  # ADMM iterations spent (profile)
    sdp_unconverged: jax.Array  # attempts whose SDP hit its budget
    pend: jax.Array  # the last attempt's SDP hit its budget: the next step resumes it at y_pend
    y_pend: jax.Array
    sdp_pend: Any
    resumes: jax.Array
    loads: Any = ()  # (F, C, ynorm) of kernels.dma.solve_loads at y: one factorisation per attempt, reused


class DMAAO(AbstractSolver):
    """Safeguarded alternating optimisation for :class:`~jaxisac.dma.DMAProblem`.

    Attributes:
        kappa0, kappa_min, kappa_grow: trust factor (box ``|z| <= kappa / ||Yhat||_2``).
        rtol, patience: stop when the relative improvement is below ``rtol`` ``patience`` times in a row.
        max_iters: cap on accepted AO iterations (static: the length of the trace).
        max_steps: cap on attempts (accepted + rejected).
        safeguard: the acceptance test (``False``: the paper's plain AO, every step accepted, for F1).
        phase_one: Phase I for instances infeasible at ``y0``.
        p4mm: the ALM's iteration counts (inexact mode; per attempt, warm-started when ``warm_p4``).
        p4mm_solver: the P4-MM solver: ``IPMSDP()`` (default) on its conic form, or None for the
            augmented Lagrangian configured by ``p4mm`` / ``warm_p4`` (inexact mode).
        sdp: the P2 solver: None (``IPMSDP()``, tolerance by dtype), an ``IPMSDP`` as given, or an
            ``ADMMSDP`` (inexact mode, with ``sdp_steps`` / ``init_sdp_steps`` as its caps; e.g.
            :func:`~jaxisac.dma.digital.default_sdp_solver`).
        sdp_steps, sdp_resumes: ADMM budget per attempt (x 10 iterations) and resumes of an
            unfinished SDP before the attempt is rejected. init_sdp_steps: the cap of the start's P2.
        repair: scale each recovered precoder to the largest feasible power before the exact test.
        accept_rtol: relative gain an attempt needs to be accepted (None: by dtype).
        feas_tol: relative tolerance of the exact feasibility test.

        envelope_steps: iteration cap (ADMM: checks of 10 iterations, warm-started) of the final P2
            solve at the AO's loads that gives ``objective`` its envelope derivative (0: use the last
            accepted SDP iterate as it is, which is cheaper and less accurate).

    Value of the :class:`Solution`: ``{"y", "B"}``; ``objective`` the true value; stats: ``iters``,
    ``trace`` (objective per accepted iteration, padded), ``feasible``, ``phase_one_steps``,
    ``rejected``, ``kappa``, ``attempts``, ``sdp_iters`` (P2 solver iterations spent), ``sdp_unconverged``
    (attempts whose SDP hit its budget), ``envelope_sdp_status`` (status of the final P2 solve) and
    ``p2_value`` (its optimal value at the final loads, an upper bound of ``objective`` up to the SDP
    tolerance).

    Differentiation: envelope (see the module docstring): ``objective`` carries ``d P2(y*) / d data``
    at the final loads ``y*``; ``value`` and ``stats`` carry no derivative.
    """

    kappa0: float = 0.5
    kappa_min: float = 1e-4
    kappa_grow: float = 2.0
    rtol: float = 1e-4
    patience: int = 5
    max_iters: int = eqx.field(static=True, default=100)
    max_steps: int = 300
    safeguard: bool = eqx.field(static=True, default=True)
    phase_one: bool = eqx.field(static=True, default=True)
    p4mm: P4MMConfig = P4MMConfig(outer=8, inner=15)
    sdp: ADMMSDP | IPMSDP | None = None
    feas_tol: float | None = None
    accept_rtol: float | None = None
    sdp_steps: int = 10
    sdp_resumes: int = 4
    init_sdp_steps: int = 100
    warm_p4: bool = eqx.field(static=True, default=True)
    repair: bool = eqx.field(static=True, default=True)
    envelope_steps: int = 100
    p4mm_solver: IPMSDP | None = IPMSDP()

    def _sdp(self, problem):
        if self.sdp is None:
            return IPMSDP()
        if isinstance(self.sdp, ADMMSDP):
            # inexact mode: a fixed ADMM budget per attempt, warm-started from the last accepted
            # SDP iterate (so the SDP keeps converging along the AO path); the exact acceptance
            # test, not the SDP status, decides. Under vmap a fixed budget also removes stragglers.
            return eqx.tree_at(lambda c: c.max_steps, self.sdp, self.sdp_steps)
        return self.sdp

    def _sdp_init(self, problem):
        if isinstance(self.sdp, ADMMSDP):
            return eqx.tree_at(lambda c: c.max_steps, self.sdp, self.init_sdp_steps)
        return self._sdp(problem)

    def _artol(self, problem):
        if self.accept_rtol is not None:
            return self.accept_rtol
        return 1e-9 if problem.p_max.dtype == jnp.float64 else 1e-5

    def _p4_init(self, problem):
        rdt = problem.p_max.dtype
        D, M, L = problem.D, problem.model.M, problem.model.L
        nc = D * (int(problem.has_lower) + int(problem.objective == "maxmin") + int(problem.has_upper)) + M + 1
        return (jnp.zeros((L + 1,), rdt), jnp.zeros((nc,), rdt), jnp.asarray(self.p4mm.rho0, rdt))

    def _repair(self, problem, y, B, F=None):
        if not self.repair:
            return B
        Br, ok = scale_to_max_power(problem, y, B, F=F)
        return jnp.where(ok, Br, B)

    def _ftol(self, problem):
        if self.feas_tol is not None:
            return self.feas_tol
        return 1e-6 if problem.p_max.dtype == jnp.float64 else 1e-4

    def _value(self, problem, ev, phase):
        return jnp.where(phase == 1, -ev["pt"], ev["value"])

    def _feasible(self, problem, ev, phase):
        """Exact feasibility; in Phase I the power constraint is not required."""
        tol = self._ftol(problem)
        sinr_ok = jnp.all(ev["sinr"] >= problem.gamma * (1 - tol))
        pw_ok = (ev["pt"] <= problem.p_max * (1 + tol)) | (phase == 1)
        ok = sinr_ok & pw_ok
        if problem.has_lower:
            ok = ok & jnp.all(ev["P"] >= problem.beta_lo * (1 - tol))
        if problem.has_upper:
            ok = ok & jnp.all(ev["P"] <= problem.beta_hi * (1 + tol))
        return ok

    def init(self, problem: DMAProblem, init: Any | None) -> AOState:
        if not isinstance(problem, DMAProblem):
            raise ValueError(f"problem: DMAAO expects a DMAProblem, got {type(problem).__name__}")
        problem = stop_gradient_tree(problem)
        init = None if init is None else stop_gradient_tree(init)
        rdt = problem.p_max.dtype
        y = problem.y0 if init is None else jnp.asarray(init["y"], rdt)
        loads = solve_loads_at(problem, y)
        F = loads[0]
        sdp = self._sdp_init(problem)
        B, ok, sol = digital_step(problem, y, solver=sdp, F=F)
        B = self._repair(problem, y, B, F)
        ev = evaluate(problem, y, B, F=F)
        feas = self._feasible(problem, ev, 0)
        if init is not None and "B" in init:
            Bi = jnp.asarray(init["B"], B.dtype)
            evi = evaluate(problem, y, Bi, F=F)
            use_init = self._feasible(problem, evi, 0) & (~feas | (evi["value"] >= ev["value"]))
            B = jnp.where(use_init, Bi, B)
            feas = feas | use_init
        phase = jnp.zeros((), jnp.int32)
        if self.phase_one:
            Bp, okp, solp = digital_step(problem, y, solver=sdp, phase1=True, F=F)
            Bp, okp = scale_to_min_power(problem, y, Bp, F=F)  # the exact test decides, not the SDP status
            evp = evaluate(problem, y, Bp, F=F)
            start_p1 = ~feas & okp & self._feasible(problem, evp, 1)
            B = jnp.where(start_p1, Bp, B)
            sol = tree_where(start_p1, solp, sol)
            phase = jnp.where(start_p1, 1, 0).astype(jnp.int32)
            feas = feas | start_p1
        ev = evaluate(problem, y, B, F=F)
        value = self._value(problem, ev, phase)
        trace = jnp.full((self.max_iters + 1,), jnp.where(phase == 0, value, 0.0), rdt)
        zero = jnp.zeros((), jnp.int32)
        return AOState(
            y=y, B=B, value=value, kappa=jnp.asarray(self.kappa0, rdt), iters=zero, stall=zero, phase=phase,
            feasible=feas, sdp=sol.value, trace=trace, p1_steps=zero, attempts=zero, rejected=zero,
            p4=self._p4_init(problem), sdp_iters=jnp.asarray(sol.stats["iterations"], jnp.int32), sdp_unconverged=zero,
            pend=jnp.zeros((), bool), y_pend=y, sdp_pend=sol.value, resumes=zero, loads=loads,
        )

    def step(self, problem: DMAProblem, state: AOState) -> AOState:
        problem = stop_gradient_tree(problem)
        p1 = state.phase == 1
        cap = 10.0 * problem.p_max
        z, _, p4s = analog_step(
            problem, state.y, state.B, state.kappa, self.p4mm, phase1=p1, p_cap=cap,
            init=state.p4 if self.warm_p4 else None, return_state=True, solver=self.p4mm_solver, loads=state.loads,
        )
        # an attempt whose SDP ran out of its ADMM budget without an acceptable point is resumed
        # (same loads, the SDP continued from its iterate) instead of being rejected: the budget
        # per step is small, so that under vmap one slow SDP does not hold up the whole batch
        resume = state.pend & ~p1
        y1 = jnp.where(resume, state.y_pend, state.y + z)
        loads1 = solve_loads_at(problem, y1)
        F1 = loads1[0]
        B1, ok1, sol1 = digital_step(
            problem, y1, solver=self._sdp(problem), init=tree_where(resume, state.sdp_pend, state.sdp), F=F1
        )
        B1 = self._repair(problem, y1, B1, F1)
        if self.safeguard:
            ok1 = jnp.ones_like(ok1)  # the exact test below decides (inexact SDP)
        if self.phase_one:  # Phase I keeps B and rescales it to the least power meeting the SINRs
            Bs, oks = scale_to_min_power(problem, y1, state.B, F=F1)
            B1 = jnp.where(p1, Bs, B1)
            ok1 = jnp.where(p1, oks, ok1)
        ev = evaluate(problem, y1, B1, F=F1)
        feas = ok1 & self._feasible(problem, ev, state.phase)
        v1 = self._value(problem, ev, state.phase)
        # a relative margin: steps whose gain is at round-off level are rejected consistently
        # (batched vs sequential linear algebra must not flip the decision; spec T17)
        margin = self._artol(problem) * jnp.abs(state.value)
        accept = (feas & (v1 >= state.value + margin)) if self.safeguard else ok1
        if self.safeguard:
            hold = ~accept & ~p1 & (sol1.result == int(Status.MAX_STEPS)) & (state.resumes < self.sdp_resumes)
        else:
            hold = jnp.zeros((), bool)
        reject = ~accept & ~hold
        rel = (v1 - state.value) / jnp.maximum(jnp.abs(state.value), jnp.finfo(v1.dtype).tiny)
        stall = jnp.where(accept, jnp.where(rel < self.rtol, state.stall + 1, 0), state.stall)
        if self.safeguard:
            kappa = jnp.where(
                accept, jnp.minimum(state.kappa * self.kappa_grow, self.kappa0),
                jnp.where(hold, state.kappa, state.kappa * 0.5),
            )
        else:
            kappa = state.kappa
        y = jnp.where(accept, y1, state.y)
        loads = tree_where(accept, loads1, state.loads)
        B = jnp.where(accept, B1, state.B)
        value = jnp.where(accept, v1, state.value)
        sdp_val = tree_where(accept & ~p1, sol1.value, state.sdp)
        main = ~p1
        iters = state.iters + (accept & main).astype(jnp.int32)
        phase = state.phase
        if self.phase_one:
            # Phase I -> main phase once the power budget is met; the current point is then feasible.
            switch = p1 & accept & (ev["pt"] <= problem.p_max * (1 - self._ftol(problem)))
            evs = evaluate(problem, y, B, F=loads[0])
            value = jnp.where(switch, evs["value"], value)
            phase = jnp.where(switch, 0, phase).astype(jnp.int32)
            stall = jnp.where(switch, 0, stall)
            kappa = jnp.where(switch, jnp.asarray(self.kappa0, kappa.dtype), kappa)
            # Phase I that cannot shrink its trust region further has failed.
            failed = p1 & ~switch & (kappa < self.kappa_min)
            feasible = state.feasible & ~failed
        else:
            feasible = state.feasible
        # warm start: the point and the multipliers; the penalty restarts at rho0 (it grows
        # geometrically within a solve, and compounding it over attempts stalls the inner steps)
        p4_next = (p4s[0], p4s[1], state.p4[2]) if self.warm_p4 else state.p4
        p4_next = tree_where(resume, state.p4, p4_next)
        if self.phase_one:
            p4_next = tree_where(switch, self._p4_init(problem), p4_next)
        idx = jnp.arange(self.max_iters + 1)
        trace = jnp.where((idx >= iters) & (phase == 0), value, state.trace)
        return AOState(
            y=y, B=B, value=value, kappa=kappa, iters=iters, stall=stall, phase=phase, feasible=feasible,
            sdp=sdp_val, trace=trace, p1_steps=state.p1_steps + p1.astype(jnp.int32),
            attempts=state.attempts + 1, rejected=state.rejected + reject.astype(jnp.int32),
            p4=p4_next, sdp_iters=state.sdp_iters + jnp.asarray(sol1.stats["iterations"], jnp.int32),
            sdp_unconverged=state.sdp_unconverged + (sol1.result != int(Status.SUCCESS)).astype(jnp.int32),
            pend=hold, y_pend=y1, sdp_pend=sol1.value, resumes=jnp.where(hold, state.resumes + 1, 0), loads=loads,
        )

    def terminate(self, problem: DMAProblem, state: AOState):
        problem = stop_gradient_tree(problem)
        infeasible = ~state.feasible
        converged = (state.kappa < self.kappa_min) | (state.stall >= self.patience) | (state.iters >= self.max_iters)
        converged = converged & (state.phase == 0)
        status = jnp.where(infeasible, Status.INFEASIBLE(), Status.SUCCESS())
        return infeasible | converged, status

    def postprocess(self, problem: DMAProblem, state: AOState, result, stats) -> Solution:
        live = problem
        problem = stop_gradient_tree(problem)
        state = stop_gradient_tree(state)
        ev = evaluate(problem, state.y, state.B)
        # envelope: P2 at the final loads (frozen data, warm-started), its Lagrangian re-evaluated with
        # the live data at that primal-dual point; P2 minimises -value
        env_solver = eqx.tree_at(lambda c: c.max_steps, self._sdp_init(problem), self.envelope_steps)
        env = solve_sdp(_p2_at(problem, state.y), env_solver, init=state.sdp)
        objective = ev["value"] - envelope_term(_p2_at(live, state.y), env.value)
        result = jnp.where((state.phase == 1) & (result == int(Status.SUCCESS)), Status.INFEASIBLE(), result)
        stats = dict(stats)
        stats.update(
            iters=state.iters, trace=state.trace, feasible=state.feasible, phase_one_steps=state.p1_steps,
            rejected=state.rejected, kappa=state.kappa, P=ev["P"], sinr=ev["sinr"], pt=ev["pt"],
            violation=ev["violation"], attempts=state.attempts, sdp_iters=state.sdp_iters,
            sdp_unconverged=state.sdp_unconverged, envelope_sdp_status=env.result, p2_value=-env.objective,
        )
        return Solution(value={"y": state.y, "B": state.B}, objective=objective, result=result, stats=stats)
