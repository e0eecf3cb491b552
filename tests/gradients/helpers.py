"""One checker for the gradient matrix: a scalar output ``f(x)`` of a solve, ``x`` a small real
vector of problem data (and solver hyper-parameters), differentiated in every mode asked for.

``check_gradients`` compiles two functions: ``F(x) = (f(x), grad f(x), jvp f(x; v))`` and its
``vmap`` over two points. It asserts

* reverse mode (``jax.grad`` under ``jit``) equals central finite differences of ``f`` (re-solves),
  coordinate by coordinate, within ``rtol`` (and ``atol`` times the largest derivative);
* forward mode (``jax.jvp`` under ``jit``) along ``v`` equals the finite difference along ``v``
  (and the reverse-mode directional derivative, tightly, when both modes are offered);
* ``jax.vmap`` over two instances equals the two one-at-a-time results (values and derivatives).

It returns the measured relative errors (recorded in ``docs/differentiation.md``) with ``value``
(``f(x0)``) and, with reverse mode, ``grad`` (the gradient at ``x0``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

RESULTS: dict[str, dict[str, float]] = {}


def _bundle(f, modes, v):
    def F(x):
        out = {"value": f(x)}
        if "rev" in modes:
            out["rev"] = jax.grad(f)(x)
        if "fwd" in modes:
            out["fwd"] = jax.jvp(f, (x,), (v,))[1]
        return out

    return F


def _rel(a, b, scale):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / scale)


def check_gradients(
    name,
    f,
    x0,
    x1,
    *,
    modes=("rev", "fwd"),
    rtol=1e-6,
    atol=1e-9,
    steps=None,
    rel_step=1e-6,
    vmap=True,
    vmap_rtol=1e-9,
    nonzero=True,
):
    """Check ``f`` (real vector -> real scalar) in ``modes`` at ``x0``; ``vmap`` over ``(x0, x1)``.

    ``steps``: finite-difference steps per coordinate (default ``rel_step * max(|x_i|, 1)``).
    ``nonzero``: also require the derivative not to vanish (a genuine dependence).
    """
    x0 = jnp.asarray(x0, jnp.float64)
    x1 = jnp.asarray(x1, jnp.float64)
    n = x0.shape[0]
    v = jnp.asarray(np.linspace(1.0, -0.5, n) if n > 1 else [1.0], jnp.float64)
    F = jax.jit(_bundle(f, modes, v))
    out0 = F(x0)
    val = float(out0["value"])
    assert np.isfinite(val), f"{name}: non-finite value {val}"
    h = np.asarray(steps if steps is not None else rel_step * np.maximum(np.abs(np.asarray(x0)), 1.0), float)
    h = np.broadcast_to(h, (n,))
    fd = np.empty(n)
    for i in range(n):
        e = jnp.zeros(n).at[i].set(h[i])
        fd[i] = (float(F(x0 + e)["value"]) - float(F(x0 - e)["value"])) / (2 * h[i])
    scale = max(np.max(np.abs(fd)), 1e-300)
    errs = {}
    if nonzero:
        assert scale > 1e-8, f"{name}: the finite differences vanish ({fd}); the check would be vacuous"
    if "rev" in modes:
        g = np.asarray(out0["rev"])
        assert np.all(np.isfinite(g)), f"{name}: non-finite reverse-mode gradient {g}"
        np.testing.assert_allclose(g, fd, rtol=rtol, atol=atol * scale, err_msg=f"{name}: reverse mode vs FD")
        errs["rev"] = _rel(g, fd, scale)
    if "fwd" in modes:
        t = float(out0["fwd"])
        fd_v = float(np.dot(np.asarray(v), fd))
        np.testing.assert_allclose(t, fd_v, rtol=rtol, atol=atol * scale, err_msg=f"{name}: forward mode vs FD")
        errs["fwd"] = abs(t - fd_v) / scale
        if "rev" in modes:
            np.testing.assert_allclose(t, float(np.dot(np.asarray(v), g)), rtol=1e-8, atol=1e-12 * scale,
                                       err_msg=f"{name}: forward and reverse mode disagree")
    if vmap:
        xs = jnp.stack([x0, x1])
        outv = jax.jit(jax.vmap(F))(xs)
        out1 = F(x1)
        for k in out0:
            ref = np.stack([np.asarray(out0[k]), np.asarray(out1[k])])
            got = np.asarray(outv[k])
            np.testing.assert_allclose(got, ref, rtol=vmap_rtol, atol=vmap_rtol * np.max(np.abs(ref)),
                                       err_msg=f"{name}: vmap over two instances differs from one at a time ({k})")
        errs["vmap"] = max(_rel(outv[k], np.stack([out0[k], out1[k]]), max(np.max(np.abs(np.asarray(out0[k]))), 1e-300)) for k in out0)
    RESULTS[name] = errs
    print(f"\n[gradient matrix] {name}: " + ", ".join(f"{k} {e:.1e}" for k, e in errs.items()))
    errs = dict(errs, value=val)
    if "rev" in modes:
        errs["grad"] = np.asarray(out0["rev"])
    return errs
