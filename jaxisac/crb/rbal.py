"""R-BAL (Algorithm 1, corrected) with the full pipeline of spec §3.4 and an optional Newton polish."""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from ..core.solution import Solution, Status
from ..core.solve import AbstractSolver, tree_where
from ..kernels import crb as K_
from .problem import ExtendedTargetCRB

__all__ = ["RBAL", "CRBBeamformers", "Branch"]


class Branch:
    """Codes of ``Solution.stats["branch"]``: which part of the pipeline produced the answer."""

    RBAL = 0  #: R-BAL iterations (converged to the stopping tolerance)
    INFEASIBLE = 1  #: feasibility test (P_low >= P_T), no iterations
    THM4 = 2  #: Theorem 4(b) degenerate closed form, no iterations
    LOWDIN = 3  #: isotropic certificate (weighted Löwdin beams, exact test), no R-BAL iterations
    NEWTON = 4  #: R-BAL to a loose tolerance, then Newton on the KKT system, certified


class CRBBeamformers(eqx.Module):
    """Solution value of the extended-target CRB problem.

    Attributes:
        W: (N_t, K) complex user beamformers (column k is w_k).
        W_aux: (N_t, N_t) complex Hermitian sensing precoder (``None`` when the solver has ``aux=False``).
        reduced: :class:`jaxisac.kernels.crb.RBALIterate`, the reduced primal-dual state (K x K
            blocks in the basis U~ = QR(H)); pass the whole value as ``init=`` to warm-start a
            neighbouring instance with the same channels (e.g. a Gamma or P_T continuation).
    """

    W: jax.Array
    W_aux: jax.Array | None
    reduced: K_.RBALIterate


class _State(NamedTuple):
    data: K_.RBALData
    it: K_.RBALIterate
    tau: jax.Array
    mode: jax.Array  # Branch code of the pre-tests (0: iterate)
    phase: jax.Array  # 0: R-BAL, 1: Newton polish
    z: jax.Array  # KKT point (K^2 + 2K,)
    fnorm: jax.Array
    n_newton: jax.Array
    rp: jax.Array
    du: jax.Array
    converged: jax.Array
    p_low: jax.Array
    t: jax.Array  # iterations so far
    inactive: jax.Array  # (K,) bool: users inactive in the accepted Newton root
    has_guess: jax.Array  # the last Newton attempt corrected the inactive set ...
    guess: jax.Array  # ... to this (K,) bool mask, tried next
    not_iso: jax.Array  # the isotropic covariance was proven infeasible (dual certificate)
    iso_steps: jax.Array  # steps of the isotropic certificate


def _default_tol(dtype):
    return 1e-9 if jnp.finfo(dtype).bits == 64 else 1e-4


