"""Rate maximisation (35) by alternating optimisation (spec §4.8) and the decoupled design (§3.2).

:class:`RateMaximisation` holds the channels, the power budget and the noise power;
:class:`RateAO` alternates

* the passive step: Riemannian CG on ``log det(I + H(Theta) Q H(Theta)^H / eta)`` over ``Theta``
  (warm-started from the previous ``Theta``), and
* the active step: the water-filling covariance ``Q`` of ``H(Theta)`` (38),

until the relative rate change is ``<= rtol``. Initialisation (spec correction A5): by default
``Theta_0`` is the power-gain optimum (Prop 5) and ``Q_0`` its water-filling covariance; ``"isotropic"``
starts with ``Q_0 = (P/N_T) I``. The authors' ``"direct"`` initialisation (``Q_0`` from ``H_D``) is
available for comparison only: it can stall at a stationary point below the D-RIS rate.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from jaxisac.core import Solution, Status, check_positive
from jaxisac.core.manifolds import BlockUnitary
from jaxisac.core.riemannian import RiemannianCG
from jaxisac.core.solve import AbstractSolver, solve, stop_gradient_tree
from jaxisac.kernels import bdris as kb

from .problems import ChannelShaping
from .rate import _rate, _wf_covariance
from .symmetric import symmetric_power_max

__all__ = ["RateMaximisation", "RateAO", "power_gain_theta"]

_INITS = ("pmax", "isotropic", "direct")


class RateMaximisation(eqx.Module):
    """``max_{Theta, Q} log det(I + H Q H^H / eta)`` s.t. ``tr Q <= P``, ``Theta in U(L)^G`` (35).

    Args:
        H_direct: ``(N_R, N_T)`` complex or ``None``.
        H_backward: ``(N_R, N_S)``; H_forward: ``(N_S, N_T)``.
        power: transmit power ``P`` (linear, same unit as ``noise``).
        noise: noise power ``eta`` (linear).
        group_size: ``L``.
        symmetric: reciprocal BD-RIS via ``Theta_g = Q_g Q_g^T`` (the point is then ``Q_g``).
    """

    H_direct: jax.Array
    H_backward: jax.Array
    H_forward: jax.Array
    power: jax.Array
    noise: jax.Array
    manifold: BlockUnitary
    symmetric: bool = eqx.field(static=True)

    def __init__(self, H_direct, H_backward, H_forward, *, power, noise, group_size, symmetric=False, retraction="exp"):
        base = ChannelShaping(H_direct, H_backward, H_forward, group_size=group_size, retraction=retraction)
        rdt = jnp.finfo(base.H_backward.dtype).dtype
        self.H_direct, self.H_backward, self.H_forward = base.H_direct, base.H_backward, base.H_forward
        self.power = check_positive(power, "power").astype(rdt)
        self.noise = check_positive(noise, "noise").astype(rdt)
        self.manifold = base.manifold
        self.symmetric = bool(symmetric)

    def shaping(self, Q: jax.Array) -> ChannelShaping:
        """The passive subproblem (36) for a fixed covariance ``Q`` (no re-validation)."""
        return _shaping(self, Q)

    def theta(self, x):
        return x @ jnp.swapaxes(x, -1, -2) if self.symmetric else x

    def channel(self, x):
        return kb.cascade(self.theta(x), self.H_direct, self.H_backward, self.H_forward)


def _shaping(p: RateMaximisation, Q) -> ChannelShaping:
    return ChannelShaping(
        p.H_direct,
        p.H_backward,
        p.H_forward,
        group_size=p.manifold.block_size,
        objective="rate",
        params=(Q, p.noise),
        symmetric=p.symmetric,
        retraction=p.manifold.retraction,
    )


def power_gain_theta(H_D, H_B, H_F, theta0, *, max_steps: int = 200, rtol: float = 1e-10):
    """Prop 5 parallel iteration from ``theta0`` (a ``lax.while_loop``), blocks ``(G, L, L)``."""

    def power(th):
        return jnp.sum(jnp.abs(kb.cascade(th, H_D, H_B, H_F)) ** 2)

    def cond(c):
        th, p, p_prev, k = c
        return (k < max_steps) & ((k == 0) | (p - p_prev > rtol * jnp.abs(p_prev)))

    def body(c):
        th, p, _, k = c
        new = kb.power_mm_parallel(th, H_D, H_B, H_F)
        return new, power(new), p, k + 1

    p0 = power(theta0)
    th, *_ = jax.lax.while_loop(cond, body, (theta0, p0, p0, jnp.zeros((), jnp.int32)))
    return th


class _AOState(eqx.Module):
    x: jax.Array
    Q: jax.Array
    rate: jax.Array
    rate_prev: jax.Array
    k: jax.Array
    inner_steps: jax.Array


class RateAO(AbstractSolver):
    """Alternating optimisation for (35): RCG passive step <-> water-filling active step.

    Args:
        max_steps: outer iterations (default 100).
        rtol: stop when the relative rate change is ``<= rtol`` (default 1e-10).
        inner: the passive-step solver (default ``RiemannianCG(gtol=1e-8, max_steps=500)``).
        init_mode: ``"pmax"`` (default; Prop 5 optimum and its water-filling ``Q``; for a symmetric
            problem the Takagi P-max factor of :func:`~jaxisac.bdris.symmetric_power_max`), ``"isotropic"``
            (``Theta_0 = I``, ``Q_0 = (P/N_T) I``) or ``"direct"`` (the authors': ``Q_0`` from ``H_D``;
            can stall, spec §4.8). A user warm start ``jaxisac.solve(..., init=theta)`` replaces
            ``Theta_0`` (then ``Q_0`` is its water-filling covariance).
        pmax_steps: cap of the Prop 5 initialisation (default 200).

    ``Solution.value`` is ``{"theta": blocks (G, L, L) (or Q_g when symmetric), "covariance": Q}``,
    ``objective`` the rate in nats. Differentiation: ``objective`` is re-evaluated at the stopped
    ``(Theta, Q)`` with live channel data (envelope theorem at the AO fixed point); the iterations
    are not differentiated.
    """

    max_steps: int = 100
    rtol: float = 1e-10
    inner: RiemannianCG = RiemannianCG(gtol=1e-8, max_steps=500)
    init_mode: str = eqx.field(static=True, default="pmax")
    pmax_steps: int = eqx.field(static=True, default=200)

    def __check_init__(self):
        if self.init_mode not in _INITS:
            raise ValueError(f"init_mode: expected one of {_INITS}, got {self.init_mode!r}")
        if float(self.rtol) < 0:
            raise ValueError(f"rtol: expected a non-negative tolerance, got {self.rtol}")

    def _data(self, problem):
        return stop_gradient_tree(problem)

    def init(self, problem, init):
        if not isinstance(problem, RateMaximisation):
            raise ValueError(f"problem: expected a RateMaximisation, got {type(problem).__name__}")
        p = self._data(problem)
        dt = p.H_backward.dtype
        x0 = p.manifold.identity(dt) if init is None else jnp.asarray(init, dt)
        n_t = p.H_forward.shape[1]
        if init is None and self.init_mode == "pmax" and not p.symmetric:
            x0 = power_gain_theta(p.H_direct, p.H_backward, p.H_forward, x0, max_steps=self.pmax_steps)
        elif init is None and self.init_mode == "pmax":
            # symmetric: the Takagi P-max factor Q (Theta = Q Q^T), not Q = I
            x0 = symmetric_power_max(
                p.H_direct, p.H_backward, p.H_forward, group_size=p.group_size, max_steps=self.pmax_steps
            ).astype(dt)
        if init is None and self.init_mode == "isotropic":
            Q0 = (p.power / n_t) * jnp.eye(n_t, dtype=dt)
        elif init is None and self.init_mode == "direct":
            Q0 = _wf_covariance(p.H_direct, p.power, p.noise)
        else:
            Q0 = _wf_covariance(p.channel(x0), p.power, p.noise)
        r0 = _rate(p.channel(x0), Q0, p.noise)
        return _AOState(x=x0, Q=Q0, rate=r0, rate_prev=r0, k=jnp.zeros((), jnp.int32), inner_steps=jnp.zeros((), jnp.int32))

    def step(self, problem, s):
        p = self._data(problem)
        sub = _shaping(p, s.Q)
        sol = solve(sub, self.inner, init=s.x, throw=False)
        x1 = sol.value
        H1 = p.channel(x1)
        Q1 = _wf_covariance(H1, p.power, p.noise)
        r1 = _rate(H1, Q1, p.noise)
        return _AOState(x=x1, Q=Q1, rate=r1, rate_prev=s.rate, k=s.k + 1, inner_steps=s.inner_steps + sol.stats["steps"])

    def terminate(self, problem, s):
        done = (s.k > 0) & (jnp.abs(s.rate - s.rate_prev) <= self.rtol * jnp.abs(s.rate_prev))
        return done, Status.SUCCESS()

    def postprocess(self, problem, s, result, stats):
        x, Q = jax.lax.stop_gradient(s.x), jax.lax.stop_gradient(s.Q)
        H = problem.channel(x)
        r = _rate(H, Q, problem.noise)
        # envelope derivative: at fixed Theta the rate is maximised over Q with tr Q <= P, so
        # d/d(data) is that of the water-filling capacity of H(Theta*) (which contains the power
        # budget: dR/dP = the water-filling multiplier); the value stays the AO's own rate
        g = jnp.linalg.svd(H, compute_uv=False) ** 2 / problem.noise
        r_env = jnp.sum(jnp.log1p(kb.waterfill_levels(g, jnp.asarray(problem.power, g.dtype)) * g))
        r = jax.lax.stop_gradient(r) + (r_env - jax.lax.stop_gradient(r_env))
        stats = dict(stats)
        stats["inner_steps"] = s.inner_steps
        stats["streams"] = jnp.sum(jnp.real(jnp.linalg.eigvalsh(Q)) > 1e-9 * problem.power)
        return Solution(value={"theta": s.x, "covariance": s.Q}, objective=r, result=result, stats=stats)
