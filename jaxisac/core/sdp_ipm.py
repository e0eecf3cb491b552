"""Interior-point algorithm of the library's one batched SDP solver.

:class:`IPMSDP` solves the same :class:`~jaxisac.core.sdp.SDP` (Hermitian PSD blocks, an orthant
slack, second-order cones) as :class:`~jaxisac.core.sdp.ADMMSDP` and returns the same
:class:`~jaxisac.core.sdp.SDPValue` through :func:`~jaxisac.core.sdp.solve_sdp`, so every problem
builder, the envelope gradients (:func:`~jaxisac.core.sdp.optimal_value`,
:func:`~jaxisac.core.sdp.envelope_term`) and the stopping rule are shared. Choose by problem:

* ``IPMSDP``: a Mehrotra predictor-corrector primal-dual path-following method (HKM directions on the
  PSD blocks, Nesterov-Todd scaling on the cones; ``jaxisac.kernels.sdp_ipm``). 15-40 iterations to
  1e-8 whatever the conditioning, each one ``m x m`` Cholesky of the Schur complement plus
  ``O(m n_j^3 + m^2 n_j^2)`` per block. Best when ``m`` is small to moderate (tens to a few hundred
  rows) and high accuracy matters (solutions that feed exact feasibility tests, optimal values whose
  envelope derivative is used).
* ``ADMMSDP``: first-order; each iteration costs one ``eigh`` per block and matrix-vector products,
  but it needs hundreds to thousands of iterations for 1e-6. It warm-starts well and scales to many
  constraints.

Stopping: the same relative primal residual, dual residual and gap of the equilibrated problem as
``ADMMSDP`` (module docstring of :mod:`jaxisac.core.sdp`), all ``<= tol``. Near the optimum of a
degenerate instance the Schur complement can become too ill-conditioned for ``tol``: the residuals
then grow again and the iterates may overflow. The solver therefore keeps the best iterate (smallest
largest residual) and stops when it has not improved for ``patience`` iterations or a step turns
non-finite; it returns that best point, with ``Status.MAX_STEPS`` when it is not within ``tol``.

Infeasibility (``Status.INFEASIBLE``, ``stats["certificate"]``): an infeasible-start path-following
method diverges on infeasible instances along a Farkas direction. After each iteration the current
``y`` is tested as a certificate of primal infeasibility (``b^T y > 0`` and
``||M^T y + z|| <= infeas_tol * b^T y``, ``z`` in ``K``: certificate 1) and the current ``x`` as one of
dual infeasibility (``<c, x> < 0`` and ``||M x|| <= infeas_tol * (-<c, x>)``: certificate 2).

Warm starts: ``init`` is accepted for the common interface but not used: an interior-point method
restarts from its own well-centred point (a near-optimal point is on the boundary of the cone, where
path-following makes no progress).

Differentiation: not through the iterations; use :func:`~jaxisac.core.sdp.optimal_value` (envelope
theorem), which works with either algorithm.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from ..kernels import sdp as _k
from ..kernels import sdp_ipm as _ki
from .sdp import SDP, SDPValue, _scaled, _unscaled_solution
from .solution import Solution, Status
from .solve import AbstractSolver
from .validation import is_concrete

__all__ = ["IPMSDP"]


class _IPMState(eqx.Module):
    # The iterate, the residual vectors and the best point are each one packed vector: the solve
    # loop tests every changed leaf for finiteness and selects every leaf under vmap, one small XLA
    # operation each, and at the library's sizes those operations cost more than the arithmetic.
    v: jax.Array  # (x, z, y): primal point and dual slack (interior of K, vectorised, equilibrated), y
    res: jax.Array  # (3,) primal residual, dual residual, gap (equilibrated, relative)
    cert: jax.Array  # int32: 0 none, 1 primal infeasible, 2 dual infeasible
    iterations: jax.Array
    steps: jax.Array  # (2,) the last primal and dual step lengths
    best: jax.Array  # (x, z, y, res) of the iterate with the smallest largest residual so far
    stall: jax.Array  # int32: iterations since `best` last improved (large after a non-finite step)
    sc: Any = None  # the equilibrated data (_Scaled), computed once per solve
    rows: tuple = ()  # its constraint rows grouped for the iteration (kernels.sdp_ipm.prepare_rows), likewise
    resid: jax.Array = None  # (b - M x, c - M^T y - z) of v: for `res`, the certificates and the next iteration


def _split_point(v, N: int):
    """``(x, z, y)`` of a packed point ``v`` (``2 N + m``)."""
    return v[:N], v[N:2 * N], v[2 * N:]


class IPMSDP(AbstractSolver):
    """Primal-dual interior-point method for :class:`~jaxisac.core.sdp.SDP`, batched with ``vmap``.

    Attributes:
        tol: stopping tolerance on the relative primal/dual residuals and gap (see the module docs);
            ``None``: 1e-8 in float64, 1e-4 in float32 (the Schur complement's condition number grows
            like ``1/mu^2``, so float32 cannot go much further).
        max_steps: cap on iterations (one predictor-corrector step each).
        step_fraction: fraction of the distance to the cone boundary taken per step.
        infeas_tol: tolerance of the infeasibility certificates; ``0`` disables them.
        scale: equilibrate the rows of the constraint map and the sizes of ``b`` and ``C`` (as
            ``ADMMSDP``).
        embed_above: complex blocks with ``n_j > embed_above`` take their step-length eigenvalues
            through the real ``2n x 2n`` embedding. The eigenvalues come from LAPACK without
            eigenvectors on CPU (``jaxisac.kernels.sdp_ipm.eigvalsh``), where the complex call is
            2.5x cheaper than the embedding at ``n = 17`` but slower at ``n = 32`` (2 CPU cores).
        reg: relative diagonal regularisation of the Schur complement (redundant constraints);
            where its Cholesky factorisation still fails (below float32 resolution) the kernel
            refactorises with ``100 eps``.
        patience: stop after this many iterations without a smaller largest residual (see the
            module docs); the best iterate is returned.
        low_rank: static. ``None`` (default): dense Schur complement, ``O(m n_j^3 + m^2 n_j^2)``
            per PSD block. An integer ``k``: the constraint rows of every PSD block are of rank one
            (``+-a a^H``, e.g. power measurements ``v v^H``) except at most ``k`` of them; the
            Schur complement then costs ``O(m n_j^2 + m^2 n_j + k (n_j^3 + m n_j^2))``. A wrong hint
            costs iterations, never accuracy (residuals always use the exact data).
    """

    tol: float | None = None
    max_steps: int = 100
    step_fraction: float = 0.98
    infeas_tol: float = 1e-9
    scale: bool = eqx.field(default=True, static=True)
    embed_above: int = eqx.field(default=24, static=True)
    reg: float = 1e-13
    patience: int = 5
    low_rank: int | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        if self.tol is not None and is_concrete(self.tol) and not float(self.tol) > 0:
            raise ValueError(f"tol: expected a positive number, got {self.tol}")
        if is_concrete(self.step_fraction) and not 0.0 < float(self.step_fraction) < 1.0:
            raise ValueError(f"step_fraction: expected a value in (0, 1), got {self.step_fraction}")
        if self.low_rank is not None and (not isinstance(self.low_rank, int) or self.low_rank < 0):
            raise ValueError(f"low_rank: expected None or a non-negative integer, got {self.low_rank!r}")
        if is_concrete(self.patience) and not int(self.patience) >= 1:
            raise ValueError(f"patience: expected a positive integer, got {self.patience}")
        for name in ("infeas_tol", "reg"):
            v = getattr(self, name)
            if is_concrete(v) and not float(v) >= 0:
                raise ValueError(f"{name}: expected a non-negative number, got {v}")

    def _certificate(self, sc, x, y, rp, rd, cert):
        """Certificates from the residual vectors: ``M^T y + z = c - rd`` and ``M x = b - rp`` (no
        further products with ``M``)."""
        if not self.infeas_tol:
            return cert
        t = jnp.dot(sc.b, y)
        primal_inf = (t > 0) & (jnp.linalg.norm(sc.c - rd) <= self.infeas_tol * t)
        t2 = -jnp.dot(sc.c, x)
        dual_inf = (t2 > 0) & (jnp.linalg.norm(sc.b - rp) <= self.infeas_tol * t2)
        new = jnp.where(primal_inf, 1, jnp.where(dual_inf, 2, 0))
        return jnp.where(cert > 0, cert, new).astype(jnp.int32)

    def init(self, problem: SDP, init: SDPValue | None) -> _IPMState:
        del init  # see the module docstring: interior-point methods start from their own point
        layout = problem.layout
        sc = _scaled(problem, self.scale)
        A, G, Q = _ki.split_rows(sc.M, layout)
        x, z = _ki.initial_point(A, G, Q, sc.b, sc.c, layout)
        rows = _ki.prepare_rows(A, G, Q, layout, self.low_rank)
        y = jnp.zeros_like(sc.b)
        rp, rd = _ki.residual_vectors(sc.M, sc.b, sc.c, x, z, y)
        res = jnp.stack(_k.residual_norms(sc.b, sc.c, x, y, rp, rd))
        zero = jnp.zeros((), sc.b.dtype)
        v = jnp.concatenate([x, z, y])
        return _IPMState(v=v, res=res, cert=jnp.zeros((), jnp.int32),
                         iterations=jnp.zeros((), jnp.int32), steps=jnp.stack([zero, zero]),
                         best=jnp.concatenate([v, res]), stall=jnp.zeros((), jnp.int32), sc=sc, rows=rows,
                         resid=jnp.concatenate([rp, rd]))

    def step(self, problem: SDP, state: _IPMState) -> _IPMState:
        layout = problem.layout
        sc = state.sc
        m, N = sc.M.shape
        x, z, y = _split_point(state.v, N)
        x, z, y, ap, ad = _ki.ipm_iteration(
            sc.M, sc.b, sc.c, x, z, y, layout, self.step_fraction, self.embed_above, self.reg,
            self.low_rank, rows=state.rows, resid=(state.resid[:m], state.resid[m:]),
        )
        rp, rd = _ki.residual_vectors(sc.M, sc.b, sc.c, x, z, y)
        res = jnp.stack(_k.residual_norms(sc.b, sc.c, x, y, rp, rd))
        v = jnp.concatenate([x, z, y])
        # finite norms of rp and rd mean finite residual vectors
        finite = jnp.all(jnp.isfinite(res)) & jnp.all(jnp.isfinite(v))
        better = finite & (jnp.max(res) < jnp.max(state.best[-3:]))
        best = jnp.where(better, jnp.concatenate([v, res]), state.best)
        # a non-finite step ends the solve (see terminate); it keeps the last finite point
        stall = jnp.where(better, 0, jnp.where(finite, state.stall + 1, jnp.iinfo(jnp.int32).max // 2))
        v = jnp.where(finite, v, state.v)
        res = jnp.where(finite, res, state.res)
        resid = jnp.where(finite, jnp.concatenate([rp, rd]), state.resid)
        x, _, y = _split_point(v, N)
        cert = self._certificate(sc, x, y, resid[:m], resid[m:], state.cert)
        return _IPMState(v=v, res=res, cert=cert, iterations=state.iterations + 1,
                         steps=jnp.where(finite, jnp.stack([ap, ad]), 0.0), best=best,
                         stall=stall.astype(jnp.int32), sc=sc, rows=state.rows, resid=resid)

    def _tol(self, problem: SDP):
        if self.tol is not None:
            return self.tol
        return 1e-8 if problem.real_dtype == jnp.float64 else 1e-4

    def terminate(self, problem: SDP, state: _IPMState):
        infeasible = state.cert > 0
        converged = jnp.all(state.res <= self._tol(problem))
        stalled = state.stall >= self.patience
        status = jnp.where(infeasible, Status.INFEASIBLE(), jnp.where(converged, Status.SUCCESS(), Status.MAX_STEPS()))
        return infeasible | converged | stalled, status

    def postprocess(self, problem: SDP, state: _IPMState, result, stats) -> Solution:
        # the best iterate: the last one unless the solve stalled or hit max_steps after its best
        N = state.sc.M.shape[1]
        x, z, y = _split_point(state.best[:-3], N)
        res = state.best[-3:]
        value, objective, stats = _unscaled_solution(problem, state.sc, x, z, y, res,
                                                     state.iterations, state.cert, stats)
        stats.update(step_lengths=state.steps)
        return Solution(value=value, objective=objective, result=result, stats=stats)
