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

__all__ = ["AbstractManifoldProblem", "RiemannianAscent", "RiemannianCG", "RiemannianLBFGS", "RiemannianState"]

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

    def value_and_ascent_grad(self, x: Any) -> tuple[jax.Array, Any]:
        """``(objective(x), ascent_grad(objective)(x))``. Default: automatic differentiation;
        a problem may override it with a closed form (it must return the same value and direction)."""
        return value_and_ascent_grad(self.objective)(x)

    def value_and_coords_grad(self, x: Any) -> tuple[jax.Array, Any]:
        """``(objective(x), Riemannian gradient in manifold.coords)`` for manifolds that have
        coordinates (used by :class:`RiemannianLBFGS`). Default: from :meth:`value_and_ascent_grad`."""
        f, eg = self.value_and_ascent_grad(x)
        return f, self.manifold.coords(x, eg)


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

    def _first_point(self, problem, init):
        """Validated start shared by every solver: ``(manifold, x0, f0, riemannian grad, |grad|,
        real dtype, trace buffer or None)``."""
        if not isinstance(problem, AbstractManifoldProblem):
            raise ValueError(
                f"problem: expected an AbstractManifoldProblem, got {type(problem).__name__}"
            )
        prob = self._inner_problem(problem)
        man = prob.manifold
        x0 = prob.initial_point() if init is None else init
        f0, eg = prob.value_and_ascent_grad(x0)
        rdt = _real_dtype(x0)
        f0 = jnp.asarray(f0, rdt)
        g0 = man.egrad_to_rgrad(x0, eg)
        gn = jnp.asarray(man.norm(x0, g0), rdt)
        trace = None
        if self.trace:
            trace = jnp.zeros((int(self.max_steps) + 1,), rdt).at[0].set(f0)
        return man, x0, f0, g0, gn, rdt, trace

    def init(self, problem, init):
        _, x0, f0, g0, gn, rdt, trace = self._first_point(problem, init)
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
        _, eg = prob.value_and_ascent_grad(x1)
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



# ----------------------------------------------------------------------------- L-BFGS
class LBFGSState(eqx.Module):
    """Loop state of :class:`RiemannianLBFGS` (every field batches under ``vmap``)."""

    x: Any
    f: jax.Array
    f_prev: jax.Array
    grad: Any  # in the manifold's coordinates when it has them (as direction, S, Y)
    direction: Any
    slope: jax.Array
    t: jax.Array  # trial step along ``direction`` (in units of the direction)
    fresh: jax.Array  # a new point: the next step computes a new direction
    S: Any  # memory (leading axis m, newest first), in transport-free coordinates
    Y: Any
    rho: jax.Array
    count: jax.Array  # number of valid pairs
    gamma: jax.Array
    fails: jax.Array  # consecutive rejected trials
    grad_norm: jax.Array
    grad_norm0: jax.Array
    k: jax.Array
    stalled: jax.Array
    evals: jax.Array
    trace: jax.Array | None


def _dot(a, b):
    """Real dot product of two pytrees of real coordinates."""
    return sum(jnp.sum(u * w) for u, w in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)))


