"""BD-RIS channel-shaping problems (spec §3.1) for the generic Riemannian solvers.

:class:`ChannelShaping` maximises any differentiable function ``f(H, params)`` of the equivalent
channel ``H = H_D + H_B Theta H_F`` over group-connected scattering matrices (``U(L)^G``; ``L = 1``
D-RIS, ``L = N_S`` fully connected), or over symmetric (reciprocal) ones through the exact
parametrisation ``Theta_g = Q_g Q_g^T``, ``Q_g in U(L)`` (spec §3.3; the paper's ``(Theta + Theta^T)/2``
"projection" is not unitary).

Solve it with ``jaxisac.solve(problem, jaxisac.bdris.RiemannianCG())`` (geodesic CG with the
corrected Armijo rule), or, for the power gain, :class:`PowerGainMM` (Prop 5).
"""

from __future__ import annotations

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxisac.core import Solution, Status, check_array, check_positive
from jaxisac.core.manifolds import BlockUnitary
from jaxisac.core.riemannian import AbstractManifoldProblem
from jaxisac.core.solve import AbstractSolver, stop_gradient_tree
from jaxisac.kernels import bdris as kb

from .model import check_group_size
from .objectives import OBJECTIVES

__all__ = ["ChannelShaping", "PowerGainMM", "shaping_problem"]


