"""Beyond the paper: a first-order min-max solver for the robust problems (9) and (10).

Sensing-centric (9): ``min_{A A^H = I} phi(A)``, ``phi(A) = max_{||H - Hbar||_F <= theta} ||H sqrt(L) F A - S||^2``.
Joint (10): ``min_{X in TPC or PAPC} phi(X)``,
``phi(X) = max_{||H - Hbar||_F <= theta} rho ||H X - S||^2 + (1 - rho) ||X - X_s||^2``.

``phi`` is evaluated exactly by the TRS worst case; by Danskin's theorem its gradient is the gradient
of the inner cost at the (unique) maximiser ``H*`` held fixed (``stop_gradient`` on the worst case's
displacement ``H* - Hbar``, rescaled with ``theta``). The waveform is optimised by :class:`jaxisac.core.riemannian.RiemannianCG`
(maximising ``-phi``; its Armijo line search evaluates the true ``phi``, so ``phi`` never increases):

* sensing-centric: the semi-unitary ``A (N x L)`` is the first ``N`` rows of an ``L x L`` unitary ``V``
  on :class:`jaxisac.core.manifolds.UnitaryGroup`, started from Method 1's ``X*``;
* TPC: the sphere ``||X||_F^2 = L P_T`` (a one-row :class:`ComplexOblique` of the flattened ``X``);
* PAPC: the oblique manifold ``diag(X X^H) = (L P_T / N) 1``;

the joint variants start from the better (in certified worst-case cost ``phi``) of Method 3's ``X*``
and the nominal ``Xbar``, and return the better of that start and the RCG's final point, so their
certified cost is never above Method 3's or the nominal waveform's.

For the joint problems a Danskin gradient method stalls where the worst case is not unique (the
TRS hard case, which the min-max drives towards at large ``rho theta``); so the joint solver first
minimises the S-lemma dual form ``rho psi(X, lam) + (1 - rho) ||X - X_s||^2`` (jointly smooth in
``(X, lam)``, see :class:`_JointDualProblem`) in ``dual_rounds`` rounds that restart the multiplier at
its optimum, then polishes with the Danskin RCG. Measured on the paper's scenario (TPC,
``rho = 0.95, theta = 0.6``): certified worst-case cost 5.64 against 6.72 for ``Xbar`` and 23.0 for
Method 3; at ``rho = 0.75, theta = 0.16``: 9.018 (sandwich gap 0.23 %) against 9.194 and 9.323 (3.8 %).

Certificates (spec target 8): ``upper = phi(X)`` (an upper bound of OPT) and ``lower``, a lower bound
of the max-min value: sensing-centric ``f(H_w)`` at the worst case ``H_w`` of the returned waveform;
TPC ``max(g(H_w), max_k g(H_k))`` with ``g(H) = min_X rho ||H X - S||^2 + (1 - rho) ||X - X_s||^2``
(global closed form, so certified) and ``H_k`` a projected gradient ascent on ``g`` over the ball;
PAPC ``g(H_w)`` by the local RCG (not certified) and ``lower_relaxed``, the TPC value (the TPC sphere
contains the PAPC set: certified, looser). A large gap at large ``rho theta`` (about 2x at
``rho = 0.95, theta = 0.6``) is, as far as we can tell, a true min-max / max-min duality gap of the
non-convex non-concave problem, not a solver failure: random restarts end higher.

Differentiation: envelope / Danskin. The waveform is not differentiated (the inner solves run with
stop-gradient data); ``objective`` (the certified value at the returned waveform) carries the
derivative of ``phi(X*)`` with respect to the data at fixed ``X*`` through
:func:`jaxisac.robust.worst_case_value` (implicitly differentiable TRS worst case), forward and reverse
mode: the derivative of the min-max value wherever ``X*`` is a smooth local minimiser.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxisac.core.complex import ct
from jaxisac.core.manifolds.base import AbstractManifold
from jaxisac.core.manifolds.oblique import ComplexOblique
from jaxisac.core.manifolds.unitary import UnitaryGroup
from jaxisac.core.riemannian import AbstractManifoldProblem, RiemannianCG
from jaxisac.core.solution import Status
from jaxisac.core.solve import solve
from jaxisac.kernels import robust as _k

from .methods import JointProblem, Method1, Method3, SensingCentricProblem, _ClosedForm, _combine, _solve_quadratic
from .metrics import _mean_log2, _sinr
from .worst_case import worst_case_value

__all__ = ["MinMax"]


def _danskin_worst(X, S, Hbar, radius):
    """The TRS worst case of ``X`` with Danskin's derivative structure (see the module docstring)."""
    Hs, _, _ = _k.worst_case_trs(jax.lax.stop_gradient(X), jax.lax.stop_gradient(S), jax.lax.stop_gradient(Hbar),
                                 jax.lax.stop_gradient(radius))
    D = jax.lax.stop_gradient(Hs - Hbar)
    r0 = jax.lax.stop_gradient(radius)
    scale = jnp.where(r0 > 0, radius / jnp.where(r0 > 0, r0, 1.0), 1.0)
    return Hbar + scale.astype(D.dtype) * D


