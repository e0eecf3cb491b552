"""Joint ISAC waveform steps: ``min rho ||H X - S||^2 + (1 - rho) ||X - X0||^2`` under TPC or PAPC.

* TPC ``||X||_F^2 = L P_T``: global closed form ``X = (Q + lam I)^{-1} G`` with the multiplier from
  the spherical secular equation (:func:`jaxisac.kernels.robust.tpc_lowrank`: ``Q = rho H^H H +
  (1 - rho) I`` is diagonalised through the K x K Gram of ``H``; bracketed root).
* PAPC ``diag(X X^H) = (L P_T / N) 1``: Riemannian conjugate gradient
  (:class:`jaxisac.core.riemannian.RiemannianCG`) on the complex oblique manifold
  (:class:`jaxisac.core.manifolds.oblique.ComplexOblique`) with the spec's corrections: real-part
  tangent projection, no rescaling of ``S``, deterministic initialisation (the row-normalised
  ``X0``, or a warm start).

Shapes: ``H (K, N)``, ``S (K, L)``, ``X0 (N, L)``; ``rho`` in ``(0, 1)``; power ``P_T`` in watts.

Differentiation: the TPC waveform is computed in closed form from a thin QR, a K x K ``eigh`` and a
root; it is differentiated through them (fine for distinct eigenvalues of ``H H^H``; the multiplier
through the root finder's implicit rule is not connected: use the value with the envelope theorem).
The PAPC solve uses the envelope adjoint of ``RiemannianCG``: ``Solution.objective`` is
differentiable with respect to the data, the waveform is not.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxisac.core.complex import ct
from jaxisac.core.manifolds.oblique import ComplexOblique
from jaxisac.core.riemannian import AbstractManifoldProblem, RiemannianCG
from jaxisac.core.solution import Solution
from jaxisac.core.solve import solve
from jaxisac.core.validation import check_array, check_positive, is_concrete
from jaxisac.kernels import robust as _k

__all__ = ["PAPCProblem", "papc_problem", "tpc_waveform", "papc_waveform", "joint_cost", "DEFAULT_PAPC_SOLVER"]

DEFAULT_PAPC_SOLVER = RiemannianCG(
    max_steps=500, gtol=1e-6, rtol=1e-12, init_step=1.0, armijo=0.01, max_doublings=2, max_halvings=20
)


def _check_joint(H, S, X0, power, rho):
    H = check_array(H, "H", ndim=2, kind="complex")
    S = check_array(S, "S", shape=(H.shape[0], None), kind="complex")
    X0 = check_array(X0, "X0", shape=(H.shape[1], S.shape[1]), kind="complex")
    P = check_positive(power, "power", shape=())
    r = check_array(rho, "rho", shape=(), kind="real")
    if is_concrete(r) and not 0 <= float(r) <= 1:
        raise ValueError(f"rho: expected a trade-off weight in [0, 1], got {float(r)}")
    dt = jnp.result_type(H.dtype, S.dtype, X0.dtype)
    rd = jnp.finfo(dt).dtype
    return H.astype(dt), S.astype(dt), X0.astype(dt), P.astype(rd), r.astype(rd)


def joint_cost(H: Any, X: Any, S: Any, X0: Any, rho: Any) -> jax.Array:
    """``rho ||H X - S||^2 + (1 - rho) ||X - X0||^2`` (real scalar)."""
    return rho * jnp.sum(jnp.abs(H @ X - S) ** 2) + (1 - rho) * jnp.sum(jnp.abs(X - X0) ** 2)


def tpc_waveform(H: Any, S: Any, X0: Any, power: Any, rho: Any) -> jax.Array:
    """Global TPC solution ([20] Algo 1): ``X (N, L)`` with ``||X||_F^2 = L P_T``."""
    H, S, X0, P, r = _check_joint(H, S, X0, power, rho)
    return _tpc_jit(H, S, X0, P, r)


@jax.jit
def _tpc_jit(H, S, X0, P, r):
    X, _, _ = _k.tpc_lowrank(H, r, 1 - r, r * S, (1 - r) * X0, S.shape[1] * P)
    return X


class PAPCProblem(AbstractManifoldProblem):
    """``min tr(X^H Q X) - 2 Re tr(G^H X)`` over ``diag(X X^H) = (L P_T / N) 1`` (a maximisation of the negative).

    Attributes: ``Q (N, N)`` Hermitian PSD, ``G (N, L)``, ``X_init (N, L)`` (normalised onto the manifold
    by :meth:`initial_point`), ``manifold`` (rows of norm ``sqrt(L P_T / N)``).
    """

    Q: jax.Array
    G: jax.Array
    X_init: jax.Array
    manifold: ComplexOblique

    def objective(self, X):
        return -(jnp.real(jnp.sum(jnp.conj(X) * (self.Q @ X))) - 2 * jnp.real(jnp.sum(jnp.conj(self.G) * X)))

    def initial_point(self):
        return self.manifold.normalize(self.X_init)


def papc_problem(Q: jax.Array, G: jax.Array, power: float | jax.Array, X_init: jax.Array) -> PAPCProblem:
    """Build a :class:`PAPCProblem` from the quadratic terms (no validation; internal helper).

    ``power`` must be a concrete number (it fixes the manifold's radius, a static field)."""
    N, L = G.shape
    radius = math.sqrt(L * float(power) / N)
    return PAPCProblem(Q=Q, G=G, X_init=X_init, manifold=ComplexOblique((N, L), radius=radius, axis="rows"))


def papc_waveform(
    H: Any, S: Any, X0: Any, power: float, rho: Any, *, solver: RiemannianCG = DEFAULT_PAPC_SOLVER, init: Any = None
) -> Solution:
    """PAPC design ([20] Algo 2, corrected): Riemannian CG on the oblique manifold.

    Args:
        power: ``P_T`` as a Python float (it sets the manifold radius, static).
        init: warm start ``(N, L)``; default the row-normalised ``X0``.

    Returns:
        the :class:`~jaxisac.core.Solution` of the solve (``value`` = X, ``objective`` = minus the
        quadratic part of the cost, ``stats`` with the gradient norm and steps). ``throw=False``.
    """
    H, S, X0, P, r = _check_joint(H, S, X0, power, rho)
    Q, G = _k.quadratic_sphere_terms(H, S, X0, r)
    prob = papc_problem(Q, G, float(power), X0)
    x0 = None if init is None else prob.manifold.normalize(check_array(init, "init", shape=X0.shape, kind="complex").astype(X0.dtype))
    return solve(prob, solver, init=x0, throw=False)