class RBAL(AbstractSolver):
    """Reduced balanced augmented Lagrangian (Zhao et al., Algorithm 1 with line 6 corrected).

    Pipeline (spec §3.4), per instance: feasibility fixed point (4) -> ``Status.INFEASIBLE``;
    Theorem 4 test (12) -> closed form; exact isotropic certificate (weighted Löwdin beams,
    :func:`jaxisac.kernels.crb.isotropic_certificate`) -> closed form; otherwise R-BAL
    on (14) in K x K blocks (per-iteration cost O(K^4), independent of N_t); then the rank-one
    recovery of Theorem 3. All pre-tests are decided before the first step (0 iterations).

    Args:
        tau0: step size in units of (P_T/N_t)^3 (tau = tau0 (P_T/N_t)^3; spec §3.3).
        tol: stopping tolerance on ||D u - b|| / (1 + sigma^2 sqrt(K)) and on the iterate change
            ||u+ - u|| / (1 + ||Y||_F) (``None``: 1e-9 in float64, 1e-4 in float32).
        delta: regulariser of D D^H (1e-4; immaterial, D has full row rank).
        max_steps: iteration cap (``Status.MAX_STEPS`` beyond it).
        polish: when all SINR multipliers are positive (the generic active regime), run Newton on the K^2 + 2K KKT system of spec §2.9; the Newton root is
            accepted only with a certificate (mu > 0, p > 0, B~ > 0: then it is the global optimum);
            otherwise R-BAL resumes to ``tol``. ``polish=False`` is the paper's algorithm.
        polish_every, mu_ratio, newton_steps, newton_tol: with ``polish``, one solve step is a block
            of ``polish_every`` R-BAL iterations followed by one Newton attempt of ``newton_steps``
            damped steps (users with mu_k <= ``mu_ratio`` max(mu) start as inactive); a root is accepted at a scaled
            KKT residual <= ``newton_tol`` (``None``: 1e-10 in float64, 1e-4 in float32) and
            certified, else R-BAL resumes where it was. ``stats["iterations"]`` counts R-BAL
            iterations, ``stats["steps"]`` blocks; ``max_steps`` caps R-BAL iterations in both modes.
        tau_decay, tau0_min, tau_grow, tau0_max, weak_nu: after each failed Newton attempt, with the
            dimensionless multipliers nu_k = mu_k ||h~_k||^2 (P_T/N_t)^2: if every nu_k > ``weak_nu``
            (strongly active: small steps are best, spec §9.4) tau <- max(tau * tau_decay,
            tau0_min (P_T/N_t)^3); otherwise (a user near the isotropic boundary, where large steps
            are best, spec §9.6) tau <- min(tau * tau_grow, tau0_max (P_T/N_t)^3).
            ``tau_decay = tau_grow = 1`` keeps tau fixed. Without ``polish`` tau is always fixed.
        inactive_newton: let the Newton polish treat users with negligible multipliers as
            inactive (active-set KKT system of :func:`jaxisac.kernels.crb.kkt_residual`, corrected
            between attempts by :func:`~jaxisac.kernels.crb.kkt_active_set_update`); without it a
            draw with an inactive SINR constraint (spec §9.6, N_t = 32 seed 92) needs ~10^5 R-BAL
            iterations instead of ~10^3.
        jacobian_every: the Newton polish forms (analytically) and LU-factorises the dense KKT
            Jacobian every this many steps and Broyden-updates it in between (1: plain Newton).
        newton_at_start: with ``polish`` and a warm start (``init=``), make one Newton attempt from
            the start itself before any R-BAL iteration (a good start then costs no R-BAL iteration).
        relax: over-relaxation factor gamma in (0, 2) of the R-BAL step, u <- u + gamma (T(u) - u)
            on the whole primal-dual iterate (BAL is a proximal point method in a fixed metric, so
            every gamma in (0, 2) converges). ``None``: 1.5 with ``polish`` (with ``polish_every =
            25``, S-A: 116/126 draws certified by the first Newton attempt after 20 iterations
            against 44/126 at gamma = 1), 1.0 without it (the paper's algorithm as printed).
        printed_sign: use the paper's printed line 6 (Z~ = Z - tau Omega_2), which does not converge
            (spec A1; kept for the reproduction of T7 only).
        aux: compute the N_t x N_t ``W_aux`` (O(N_t^2 K) memory per instance).
        iso_iters, iso_gamma: steps cap and exponent of the isotropic certificate's weight balancing
            (``iso_iters = 0``: the plain Löwdin test of the spec, sufficient only). ``stats``
            report ``isotropic_steps`` and ``not_isotropic`` (the dual proof that the optimum has an
            active SINR constraint).

    Differentiation: ``jaxisac.solve(..., unroll=True)`` differentiates through a fixed number of
    iterations (use ``polish=False`` there); the proximal maps carry Daleckii-Krein JVPs that stay
    finite at repeated eigenvalues, so the unrolled map is differentiable from the isotropic start.
    The closed-form branches (Thm 4, Löwdin) are differentiable maps of the data but their choice is
    not (a switch). For derivatives of the optimum use :func:`jaxisac.crb.optimal_crb` (envelope
    theorem, every branch) and :func:`jaxisac.crb.optimal_solution` (implicit function theorem on
    the KKT system; NaN tangents, flagged, at the isotropic/degenerate/weakly active branches where
    that system is singular).
    """

    tau0: float = 0.1
    tol: float | None = None
    delta: float = 1e-4
    max_steps: int = 20000
    polish: bool = eqx.field(default=True, static=True)
    mu_ratio: float = 1e-3
    newton_steps: int = eqx.field(default=16, static=True)
    polish_every: int = eqx.field(default=25, static=True)
    tau_decay: float = 0.5
    tau0_min: float = 0.01
    tau_grow: float = 2.0
    tau0_max: float = 1.0
    weak_nu: float = 0.1
    newton_at_start: bool = eqx.field(default=True, static=True)
    inactive_newton: bool = eqx.field(default=True, static=True)
    jacobian_every: int = eqx.field(default=4, static=True)
    newton_tol: float | None = None
    printed_sign: bool = eqx.field(default=False, static=True)
    aux: bool = eqx.field(default=True, static=True)
    feas_max_iter: int = eqx.field(default=20000, static=True)
    iso_iters: int = eqx.field(default=32, static=True)
    iso_gamma: float = 10.0
    relax: float | None = eqx.field(default=None, static=True)

    # -- helpers -------------------------------------------------------------------------------
    def _relax(self) -> float:
        if self.relax is None:
            return 1.5 if self.polish and not self.printed_sign else 1.0
        return float(self.relax)

    def _tols(self, rdt):
        tol = _default_tol(rdt) if self.tol is None else self.tol
        ntol = (1e-10 if jnp.finfo(rdt).bits == 64 else 1e-4) if self.newton_tol is None else self.newton_tol
        return jnp.asarray(tol, rdt), jnp.asarray(ntol, rdt)

    def init(self, problem: ExtendedTargetCRB, init):
        rdt = problem.power.dtype
        cdt = problem.channels.dtype
        k, n_t = problem.k, problem.n_t
        rho = 1 + 1 / problem.sinr_targets
        P, s2 = problem.power, problem.noise_var
        _, data = K_.preprocess(problem.H, rho, s2, P, self.delta)
        feas_tol = 1e-13 if jnp.finfo(rdt).bits == 64 else 1e-6
        t4, X4 = K_.thm4_closed_form(data.Ht, rho, s2, P, n_t)
        lw, XL, not_iso, iso_steps = K_.isotropic_certificate(data.Ht, rho, s2, P, n_t, self.iso_iters, self.iso_gamma)
        # a closed form that fires is a feasible point: the fixed point (4) is then skipped (stats p_low = -1)
        p_low, infeasible, _ = K_.feasibility_fixed_point(
            data.Ht, rho, s2, P, feas_tol, self.feas_max_iter, skip=jax.lax.stop_gradient(t4 | lw)
        )
        mode = jnp.where(infeasible, Branch.INFEASIBLE, jnp.where(t4, Branch.THM4, jnp.where(lw, Branch.LOWDIN, Branch.RBAL)))
        mode = mode.astype(jnp.int32)
        eye = jnp.eye(k, dtype=cdt)
        if init is None:
            it = K_.RBALIterate(
                jnp.zeros((k, k, k), cdt), (P / n_t).astype(cdt) * eye, (P / n_t).astype(cdt) * eye,
                jnp.zeros((k,), rdt), jnp.zeros((k, k), cdt), jnp.zeros((k, k), cdt),
            )
        else:
            red = init.reduced if isinstance(init, CRBBeamformers) else init
            it = K_.RBALIterate(*(jnp.asarray(a, cdt if jnp.iscomplexobj(a) else rdt) for a in red))
        Xcf = jnp.where(mode == Branch.THM4, X4, jnp.where(mode == Branch.LOWDIN, XL, jnp.zeros_like(XL)))
        it = it._replace(X=jnp.where(mode == Branch.RBAL, it.X, Xcf), mu=jnp.where(mode == Branch.RBAL, it.mu, 0))
        tau = (self.tau0 * (P / n_t) ** 3).astype(rdt)
        state = _State(
            data=data, it=it, tau=tau, mode=mode, phase=jnp.zeros((), jnp.int32),
            z=jnp.zeros((k * k + 2 * k,), rdt), fnorm=jnp.asarray(jnp.finfo(rdt).max, rdt), n_newton=jnp.zeros((), jnp.int32),
            rp=jnp.asarray(jnp.finfo(rdt).max, rdt), du=jnp.asarray(jnp.finfo(rdt).max, rdt), converged=jnp.asarray(False), p_low=p_low,
            t=jnp.zeros((), jnp.int32), inactive=jnp.zeros((k,), bool), has_guess=jnp.asarray(False), guess=jnp.zeros((k,), bool), not_iso=not_iso, iso_steps=jnp.asarray(iso_steps, jnp.int32),
        )
        if self.polish and init is not None and self.newton_at_start:
            # a warm start may already lie in Newton's basin: try before any R-BAL iteration
            state = self._newton(problem, state, decay=False)
            state = state._replace(converged=state.converged & (mode == Branch.RBAL))
        return state

    def _bal(self, problem, s: _State) -> _State:
        """One R-BAL iteration with its residuals and stopping test."""
        d = s.data
        rdt = s.tau.dtype
        k = problem.k
        tol, _ = self._tols(rdt)
        new = K_.rbal_step(s.it, d, s.tau, -1.0 if self.printed_sign else 1.0)
        gam = self._relax()
        if gam != 1.0:
            # over-relaxed proximal point step (BAL is a PPA in a fixed metric, so any factor in
            # (0, 2) keeps its convergence; 1.5 halves the iterations R-BAL needs before the
            # Newton polish certifies in the active regime)
            new = jax.tree_util.tree_map(lambda a, b: a + gam * (b - a), s.it, new)
        r, R1, R2 = K_.rbal_residuals(new, d)
        rp = jnp.sqrt(jnp.sum(r**2) + jnp.sum(jnp.abs(R1) ** 2) + jnp.sum(jnp.abs(R2) ** 2))
        du = jnp.sqrt(sum(jnp.sum(jnp.abs(a - b) ** 2) for a, b in zip(new[:3], s.it[:3])))
        ynorm = jnp.sqrt(jnp.sum(jnp.abs(new.Y) ** 2))
        # a floor at the rounding level of the SINR rows (spec §7.5) so float32 runs can stop
        rows = jnp.sqrt(jnp.sum((d.rho * K_._quad_stack(d.Ht, new.X)) ** 2))
        floor = 32 * jnp.finfo(rdt).eps * (rows + ynorm)
        sp = 1 + d.sigma2 * jnp.sqrt(jnp.asarray(k, rdt))
        sd = 1 + ynorm
        conv = (rp <= tol * sp + floor) & (du <= tol * sd + floor)
        return s._replace(it=new, rp=rp, du=du, converged=conv, t=s.t + 1)

    def _newton(self, problem, s: _State, decay: bool = True) -> _State:
        """One Newton attempt from the current R-BAL iterate (``newton_steps`` damped steps)."""
        d = s.data
        _, ntol = self._tols(s.tau.dtype)
        mu = -s.it.mu
        # users whose multiplier estimate is negligible are treated as inactive (the active-set KKT
        # system of kkt_residual stays nonsingular there); every other user as active
        guess = (mu <= self.mu_ratio * jnp.max(mu)) & self.inactive_newton
        # a failed attempt's active-set correction (below) is the next attempt's guess
        inactive0 = jnp.where(s.has_guess, s.guess, guess)

        z0 = K_.kkt_point_from_bal(s.it, d.Ht, d.rho, d.sigma2, d.P, d.c, inactive0)
        z0 = jnp.where(jnp.all(jnp.isfinite(z0)), z0, jnp.zeros_like(z0))
        z, fn = K_.kkt_newton_solve(
            z0, d.Ht, d.rho, d.sigma2, d.P, d.c, inactive0, self.newton_steps, self.jacobian_every
        )
        ok, _ = K_.kkt_certificate(z, d.Ht, d.rho, d.sigma2, d.P, d.c, inactive0)
        ok = ok & (fn <= ntol)
        # primal-dual active-set correction: a relaxed root that violates a dropped user's SINR row
        # re-activates that user, a negative multiplier drops one (the certificate never accepts
        # such a root); the multiplier-estimate guess resumes once the correction stops changing
        new = K_.kkt_active_set_update(z, d.Ht, d.rho, d.sigma2, d.P, d.c, inactive0) & self.inactive_newton
        changed = jnp.any(new != inactive0) & ~ok & (fn <= ntol)  # only a converged relaxed root informs
        active = (jnp.max(mu) > 0) & (self.inactive_newton | (jnp.min(mu) > self.mu_ratio * jnp.max(mu)))
        done = active & ~s.converged & ok
        # tau adapts after a failed attempt (spec §9.4, §9.6: no fixed tau suits both regimes). The
        # dimensionless multiplier nu_k = mu_k ||h~_k||^2 (P/N_t)^2 (~1 or more when user k's
        # constraint binds strongly, << 1 near the isotropic boundary) decides: every user strongly
        # active -> smaller steps are best; some user near the boundary -> larger steps are
        # (measured at N_t = 32: 850 -> 400 and 1,800 -> 450 iterations on the two slowest draws)
        nu = mu * jnp.sum(jnp.abs(d.Ht) ** 2, axis=0) * (d.P / problem.n_t) ** 2
        fail = active & ~s.converged & ~done & decay
        strong = jnp.min(nu) > self.weak_nu
        tau_min = (self.tau0_min * (d.P / problem.n_t) ** 3).astype(s.tau.dtype)
        tau_max = (self.tau0_max * (d.P / problem.n_t) ** 3).astype(s.tau.dtype)
        tau = jnp.where(
            fail,
            jnp.where(strong, jnp.maximum(s.tau * self.tau_decay, tau_min), jnp.minimum(s.tau * self.tau_grow, tau_max)),
            s.tau,
        )
        return s._replace(
            has_guess=changed, guess=new,
            z=jnp.where(done, z, s.z), inactive=jnp.where(done, inactive0, s.inactive), fnorm=jnp.where(done, fn, s.fnorm), n_newton=s.n_newton + active.astype(jnp.int32),
            converged=s.converged | done, phase=jnp.where(done, 1, s.phase).astype(jnp.int32), tau=tau,
        )

    def step(self, problem, state: _State) -> _State:
        if not self.polish:
            return self._bal(problem, state)
        # one step = a block of ``polish_every`` R-BAL iterations (frozen once converged or at the
        # iteration cap) and one Newton attempt; the Newton work is amortised over the block, which
        # matters under vmap (a batched cond would run both branches every iteration)
        cap = self.max_steps

        def body(i, s):
            return tree_where(s.converged | (s.t >= cap), s, self._bal(problem, s))

        state = jax.lax.fori_loop(0, self.polish_every, body, state)
        return self._newton(problem, state)

    def terminate(self, problem, state: _State):
        capped = state.t >= self.max_steps
        done = (state.mode != Branch.RBAL) | state.converged | capped
        status = jnp.where(state.mode == Branch.INFEASIBLE, Status.INFEASIBLE(), Status.SUCCESS())
        status = jnp.where((state.mode == Branch.RBAL) & ~state.converged & capped, Status.MAX_STEPS(), status)
        return done, status

    def postprocess(self, problem, state: _State, result, stats):
        d = state.data
        newton = (state.mode == Branch.RBAL) & (state.phase == 1)
        if self.polish:
            k = problem.k
            rdt = state.tau.dtype
            z_safe = jnp.concatenate(
                [K_.herm_to_real((d.P / problem.n_t) * jnp.eye(k, dtype=rdt)), jnp.ones((2 * k,), rdt)]
            )  # a benign point where the branch is not taken (no NaN leaks into gradients)
            _, Xn = K_.kkt_certificate(jnp.where(newton, state.z, z_safe), d.Ht, d.rho, d.sigma2, d.P, d.c, state.inactive)
            X = jnp.where(newton, Xn, state.it.X)
        else:
            X = state.it.X
        mu_kkt = jnp.where(newton, state.z[problem.k**2 : problem.k**2 + problem.k], -state.it.mu)
        mu_kkt = jnp.where(newton & state.inactive, 0.0, mu_kkt)
        it = state.it._replace(X=X, mu=-mu_kkt)
        Ut, _ = jnp.linalg.qr(problem.H)
        W, Waux = K_.recover_beams(Ut, d.Ht, X, d.P, d.c, aux=self.aux)
        R = jnp.sum(X, axis=0)
        obj = K_.reduced_objective(R, d.c, d.P)
        obj = jnp.where(state.mode == Branch.INFEASIBLE, jnp.asarray(jnp.inf, obj.dtype), obj)
        branch = jnp.where(newton, Branch.NEWTON, state.mode).astype(jnp.int32)
        stats = dict(stats)
        stats.update(
            branch=branch, mu=mu_kkt, p_low=state.p_low, primal_residual=state.rp, change=state.du,
            kkt_residual=state.fnorm, newton_attempts=state.n_newton, iterations=state.t, tau=state.tau,
            not_isotropic=state.not_iso, isotropic_steps=state.iso_steps, theta=(d.P - jnp.real(jnp.trace(R))) / d.c,
        )
        return Solution(value=CRBBeamformers(W, Waux, it), objective=obj, result=result, stats=stats)
