"""Generic Riemannian solvers: gradient ascent and conjugate gradient on any :class:`AbstractManifold`.

A problem is an :class:`AbstractManifoldProblem`: an Equinox module with a ``manifold`` field and two
methods, ``objective(x)`` (the real scalar to MAXIMISE; minimise a cost by returning its negative)
and ``initial_point()``. The objective is written in plain JAX; its Euclidean ascent direction comes
from :func:`jaxisac.core.value_and_ascent_grad` (``conj(jax.grad)``) and the manifold turns it into
the Riemannian gradient (``egrad_to_rgrad``).

Example::

    class MaxPower(AbstractManifoldProblem):
        A: jax.Array
        manifold: ComplexCircle

        def objective(self, x):
            return jnp.sum(jnp.abs(self.A @ x) ** 2)

        def initial_point(self):
            return jnp.ones(self.A.shape[1], self.A.dtype)

    sol = jaxisac.solve(MaxPower(A, ComplexCircle(n)), RiemannianCG(gtol=1e-8))

Both solvers use one Armijo line search per iteration along the retraction curve of the search
direction (:func:`jaxisac.kernels.riemannian.armijo_search`):

* the sufficient-increase test uses the TRUE slope ``<grad f, d>`` of the direction ``d`` (not the
  BD-RIS paper's ``1/2 tr(D D^H)``, which makes the line search collapse along conjugate directions
  and stop 2.4 % short of the optimum, spec A2);
* the first trial step keeps the length of the previous accepted move (``init_step / ||d||`` at the
  first iteration, i.e. a move of ``init_step`` in the metric), then doubles or halves
  (``line_search="backtrack"``: twice that length, then only halves);
* a conjugate direction that is not an ascent direction, or along which the line search fails, is
  replaced by the steepest-ascent direction (restart); a failure along steepest ascent means no
  increase is numerically possible: the solver stops (``stats["stalled"]``). Steps that do not
  increase the objective are never accepted, so the objective sequence is monotone.

Stopping (``Status.SUCCESS``): ``||grad f|| <= max(atol, gtol * ||grad f(x0)||)`` (Riemannian norm),
or a relative objective change ``<= rtol`` (off by default), or a stalled line search.

``armijo_rule="paper"`` reproduces the BD-RIS paper's rule (reference slope ``1/2 tr(D D^H)``, last
trial accepted when halving finds nothing) to demonstrate spec A2; it is not monotone and can stop short.

Batching: ``jax.vmap(lambda p: jaxisac.solve(p, solver))(problems)`` gives per-instance results
equal to a loop. Under ``vmap`` every lane runs until the slowest lane stops (outer iterations and
line-search evaluations alike), which suits accelerators; on CPU, ``jax.lax.map`` over the instances
inside one ``jit`` avoids that divergence and was 6x faster in ``experiments/bench_bdris.py``.

Differentiation (``adjoint``):

* ``"envelope"`` (default): the iterations see the problem data through ``stop_gradient``;
  ``Solution.objective`` is re-evaluated at the final point with live problem data, so its derivative
  with respect to the data is the envelope-theorem (Danskin) derivative, exact at a stationary point.
  ``Solution.value`` carries no derivative. Cheap, forward and reverse mode.
* ``"unrolled"``: nothing is stopped and the line search runs in equinox's checkpointed while loop;
  use with ``jaxisac.solve(..., unroll=True)`` (a ``lax.scan`` of ``max_steps`` iterations) to
  backpropagate through the iterations (learning-to-optimise). Use a smooth retraction then
  (``"cayley"``, ``"expm"`` or ``"qr"``): the ``eigh``-based ``"exp"`` has singular derivatives at
  repeated eigenvalues.
"""

from __future__ import annotations

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from .complex import value_and_ascent_grad
from .manifolds.base import AbstractManifold
from .solution import Solution, Status
from .solve import AbstractSolver, stop_gradient_tree, tree_where

__all__ = ["AbstractManifoldProblem", "RiemannianAscent", "RiemannianCG", "RiemannianState"]

_ADJOINTS = ("envelope", "unrolled")
_BETAS = ("PR", "PR+", "FR")
_ARMIJO_RULES = ("true", "paper")
_LINE_SEARCHES = ("double-halve", "backtrack")


def _kernels():
    from jaxisac.kernels import riemannian as kr  # registered by jaxisac/__init__.py

    return kr