class _MinMaxProblem(AbstractManifoldProblem):
    Hbar: jax.Array
    S: jax.Array
    F: jax.Array
    radius: jax.Array
    V0: jax.Array
    manifold: UnitaryGroup

    def waveform(self, V):
        N = self.F.shape[0]
        L = self.S.shape[1]
        return jnp.sqrt(jnp.asarray(L, jnp.real(V).dtype)) * (self.F @ V[:N, :])

    def objective(self, V):
        X = self.waveform(V)
        Hs = _danskin_worst(X, self.S, self.Hbar, self.radius)
        return -jnp.sum(jnp.abs(Hs @ X - self.S) ** 2)

    def initial_point(self):
        return self.V0


class _JointMinMaxProblem(AbstractManifoldProblem):
    """``max -phi(X)``, ``X = scale * x``: TPC: ``x`` is ``X / sqrt(L P_T)`` flattened to one row on the unit sphere
    (so ``P_T`` may be traced data); PAPC: ``x = X`` on the oblique manifold, ``scale = 1``."""

    Hbar: jax.Array
    S: jax.Array
    X_s: jax.Array
    rho: jax.Array
    radius: jax.Array
    x0: jax.Array
    scale: jax.Array
    manifold: ComplexOblique

    def waveform(self, x):
        return self.scale * x.reshape(self.X_s.shape)

    def objective(self, x):
        X = self.waveform(x)
        Hs = _danskin_worst(X, self.S, self.Hbar, self.radius)
        return -(self.rho * jnp.sum(jnp.abs(Hs @ X - self.S) ** 2)
                 + (1 - self.rho) * jnp.sum(jnp.abs(X - self.X_s) ** 2))

    def initial_point(self):
        return self.x0


class _ObliqueTimesLine(AbstractManifold):
    """Product of a :class:`ComplexOblique` (the waveform) and the real line (the log-gap ``s`` of the
    trust-region multiplier); points and tangent vectors are pairs ``(x, s)``."""

    base: ComplexOblique

    def proj(self, x, g):
        return (self.base.proj(x[0], g[0]), jnp.real(g[1]).astype(jnp.real(x[1]).dtype))

    def retract(self, x, v):
        return (self.base.retract(x[0], v[0]), x[1] + v[1])

    def random_point(self, key, dtype=None):
        return (self.base.random_point(key, dtype), jnp.zeros((), jnp.float64 if dtype == jnp.complex128 else jnp.float32))

    def distance_to_manifold(self, x):
        return self.base.distance_to_manifold(x[0])


class _JointDualProblem(AbstractManifoldProblem):
    """The S-lemma (Lagrange) dual of the inner maximisation, jointly smooth in ``(X, lam)``:

    ``max_{||D||_F <= theta} ||(Hbar + D) X - S||^2 = min_{lam > q_max(X X^H)} lam theta^2 + ||E||^2
    + tr(B (lam I - X X^H)^{-1} B^H)`` (``E = Hbar X - S``, ``B = E X^H``; strong duality of the TRS).
    So ``phi(X) = min_lam psi(X, lam)`` and the min-max is the smooth minimisation of
    ``rho psi(X, lam) + (1 - rho) ||X - X_s||^2`` over ``(X, lam)``; ``lam = q_max(X X^H) + exp(s)``. Unlike
    Danskin's gradient on ``phi`` it does not stall where the worst case is non-unique (the TRS hard
    case), which is where the min-max drives large ``rho theta``."""

    Hbar: jax.Array
    S: jax.Array
    X_s: jax.Array
    rho: jax.Array
    radius: jax.Array
    x0: jax.Array
    s0: jax.Array
    scale: jax.Array
    manifold: _ObliqueTimesLine

    def waveform(self, x):
        return self.scale * x[0].reshape(self.X_s.shape)

    def objective(self, x):
        X = self.waveform(x)
        N = X.shape[0]
        Q = X @ ct(X)
        Q = 0.5 * (Q + ct(Q))
        lam = jnp.linalg.eigvalsh(Q)[-1] + jnp.exp(x[1])
        E = self.Hbar @ X - self.S
        B = E @ ct(X)
        C = jnp.linalg.cholesky(lam.astype(X.dtype) * jnp.eye(N, dtype=X.dtype) - Q)
        Y = jax.scipy.linalg.solve_triangular(C, ct(B), lower=True)
        psi = lam * self.radius**2 + jnp.sum(jnp.abs(E) ** 2) + jnp.sum(jnp.abs(Y) ** 2)
        return -(self.rho * psi + (1 - self.rho) * jnp.sum(jnp.abs(X - self.X_s) ** 2))

    def initial_point(self):
        return (self.x0, self.s0)


