"""Derivatives of the optimum: envelope theorem (value) and implicit function theorem (solution).

* :func:`optimal_crb` — CRB* = min tr(R^{-1}) as a function of (channels, sinr_targets, power,
  noise_var), with a custom JVP given by the envelope theorem (spec §7.6, T15):
  dCRB* = sum_k mu_k dsigma^2 - omega dP_T + sum_k mu_k h~_k^H X_k h~_k / Gamma_k^2 dGamma_k
          + sum_k 2 Re <dh_k, -mu_k U~ (rho_k X_k - R~) h~_k>.
  Valid on every branch where the multipliers are unique (on the isotropic / Thm 4 / Löwdin
  branches mu = 0 and omega = (N_t/P_T)^2, i.e. dCRB* = -(N_t/P_T)^2 dP_T).
* :func:`optimal_solution` — the optimum (R~, mu, p) as the root of the K^2 + 2K KKT system of spec
  §2.9, differentiated by :func:`jaxisac.core.implicit_solution` (forward and reverse mode); beams
  w_k = sqrt(p_k) U~ B~^{-1} h~_k and W_aux = sqrt(theta) (I - U~ U~^H). Where that system is
  singular (isotropic or degenerate optimum, a multiplier at zero: ``smooth = False``) the beams are
  not differentiable (not even unique) and their tangents are NaN by design; the CRB tangent is
  still the envelope one.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..core.implicit import implicit_solution
from ..core.solve import solve
from ..kernels import crb as K_
from .problem import ExtendedTargetCRB
from .rbal import RBAL, Branch

__all__ = ["optimal_crb", "optimal_solution", "OptimalSolution"]


def _problem(params, crb_scale):
    ch, g, p, s2 = params
    return ExtendedTargetCRB(ch, g, p, s2, crb_scale)


def _params(problem):
    return (problem.channels, problem.sinr_targets, problem.power, problem.noise_var)


@eqx.filter_jit
def _solve_jit(params, scale, solver):
    """One jitted solve returning only float arrays (objective, W, W_aux, X, mu, result, branch)."""
    sol = solve(_problem(params, scale), solver, throw=False)
    Waux = sol.value.W_aux if sol.value.W_aux is not None else jnp.zeros((0,), sol.value.W.dtype)
    rdt = sol.objective.dtype
    return (sol.objective, sol.value.W, Waux, sol.value.reduced, sol.stats["mu"],
            sol.result.astype(rdt), sol.stats["branch"].astype(rdt))


def optimal_crb(problem: ExtendedTargetCRB, solver: RBAL | None = None) -> jax.Array:
    """tr(R*^{-1}) (times ``problem.crb_scale``), differentiable in the problem data by the envelope
    theorem (exact, no differentiation of the solver). Infeasible instances give +inf."""
    solver = RBAL() if solver is None else solver
    scale = jax.lax.stop_gradient(problem.crb_scale)

    # `scale` is an explicit argument (not a closure): under an outer jit it is a tracer, which a
    # custom_jvp function must not close over. It carries no gradient (stop_gradient above).
    @jax.custom_jvp
    def value(params, scale):
        return scale * _solve_jit(params, scale, solver)[0]

    @value.defjvp
    def _jvp(primals, tangents):
        (params, scale), (dparams, _) = primals, tangents
        prob = _problem(params, scale)
        obj, _, _, red, mu, _, _ = _solve_jit(params, scale, solver)
        ch, g, P, s2 = params
        dch, dg, dP, ds2 = dparams
        X = red.X
        Ut, Ht = jnp.linalg.qr(prob.H)
        R = jnp.sum(X, axis=0)
        c = prob.n_t - prob.k
        omega = c**2 / (P - jnp.real(jnp.trace(R))) ** 2
        qX = jnp.real(jnp.einsum("ik,kij,jk->k", jnp.conj(Ht), X, Ht))
        rho = 1 + 1 / g
        M = rho.astype(X.dtype)[:, None, None] * X - R[None]
        gk = -mu.astype(X.dtype)[:, None] * jnp.einsum("ij,kjl,lk->ki", Ut, M, Ht)  # (K, N_t), row k
        dval = (
            jnp.sum(mu) * ds2 - omega * dP + jnp.sum(mu * qX / g**2 * dg) + 2 * jnp.sum(jnp.real(jnp.conj(dch) * gk))
        )
        return scale * obj, scale * dval

    return value(_params(problem), scale)


class OptimalSolution(eqx.Module):
    """Differentiable optimum: ``crb`` (), ``W`` (N_t, K), ``W_aux`` (N_t, N_t), ``mu`` (K,) KKT SINR
    multipliers, ``smooth`` (bool: the KKT system is regular and certified; otherwise the tangents of
    W, W_aux and mu are NaN), ``status`` (the solve's int32 status)."""

    crb: jax.Array
    W: jax.Array
    W_aux: jax.Array
    mu: jax.Array
    smooth: jax.Array
    status: jax.Array


@jax.custom_jvp
def _nan_tangent_unless(x, smooth):
    return x


@_nan_tangent_unless.defjvp
def _nan_tangent_unless_jvp(primals, tangents):
    x, smooth = primals
    dx, _ = tangents
    return x, jax.tree_util.tree_map(lambda t: jnp.where(smooth, t, jnp.nan), dx)


def _kkt_data(params):
    ch, g, P, s2 = params
    H = jnp.swapaxes(ch, -1, -2)
    Ut, Ht = jnp.linalg.qr(H)
    rho = 1 + 1 / g
    c = jnp.asarray(H.shape[0] - H.shape[1], P.dtype)
    return Ut, Ht, rho, s2, P, c


def optimal_solution(problem: ExtendedTargetCRB, solver: RBAL | None = None, newton_steps: int = 4) -> OptimalSolution:
    """Solve, then return the optimum with implicit-function-theorem derivatives (see module doc)."""
    solver = RBAL() if solver is None else solver
    params = _params(problem)
    k = problem.k
    scale = jax.lax.stop_gradient(problem.crb_scale)

    # the solution itself, with zero tangents; `scale` is an argument, not a closure (see optimal_crb)
    @jax.custom_jvp
    def primal_solve(prm, scale):
        return _solve_jit(prm, scale, solver)

    @primal_solve.defjvp
    def _primal_solve_jvp(primals, tangents):
        out = primal_solve(*primals)
        return out, jax.tree_util.tree_map(jnp.zeros_like, out)

    _, W0, Waux0, _, mu0, result0, branch0 = primal_solve(params, scale)

    def solve_fn(prm):
        Ut, Ht, rho, s2, P, c = _kkt_data(prm)
        red = _solve_jit(prm, scale, solver)[3]
        z = K_.kkt_point_from_bal(red, Ht, rho, s2, P, c)
        for _ in range(newton_steps):  # polish to machine precision (no-op when already a root)
            zn, _ = K_.kkt_newton_step(z, Ht, rho, s2, P, c)
            z = jnp.where(jnp.all(jnp.isfinite(zn)), zn, z)
        return z

    def residual(z, prm):
        _, Ht, rho, s2, P, c = _kkt_data(prm)
        return K_.kkt_residual(z, Ht, rho, s2, P, c)

    z = implicit_solution(solve_fn, residual)(params)
    Ut, Ht, rho, s2, P, c = _kkt_data(params)
    ok, _ = K_.kkt_certificate(jax.lax.stop_gradient(z), *jax.lax.stop_gradient((Ht, rho, s2, P, c)))
    fres = jnp.max(jnp.abs(K_.kkt_residual(jax.lax.stop_gradient(z), *jax.lax.stop_gradient((Ht, rho, s2, P, c)))))
    br = branch0
    smooth = ok & ((br == Branch.RBAL) | (br == Branch.NEWTON)) & (fres < 1e-6) & (result0 == 0)
    smooth = smooth & (jnp.min(mu0) > solver.mu_ratio * jnp.max(mu0))
    R, mu, p, B, V, _, _ = K_._kkt_parts(z, Ht, rho, s2, P, c)
    W = Ut @ (V * jnp.sqrt(jnp.maximum(p, 0)).astype(V.dtype)[None, :])
    theta = (P - jnp.real(jnp.trace(R))) / c
    n_t = Ut.shape[0]
    Waux = jnp.sqrt(theta).astype(V.dtype) * (jnp.eye(n_t, dtype=V.dtype) - Ut @ jnp.conj(Ut).T)
    W = jnp.where(smooth, W, W0)
    if Waux0.shape == Waux.shape:
        Waux = jnp.where(smooth, Waux, Waux0)
    mu = jnp.where(smooth, mu, mu0)
    W, Waux, mu = _nan_tangent_unless((W, Waux, mu), smooth)
    val = optimal_crb(problem, solver)
    del k
    return OptimalSolution(val, W, Waux, mu, smooth, result0.astype(jnp.int32))