class AbstractManifoldProblem(eqx.Module):
    """A maximisation problem over a manifold.

    Subclasses hold the problem data (arrays) and a ``manifold`` (an :class:`AbstractManifold`
    instance whose fields are static), and implement ``objective`` and ``initial_point``.
    """

    manifold: eqx.AbstractVar[AbstractManifold]

    @abc.abstractmethod
    def objective(self, x: Any) -> jax.Array:
        """Real scalar to maximise at the point ``x`` (any differentiable JAX code)."""

    @abc.abstractmethod
    def initial_point(self) -> Any:
        """Default starting point (a point of ``manifold``)."""


class RiemannianState(eqx.Module):
    """Loop state of the Riemannian solvers (every field batches under ``vmap``)."""

    x: Any
    f: jax.Array
    f_prev: jax.Array
    grad: Any
    direction: Any
    grad_norm: jax.Array
    grad_norm0: jax.Array
    move: jax.Array  # length of the last accepted move (metric units)
    k: jax.Array
    restart: jax.Array
    stalled: jax.Array
    evals: jax.Array
    trace: jax.Array | None



def _real_dtype(x) -> Any:
    leaf = jax.tree_util.tree_leaves(x)[0]
    return jnp.finfo(jnp.result_type(leaf)).dtype


def _scale(t, v):
    return jax.tree_util.tree_map(lambda a: (t * a).astype(a.dtype), v)


def _add(a, b):
    return jax.tree_util.tree_map(lambda u, w: u + w, a, b)


def _sub(a, b):
    return jax.tree_util.tree_map(lambda u, w: u - w, a, b)