def _complete_unitary(A):
    """An L x L unitary whose first N rows are the semi-unitary ``A (N x L)``."""
    N, L = A.shape
    Q, _ = jnp.linalg.qr(ct(A), mode="complete")  # (L, L), first N columns span A^H
    return jnp.concatenate([A, ct(Q[:, N:])], axis=0)


def _stop_gradient(tree):
    return jax.tree_util.tree_map(lambda x: jax.lax.stop_gradient(x) if isinstance(x, jax.Array) else x, tree)


def _joint_phi(p: JointProblem, X):
    """``(phi(X), H_w(X), status)``: the certified worst-case joint cost of ``X``."""
    Hw, _, st = _k.worst_case_trs(X, p.S, p.H_nominal, p.radius)
    rho = p.rho_clipped
    val = rho * jnp.sum(jnp.abs(Hw @ X - p.S) ** 2) + (1 - rho) * jnp.sum(jnp.abs(X - p.X_s) ** 2)
    return val, Hw, st


def _tpc_g(p: JointProblem, H):
    """``g_TPC(H) = min_{||X||^2 = L P_T} rho ||H X - S||^2 + (1 - rho) ||X - X_s||^2`` and its minimiser."""
    rho = p.rho_clipped
    Q, G = _k.quadratic_sphere_terms(H, p.S, p.X_s, rho)
    X, _, _ = _k.tpc_quadratic(Q, G, p.S.shape[1] * p.power)
    return rho * jnp.sum(jnp.abs(H @ X - p.S) ** 2) + (1 - rho) * jnp.sum(jnp.abs(X - p.X_s) ** 2), X


def _maxmin_tpc(p: JointProblem, H0, steps: int):
    """Certified lower bound ``max_k g_TPC(H_k) <= max_H g_TPC(H) <= OPT`` (TPC; for PAPC a relaxation):
    projected gradient ascent on ``g_TPC`` over the ball from ``H0`` (envelope gradient
    ``2 rho (H X_H - S) X_H^H``, step ``1 / (2 rho L P_T)``), keeping the best iterate's value."""
    rho = p.rho_clipped
    radius = p.radius
    t = 1.0 / (2 * rho * p.S.shape[1] * p.power)

    def body(_, c):
        H, best = c
        g, X = _tpc_g(p, H)
        Hn = H + t.astype(H.dtype) * (2 * rho).astype(H.dtype) * ((H @ X - p.S) @ ct(X))
        D = Hn - p.H_nominal
        nd = jnp.linalg.norm(D)
        D = D * (radius / jnp.maximum(nd, jnp.maximum(radius, jnp.finfo(nd.dtype).tiny))).astype(D.dtype)
        return p.H_nominal + D, jnp.maximum(best, g)

    H, best = jax.lax.fori_loop(0, steps, body, (H0, jnp.asarray(-jnp.inf, jnp.real(H0).dtype)))
    return jnp.maximum(best, _tpc_g(p, H)[0])


_DEFAULT_RCG = RiemannianCG(max_steps=200, gtol=1e-6, rtol=1e-12, armijo=1e-4, max_doublings=4, max_halvings=30)