class ChannelShaping(AbstractManifoldProblem):
    """``max_Theta f(H_D + H_B Theta H_F, params)`` over (symmetric) block-unitary ``Theta``.

    Args:
        H_direct: ``(N_R, N_T)`` complex, or ``None`` for no direct link.
        H_backward: ``(N_R, N_S)`` complex.
        H_forward: ``(N_S, N_T)`` complex.
        group_size: ``L`` (a divisor of ``N_S``): 1 = D-RIS, ``N_S`` = fully connected.
        objective: a name from :data:`jaxisac.bdris.OBJECTIVES` (``"power"``, ``"pareto"``,
            ``"nuclear"``, ``"rate"``) or any callable ``f(H, params) -> real scalar`` written in JAX.
        params: pytree of arrays passed to the objective (Pareto weights ``(min(N_R, N_T),)``;
            ``(Q, noise)`` for the rate); batched with the channels under ``vmap``.
        symmetric: optimise a reciprocal BD-RIS ``Theta_g = Q_g Q_g^T``; the point is then ``Q``
            (use :meth:`theta` to get ``Theta``).
        retraction: retraction of the :class:`~jaxisac.core.manifolds.BlockUnitary` manifold.

    The point (``Solution.value``) is ``Theta`` (or ``Q``) as blocks ``(G, L, L)``; the default initial
    point is ``Theta = I`` (spec §4.6).
    """

    H_direct: jax.Array
    H_backward: jax.Array
    H_forward: jax.Array
    params: Any
    manifold: BlockUnitary
    fn: Callable = eqx.field(static=True)
    name: str = eqx.field(static=True)
    symmetric: bool = eqx.field(static=True)

    def __init__(
        self,
        H_direct: Any,
        H_backward: Any,
        H_forward: Any,
        *,
        group_size: int,
        objective: str | Callable = "power",
        params: Any = None,
        symmetric: bool = False,
        retraction: str = "exp",
    ):
        H_B = check_array(H_backward, "H_backward", ndim=2, kind="complex")
        H_F = check_array(H_forward, "H_forward", ndim=2, kind="complex")
        if H_F.shape[0] != H_B.shape[1]:
            raise ValueError(f"H_forward: expected {H_B.shape[1]} rows (N_S of H_backward), got shape {H_F.shape}")
        dt = jnp.result_type(H_B, H_F)
        if H_direct is None:
            H_D = jnp.zeros((H_B.shape[0], H_F.shape[1]), dt)
        else:
            H_D = check_array(H_direct, "H_direct", shape=(H_B.shape[0], H_F.shape[1]), kind="complex")
            dt = jnp.result_type(dt, H_D)
        n_ris = H_B.shape[1]
        G = check_group_size(n_ris, group_size)
        if isinstance(objective, str):
            if objective not in OBJECTIVES:
                raise ValueError(f"objective: expected one of {sorted(OBJECTIVES)} or a callable, got {objective!r}")
            fn, name = OBJECTIVES[objective], objective
        elif callable(objective):
            fn, name = objective, getattr(objective, "__name__", "custom")
        else:
            raise ValueError(f"objective: expected a name or a callable f(H, params), got {type(objective).__name__}")
        if name == "pareto":
            if params is None:
                raise ValueError("params: the 'pareto' objective needs weights of shape (min(N_R, N_T),)")
            params = check_array(params, "params", shape=(min(H_B.shape[0], H_F.shape[1]),), kind="real")
        if name == "rate":
            if params is None or len(params) != 2:
                raise ValueError("params: the 'rate' objective needs (Q, noise)")
            Q = check_array(params[0], "params[0] (Q)", shape=(H_F.shape[1], H_F.shape[1]), kind="complex")
            noise = check_positive(params[1], "params[1] (noise)")
            params = (Q.astype(dt), noise.astype(jnp.finfo(dt).dtype))
        self.H_direct = H_D.astype(dt)
        self.H_backward = H_B.astype(dt)
        self.H_forward = H_F.astype(dt)
        self.params = params
        self.manifold = BlockUnitary(G, int(group_size), retraction)
        self.fn = fn
        self.name = name
        self.symmetric = bool(symmetric)

    @property
    def group_size(self) -> int:
        return self.manifold.block_size

    def theta(self, x: jax.Array) -> jax.Array:
        """Scattering matrix blocks of the point ``x`` (``Q Q^T`` when ``symmetric``)."""
        return x @ jnp.swapaxes(x, -1, -2) if self.symmetric else x

    def channel(self, x: jax.Array) -> jax.Array:
        """Equivalent channel ``(N_R, N_T)`` at the point ``x``."""
        return kb.cascade(self.theta(x), self.H_direct, self.H_backward, self.H_forward)

    def objective(self, x):
        if self.name == "nuclear_jacobi" and not self.symmetric:
            return kb.nuclear_norm_small(kb.cascade_fast(x, self.H_direct, self.H_backward, self.H_forward))
        return jnp.real(self.fn(self.channel(x), self.params))

    def _closed_form(self) -> bool:
        return self.name in ("nuclear", "nuclear_jacobi") and not self.symmetric

    def value_and_ascent_grad(self, x):
        """Objective and Euclidean ascent direction; closed forms (no autodiff) for the nuclear norm."""
        if self._closed_form():
            return kb.nuclear_value_and_egrad(x, self.H_direct, self.H_backward, self.H_forward,
                                              jacobi=self.name == "nuclear_jacobi")
        return super().value_and_ascent_grad(x)

    def value_and_coords_grad(self, x):
        """As :meth:`value_and_ascent_grad`, the gradient in the manifold's coordinates; the nuclear
        norm's comes from ``nabla_E Theta^H`` built on the cascade's blocks."""
        if self._closed_form():
            f, a = kb.nuclear_value_and_lie(x, self.H_direct, self.H_backward, self.H_forward,
                                            jacobi=self.name == "nuclear_jacobi")
            return f, self.manifold.coords_of_product(a)
        return super().value_and_coords_grad(x)

    def initial_point(self):
        return self.manifold.identity(self.H_backward.dtype)

    def replace(self, **kw) -> "ChannelShaping":
        """Copy with some fields replaced (e.g. ``params``), without re-validation."""
        out = self
        for k, v in kw.items():
            out = eqx.tree_at(lambda p, k=k: getattr(p, k), out, v, is_leaf=lambda x: x is None)
        return out


def shaping_problem(channels, *, group_size: int, **kw) -> ChannelShaping:
    """:class:`ChannelShaping` from a :class:`~jaxisac.bdris.Channels` bundle."""
    return ChannelShaping(channels.H_direct, channels.H_backward, channels.H_forward, group_size=group_size, **kw)