class _AbstractRiemannian(AbstractSolver):
    max_steps: eqx.AbstractVar[int]
    gtol: eqx.AbstractVar[float]
    atol: eqx.AbstractVar[float]
    rtol: eqx.AbstractVar[float]
    init_step: eqx.AbstractVar[float]
    armijo: eqx.AbstractVar[float]
    max_doublings: eqx.AbstractVar[int]
    max_halvings: eqx.AbstractVar[int]
    trace: eqx.AbstractVar[bool]
    adjoint: eqx.AbstractVar[str]
    armijo_rule: eqx.AbstractVar[str]
    line_search: eqx.AbstractVar[str]

    def _conjugate(self) -> bool:
        return False

    def _check(self):
        if self.line_search not in _LINE_SEARCHES:
            raise ValueError(f"line_search: expected one of {_LINE_SEARCHES}, got {self.line_search!r}")
        if self.armijo_rule not in _ARMIJO_RULES:
            raise ValueError(f"armijo_rule: expected one of {_ARMIJO_RULES}, got {self.armijo_rule!r}")
        if self.adjoint not in _ADJOINTS:
            raise ValueError(f"adjoint: expected one of {_ADJOINTS}, got {self.adjoint!r}")
        if not (0.0 < float(self.armijo) < 1.0):
            raise ValueError(f"armijo: expected a constant in (0, 1), got {self.armijo}")
        if float(self.init_step) <= 0:
            raise ValueError(f"init_step: expected a positive step length, got {self.init_step}")
        for name in ("gtol", "atol", "rtol"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name}: expected a non-negative tolerance, got {getattr(self, name)}")
        if int(self.max_steps) < 0:
            raise ValueError(f"max_steps: expected a non-negative integer, got {self.max_steps}")

    def _inner_problem(self, problem):
        return stop_gradient_tree(problem) if self.adjoint == "envelope" else problem

    def init(self, problem, init):
        if not isinstance(problem, AbstractManifoldProblem):
            raise ValueError(
                f"problem: expected an AbstractManifoldProblem, got {type(problem).__name__}"
            )
        prob = self._inner_problem(problem)
        man = prob.manifold
        x0 = prob.initial_point() if init is None else init
        f0, eg = value_and_ascent_grad(prob.objective)(x0)
        rdt = _real_dtype(x0)
        f0 = jnp.asarray(f0, rdt)
        g0 = man.egrad_to_rgrad(x0, eg)
        gn = jnp.asarray(man.norm(x0, g0), rdt)
        trace = None
        if self.trace:
            trace = jnp.zeros((int(self.max_steps) + 1,), rdt).at[0].set(f0)
        return RiemannianState(
            x=x0,
            f=f0,
            f_prev=f0,
            grad=g0,
            direction=g0,
            grad_norm=gn,
            grad_norm0=gn,
            move=jnp.asarray(self.init_step, rdt),
            k=jnp.zeros((), jnp.int32),
            restart=jnp.asarray(True),
            stalled=jnp.asarray(False),
            evals=jnp.ones((), jnp.int32),
            trace=trace,
        )

    def step(self, problem, s: RiemannianState) -> RiemannianState:
        kr = _kernels()
        prob = self._inner_problem(problem)
        man = prob.manifold
        rdt = _real_dtype(s.x)
        x, g = s.x, s.grad
        gg = jnp.asarray(man.inner(x, g, g), rdt)
        if self._conjugate():
            d = tree_where(s.restart, g, s.direction)
            slope = jnp.asarray(man.inner(x, g, d), rdt)
            bad = s.restart | ~(slope > 0)
            d = tree_where(bad, g, d)
            slope = jnp.where(bad, gg, slope)
        else:
            d, slope, bad = g, gg, jnp.asarray(True)
        dn = jnp.asarray(man.norm(x, d), rdt)
        tiny = jnp.finfo(rdt).tiny
        paper = self.armijo_rule == "paper"
        # the paper's reference slope 1/2 tr(D D^H) is ||d||^2 in this scaling (= <grad, d> only for d = grad)
        ref_slope = dn * dn if paper else slope
        backtrack = self.line_search == "backtrack"
        # backtracking never doubles, so its first trial is twice the last move (room to grow)
        mu0 = (2.0 if backtrack else 1.0) * s.move / jnp.maximum(dn, tiny)
        curve = man.curve(x, d)

        def phi(mu):
            p = curve(mu)
            return jnp.asarray(prob.objective(p), rdt), p

        mu, f_ls, x_ls, ok, evals = kr.armijo_search(
            phi,
            s.f,
            ref_slope,
            mu0,
            x,
            c=float(self.armijo),
            max_doublings=0 if backtrack else int(self.max_doublings),
            max_halvings=int(self.max_halvings),
            loop_kind="lax" if self.adjoint == "envelope" else "checkpointed",
            accept_last=paper,
        )
        if not paper:  # the paper's code accepts the last trial even when it decreases f
            ok = ok & (f_ls > s.f)
        x1 = tree_where(ok, x_ls, x)
        _, eg = value_and_ascent_grad(prob.objective)(x1)
        # the accepted value is the line search's: the value recomputed with the gradient can differ in
        # the last bit (other fusion), and the test f_ls > f is what makes the sequence monotone
        f1 = jnp.where(ok, f_ls, s.f)
        g1 = man.egrad_to_rgrad(x1, eg)
        g1 = tree_where(ok, g1, g)
        if self._conjugate():
            gt = man.transport(x, x1, g)
            dt = man.transport(x, x1, d)
            if self.beta == "FR":
                beta = jnp.asarray(man.inner(x1, g1, g1), rdt) / jnp.maximum(gg, tiny)
            else:
                num = jnp.asarray(man.inner(x1, _sub(g1, gt), g1), rdt)
                beta = kr.polak_ribiere(num, gg, nonnegative=self.beta == "PR+")
            if self.restart_every > 0:
                beta = jnp.where((s.k + 1) % int(self.restart_every) == 0, 0.0, beta)
            d1 = _add(g1, _scale(beta.astype(rdt), dt))
        else:
            d1 = g1
        d1 = tree_where(ok, d1, g)
        gn1 = jnp.asarray(man.norm(x1, g1), rdt)
        trace = s.trace
        if trace is not None:
            idx = jnp.minimum(s.k + 1, trace.shape[0] - 1)
            trace = trace.at[idx].set(f1)
        return RiemannianState(
            x=x1,
            f=f1,
            f_prev=jnp.where(ok, s.f, s.f_prev),
            grad=g1,
            direction=d1,
            grad_norm=gn1,
            grad_norm0=s.grad_norm0,
            move=jnp.where(ok, mu * dn, s.move),
            k=s.k + 1,
            restart=~ok,
            stalled=~ok & bad,
            evals=s.evals + evals + 1,
            trace=trace,
        )

    def terminate(self, problem, s: RiemannianState):
        small = s.grad_norm <= jnp.maximum(self.atol, self.gtol * s.grad_norm0)
        done = small | s.stalled
        if float(self.rtol) > 0:
            done = done | ((s.k > 0) & (jnp.abs(s.f - s.f_prev) <= self.rtol * jnp.abs(s.f_prev)))
        return done, Status.SUCCESS()

    def postprocess(self, problem, s: RiemannianState, result, stats):
        x = s.x
        if self.adjoint == "envelope":
            x_c = jax.lax.stop_gradient(x)
            objective = jnp.asarray(problem.objective(x_c), s.f.dtype)
        else:
            objective = s.f
        stats = dict(stats)
        stats.update(
            grad_norm=s.grad_norm,
            grad_norm0=s.grad_norm0,
            stalled=s.stalled,
            evaluations=s.evals,
            distance_to_manifold=jnp.asarray(problem.manifold.distance_to_manifold(x), s.f.dtype),
        )
        if s.trace is not None:
            idx = jnp.arange(s.trace.shape[0])
            stats["trace"] = jnp.where(idx <= s.k, s.trace, jnp.nan)
        return Solution(value=x, objective=objective, result=result, stats=stats)


