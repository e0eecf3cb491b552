"""Beyond the paper: a direct method on (y, B) jointly, by autodiff through the exact inverse.

Augmented Lagrangian (spec §7 "alternative") on the real parameters ``(y, Re B, Im B)``:
``L = -P_tot / s + rho/2 sum_i max(0, c_i + lam_i / rho)^2`` with the SINR rows
``(I_m + 1 - S_m / Gamma_m) / (1 + S_m / Gamma_m)``, the power row ``P_t / P_max - 1`` (exact, via
one LU solve per evaluation), ``outer`` multiplier updates of ``inner`` Adam steps each, all in
``lax.scan`` with fixed counts, so JAX can differentiate it by unrolling (:func:`optimised_value`).
**Measured caveat:** the unrolled Adam/ALM map is not a smooth function of the scenario parameters
at useful iteration counts (central differences with h = 1e-3 and 1e-4 disagree by orders of
magnitude, and so does the unrolled gradient), so use :func:`jaxisac.dma.p2_value` (envelope
theorem at a converged point) for sensitivities instead. The end point satisfies the constraints
only up to the ALM's accuracy (``violation``); :func:`polish` restores exact feasibility by one
digital step (P2) at the final loads. Experimental: compared with the AO on one drop in the tests.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from .digital import digital_step, evaluate
from .problem import DMAProblem

__all__ = ["direct_solve", "optimised_value", "polish"]


def _metrics(problem, y, B):
    ev = evaluate(problem, y, B)
    return ev


def direct_solve(problem: DMAProblem, y0, B0, *, outer: int = 20, inner: int = 50, lr: float = 0.02,
                 rho0: float = 10.0, rho_growth: float = 1.5):
    """Run the ALM from ``(y0, B0)``; returns ``(y, B, value, violation)`` (value: exact objective).

    Differentiation: unrolled (``lax.scan``), forward and reverse mode.
    """
    rdt = problem.p_max.dtype
    scale_y = 10.0
    ev0 = evaluate(problem, y0, B0)
    sP = jax.lax.stop_gradient(jnp.maximum(ev0["value"], 1e-6))

    def unpack(v):
        L = problem.model.L
        y = v[:L] * scale_y
        b = v[L:].reshape(2, *B0.shape)
        return y, (b[0] + 1j * b[1]).astype(B0.dtype)

    def cons(v):
        y, B = unpack(v)
        ev = evaluate(problem, y, B)
        sig_ratio = ev["sinr"] / problem.gamma
        c = [(1.0 - sig_ratio) / (1.0 + sig_ratio), (ev["pt"] / problem.p_max - 1.0)[None]]
        if problem.has_lower:
            c.append((problem.beta_lo - ev["P"]) / sP)
        if problem.has_upper:
            c.append((ev["P"] - problem.beta_hi) / sP)
        return jnp.concatenate(c), ev["value"]

    def al(v, lam, rho):
        c, val = cons(v)
        return -val / sP + 0.5 * rho * jnp.sum(jnp.maximum(0.0, c + lam / rho) ** 2)

    grad = jax.grad(al)
    opt = optax.adam(lr, eps_root=1e-16)  # eps_root > 0: Adam is differentiable at zero moments
    v0 = jnp.concatenate([y0 / scale_y, jnp.real(B0).ravel(), jnp.imag(B0).ravel()]).astype(rdt)
    nc = cons(v0)[0].shape[0]

    def outer_step(carry, _):
        v, lam, rho = carry
        state = opt.init(v)

        def inner_step(c, _):
            v, s = c
            u, s = opt.update(grad(v, lam, rho), s, v)
            return (optax.apply_updates(v, u), s), None

        (v, _), _ = jax.lax.scan(inner_step, (v, state), None, length=inner)
        c, _ = cons(v)
        return (v, jnp.maximum(0.0, lam + rho * c), rho * rho_growth), None

    (v, lam, _), _ = jax.lax.scan(outer_step, (v0, jnp.zeros((nc,), rdt), jnp.asarray(rho0, rdt)), None, length=outer)
    y, B = unpack(v)
    c, val = cons(v)
    return y, B, val, jnp.max(c)


def optimised_value(problem: DMAProblem, y0, B0, **kw):
    """The direct method's final exact objective, a differentiable function of ``problem``."""
    return direct_solve(problem, y0, B0, **kw)[2]


def polish(problem: DMAProblem, y):
    """Exact feasibility: the digital step P2 at the direct method's loads ``y``. Returns
    ``(B, value, ok)``."""
    B, ok, _ = digital_step(problem, y)
    return B, evaluate(problem, y, B)["value"], ok
