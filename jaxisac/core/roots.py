"""The one bracketed scalar root finder of jaxisac.

:func:`bracketed_root` finds a root of a real scalar function ``f`` on a bracket ``[lo, hi]`` with a
sign change. Every 1-D root search of the library (secular equations of trust-region problems, the
TPC multiplier, water-filling levels) goes through it.

Algorithm (``lax.while_loop``, vmappable, float32/float64):

* ``method="newton"`` (default): safeguarded Newton (``rtsafe``). The derivative comes from
  ``jax.jvp`` of ``f`` or from a supplied ``fprime``. A Newton step that leaves the current bracket,
  or that did not halve the bracket over the previous step, is replaced by bisection, so the
  iteration is globally convergent and quadratic near a simple root.
* ``method="secant"``: Illinois (modified regula falsi) with the same bisection safeguard; no
  derivative needed (``f`` may be non-differentiable).
* ``method="bisect"``: plain bisection.

The bracket is updated after every evaluation, so ``[lo, hi]`` always contains the sign change.
Stopping: ``|hi - lo| <= tol + rtol * |x|``, or a Newton/secant step shorter than that, or
``|f(x)| <= ftol`` (or an exact zero).

Status (``int32``, :class:`jaxisac.core.Status`):

* ``SUCCESS``: converged;
* ``INFEASIBLE``: ``f(lo)`` and ``f(hi)`` have the same strict sign (no bracket). ``root`` is then
  the endpoint with the smaller ``|f|``, never NaN;
* ``NONFINITE``: ``f`` is not finite at an endpoint; ``root`` is ``lo``;
* ``MAX_STEPS``: the bracket did not shrink below the tolerance in ``max_steps`` iterations; ``root``
  is the best iterate.

Differentiation: pass the parameters of ``f`` as ``args`` (``f(x, args)``, a pytree of real arrays).
The returned ``root`` is then differentiable with respect to ``args`` by the implicit function
theorem, ``d root = -(df/dargs · d args) / (df/dx)``, in forward and reverse mode (the loop itself
is never differentiated; ``lo`` and ``hi`` carry no gradient). Without ``args`` (a closure), the root
carries no gradient with respect to closed-over values.
"""

from __future__ import annotations

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from .solution import Status

__all__ = ["RootResult", "bracketed_root"]


class RootResult(eqx.Module):
    """Output of :func:`bracketed_root` (every field gains a leading axis under ``vmap``).

    Attributes:
        root: the root estimate (real scalar, dtype of the bracket).
        fval: ``f(root)``.
        status: ``int32`` :class:`~jaxisac.core.Status` code.
        steps: iterations taken (``int32``).
        lo, hi: the final bracket.
    """

    root: jax.Array
    fval: jax.Array
    status: jax.Array
    steps: jax.Array
    lo: jax.Array
    hi: jax.Array

    @property
    def success(self) -> jax.Array:
        return self.status == int(Status.SUCCESS)


def _default_tol(dtype) -> float:
    return float(4 * jnp.finfo(dtype).eps)