class RiemannianAscent(_AbstractRiemannian):
    """Riemannian steepest ascent with the Armijo doubling/halving line search.

    Args:
        max_steps: iteration cap (default 1000).
        gtol: stop when ``||grad|| <= gtol * ||grad(x0)||`` (default 1e-8).
        atol: ... or when ``||grad|| <= atol`` (default 0).
        rtol: ... or when ``|f - f_prev| <= rtol |f_prev|`` (default 0: off).
        init_step: length (in the metric) of the first trial move (default 1: one radian of
            rotation on the unitary groups and the circle).
        armijo: sufficient-increase constant ``c`` in ``f(x+) - f(x) >= c mu <grad, d>`` (default 0.5).
        max_doublings, max_halvings: line-search caps (30, 50).
        trace: record the objective after every iteration in ``stats["trace"]`` (length
            ``max_steps + 1`` of this configuration; NaN after the last step).
        adjoint: ``"envelope"`` or ``"unrolled"`` (see the module docstring).
        armijo_rule: ``"true"`` (default: the true slope ``<grad, d>``, only increases accepted,
            steepest-ascent fallback) or ``"paper"`` (the BD-RIS paper's Algorithm 1 as its code runs
            it, for reproducing spec A2 only: reference slope ``||d||^2`` = the paper's
            ``1/2 tr(D D^H)``, and when halving finds nothing the smallest trial is accepted anyway;
            with ``rtol > 0`` such a run can stop short of a stationary point).
        line_search: ``"double-halve"`` (default: Abrudan et al.'s doubling/halving from the last
            move length) or ``"backtrack"`` (first trial twice the last move, halve until acceptable,
            never double: fewer objective evaluations per iteration; see ``experiments/bench_bdris.py``).

    ``Solution.value`` is the final point, ``objective`` its value; ``stats`` has ``steps``,
    ``grad_norm``, ``grad_norm0``, ``stalled``, ``evaluations``, ``distance_to_manifold`` (and
    ``trace``). Runs in float32/complex64 and float64/complex128 (the point's dtype).
    """

    max_steps: int = 1000
    gtol: float = 1e-8
    atol: float = 0.0
    rtol: float = 0.0
    init_step: float = 1.0
    armijo: float = 0.5
    max_doublings: int = eqx.field(static=True, default=30)
    max_halvings: int = eqx.field(static=True, default=50)
    trace: bool = eqx.field(static=True, default=False)
    adjoint: str = eqx.field(static=True, default="envelope")
    armijo_rule: str = eqx.field(static=True, default="true")
    line_search: str = eqx.field(static=True, default="double-halve")

    def __check_init__(self):
        self._check()


class RiemannianCG(_AbstractRiemannian):
    """Riemannian conjugate gradient (Polak-Ribiere by default) with the Armijo line search.

    Directions ``d+ = grad+ + beta T(d)`` with the manifold's vector transport ``T``; ``beta`` is
    Polak-Ribiere ``<grad+ - T grad, grad+> / <grad, grad>`` (``"PR"``, unclipped as in the BD-RIS
    paper), ``"PR+"`` (clipped at 0) or Fletcher-Reeves (``"FR"``). A direction that is not an ascent
    direction (``<grad, d> <= 0``), or along which the line search fails, is replaced by the gradient
    (steepest-ascent fallback). ``restart_every > 0`` also resets every that many iterations.

    Other arguments, outputs and differentiation as :class:`RiemannianAscent`.
    """

    max_steps: int = 1000
    gtol: float = 1e-8
    atol: float = 0.0
    rtol: float = 0.0
    init_step: float = 1.0
    armijo: float = 0.5
    beta: str = eqx.field(static=True, default="PR")
    restart_every: int = eqx.field(static=True, default=0)
    max_doublings: int = eqx.field(static=True, default=30)
    max_halvings: int = eqx.field(static=True, default=50)
    trace: bool = eqx.field(static=True, default=False)
    adjoint: str = eqx.field(static=True, default="envelope")
    armijo_rule: str = eqx.field(static=True, default="true")
    line_search: str = eqx.field(static=True, default="double-halve")

    def __check_init__(self):
        self._check()
        if self.beta not in _BETAS:
            raise ValueError(f"beta: expected one of {_BETAS}, got {self.beta!r}")
        if int(self.restart_every) < 0:
            raise ValueError(f"restart_every: expected a non-negative integer, got {self.restart_every}")

    def _conjugate(self) -> bool:
        return True
