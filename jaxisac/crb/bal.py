"""Full-dimensional BAL on (2) (the paper's "BAL" baseline; spec §3.5): N_t x N_t blocks."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..core.solution import Solution, Status
from ..core.solve import AbstractSolver
from ..kernels import crb as K_
from .rbal import CRBBeamformers, _default_tol

__all__ = ["BAL"]


class _BALState(NamedTuple):
    data: K_.BALData
    it: K_.BALIterate
    tau: jax.Array
    infeasible: jax.Array
    p_low: jax.Array
    rp: jax.Array
    du: jax.Array
    converged: jax.Array


class BAL(AbstractSolver):
    """Balanced augmented Lagrangian on the full SDR (2) with SINR equalities (reference baseline).

    Variables W_1..W_{K+1}, Y in H^{N_t}; per-iteration cost O(K N_t^3) (K+2 ``eigh`` of size N_t).
    Same step rule (tau = tau0 (P_T/N_t)^3), stopping rule and feasibility pre-test as :class:`RBAL`;
    no closed-form branches (the full-dimensional equality form attains the optimum of (2) in every
    case, Thm 4(b)). ``reduced`` in the returned value is ``None``. Differentiation: unrolled only.
    """

    tau0: float = 0.1
    tol: float | None = None
    delta: float = 1e-4
    max_steps: int = 20000

    def init(self, problem, init):
        rdt = problem.power.dtype
        cdt = problem.channels.dtype
        k, n_t = problem.k, problem.n_t
        rho = 1 + 1 / problem.sinr_targets
        data = K_.bal_preprocess(problem.H, rho, problem.noise_var, problem.power, self.delta)
        Ht = jnp.linalg.qr(problem.H)[1]
        feas_tol = 1e-13 if jnp.finfo(rdt).bits == 64 else 1e-6
        p_low, infeasible, _ = K_.feasibility_fixed_point(Ht, rho, problem.noise_var, problem.power, feas_tol, 20000)
        eye = jnp.eye(n_t, dtype=cdt)
        if init is None:
            it = K_.BALIterate(
                jnp.zeros((k + 1, n_t, n_t), cdt), (problem.power / n_t).astype(cdt) * eye, jnp.zeros((k,), rdt),
                jnp.zeros((n_t, n_t), cdt),
            )
        else:
            it = K_.BALIterate(*init)
        tau = (self.tau0 * (problem.power / n_t) ** 3).astype(rdt)
        inf = jnp.asarray(jnp.finfo(rdt).max, rdt)
        return _BALState(data, it, tau, infeasible, p_low, inf, inf, jnp.asarray(False))

    def step(self, problem, s):
        d = s.data
        rdt = s.tau.dtype
        tol = _default_tol(rdt) if self.tol is None else self.tol
        new = K_.bal_step(s.it, d, s.tau)
        r, R1 = K_.bal_residuals(new, d)
        rp = jnp.sqrt(jnp.sum(r**2) + jnp.sum(jnp.abs(R1) ** 2))
        du = jnp.sqrt(sum(jnp.sum(jnp.abs(a - b) ** 2) for a, b in zip(new[:2], s.it[:2])))
        ynorm = jnp.sqrt(jnp.sum(jnp.abs(new.Y) ** 2))
        floor = 32 * jnp.finfo(rdt).eps * (jnp.sqrt(jnp.sum((d.rho * (r + d.sigma2)) ** 2)) + ynorm)
        sp = 1 + d.sigma2 * jnp.sqrt(jnp.asarray(problem.k, rdt))
        conv = (rp <= tol * sp + floor) & (du <= tol * (1 + ynorm) + floor)
        return s._replace(it=new, rp=rp, du=du, converged=conv)

    def terminate(self, problem, s):
        status = jnp.where(s.infeasible, Status.INFEASIBLE(), Status.SUCCESS())
        return s.infeasible | s.converged, status

    def postprocess(self, problem, s, result, stats):
        d = s.data
        Wk = s.it.W[:-1]
        q = jnp.real(jnp.einsum("ik,kij,jk->k", jnp.conj(d.H), Wk, d.H))
        W = jnp.einsum("kij,jk->ik", Wk, d.H) / jnp.sqrt(jnp.maximum(q, jnp.finfo(q.dtype).tiny)).astype(Wk.dtype)[None, :]
        R = 0.5 * (jnp.sum(s.it.W, axis=0) + jnp.conj(jnp.sum(s.it.W, axis=0)).T)
        S = R - W @ jnp.conj(W).T
        lam, V = jnp.linalg.eigh(0.5 * (S + jnp.conj(S).T))
        Waux = (V * jnp.sqrt(jnp.maximum(lam, 0)).astype(V.dtype)[None, :]) @ jnp.conj(V).T
        obj = jnp.real(jnp.trace(jnp.linalg.solve(R, jnp.eye(R.shape[0], dtype=R.dtype))))
        obj = jnp.where(s.infeasible, jnp.asarray(jnp.inf, obj.dtype), obj)
        stats = dict(stats)
        stats.update(mu=-s.it.mu, p_low=s.p_low, primal_residual=s.rp, change=s.du)
        return Solution(value=CRBBeamformers(W, Waux, None), objective=obj, result=result, stats=stats)