class RiemannianLBFGS(_AbstractRiemannian):
    """Riemannian limited-memory BFGS with ONE objective-and-gradient evaluation per iteration.

    Every iteration evaluates the objective and its gradient at one trial point ``R_x(t d)`` of the
    L-BFGS direction ``d`` (two-loop recursion over the last ``memory`` pairs, initial scaling
    ``<s, y> / <y, y>``). The trial is accepted when it passes the Armijo test
    ``f(x+) - f(x) >= c t <grad, d>`` with ``f(x+) > f(x)`` (monotone); the full step ``t = 1`` is
    tried first (at the first iteration and after a reset: a move of ``init_step``). A rejected trial
    costs one iteration: the next one tries a shorter step (quadratic interpolation, clamped to
    ``[0.1, 0.5]`` of the last) along the same direction. The gradient of an accepted trial is the one
    already computed, so a batch under ``vmap`` does identical work in every lane and iteration (no
    inner line-search loop). ``max_halvings`` consecutive rejections reset the memory (steepest
    ascent); along steepest ascent they stop the solver (``stats["stalled"]``). Pairs with
    ``<s, y> <= 0`` are not stored.

    Vector transport: on manifolds with transport-free coordinates (``manifold.has_coords``:
    :class:`~jaxisac.core.manifolds.UnitaryGroup` / :class:`~jaxisac.core.manifolds.BlockUnitary`,
    whose coordinates are the packed real Lie-algebra generators) the gradient, the direction and
    the memory are kept in those coordinates (no work per pair, no ambient products); on other
    manifolds every stored pair is transported with ``manifold.transport`` at each accepted step.

    ``steps`` counts iterations (= objective evaluations after the initial one); stopping rules,
    arguments ``max_steps, gtol, atol, rtol, init_step, armijo, trace, adjoint`` and outputs as
    :class:`RiemannianAscent` (``armijo_rule="true"`` only). ``memory`` (default 6) is the number of
    stored pairs.
    """

    max_steps: int = 1000
    gtol: float = 1e-8
    atol: float = 0.0
    rtol: float = 0.0
    init_step: float = 1.0
    armijo: float = 1e-4
    memory: int = eqx.field(static=True, default=6)
    max_doublings: int = eqx.field(static=True, default=0)
    max_halvings: int = eqx.field(static=True, default=30)
    trace: bool = eqx.field(static=True, default=False)
    adjoint: str = eqx.field(static=True, default="envelope")
    armijo_rule: str = eqx.field(static=True, default="true")
    line_search: str = eqx.field(static=True, default="backtrack")

    def __check_init__(self):
        self._check()
        if self.armijo_rule != "true":
            raise ValueError(f"armijo_rule: RiemannianLBFGS supports only 'true', got {self.armijo_rule!r}")
        if int(self.memory) < 1:
            raise ValueError(f"memory: expected a positive integer, got {self.memory}")
        if int(self.max_halvings) < 1:
            raise ValueError(f"max_halvings: expected a positive integer, got {self.max_halvings}")

    def init(self, problem, init):
        man, x0, f0, g0, gn, rdt, trace = self._first_point(problem, init)
        if man.has_coords:  # gradient, direction and memory in coordinates
            g0 = man.coords(x0, g0)
        m = int(self.memory)
        mem = jax.tree_util.tree_map(lambda a: jnp.zeros((m,) + a.shape, a.dtype), g0)
        return LBFGSState(
            x=x0, f=f0, f_prev=f0, grad=g0, direction=g0, slope=gn * gn, t=jnp.ones((), rdt),
            fresh=jnp.asarray(True), S=mem, Y=mem, rho=jnp.zeros((m,), rdt), count=jnp.zeros((), jnp.int32),
            gamma=jnp.ones((), rdt), fails=jnp.zeros((), jnp.int32), grad_norm=gn, grad_norm0=gn,
            k=jnp.zeros((), jnp.int32), stalled=jnp.asarray(False), evals=jnp.ones((), jnp.int32), trace=trace,
        )

    @staticmethod
    def _inner(man, rdt):
        """The metric on stored vectors: the dot product of coordinates, or the manifold's."""
        if man.has_coords:
            return lambda x, a, b: jnp.asarray(_dot(a, b), rdt)
        return lambda x, a, b: jnp.asarray(man.inner(x, a, b), rdt)

    def _two_loop(self, inner, s: LBFGSState, q):
        m = int(self.memory)
        alphas = []
        for i in range(m):  # newest first
            si = jax.tree_util.tree_map(lambda a: a[i], s.S)
            yi = jax.tree_util.tree_map(lambda a: a[i], s.Y)
            a = jnp.where(i < s.count, s.rho[i] * inner(s.x, si, q), 0.0)
            alphas.append(a)
            q = _sub(q, _scale(a, yi))
        r = _scale(s.gamma, q)
        for i in reversed(range(m)):
            si = jax.tree_util.tree_map(lambda a: a[i], s.S)
            yi = jax.tree_util.tree_map(lambda a: a[i], s.Y)
            b = jnp.where(i < s.count, s.rho[i] * inner(s.x, yi, r), 0.0)
            r = _add(r, _scale(alphas[i] - b, si))
        return r

    def step(self, problem, s: LBFGSState) -> LBFGSState:
        prob = self._inner_problem(problem)
        man = prob.manifold
        x, g = s.x, s.grad
        rdt = _real_dtype(x)
        tiny = jnp.finfo(rdt).tiny
        eps = jnp.finfo(rdt).eps
        co = man.has_coords
        inner = self._inner(man, rdt)
        gg = s.grad_norm * s.grad_norm
        # a new direction at a new point (else retry the stored one with the stored, shorter step)
        d_new = self._two_loop(inner, s, g)
        slope_new = inner(x, g, d_new)
        steep = (s.count == 0) | ~(slope_new > 0) | ~jnp.isfinite(slope_new)
        d_new = tree_where(steep, g, d_new)
        slope_new = jnp.where(steep, gg, slope_new)
        t_new = jnp.where(steep, self.init_step / jnp.maximum(s.grad_norm, tiny), 1.0).astype(rdt)
        d = tree_where(s.fresh, d_new, s.direction)
        slope = jnp.where(s.fresh, slope_new, s.slope)
        t = jnp.where(s.fresh, t_new, s.t)
        count = jnp.where(s.fresh & steep, 0, s.count)
        x_t = (man.curve_coords if co else man.curve)(x, d)(t)
        if co:
            f_t, g_t = prob.value_and_coords_grad(x_t)
        else:
            f_t, eg = prob.value_and_ascent_grad(x_t)
            g_t = man.egrad_to_rgrad(x_t, eg)
        f_t = jnp.asarray(f_t, rdt)
        ok = jnp.isfinite(f_t) & (f_t - s.f >= self.armijo * t * slope) & (f_t > s.f) & (slope > 0)
        # memory update (accepted trials): s = T(t d), y = T(g) - g+ (the ascent sign)
        if co:
            s_new, y_new = _scale(t, d), _sub(g, g_t)
            S_old, Y_old = s.S, s.Y
        else:
            s_new = _scale(t, man.transport(x, x_t, d))
            y_new = _sub(man.transport(x, x_t, g), g_t)
            tr = jax.vmap(lambda v: man.transport(x, x_t, v))
            S_old, Y_old = tr(s.S), tr(s.Y)
        sy, yy, ss = inner(x_t, s_new, y_new), inner(x_t, y_new, y_new), inner(x_t, s_new, s_new)
        store = ok & (sy > eps * jnp.sqrt(ss * yy)) & jnp.isfinite(sy)

        def push(mem, new):
            return jax.tree_util.tree_map(lambda a, b: jnp.concatenate([b[None], a[:-1]], 0), mem, new)

        S1 = tree_where(store, push(S_old, s_new), s.S)
        Y1 = tree_where(store, push(Y_old, y_new), s.Y)
        rho1 = jnp.where(store, jnp.concatenate([(1.0 / jnp.maximum(sy, tiny))[None], s.rho[:-1]]), s.rho)
        m = int(self.memory)
        count1 = jnp.where(store, jnp.minimum(count + 1, m), count)
        gamma1 = jnp.where(store, sy / jnp.maximum(yy, tiny), s.gamma)
        # rejected: shorter step by quadratic interpolation of f(0), slope and f(t), in [0.1 t, 0.5 t]
        curv = (f_t - s.f - slope * t) / jnp.maximum(t * t, tiny)  # < 0 when f(t) is below the line
        t_q = jnp.where(jnp.isfinite(curv) & (curv < 0), -slope / (2 * jnp.where(curv < 0, curv, -1.0)), 0.5 * t)
        t_short = jnp.clip(t_q, 0.1 * t, 0.5 * t)
        fails = jnp.where(ok, 0, s.fails + 1)
        give_up = ~ok & (fails >= int(self.max_halvings))
        # after too many rejections: reset to steepest ascent; along steepest ascent: stalled
        stalled = give_up & (count == 0)
        count1 = jnp.where(give_up, 0, count1)
        fails = jnp.where(give_up, 0, fails)
        x1 = tree_where(ok, x_t, x)
        g1 = tree_where(ok, g_t, g)
        f1 = jnp.where(ok, f_t, s.f)
        gn1 = jnp.where(ok, jnp.sqrt(jnp.maximum(inner(x_t, g_t, g_t), 0.0)), s.grad_norm)
        trace = s.trace
        if trace is not None:
            idx = jnp.minimum(s.k + 1, trace.shape[0] - 1)
            trace = trace.at[idx].set(f1)
        return LBFGSState(
            x=x1, f=f1, f_prev=jnp.where(ok, s.f, s.f_prev), grad=g1, direction=d, slope=slope,
            t=t_short, fresh=ok | give_up, S=S1, Y=Y1, rho=rho1, count=count1, gamma=gamma1, fails=fails,
            grad_norm=gn1, grad_norm0=s.grad_norm0, k=s.k + 1, stalled=stalled, evals=s.evals + 1, trace=trace,
        )
