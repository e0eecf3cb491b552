"""Beyond the paper: a direct method on (y, B) jointly, by autodiff through the exact inverse.

The spec's §7 "alternative": no Neumann linearisation and no SDP, but one smooth augmented
Lagrangian on the loads ``y`` and the digital precoder ``B`` together, differentiated through the
exact LU solve ``(R0 I + Y_ss + j diag y)^{-1} Y_st B``. Every loop has a fixed count
(``lax.scan``), and every operation is smooth, so the whole map
``(problem, y0, B0) -> (y, B, P_tot)`` can be differentiated by unrolling, in forward and reverse
mode, and ``vmap``-ed over drops.

**Construction** (all choices measured on the small drops of the tests, N = 4, L = 16, M = 2):

* *Power exact by construction.* ``P_t`` is quadratic in ``B``, so the precoder is
  ``B = sqrt(P_max / P_t(y, V)) V`` for a free direction ``V`` (kept at unit Frobenius norm by a
  smooth renormalisation after every step). Every iterate spends exactly ``P_max``; every beampattern
  value and every SINR grow with the scale, so the budget is active at the optimum (with an upper
  beampattern bound the full-power choice is a restriction; see :func:`direct_solve`).
* *Smooth constraints.* SINR rows ``c_m = log(Gamma_m (I_m + 1) / S_m) <= 0`` (scale-free), lower
  and upper beampattern rows ``log(beta_lo,d / P_d)`` and ``log(P_d / beta_hi)``. The penalty is the
  augmented Lagrangian ``(1 / 2 rho) phi(lam + rho c)^2`` with ``phi(x) = tau softplus(x / tau)``, a
  C-infinity stand-in for ``max(0, x)``, and the multiplier update ``lam <- phi(lam + rho c)``
  (fixed ``rho``, ``outer`` updates). The softplus bias keeps the end point slightly inside the SINR
  constraints (``c ~ -tau exp(-lam / tau) / rho``, about -1e-3 with the defaults).
* *Stable steps instead of Adam.* Heavy-ball gradient steps ``m <- beta m - lr grad / d``,
  ``v <- v + m`` with a fixed ``lr`` and momentum, on the objective ``-P_tot / P_tot(start)``
  (dimensionless) with a diagonal Gauss-Newton preconditioner ``d`` recomputed at the start of every
  outer iteration: ``d_j = sqrt(g_j^2 + mu^2) + rho sum_i (dc_i / dv_j)^2`` with
  ``g_j = (2 / D P_tot(start)) sum |d F / dv_j|^2`` (``F`` the beampattern amplitudes; first
  derivatives only, by ``n`` forward tangents). It makes the step invariant to the scale of each
  coordinate. Without it one step size cannot serve all of them: the SINR rows are far stiffer than
  the objective (S0 user drop at the start: ``rho |dc/dB|^2 ~ 600`` against ``|df/dB|^2 ~ 1.5`` in
  the precoder block, ``~ 8`` against ``~ 0.007`` in the susceptances), so plain gradient steps either
  diverged on the SINR rows or left the loads where they were. A diagonal of the exact Hessian
  (``n`` Hessian-vector products) worked as well (P_tot within 0.6 %) but made the reverse-mode
  compile ~1.4x slower.

**Measured** (float64; the S0 user drop and three random drops of the small model N = 4, L_mu = 4,
L = 16, M = 2, Gamma = 2, P_max = 1; the same start for both methods: y0 = -15.79 and B0 = P2 at
y0; ``experiments/000_direct_vs_ao.py --quick``):

* with the defaults (10 x 400 steps, ``lr = 0.02``) the ALM end point spends exactly P_max and
  meets the SINRs to 1.2e-4; after :func:`polish` it is exactly feasible (violation <= -9e-6, the SDP
  margin) and its P_tot is 1.0956 / 1.1192 / 1.0442 / 1.0704, i.e. 2.7-13.8 % *above* the safeguarded
  AO run to convergence (``DMAAO()``: 0.9629 / 1.0895 / 0.9779 / 1.0013, 33-67 iterations), in
  0.5-1.1 s per run against 0.3-2.1 s for the AO (loaded 2-core CPU; the timings vary with the load).
  It is a local method on a non-convex problem, neither monotone nor certified; a different drop may
  end below the AO (2 of the 8 full-size drops below: -9 % and -3 %);
* smoothness: the unrolled gradient of :func:`optimised_value` with respect to ``(P_max, Gamma,
  R0)`` equals central differences of the same fixed-count map to 5e-8 or better (h = 1e-5
  relative; the error falls like h^2 from h = 1e-3 down to 1e-5, the signature of a smooth map),
  under ``jit``; forward mode agrees to 5e-8 and ``vmap`` over two problems equals a loop to 8e-11
  (tests/dma/test_direct.py);
* the unrolled derivative is that of the truncated map: for P_max and R0 it is within 0.5-3 % of
  the envelope sensitivity :func:`jaxisac.dma.p2_value` at the method's own final loads (e.g. S0
  drop: 1.1329 / -0.0909 vs 1.1281 / -0.0898), for Gamma (a small derivative, ~ -0.03) it differs by
  up to 0.05 absolute where the multipliers have not converged;
* the step must stay inside the stability region: with ``lr = 0.03`` (momentum 0.9, 2000 steps,
  Hessian-diagonal preconditioner) the S0 drop's map at L = 16 is chaotic (unrolled gradient
  1e14-1e16, central differences that grow as h shrinks), with ``lr <= 0.02`` it is smooth there.
  The previous version (Adam, ``max(0, .)`` penalty, a stop-gradient objective scale) was not smooth
  at any useful iteration count: Adam's normalised step never settles, the kinks, and the stopped
  scale (whose dependence the gradient ignored).

**Not smooth everywhere (measured, the full-size drops L = 32 of ``experiments/000_direct_vs_ao.py``
without --quick):** the P_tot is good (defaults: above the AO on 6 of 8 drops, S0 user drop 1.72
against the AO's 1.22; ``lr = 0.005`` with 10 x 800 steps: above on 7 of 8, S0 1.79), but the
unrolled derivative is only sometimes usable: with the defaults it agrees with central differences
(to 1.4e-5) on 2 of 8 drops only; on 5 it is chaotic (1e7-1e29) and on one 45 % off; with
``lr = 0.005`` x 8000 steps it agrees with central differences to <= 7e-6 on 6 of 8 and
overflows to NaN on 2 (and that setting overflows on 2 of the 4 small drops too, where the
defaults are smooth). The likely mechanism: the trajectory crosses
regions of negative curvature (loads drifting to |y| ~ 1e3 S, elements switching off), where the
momentum iteration amplifies perturbations by ~exp(lr |lambda| t / (1 - momentum)), and a fixed count
does not always leave enough contracting steps to damp it. Refreshing the preconditioner every 50
steps (``refresh = 8``) did not help. So check the unrolled derivative (e.g. against one central
difference, or its size) before trusting it; the envelope sensitivity :func:`jaxisac.dma.p2_value`
at the method's final loads is always available and agreed with the unrolled derivative to 0.5-3 %
(P_max, R0) where the latter was smooth.

Cost: ``outer * inner`` steps, each one LU solve of the L x L loads and its reverse pass, and per
outer iteration ``n = L + 2 N (M + N)`` forward tangents for the preconditioner. Reverse mode stores
every iterate (memory ~ ``outer * inner * (L^2 + n)`` numbers); forward mode does not. Compile: ~5 s
for the solve, ~20 s for its gradient on a loaded 2-core CPU.

Differentiation: unrolled (exact derivative of the truncated map, not of a converged optimum); use
it for learning-to-optimise or sensitivities of "what this solver returns". Sensitivities of the
optimum at fixed loads: :func:`jaxisac.dma.p2_value` (envelope theorem).
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp
import numpy as np

from ..core.validation import check_array, is_concrete
from .digital import digital_step, evaluate
from .problem import DMAProblem

__all__ = ["direct_solve", "optimised_value", "polish"]


def _phi(x, tau):
    """Smooth ``max(0, x)``: ``tau * softplus(x / tau)``."""
    return tau * jax.nn.softplus(x / tau)


def _check_count(x, name):
    try:
        n = operator.index(x)
    except TypeError:
        n = None
    if n is None or isinstance(x, bool) or n < 1:
        raise ValueError(f"{name}: expected a positive int (a fixed iteration count), got {x!r}")
    return n


def _check_scalar(x, name, *, lo=0.0, hi=None, strict=True):
    if is_concrete(x):
        try:
            v = float(x)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected a real scalar, got {x!r}") from None
        bad = (v <= lo if strict else v < lo) or (hi is not None and v >= hi) or v != v
        if bad:
            rng = f"in ({lo}, {hi})" if hi is not None else (f"> {lo}" if strict else f">= {lo}")
            raise ValueError(f"{name}: expected a value {rng}, got {v}")
    return x


def _fields(problem, y, V):
    """Beampattern (D,), signal and interference (M,) at ``(y, B = sqrt(P_max / P_t) V)``, and the scale^2."""
    model = problem.model
    U = jnp.linalg.solve(model.loads(y), model.Y_st @ V)
    f = problem.observers @ U
    D, M = problem.D, model.M
    pt = 0.5 * jnp.real(jnp.sum(jnp.conj(U) * (model.W.astype(U.dtype) @ U)))
    c2 = problem.p_max / pt
    P = c2 * jnp.sum(jnp.abs(f[:D]) ** 2, axis=-1)
    g = c2 * jnp.abs(f[D:]) ** 2
    sig = jnp.diagonal(g[:, :M])
    return P, sig, jnp.sum(g, axis=1) - sig, c2


def _constraints(problem, P, sig, interf):
    """Smooth constraint rows ``c <= 0`` (log ratios, scale-free)."""
    c = [jnp.log(problem.gamma * (interf + 1.0) / sig)]
    if problem.has_lower:
        on = problem.beta_lo > 0
        safe = jnp.where(on, problem.beta_lo, 1.0)  # double-where: no NaN derivative for beta_lo = 0
        c.append(jnp.where(on, jnp.log(safe / P), -1.0))
    if problem.has_upper:
        c.append(jnp.log(P / problem.beta_hi))
    return jnp.concatenate(c)


def direct_solve(problem: DMAProblem, y0=None, B0=None, *, outer: int = 10, inner: int = 400, refresh: int = 1,
                 lr=0.02, momentum=0.9, rho=10.0, tau=0.05, y_scale=10.0, mu=1e-2):
    """Maximise the average beampattern over ``(y, B)`` jointly (exact inverse, smooth ALM).

    Args:
        problem: a :class:`~jaxisac.dma.DMAProblem` with ``objective="avg"`` (the max-min objective is
            not smooth and is not offered).
        y0: (L,) real start susceptances (normalised S); default ``problem.y0``.
        B0: (N, M + N) complex start precoder (any nonzero scale: only its direction is used).
            Default: the digital step (P2) at ``y0``, computed on ``stop_gradient`` data, so no
            derivative flows through it; pass ``B0`` explicitly to fix the start when
            differentiating or comparing with finite differences.
        outer: multiplier updates. inner: gradient steps per outer iteration. refresh:
            preconditioner refreshes per outer iteration (a divisor of ``inner``; 1 = at its start).
            All static Python ints; cost ~ ``outer * inner`` LU solves.
        lr: step (dimensionless: the objective is ``-P_tot / P_tot(start)`` and the step is
            preconditioned). With momentum 0.9, 0.03 is already unstable on the S0 drop at L = 16;
            whether the fixed-count map is smooth also depends on the drop (module notes).
        momentum: heavy-ball coefficient in [0, 1). rho: penalty. tau: softplus width of the smooth
            ``max(0, .)`` (in units of ``rho c``). y_scale: the susceptance unit of the internal
            variable (S). mu: floor of the preconditioner's objective curvature.

    Returns:
        ``(y, B, value, violation)``: ``y`` (L,), ``B`` (N, M + N) with ``P_t = P_max`` exactly,
        ``value`` the exact objective (average beampattern) of ``(y, B)``, ``violation`` the
        largest relative constraint violation of :func:`~jaxisac.dma.evaluate` (<= 0 when
        feasible; the ALM end point is feasible only to about 1e-3, see :func:`polish`).

    Differentiation: unrolled (``lax.scan``; forward and reverse mode), ``vmap``-able.
    """
    if not isinstance(problem, DMAProblem):
        raise ValueError(f"problem: expected a DMAProblem, got {type(problem).__name__}")
    if problem.objective != "avg":
        raise ValueError(f"problem: the direct method maximises the average beampattern (objective='avg'), "
                         f"got objective={problem.objective!r}")
    outer = _check_count(outer, "outer")
    inner = _check_count(inner, "inner")
    refresh = _check_count(refresh, "refresh")
    if inner % refresh:
        raise ValueError(f"refresh: expected a divisor of inner = {inner}, got {refresh}")
    _check_scalar(lr, "lr")
    _check_scalar(momentum, "momentum", hi=1.0, strict=False)
    _check_scalar(rho, "rho")
    _check_scalar(tau, "tau")
    _check_scalar(y_scale, "y_scale")
    _check_scalar(mu, "mu")
    model = problem.model
    L, N, K = model.L, model.N, problem.K
    rdt = problem.p_max.dtype
    cdt = model.Y_ss.dtype
    y0 = problem.y0 if y0 is None else check_array(y0, "y0", shape=(L,), kind="real")
    y0 = y0.astype(rdt)
    if B0 is None:
        B0 = digital_step(jax.lax.stop_gradient(problem), jax.lax.stop_gradient(y0))[0]
    B0 = check_array(B0, "B0", shape=(N, K), kind="complex").astype(cdt)
    if is_concrete(B0) and not np.any(np.asarray(B0) != 0):
        raise ValueError("B0: expected a nonzero precoder")

    def unpack(v):
        b = v[L:].reshape(2, N, K)
        return v[:L] * y_scale, (b[0] + 1j * b[1]).astype(cdt)

    def normalise(v):
        b = v[L:]
        return v.at[L:].set(b / jnp.linalg.norm(b))

    def terms(v):
        y, V = unpack(v)
        P, sig, interf, _ = _fields(problem, y, V)
        return jnp.mean(P), _constraints(problem, P, sig, interf)

    v0 = normalise(jnp.concatenate([y0 / y_scale, jnp.real(B0).ravel(), jnp.imag(B0).ravel()]).astype(rdt))
    f0 = terms(v0)[0]

    def lagrangian(v, lam):
        val, c = terms(v)
        return -val / f0 + jnp.sum(_phi(lam + rho * c, tau) ** 2) / (2.0 * rho)

    grad_l = jax.grad(lagrangian)
    n = v0.shape[0]

    def amplitudes(v):  # the beampattern amplitudes (D K complex, as 2 D K reals) and the constraint rows
        y, V = unpack(v)
        U = jnp.linalg.solve(model.loads(y), model.Y_st @ V)
        pt = 0.5 * jnp.real(jnp.sum(jnp.conj(U) * (model.W.astype(U.dtype) @ U)))
        F = jnp.sqrt(problem.p_max / pt) * (problem.A @ U)
        P, sig, interf, _ = _fields(problem, y, V)
        return jnp.concatenate([jnp.real(F).ravel(), jnp.imag(F).ravel()]), _constraints(problem, P, sig, interf)

    def preconditioner(v):
        # Gauss-Newton diagonal (first derivatives only: n forward tangents)
        Ja, Jc = jax.jacfwd(amplitudes)(v)
        gn = 2.0 * jnp.sum(Ja ** 2, axis=0) / (problem.D * f0)
        return jnp.sqrt(gn ** 2 + mu ** 2) + rho * jnp.sum(Jc ** 2, axis=0)

    def outer_step(carry, _):
        v, lam = carry

        def block(c, _):  # a preconditioner refresh, then inner // refresh steps
            v, m = c
            d = preconditioner(v)

            def inner_step(c, _):
                v, m = c
                m = momentum * m - lr * grad_l(v, lam) / d
                return (normalise(v + m), m), None

            return jax.lax.scan(inner_step, (v, m), None, length=inner // refresh)

        (v, _), _ = jax.lax.scan(block, (v, jnp.zeros_like(v)), None, length=refresh)
        c = terms(v)[1]
        return (v, _phi(lam + rho * c, tau)), None

    nc = terms(v0)[1].shape[0]
    (v, _), _ = jax.lax.scan(outer_step, (v0, jnp.zeros((nc,), rdt)), None, length=outer)
    y, V = unpack(v)
    c2 = _fields(problem, y, V)[3]
    B = (jnp.sqrt(c2) * V).astype(cdt)
    ev = evaluate(problem, y, B)
    return y, B, ev["value"], ev["violation"]


def optimised_value(problem: DMAProblem, y0=None, B0=None, **kw):
    """The direct method's final exact objective (average beampattern, model units), a smooth
    function of every problem array (``p_max``, ``gamma``, ``beta``, ``model.R0``, channels) and of
    the start; keyword arguments as :func:`direct_solve`. Differentiate it by unrolling (``jax.grad``,
    ``jax.jvp``, under ``jit`` and ``vmap``): the derivative of the fixed-count map. Pass ``B0``
    explicitly when differentiating (the default start is not differentiated)."""
    return direct_solve(problem, y0, B0, **kw)[2]


def polish(problem: DMAProblem, y):
    """Exact feasibility: the digital step P2 (ADMM SDP + rank-one recovery) at the direct method's
    loads ``y`` (L,). Returns ``(B, value, ok)``: ``B`` (N, M + N), ``value`` its exact objective,
    ``ok`` whether the SDP succeeded. Not differentiated (ADMM in a ``while_loop``)."""
    if not isinstance(problem, DMAProblem):
        raise ValueError(f"problem: expected a DMAProblem, got {type(problem).__name__}")
    y = check_array(y, "y", shape=(problem.model.L,), kind="real").astype(problem.p_max.dtype)
    B, ok, _ = digital_step(problem, y)
    return B, evaluate(problem, y, B)["value"], ok