def _solve(f, fprime, lo, hi, tol, rtol, ftol, max_steps, method):
    dtype = lo.dtype
    flo, fhi = f(lo), f(hi)
    finite = jnp.isfinite(flo) & jnp.isfinite(fhi)
    no_bracket = (jnp.sign(flo) * jnp.sign(fhi)) > 0
    # Orient so that f(a) <= 0 <= f(b) (a may be larger than b).
    swap = flo > 0
    a = jnp.where(swap, hi, lo)
    b = jnp.where(swap, lo, hi)
    fa = jnp.where(swap, fhi, flo)
    fb = jnp.where(swap, flo, fhi)
    x0 = 0.5 * (a + b)
    fx0 = f(x0)
    dfx0 = fprime(x0) if method == "newton" else jnp.zeros_like(x0)
    width0 = jnp.abs(b - a)

    def converged(a, b, x, fx, step):
        thr = tol + rtol * jnp.abs(x)
        return (jnp.abs(b - a) <= thr) | (step <= thr) | (jnp.abs(fx) <= ftol) | (fx == 0)

    def cond(c):
        a, b, fa, fb, x, fx, dfx, dx_old, k, side, step = c
        return (~converged(a, b, x, fx, step)) & (k < max_steps) & finite & ~no_bracket

    def body(c):
        a, b, fa, fb, x, fx, dfx, dx_old, k, side, _ = c
        # Shrink the bracket with the current point.
        neg = fx < 0
        a2 = jnp.where(neg, x, a)
        fa2 = jnp.where(neg, fx, fa)
        b2 = jnp.where(neg, b, x)
        fb2 = jnp.where(neg, fb, fx)
        mid = 0.5 * (a2 + b2)
        if method == "newton":
            safe_d = jnp.where(dfx == 0, jnp.ones_like(dfx), dfx)
            cand = x - fx / safe_d
            lo_, hi_ = jnp.minimum(a2, b2), jnp.maximum(a2, b2)
            inside = (cand >= lo_) & (cand <= hi_) & (dfx != 0) & jnp.isfinite(cand)
            fast = jnp.abs(cand - x) <= 0.5 * jnp.abs(dx_old)
            accept = inside & fast
            xn = jnp.where(accept, cand, mid)
            side2 = side
        elif method == "secant":
            # Illinois: halve the weight of an endpoint retained twice in a row.
            new_side = jnp.where(neg, 1, -1).astype(jnp.int32)  # 1: a moved, -1: b moved
            fa_w = jnp.where((new_side == -1) & (side == -1), 0.5 * fa2, fa2)
            fb_w = jnp.where((new_side == 1) & (side == 1), 0.5 * fb2, fb2)
            denom = fb_w - fa_w
            safe = jnp.where(denom == 0, jnp.ones_like(denom), denom)
            cand = a2 - fa_w * (b2 - a2) / safe
            lo_, hi_ = jnp.minimum(a2, b2), jnp.maximum(a2, b2)
            inside = (cand >= lo_) & (cand <= hi_) & (denom != 0) & jnp.isfinite(cand)
            fast = jnp.abs(b2 - a2) <= 0.5 * jnp.abs(dx_old)
            accept = inside & (fast | (k < 2))
            xn = jnp.where(accept, cand, mid)
            side2 = new_side
        else:
            xn = mid
            accept = jnp.asarray(False)
            side2 = side
        fxn = f(xn)
        dfxn = fprime(xn) if method == "newton" else dfx
        dx_new = jnp.abs(b - a) if method == "secant" else jnp.abs(xn - x)
        # Step-size convergence only for steps that are not bisections (a bisection step is half
        # the bracket, which the width test covers).
        step = jnp.where(accept, jnp.abs(xn - x), jnp.inf).astype(x.dtype)
        return a2, b2, fa2, fb2, xn, fxn, dfxn, dx_new, k + 1, side2, step

    inf = jnp.asarray(jnp.inf, dtype)
    carry0 = (a, b, fa, fb, x0, fx0, dfx0, 2 * width0, jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32), inf)
    a, b, fa, fb, x, fx, dfx, _, k, _, step = jax.lax.while_loop(cond, body, carry0)
    # Best point: the iterate, or an endpoint when that is better (e.g. exact zero at an endpoint).
    cands = jnp.stack([x, a, b])
    fvals = jnp.stack([fx, fa, fb])
    i = jnp.argmin(jnp.abs(fvals))
    best, fbest = cands[i], fvals[i]
    ok = converged(a, b, x, fx, step) | (fbest == 0)
    status = jnp.where(ok, Status.SUCCESS(), Status.MAX_STEPS())
    status = jnp.where(no_bracket, Status.INFEASIBLE(), status)
    status = jnp.where(finite, status, Status.NONFINITE())
    # No bracket: endpoint with smaller |f|.
    end = jnp.where(jnp.abs(flo) <= jnp.abs(fhi), lo, hi)
    fend = jnp.where(jnp.abs(flo) <= jnp.abs(fhi), flo, fhi)
    root = jnp.where(no_bracket, end, best)
    fval = jnp.where(no_bracket, fend, fbest)
    root = jnp.where(finite, root, lo)
    fval = jnp.where(finite, fval, jnp.zeros_like(fval))
    lo_out, hi_out = jnp.minimum(a, b), jnp.maximum(a, b)
    return RootResult(root.astype(dtype), fval, status, k, lo_out, hi_out)


