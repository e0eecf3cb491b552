"""Beyond the paper: a first-order min-max solver for the robust sensing-centric problem (9).

``min_{A A^H = I} phi(A)``, ``phi(A) = max_{||H - Hbar||_F <= theta} ||H sqrt(L) F A - S||^2``. ``phi`` is
evaluated exactly by the TRS worst case; by Danskin's theorem its gradient is the gradient of
``||H* X - S||^2`` at the (unique) maximiser ``H*`` held fixed (``stop_gradient`` on the worst case).
The semi-unitary ``A (N x L)`` is parameterised as the first ``N`` rows of an ``L x L`` unitary ``V``
and optimised by :class:`jaxisac.core.riemannian.RiemannianCG` on
:class:`jaxisac.core.manifolds.UnitaryGroup` (maximising ``-phi``), started from Method 1's ``X*``.

The result is certified by the sandwich ``f(H_w(X)) <= OPT(9) <= phi(A)`` (spec target 8): ``lower``
is the value function at the worst case of the returned waveform, ``upper`` its worst-case cost.

Differentiation: envelope (``Solution.objective`` through the RCG's envelope adjoint); the
waveform is not differentiated.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxisac.core.complex import ct
from jaxisac.core.manifolds.unitary import UnitaryGroup
from jaxisac.core.riemannian import AbstractManifoldProblem, RiemannianCG
from jaxisac.core.solution import Solution, Status
from jaxisac.core.solve import solve
from jaxisac.kernels import robust as _k

from .methods import Method1, SensingCentricProblem, _ClosedForm, _combine
from .metrics import _mean_log2, _sinr

__all__ = ["MinMax"]


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
        Hs, _, _ = _k.worst_case_trs(jax.lax.stop_gradient(X), self.S, self.Hbar, self.radius)
        Hs = jax.lax.stop_gradient(Hs)
        return -jnp.sum(jnp.abs(Hs @ X - self.S) ** 2)

    def initial_point(self):
        return self.V0


def _complete_unitary(A):
    """An L x L unitary whose first N rows are the semi-unitary ``A (N x L)``."""
    N, L = A.shape
    Q, _ = jnp.linalg.qr(ct(A), mode="complete")  # (L, L), first N columns span A^H
    return jnp.concatenate([A, ct(Q[:, N:])], axis=0)


class MinMax(_ClosedForm):
    """First-order min-max solver (Danskin + Riemannian CG on the unitary group), sensing-centric.

    Args:
        rcg: the :class:`RiemannianCG` configuration (default 200 steps, ``gtol`` 1e-6).
        start: :class:`Method1` configuration giving the initial waveform.

    ``Solution.value = X``; ``objective`` = its worst-case cost ``max_H ||H X - S||^2`` (an upper bound of
    OPT(9)); ``stats``: ``lower`` (``f(H_w(X))``, a lower bound of OPT), ``upper`` (= objective),
    ``upper_method1`` (the starting point's worst-case cost), ``H_worst``, ``aasr_certified``, ``inner_steps``.
    """

    max_steps: int = 0
    rcg: RiemannianCG = RiemannianCG(max_steps=200, gtol=1e-6, rtol=1e-12, armijo=1e-4, max_doublings=4, max_halvings=30)
    start: Method1 = Method1()

    def init(self, problem, init):
        p = problem
        if not isinstance(p, SensingCentricProblem):
            raise ValueError("problem: MinMax solves a SensingCentricProblem")
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
        stats = {
            "lower": _k.f_value(Hw, p.S, p.R),
            "upper": upper,
            "upper_method1": jnp.sum(jnp.abs(Hw1 @ X1 - p.S) ** 2),
            "H_worst": Hw,
            "aasr_certified": _mean_log2(_sinr(Hw, X, p.S, p.noise_var)),
            "inner_steps": sol.stats["steps"],
        }
        status = _combine(st["status"], st_w, jnp.where(sol.result == int(Status.MAX_STEPS), Status.SUCCESS(), sol.result))
        return {"X": X, "objective": upper, "status": status, "stats": stats}
