"""Sensing-side helpers: the beampattern-covariance fit and the cyclic-algorithm waveform (spec §7).

* :func:`desired_beampattern` -- 1 within ``beamwidth/2`` of each target, ``floor`` elsewhere.
* :func:`mmse_covariance` -- ``min_{R >= 0, diag R = P_T/N, a} sum_phi w(phi) (a P_des(phi) -
  a(phi)^H R a(phi))^2`` (Stoica-Li-Xie beampattern matching with a free scale ``a``; the
  reference code weights by ``cos phi``). Solved as a Burer-Monteiro factorisation ``R = V V^H``
  with the rows of ``V`` on the complex oblique manifold (so ``diag R`` and ``R >= 0`` hold
  exactly) by :class:`jaxisac.core.riemannian.RiemannianCG`; the scale ``a`` is eliminated in
  closed form (variable projection). With ``V`` square (N x N) every local minimum of the
  factorised problem is global for this convex problem (Burer-Monteiro with full rank).
* :func:`cyclic_waveform` -- cyclic algorithm (Stoica-Li-Zhu) for ``X X^H / L ~ R`` with a
  peak-to-average power ratio bound per antenna: alternate the Procrustes step
  ``U = argmin ||X - sqrt(L) F U^H||`` and the nearest PAR-constrained rows, whose clipping level
  is a 1-D root (:func:`jaxisac.core.roots.bracketed_root`). The paper's Kronecker-expanded
  variant (range sidelobes, ``kron(R, I_P)``) is not implemented.

Angles in radians; powers in watts. Not differentiated (design-time helpers).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxisac.core.complex import ct
from jaxisac.core.manifolds.oblique import ComplexOblique
from jaxisac.core.riemannian import AbstractManifoldProblem, RiemannianCG
from jaxisac.core.roots import bracketed_root
from jaxisac.core.solve import solve
from jaxisac.core.validation import check_array, check_positive
from jaxisac.scenarios.arrays import ula_steering

__all__ = ["desired_beampattern", "mmse_covariance", "cyclic_waveform", "par"]


def desired_beampattern(angles: Any, targets: Any, beamwidth: float, *, floor: float = 0.01) -> jax.Array:
    """``P_des(phi)``: 1 where ``|phi - target| <= beamwidth / 2`` for some target, ``floor`` elsewhere."""
    angles = check_array(angles, "angles", kind="real")
    targets = check_array(targets, "targets", ndim=1, kind="real")
    check_positive(beamwidth, "beamwidth")
    inside = jnp.any(jnp.abs(angles[..., None] - targets) <= beamwidth / 2 + 1e-12, axis=-1)
    return jnp.where(inside, 1.0, floor).astype(angles.dtype)


class _CovFit(AbstractManifoldProblem):
    A: jax.Array  # (M, N) steering vectors
    P: jax.Array  # (M,) desired pattern
    w: jax.Array  # (M,) weights
    manifold: ComplexOblique

    def objective(self, V):
        g = jnp.sum(jnp.abs(jnp.conj(self.A) @ V) ** 2, axis=-1)  # a^H V V^H a
        a = jnp.sum(self.w * self.P * g) / jnp.sum(self.w * self.P**2)
        return -jnp.sum(self.w * (a * self.P - g) ** 2) / jnp.sum(self.w)

    def initial_point(self):
        n = self.A.shape[1]
        return jnp.eye(n, dtype=self.A.dtype)


def mmse_covariance(
    angles: Any, pattern: Any, n_antennas: int, power: float, *, weights: Any = None,
    solver: RiemannianCG | None = None, dtype: Any = jnp.complex128,
) -> jax.Array:
    """Beampattern-matching covariance ``R (N, N)`` with ``diag R = P_T / N`` (``R >= 0``).

    Args:
        angles: grid ``(M,)`` in radians. pattern: desired pattern ``(M,)`` (shape only; the scale is
            free). weights: ``(M,)`` (default ``cos(angles)``, as the reference code).
        power: ``P_T`` (W). solver: the RCG configuration (default 2000 steps, ``gtol`` 1e-10).
    """
    angles = check_array(angles, "angles", ndim=1, kind="real")
    pattern = check_array(pattern, "pattern", shape=angles.shape, kind="real")
    check_positive(power, "power")
    rd = jnp.finfo(dtype).dtype
    w = jnp.cos(angles) if weights is None else check_array(weights, "weights", shape=angles.shape, kind="real")
    A = ula_steering(n_antennas, angles.astype(rd), reference="centre", dtype=dtype)
    prob = _CovFit(A=A, P=pattern.astype(rd), w=jnp.maximum(w, 0).astype(rd),
                   manifold=ComplexOblique((n_antennas, n_antennas), radius=1.0))
    solver = RiemannianCG(max_steps=2000, gtol=1e-10, armijo=1e-4) if solver is None else solver
    sol = solve(prob, solver, throw=False)
    V = sol.value
    R = V @ ct(V)
    return (power / n_antennas) * 0.5 * (R + ct(R))


def par(X: Any) -> jax.Array:
    """Peak-to-average power ratio of every row of ``X``: ``max_l |x_nl|^2 / mean_l |x_nl|^2``, ``(N,)``."""
    X = check_array(X, "X", ndim=2, kind="complex")
    p = jnp.abs(X) ** 2
    return jnp.max(p, axis=1) / jnp.mean(p, axis=1)


def _par_project_row(z, p, eta):
    """Nearest ``x`` to ``z`` with ``||x||^2 = p`` and ``|x_l|^2 <= eta p / L``:
    ``x_l = min(c |z_l|, sqrt(eta p / L)) e^{j arg z_l}`` with the scale ``c`` from a 1-D root."""
    L = z.shape[0]
    rd = jnp.real(z).dtype
    cap = jnp.sqrt(eta * p / L)
    mag = jnp.abs(z)
    mag = jnp.where(jnp.all(mag == 0), jnp.ones_like(mag), mag)
    phase = jnp.exp(1j * jnp.angle(z)).astype(z.dtype)
    f = lambda c: jnp.sum(jnp.minimum(c * mag, cap) ** 2) - p
    hi = cap / jnp.min(jnp.where(mag > 0, mag, jnp.max(mag))) * 1.0001
    c = bracketed_root(f, jnp.asarray(0.0, rd), hi.astype(rd), method="secant").root
    return jnp.minimum(c * mag, cap).astype(z.dtype) * phase


def cyclic_waveform(
    key: jax.Array, R: Any, frame: int, *, par_max: float = 1.1, max_steps: int = 1000, tol: float = 1e-6,
) -> jax.Array:
    """Cyclic algorithm: ``X (N, L)`` with ``X X^H / L ~ R``, row powers ``L R_nn`` and PAR <= ``par_max``.

    Alternates ``U = polar(X^H sqrt(L) F)`` (``U`` L x N semi-unitary) and the row-wise PAR projection of
    ``sqrt(L) F U^H``; stops when ``||U - U_prev||_F < tol`` or after ``max_steps``. Key first (random start).
    """
    R = check_array(R, "R", ndim=2, kind="complex")
    if par_max < 1:
        raise ValueError(f"par_max: expected a PAR bound >= 1, got {par_max}")
    return _ca(key, R, int(frame), float(par_max), int(max_steps), float(tol))


@jax.jit
def _polar(M):
    P, _, Qh = jnp.linalg.svd(M, full_matrices=False)
    return P @ Qh


def _ca_impl(key, R, frame, par_max, max_steps, tol):
    N = R.shape[0]
    F = jnp.linalg.cholesky(R)
    sqL = math.sqrt(frame)
    p = frame * jnp.real(jnp.diagonal(R))
    Z = jax.random.normal(key, (frame, N), R.dtype)
    U0 = _polar(Z)
    proj = jax.vmap(_par_project_row, (0, 0, None))

    def body(c):
        U, _, k = c
        X = proj(sqL * F @ ct(U), p, par_max)
        Un = _polar(ct(X) @ (sqL * F))
        return Un, jnp.linalg.norm(Un - U), k + 1

    U, _, _ = jax.lax.while_loop(lambda c: (c[1] >= tol) & (c[2] < max_steps), body,
                                 (U0, jnp.asarray(jnp.inf, p.dtype), jnp.asarray(0)))
    return proj(sqL * F @ ct(U), p, par_max)


_ca = jax.jit(_ca_impl, static_argnums=(2, 3, 4, 5))