class _MMState(eqx.Module):
    theta: jax.Array
    power: jax.Array
    power_prev: jax.Array
    k: jax.Array
    trace: jax.Array | None


class PowerGainMM(AbstractSolver):
    """Prop 5: maximise ``||H||_F^2`` by successive affine approximation, ``Theta_g <- polar(M_g)``.

    ``M_g = H_B,g^H H H_F,g^H``; every step is a minorise-maximise step, so the power never
    decreases (parallel and sequential variants alike). Use with a ``ChannelShaping`` whose objective
    is ``"power"`` (asymmetric).

    Args:
        max_steps: iteration cap (default 1000).
        rtol: stop when the relative power increase is ``<= rtol`` (default 1e-12).
        variant: ``"parallel"`` (all blocks at the same ``Theta``; vmappable default),
            ``"sequential"`` (the paper's (40)-(41), blocks in turn) or ``"takagi"`` (symmetric
            BD-RIS: ``Theta_g <- Q Q^T`` from the Takagi factorisation of ``(M_g + M_g^T)/2``, parallel;
            start it from a symmetric point, e.g. ``I``).
        trace: record the power after every step (``stats["trace"]``).

    Differentiation: ``Solution.objective`` is re-evaluated at ``stop_gradient(Theta)`` (envelope
    theorem, exact at the fixed point); ``value`` carries no derivative.
    """

    max_steps: int = 1000
    rtol: float = 1e-12
    variant: str = eqx.field(static=True, default="parallel")
    trace: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        if self.variant not in ("parallel", "sequential", "takagi"):
            raise ValueError(f"variant: expected 'parallel', 'sequential' or 'takagi', got {self.variant!r}")
        if float(self.rtol) < 0:
            raise ValueError(f"rtol: expected a non-negative tolerance, got {self.rtol}")

    def _data(self, problem):
        p = stop_gradient_tree(problem)
        return p.H_direct, p.H_backward, p.H_forward

    def init(self, problem, init):
        if not isinstance(problem, ChannelShaping) or problem.name != "power" or problem.symmetric:
            raise ValueError("problem: PowerGainMM needs an asymmetric ChannelShaping with objective='power'")
        HD, HB, HF = self._data(problem)
        th = problem.initial_point() if init is None else jnp.asarray(init, HB.dtype)
        p = jnp.sum(jnp.abs(kb.cascade(th, HD, HB, HF)) ** 2)
        tr = jnp.zeros((int(self.max_steps) + 1,), p.dtype).at[0].set(p) if self.trace else None
        return _MMState(theta=th, power=p, power_prev=p, k=jnp.zeros((), jnp.int32), trace=tr)

    def step(self, problem, s):
        HD, HB, HF = self._data(problem)
        if self.variant == "takagi":
            from .symmetric import symmetric_polar

            th = symmetric_polar(kb.power_gain_gradient_blocks(s.theta, HD, HB, HF))
        else:
            upd = kb.power_mm_parallel if self.variant == "parallel" else kb.power_mm_sequential
            th = upd(s.theta, HD, HB, HF)
        p = jnp.sum(jnp.abs(kb.cascade(th, HD, HB, HF)) ** 2)
        tr = s.trace
        if tr is not None:
            tr = tr.at[jnp.minimum(s.k + 1, tr.shape[0] - 1)].set(p)
        return _MMState(theta=th, power=p, power_prev=s.power, k=s.k + 1, trace=tr)

    def terminate(self, problem, s):
        done = (s.k > 0) & (s.power - s.power_prev <= self.rtol * jnp.abs(s.power_prev))
        return done, Status.SUCCESS()

    def postprocess(self, problem, s, result, stats):
        th = jax.lax.stop_gradient(s.theta)
        stats = dict(stats)
        if s.trace is not None:
            stats["trace"] = jnp.where(jnp.arange(s.trace.shape[0]) <= s.k, s.trace, jnp.nan)
        return Solution(value=s.theta, objective=problem.objective(th), result=result, stats=stats)
