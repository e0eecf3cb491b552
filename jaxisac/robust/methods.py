"""Problems and solver configurations of seed 002, run by ``jaxisac.solve``.

Problems (data):

* :class:`SensingCentricProblem` -- robust sensing-centric design (9): ``min_X max_H ||H X - S||^2``
  s.t. ``X X^H = L R``, ``||H - Hbar||_F <= beta theta``.
* :class:`JointProblem` -- robust joint design (10): ``min_X max_H rho ||H X - S||^2 +
  (1 - rho) ||X - X_s||^2`` under TPC or PAPC (``constraint``, static).

Solvers (configurations; closed forms finish at step 0 of the solve loop):

* :class:`Nominal` -- the nominal design ``Xbar`` at ``Hbar`` (closed form (29), TPC closed form, or
  PAPC Riemannian CG).
* :class:`Method1` -- worst case of ``Xbar`` then the remedy (39) (exact closed form, or Prop. 8).
* :class:`Method2` -- worst case of ``Xbar`` then Prop. 9.
* :class:`Method3` -- worst case of ``Xbar`` then the joint solver on the stacked problem (52).

Every solution has ``value = X*`` (``(N, L)``) and ``objective = ||H* X* - S||^2`` (the paper's robust
characterisation cost; ``||Hbar Xbar - S||^2`` for :class:`Nominal`), and ``stats`` with
``H_star``, ``X_nominal``, ``aasr_robust`` (``R_{H*, X*}``), ``aasr_nominal`` (``R_{Hbar, Xbar}``) and,
when ``certify=True``, ``lower`` and ``upper``: the sandwich ``f(H*) <= OPT <= max_H ||H X* - S||^2``
(sensing-centric) or its joint analogue, ``aasr_certified`` (``R_{H_w(X*), X*}``, spec §6.8) and
``H_worst`` (the worst case of ``X*``).

Which AASR is conservative: ``aasr_robust`` is the paper's robust characterisation ``R_{H*, X*}`` with
``H*`` the worst case of the *nominal* ``Xbar`` (it reproduces the paper's robust lines, Figs. 7 and 9).
It is **not** a guaranteed bound for ``X*``: the worst case of ``X*`` itself can be much worse (on the
paper's scenario with TPC, ``rho = 0.95``, ``theta = 0.6``, Method 3's certified joint cost is 3.4x the
nominal waveform's, notebook 02). The conservative number is ``aasr_certified`` (``certify=True``):
the AASR at ``H_w(X*)``, the channel of the ball that maximises the total MUI of ``X*``, so every
``H0`` in the ball has ``||H0 X* - S||^2 <= ||H_w X* - S||^2``. (The AASR averages per-user log
rates, so this is a bound on the total MUI, not strictly on the AASR; spec target 10.) Where a design
with a certified worst case no worse than ``Xbar``'s is needed, use :class:`jaxisac.robust.MinMax`.

Differentiation: the waveform steps are not differentiated (non-unique minimisers); the worst-case
channel inside is implicitly differentiable (:func:`jaxisac.robust.worst_case`). For gradients of
robust costs with respect to the data use the value functions and Danskin (see :class:`MinMax`).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxisac.core.complex import ct
from jaxisac.core.riemannian import RiemannianCG
from jaxisac.core.solution import Solution, Status
from jaxisac.core.solve import AbstractSolver, solve
from jaxisac.core.validation import check_array, check_hermitian, check_positive, is_concrete
from jaxisac.kernels import robust as _k

from .joint import DEFAULT_PAPC_SOLVER, papc_problem
from .metrics import aasr as _aasr

__all__ = ["SensingCentricProblem", "JointProblem", "Nominal", "Method1", "Method2", "Method3", "RHO_CLIP"]

RHO_CLIP = (1e-3, 1 - 1e-3)


def _scalar(x, name, dtype, *, strict=False):
    v = check_positive(x, name, strict=strict, shape=())
    return jnp.asarray(v, dtype)


class SensingCentricProblem(eqx.Module):
    """Robust sensing-centric problem (9).

    Args:
        H_nominal: ``Hbar (K, N)``. S: symbols ``(K, L)``. R: covariance ``(N, N)`` Hermitian PD.
        theta: radius ``>= 0``. budget: ``beta in [0, 1]`` (radius ``beta theta``).
        noise_var: ``N0`` (W), for the AASR characterisations in ``stats``.

    ``F`` (lower Cholesky factor of R) is stored. Batch by stacking leaves (``jax.vmap``).
    """

    H_nominal: jax.Array
    S: jax.Array
    R: jax.Array
    F: jax.Array
    theta: jax.Array
    budget: jax.Array
    noise_var: jax.Array

    def __init__(self, H_nominal, S, R, theta=0.0, *, budget=1.0, noise_var=1.0, F=None):
        Hb = check_array(H_nominal, "H_nominal", ndim=2, kind="complex")
        K, N = Hb.shape
        S = check_array(S, "S", shape=(K, None), kind="complex")
        L = S.shape[1]
        if not K <= N <= L:
            raise ValueError(f"S/H_nominal: expected K <= N <= L, got K={K}, N={N}, L={L}")
        R = check_hermitian(check_array(R, "R", shape=(N, N), kind="complex"), "R", psd=True)
        dt = jnp.result_type(Hb.dtype, S.dtype, R.dtype)
        rd = jnp.finfo(dt).dtype
        self.H_nominal, self.S, self.R = Hb.astype(dt), S.astype(dt), R.astype(dt)
        F = jnp.linalg.cholesky(self.R) if F is None else check_array(F, "F", shape=(N, N), kind="complex").astype(dt)
        if is_concrete(F) and not bool(jnp.all(jnp.isfinite(F))):
            raise ValueError("R: expected a positive definite matrix (Cholesky failed)")
        self.F = F
        self.theta = _scalar(theta, "theta", rd)
        self.budget = _scalar(budget, "budget", rd)
        if is_concrete(self.budget) and float(self.budget) > 1:
            raise ValueError(f"budget: expected a value in [0, 1], got {float(self.budget)}")
        self.noise_var = _scalar(noise_var, "noise_var", rd, strict=True)

    @property
    def radius(self):
        return self.budget * self.theta


class JointProblem(eqx.Module):
    """Robust joint problem (10) under TPC (``constraint="tpc"``) or PAPC (``"papc"``).

    Args:
        H_nominal ``(K, N)``, S ``(K, L)``, X_s: reference sensing waveform ``(N, L)``,
        power: ``P_T`` (W; a Python float for PAPC, where it fixes the manifold), rho: weight in
        ``[0, 1]`` (clipped to ``RHO_CLIP`` by the solvers, as the reference code), theta, budget,
        noise_var as :class:`SensingCentricProblem`.
    """

    H_nominal: jax.Array
    S: jax.Array
    X_s: jax.Array
    power: jax.Array
    rho: jax.Array
    theta: jax.Array
    budget: jax.Array
    noise_var: jax.Array
    constraint: str = eqx.field(static=True)
    power_value: float = eqx.field(static=True)

    def __init__(self, H_nominal, S, X_s, power, rho, theta=0.0, *, budget=1.0, noise_var=1.0, constraint="tpc"):
        if constraint not in ("tpc", "papc"):
            raise ValueError(f"constraint: expected 'tpc' or 'papc', got {constraint!r}")
        Hb = check_array(H_nominal, "H_nominal", ndim=2, kind="complex")
        K, N = Hb.shape
        S = check_array(S, "S", shape=(K, None), kind="complex")
        L = S.shape[1]
        Xs = check_array(X_s, "X_s", shape=(N, L), kind="complex")
        dt = jnp.result_type(Hb.dtype, S.dtype, Xs.dtype)
        rd = jnp.finfo(dt).dtype
        self.H_nominal, self.S, self.X_s = Hb.astype(dt), S.astype(dt), Xs.astype(dt)
        self.power = _scalar(power, "power", rd, strict=True)
        r = check_array(rho, "rho", shape=(), kind="real")
        if is_concrete(r) and not 0 <= float(r) <= 1:
            raise ValueError(f"rho: expected a trade-off weight in [0, 1], got {float(r)}")
        self.rho = jnp.asarray(r, rd)
        self.theta = _scalar(theta, "theta", rd)
        self.budget = _scalar(budget, "budget", rd)
        self.noise_var = _scalar(noise_var, "noise_var", rd, strict=True)
        self.constraint = constraint
        if constraint == "papc" and isinstance(power, (int, float)):
            self.power_value = float(power)
        elif constraint == "papc":
            if not is_concrete(self.power):
                raise ValueError("power: PAPC needs a concrete power (it fixes the oblique manifold)")
            self.power_value = float(self.power)
        else:
            self.power_value = float("nan")

    @property
    def radius(self):
        return self.budget * self.theta

    @property
    def rho_clipped(self):
        return jnp.clip(self.rho, *RHO_CLIP)


# ----------------------------------------------------------------------------------------------


def _sqrtL(S):
    return jnp.sqrt(jnp.asarray(S.shape[1], jnp.finfo(S.dtype).dtype))


def _nominal_sc(p: SensingCentricProblem):
    return _k.sc_closed_form(p.H_nominal, p.S, p.F)


def _nominal_sc_A(p: SensingCentricProblem):
    """``(Xbar, Abar)`` with ``Xbar = sqrt(L) F Abar``, ``Abar Abar^H = I`` (closed form (29))."""
    K, N = p.H_nominal.shape
    if K < N:
        A = _k.remedy_semi_unitary(p.H_nominal, p.S, p.F)
        return _sqrtL(p.S) * (p.F @ A), A
    X = _nominal_sc(p)
    return X, jax.scipy.linalg.solve_triangular(p.F, X, lower=True) / _sqrtL(p.S)


def _sc_eig(p: SensingCentricProblem):
    """Eigendecomposition of ``X X^H = L F F^H`` shared by every waveform of the constraint set (the
    worst-case solves of Methods 1-2 reuse it; under ``vmap`` with a shared ``R`` it is computed once).

    Returns ``(eig, p')`` with ``p'`` the problem passed through a barrier with the eigenpairs, so the
    design computed from ``p'`` starts after this ``eigh``: two concurrent batched LAPACK calls can
    deadlock XLA's CPU thread pool (``jaxisac/_runtime.py``)."""
    q, V = jnp.linalg.eigh(p.F @ ct(p.F))
    # a real data dependency (a barrier only aliases buffers): the nominal design reads H_nominal + 0
    dep = jnp.where(jnp.isnan(q[0]), jnp.nan, 0.0).astype(p.H_nominal.dtype)
    p = eqx.tree_at(lambda s: s.H_nominal, p, p.H_nominal + dep)
    return (p.S.shape[1] * q, V), p


def _joint_terms_nominal(p: JointProblem):
    """``(H, c1, c2, SG, G0)`` of the nominal joint cost (``Q = c1 H^H H + c2 I``, ``G = H^H SG + G0``)."""
    rho = p.rho_clipped
    return p.H_nominal, rho, 1 - rho, rho * p.S, (1 - rho) * p.X_s


def _solve_quadratic(p: JointProblem, H, c1, c2, SG, G0, X_init, papc_solver):
    """Minimise ``tr(X^H Q X) - 2 Re tr(G^H X)`` with ``Q = c1 H^H H + c2 I``, ``G = H^H SG + G0``,
    under the problem's power constraint (TPC: :func:`~jaxisac.kernels.robust.tpc_lowrank`)."""
    if p.constraint == "tpc":
        X, _, status = _k.tpc_lowrank(H, c1, c2, SG, G0, p.S.shape[1] * p.power)
        return X, status, jnp.asarray(0, jnp.int32)
    dt = G0.dtype
    N = G0.shape[0]
    Q = c1.astype(dt) * (ct(H) @ H) + c2.astype(dt) * jnp.eye(N, dtype=dt)
    prob = papc_problem(Q, ct(H) @ SG + G0, p.power_value, X_init)
    sol = solve(prob, papc_solver, throw=False)
    return sol.value, sol.result, sol.stats["steps"]


def _nominal_joint(p: JointProblem, papc_solver):
    return _solve_quadratic(p, *_joint_terms_nominal(p), p.X_s, papc_solver)


def _combine(*codes):
    out = Status.SUCCESS()
    for c in codes:
        c = jnp.asarray(c, jnp.int32)
        out = jnp.where(out == int(Status.SUCCESS), c, out)
    return out


def _worst(X, p, method, eig=None):
    H, lam, status = _k.worst_case_trs(X, p.S, p.H_nominal, p.radius, eig=eig) if method == "trs" else (None, None, None)
    if method == "paper":
        H, steps, conv, _ = _k.worst_case_prop5(X, p.S, p.H_nominal, p.radius)
        status = jnp.where(conv, Status.SUCCESS(), Status.MAX_STEPS())
    return H, status


def _stats_common(p, X, Xbar, Hs, certify, joint, eig=None):
    n0 = p.noise_var
    stats = {
        "H_star": Hs,
        "X_nominal": Xbar,
        "aasr_robust": _aasr(Hs, X, p.S, n0),
        "aasr_nominal": _aasr(p.H_nominal, Xbar, p.S, n0),
    }
    if certify:
        Hw, _, _ = _k.worst_case_trs(X, p.S, p.H_nominal, p.radius, eig=eig)
        up = jnp.sum(jnp.abs(Hw @ X - p.S) ** 2)
        if joint:
            rho = p.rho_clipped
            extra = (1 - rho) * jnp.sum(jnp.abs(X - p.X_s) ** 2)
            stats["upper"] = rho * up + extra
        else:
            stats["upper"] = up
            stats["lower"] = _k.f_value(Hs, p.S, p.R)
        stats["H_worst"] = Hw
        stats["aasr_certified"] = _aasr(Hw, X, p.S, n0)
    return stats


class _ClosedForm(AbstractSolver):
    """Shared plumbing: ``init`` computes the whole design; ``terminate`` says done at step 0."""

    def step(self, problem, state):
        return state

    def terminate(self, problem, state):
        return jnp.asarray(True), state["status"]

    def postprocess(self, problem, state, result, stats):
        stats = dict(stats)
        stats.update(state["stats"])
        return Solution(value=state["X"], objective=state["objective"], result=result, stats=stats)


class Nominal(_ClosedForm):
    """Nominal design ``Xbar`` at ``Hbar`` (sensing-centric (29), TPC closed form or PAPC RCG).

    ``objective = ||Hbar Xbar - S||^2``; ``stats["aasr_nominal"]``. ``init`` (warm start) is used by
    PAPC as the initial point."""

    max_steps: int = 0
    papc_solver: RiemannianCG = DEFAULT_PAPC_SOLVER

    def init(self, problem, init):
        p = problem
        steps = jnp.asarray(0, jnp.int32)
        if isinstance(p, SensingCentricProblem):
            X = _nominal_sc(p)
            status = Status.SUCCESS()
        else:
            if p.constraint == "papc" and init is not None:
                X, status, steps = _solve_quadratic(p, *_joint_terms_nominal(p), init, self.papc_solver)
            else:
                X, status, steps = _nominal_joint(p, self.papc_solver)
        obj = jnp.sum(jnp.abs(p.H_nominal @ X - p.S) ** 2)
        stats = {"aasr_nominal": _aasr(p.H_nominal, X, p.S, p.noise_var), "inner_steps": steps}
        return {"X": X, "objective": obj, "status": status, "stats": stats}


class Method1(_ClosedForm):
    """Method 1 (sensing-centric): ``H* =`` worst case of ``Xbar``; ``X* =`` remedy (39).

    Args:
        remedy: ``"exact"`` (alpha -> infinity closed form, default) or ``"prop8"`` (paper's
            iteration with ``alpha``, ``tol``, ``prop8_steps``, ``projection``).
        worst_case: ``"trs"`` (exact, default) or ``"paper"`` (Prop. 5).
        certify: also compute the sandwich bounds (one more TRS).
    """

    max_steps: int = 0
    remedy: str = eqx.field(static=True, default="exact")
    worst_case: str = eqx.field(static=True, default="trs")
    alpha: float = 1e4
    tol: float = 1e-6
    prop8_steps: int = eqx.field(static=True, default=5000)
    projection: str = eqx.field(static=True, default="svals")
    certify: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        if self.remedy not in ("exact", "prop8"):
            raise ValueError(f"remedy: expected 'exact' or 'prop8', got {self.remedy!r}")
        if self.worst_case not in ("trs", "paper"):
            raise ValueError(f"worst_case: expected 'trs' or 'paper', got {self.worst_case!r}")

    def init(self, problem, init):
        p = problem
        if not isinstance(p, SensingCentricProblem):
            raise ValueError("problem: Method1 solves a SensingCentricProblem")
        eig, p = _sc_eig(p)
        Xbar, Abar = _nominal_sc_A(p)
        Hs, st = _worst(Xbar, p, self.worst_case, eig)
        K, N = p.H_nominal.shape
        if self.remedy == "exact" and K < N:
            A = _k.remedy_semi_unitary(Hs, p.S, p.F, Abar)  # Abar has orthonormal rows
        elif self.remedy == "exact":
            A = _k.remedy_exact(Hs, p.S, p.F, Abar)
        else:
            A, _, _ = _k.remedy_prop8(Hs, p.S, p.F, Abar, self.alpha, self.tol, self.prop8_steps, self.projection)
        X = _sqrtL(p.S) * (p.F @ A)
        obj = jnp.sum(jnp.abs(Hs @ X - p.S) ** 2)
        stats = _stats_common(p, X, Xbar, Hs, self.certify, False, eig)
        return {"X": X, "objective": obj, "status": _combine(st), "stats": stats}


class Method2(_ClosedForm):
    """Method 2 (sensing-centric): worst case of ``Xbar`` then Prop. 9 with ``alpha`` (default 1e4)."""

    max_steps: int = 0
    alpha: float = 1e4
    worst_case: str = eqx.field(static=True, default="trs")
    certify: bool = eqx.field(static=True, default=False)

    def init(self, problem, init):
        p = problem
        if not isinstance(p, SensingCentricProblem):
            raise ValueError("problem: Method2 solves a SensingCentricProblem")
        eig, p = _sc_eig(p)
        Xbar = _nominal_sc(p)
        Hs, st = _worst(Xbar, p, self.worst_case, eig)
        X = _k.method2_waveform(Hs, p.S, p.F, Xbar, self.alpha)
        obj = jnp.sum(jnp.abs(Hs @ X - p.S) ** 2)
        stats = _stats_common(p, X, Xbar, Hs, self.certify, False, eig)
        return {"X": X, "objective": obj, "status": _combine(st), "stats": stats}


class Method3(_ClosedForm):
    """Method 3 (joint): ``Xbar`` nominal joint design; ``H*`` worst case of ``Xbar`` for
    ``||H Xbar - S||^2`` (51); ``X*`` solves (52) ``min alpha[rho ||H* X - S||^2 + (1 - rho) ||X - X_s||^2]
    + ||X - Xbar||^2`` under the power constraint.

    Args:
        alpha: penalty (default ``None``: 100 for TPC, 10 for PAPC, as the reference code).
        papc_solver: the RCG configuration used for PAPC (nominal and robust step; the robust step
            is warm-started at ``Xbar``).
        worst_case, certify: as :class:`Method1`. ``init`` warm-starts the nominal PAPC design.
    """

    max_steps: int = 0
    alpha: float | None = None
    worst_case: str = eqx.field(static=True, default="trs")
    papc_solver: RiemannianCG = DEFAULT_PAPC_SOLVER
    certify: bool = eqx.field(static=True, default=False)

    def init(self, problem, init):
        p = problem
        if not isinstance(p, JointProblem):
            raise ValueError("problem: Method3 solves a JointProblem")
        alpha = self.alpha if self.alpha is not None else (100.0 if p.constraint == "tpc" else 10.0)
        if p.constraint == "papc" and init is not None:
            Xbar, st0, n0 = _solve_quadratic(p, *_joint_terms_nominal(p), init, self.papc_solver)
        else:
            Xbar, st0, n0 = _nominal_joint(p, self.papc_solver)
        Hs, st1 = _worst(Xbar, p, self.worst_case)
        rho = p.rho_clipped
        a = jnp.asarray(alpha, rho.dtype)
        # (52) / (alpha + 1): Q = [a rho H*^H H* + (a (1 - rho) + 1) I] / (a + 1)
        c1, c2 = (a * rho) / (a + 1), (a * (1 - rho) + 1) / (a + 1)
        SG = ((a * rho) / (a + 1)) * p.S
        G0 = (a * (1 - rho) * p.X_s + Xbar) / (a + 1)
        X, st2, n1 = _solve_quadratic(p, Hs, c1, c2, SG, G0, Xbar, self.papc_solver)
        obj = jnp.sum(jnp.abs(Hs @ X - p.S) ** 2)
        stats = _stats_common(p, X, Xbar, Hs, self.certify, True)
        if self.certify:
            stats["lower"] = _joint_lower(p, Hs, Xbar, self.papc_solver)
        stats["inner_steps"] = n0 + n1
        return {"X": X, "objective": obj, "status": _combine(st0, st1, st2), "stats": stats}


def _joint_lower(p: JointProblem, Hs, Xbar, papc_solver):
    """``g(H*) = min_X rho ||H* X - S||^2 + (1 - rho) ||X - X_s||^2`` (a lower bound of OPT(10))."""
    rho = p.rho_clipped
    X, _, _ = _solve_quadratic(p, Hs, rho, 1 - rho, rho * p.S, (1 - rho) * p.X_s, Xbar, papc_solver)
    return rho * jnp.sum(jnp.abs(Hs @ X - p.S) ** 2) + (1 - rho) * jnp.sum(jnp.abs(X - p.X_s) ** 2)