def bracketed_root(
    f: Callable[..., Any],
    lo: Any,
    hi: Any,
    args: Any = None,
    *,
    fprime: Callable[..., Any] | None = None,
    method: str = "newton",
    tol: float | None = None,
    rtol: float | None = None,
    ftol: float = 0.0,
    max_steps: int = 100,
) -> RootResult:
    """Root of the real scalar function ``f`` inside the bracket ``[lo, hi]``.

    Args:
        f: ``f(x)`` or, when ``args`` is given, ``f(x, args)``; real scalar in, real scalar out.
            Must be JAX-traceable (differentiable for ``method="newton"`` without ``fprime``).
        lo, hi: real scalars bounding the root (either order); ``f(lo)`` and ``f(hi)`` must differ
            in sign (or one be zero). Their dtype (float32/float64) is the working precision.
        args: optional pytree of real arrays passed to ``f``; the root is implicitly
            differentiable with respect to it.
        fprime: derivative ``f'(x)`` (or ``f'(x, args)``); default ``jax.jvp`` of ``f``.
        method: ``"newton"`` (safeguarded Newton), ``"secant"`` (Illinois) or ``"bisect"``.
        tol, rtol: absolute / relative bracket-width tolerance (default ``4 eps`` of the dtype for
            both; the loop stops at ``|hi - lo| <= tol + rtol |x|``).
        ftol: stop when ``|f(x)| <= ftol`` (default 0: only on an exact zero).
        max_steps: iteration cap (static).

    Returns:
        :class:`RootResult` ``(root, fval, status, steps, lo, hi)``; batch with ``jax.vmap``.
    """
    if method not in ("newton", "secant", "bisect"):
        raise ValueError(f"method: expected 'newton', 'secant' or 'bisect', got {method!r}")
    if int(max_steps) < 0:
        raise ValueError(f"max_steps: expected a non-negative integer, got {max_steps}")
    lo = jnp.asarray(lo)
    hi = jnp.asarray(hi)
    if jnp.iscomplexobj(lo) or jnp.iscomplexobj(hi):
        raise ValueError("lo/hi: expected real scalars, got complex")
    if lo.ndim != 0 or hi.ndim != 0:
        raise ValueError(f"lo/hi: expected scalars (vmap for batches), got shapes {lo.shape}, {hi.shape}")
    dtype = jnp.result_type(lo.dtype, hi.dtype, jnp.float32)
    lo = jax.lax.stop_gradient(lo.astype(dtype))
    hi = jax.lax.stop_gradient(hi.astype(dtype))
    tol_ = _default_tol(dtype) if tol is None else float(tol)
    rtol_ = _default_tol(dtype) if rtol is None else float(rtol)

    if args is None:
        fx = lambda x: jnp.asarray(f(x), dtype)
        fp = None if fprime is None else (lambda x: jnp.asarray(fprime(x), dtype))
        args_sg = None
    else:
        args_sg = jax.lax.stop_gradient(args)
        fx = lambda x: jnp.asarray(f(x, args_sg), dtype)
        fp = None if fprime is None else (lambda x: jnp.asarray(fprime(x, args_sg), dtype))
    if fp is None:
        fp = lambda x: jax.jvp(fx, (x,), (jnp.ones_like(x),))[1]
    res = _solve(fx, fp, lo, hi, tol_, rtol_, ftol, int(max_steps), method)
    res = jax.lax.stop_gradient(res)
    if args is None:
        return res
    # Implicit differentiation: value unchanged, tangent -(df/dargs . dargs) / (df/dx).
    x = res.root
    dfdx = fp(x)
    dfdx = jnp.where((dfdx == 0) | ~jnp.isfinite(dfdx), jnp.ones_like(dfdx), dfdx)
    fa = jnp.asarray(f(x, args), dtype)
    root = x - (fa - jax.lax.stop_gradient(fa)) / jax.lax.stop_gradient(dfdx)
    return eqx.tree_at(lambda r: r.root, res, root)