class MinMax(_ClosedForm):
    """First-order min-max solver (Danskin + Riemannian CG) for :class:`SensingCentricProblem` (9) and
    :class:`JointProblem` (10, TPC and PAPC); see the module docstring.

    Args:
        rcg: the :class:`RiemannianCG` configuration (default 200 steps, ``gtol`` 1e-6).
        start: :class:`Method1` configuration giving the sensing-centric initial waveform.
        joint_start: :class:`Method3` configuration giving the joint candidates (its ``X*`` and ``Xbar``).

    ``Solution.value = X``; ``objective`` = its certified worst-case cost ``phi(X)`` (an upper bound of
    OPT); ``stats``: ``lower``, ``upper`` (= objective), ``upper_method1`` (sensing-centric) or
    ``upper_method3`` and ``upper_nominal`` (joint: the certified costs of Method 3's ``X*`` and of
    ``Xbar``), ``lower_relaxed`` (PAPC), ``H_worst``, ``aasr_certified`` (``R_{H_w(X), X}``),
    ``aasr_robust`` (= ``aasr_certified``: here the worst case is the returned waveform's own),
    ``inner_steps``. ``init`` replaces the starting waveform.
    """

    max_steps: int = 0
    rcg: RiemannianCG = _DEFAULT_RCG
    start: Method1 = Method1()
    joint_start: Method3 = Method3()
    joint_form: str = eqx.field(static=True, default="dual")
    dual_rcg: RiemannianCG = RiemannianCG(max_steps=300, gtol=1e-7, rtol=1e-13, armijo=1e-4, max_doublings=4,
                                          max_halvings=40)
    dual_rounds: int = eqx.field(static=True, default=5)
    maxmin_steps: int = eqx.field(static=True, default=50)

    def __check_init__(self):
        if self.joint_form not in ("dual", "danskin"):
            raise ValueError(f"joint_form: expected 'dual' or 'danskin', got {self.joint_form!r}")

    def init(self, problem, init):
        if not isinstance(problem, (SensingCentricProblem, JointProblem)):
            raise ValueError("problem: MinMax solves a SensingCentricProblem or a JointProblem")
        # the inner solves are not differentiated (while loops): they run on stop-gradient data, and
        # postprocess re-evaluates the cost with the live data (envelope / Danskin derivative)
        frozen = _stop_gradient(problem)
        init = None if init is None else _stop_gradient(init)
        if isinstance(problem, SensingCentricProblem):
            return self._init_sc(frozen, init)
        return self._init_joint(frozen, init)

    def postprocess(self, problem, state, result, stats):
        sol = super().postprocess(problem, _stop_gradient(state), result, stats)
        X = sol.value
        wc = worst_case_value(X, problem.S, problem.H_nominal, problem.radius)
        if isinstance(problem, JointProblem):
            rho = problem.rho_clipped
            wc = rho * wc + (1 - rho) * jnp.sum(jnp.abs(X - problem.X_s) ** 2)
        # the certified value itself; only the derivative path goes through the live data at fixed X*
        return eqx.tree_at(lambda s_: s_.objective, sol, sol.objective + (wc - jax.lax.stop_gradient(wc)))

    def _init_sc(self, p, init):
        st = self.start.init(p, None)
        X1 = st["X"] if init is None else init
        L = p.S.shape[1]
        sqL = jnp.sqrt(jnp.asarray(L, jnp.real(X1).dtype))
        A1 = jax.scipy.linalg.solve_triangular(p.F, X1, lower=True) / sqL
        prob = _MinMaxProblem(Hbar=p.H_nominal, S=p.S, F=p.F, radius=p.radius, V0=_complete_unitary(A1),
                              manifold=UnitaryGroup(L, retraction="qr"))
        sol = solve(prob, self.rcg, throw=False)
        X = prob.waveform(sol.value)
        Hw, _, st_w = _k.worst_case_trs(X, p.S, p.H_nominal, p.radius)
        upper = jnp.sum(jnp.abs(Hw @ X - p.S) ** 2)
        Hw1, _, _ = _k.worst_case_trs(X1, p.S, p.H_nominal, p.radius)
        cert = _mean_log2(_sinr(Hw, X, p.S, p.noise_var))
        stats = {
            "lower": _k.f_value(Hw, p.S, p.R),
            "upper": upper,
            "upper_method1": jnp.sum(jnp.abs(Hw1 @ X1 - p.S) ** 2),
            "H_worst": Hw,
            "aasr_certified": cert,
            "aasr_robust": cert,
            "inner_steps": sol.stats["steps"],
        }
        status = _combine(st["status"], st_w, jnp.where(sol.result == int(Status.MAX_STEPS), Status.SUCCESS(), sol.result))
        return {"X": X, "objective": upper, "status": status, "stats": stats}

    def _init_joint(self, p, init):
        st = self.joint_start.init(p, None)
        X3, Xbar = st["X"], st["stats"]["X_nominal"]
        phi3, _, _ = _joint_phi(p, X3)
        phib, _, _ = _joint_phi(p, Xbar)
        if init is None:
            X0 = jnp.where(phi3 <= phib, X3, Xbar)
            phi0 = jnp.minimum(phi3, phib)
        else:
            X0 = init
            phi0, _, _ = _joint_phi(p, X0)
        N, L = Xbar.shape
        if p.constraint == "tpc":
            man = ComplexOblique((1, N * L), radius=1.0, axis="rows")
            # P_T may be traced data: optimise on the unit sphere and scale
            scale = jnp.sqrt(L * p.power).astype(Xbar.dtype)
            to_x = lambda X: man.normalize((X / scale).reshape(1, N * L))
        else:
            man = ComplexOblique((N, L), radius=math.sqrt(L * p.power_value / N), axis="rows")
            scale = jnp.ones((), Xbar.dtype)
            to_x = man.normalize
        data = dict(Hbar=p.H_nominal, S=p.S, X_s=p.X_s, rho=p.rho_clipped, radius=p.radius, scale=scale)
        steps = jnp.asarray(0, jnp.int32)
        status_d = Status.SUCCESS()
        if self.joint_form == "dual":
            # rounds of the smooth dual solve; each round restarts the multiplier at its optimum
            # lam*(X) (the TRS multiplier), where psi(X, lam*) = phi(X), and keeps the best X
            def round_(_, carry):
                Xc, phic, nsteps, stat = carry
                _, lam0, _ = _k.worst_case_trs(Xc, p.S, p.H_nominal, p.radius)
                qmax0 = jnp.linalg.eigvalsh(Xc @ ct(Xc))[-1]
                s0 = jnp.log(jnp.maximum(lam0 - qmax0, 1e-6 * qmax0 + jnp.finfo(qmax0.dtype).tiny))
                dprob = _JointDualProblem(x0=to_x(Xc), s0=s0, manifold=_ObliqueTimesLine(man), **data)
                dsol = solve(dprob, self.dual_rcg, throw=False)
                Xd = dprob.waveform(dsol.value)
                phid, _, _ = _joint_phi(p, Xd)
                better = phid < phic
                st_r = jnp.where(dsol.result == int(Status.MAX_STEPS), Status.SUCCESS(), dsol.result)
                return (jnp.where(better, Xd, Xc), jnp.where(better, phid, phic), nsteps + dsol.stats["steps"],
                        _combine(stat, st_r))

            X0, phi0, steps, status_d = jax.lax.fori_loop(
                0, self.dual_rounds, round_, (X0, phi0, jnp.asarray(0, jnp.int32), Status.SUCCESS()))
        prob = _JointMinMaxProblem(x0=to_x(X0), manifold=man, **data)
        sol = solve(prob, self.rcg, throw=False)
        Xr = prob.waveform(sol.value)
        phir, _, _ = _joint_phi(p, Xr)
        X = jnp.where(phir <= phi0, Xr, X0)  # monotone by the line searches; this guards round-off
        upper, Hw, st_w = _joint_phi(p, X)
        rho = p.rho_clipped
        Xl, _, _ = _solve_quadratic(p, Hw, rho, 1 - rho, rho * p.S, (1 - rho) * p.X_s, X, self.joint_start.papc_solver)
        lower = rho * jnp.sum(jnp.abs(Hw @ Xl - p.S) ** 2) + (1 - rho) * jnp.sum(jnp.abs(Xl - p.X_s) ** 2)
        cert = _mean_log2(_sinr(Hw, X, p.S, p.noise_var))
        stats = {
            "lower": lower,
            "upper": upper,
            "upper_method3": phi3,
            "upper_nominal": phib,
            "H_worst": Hw,
            "X_nominal": Xbar,
            "aasr_certified": cert,
            "aasr_robust": cert,
            "aasr_nominal": st["stats"]["aasr_nominal"],
            "inner_steps": steps + sol.stats["steps"],
        }
        lower_tpc = _maxmin_tpc(p, Hw, self.maxmin_steps)
        if p.constraint == "papc":
            stats["lower_relaxed"] = lower_tpc
        else:
            stats["lower"] = jnp.maximum(lower, lower_tpc)
        rcg_status = jnp.where(sol.result == int(Status.MAX_STEPS), Status.SUCCESS(), sol.result)
        status = _combine(st["status"], st_w, status_d, rcg_status)
        return {"X": X, "objective": upper, "status": status, "stats": stats}

