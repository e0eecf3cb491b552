"""Shared helpers of the seed-004 experiments (IRS autocorrelation estimation)."""

from __future__ import annotations

import csv
import pathlib

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxisac  # noqa: E402
from jaxisac import autocorrelation as ac  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent.parent / "results" / "autocorrelation"


def drops(seed, n, T, bits, nx, *, sigma2=0.0, n_samples=1):
    keys = jax.random.split(jax.random.key(seed), n)
    return jax.jit(jax.vmap(lambda k: ac.make_drop(k, T, bits, nx=nx, nz=nx, sigma2=sigma2, n_samples=n_samples)))(keys)


def gains(v, hbar, ub):
    """Per-drop gain ratio to UB."""
    return np.asarray(jax.vmap(ac.effective_gain)(v, hbar) / ub)


def baselines(d, bits, q=None):
    q = d.q if q is None else q
    ub = jax.vmap(lambda h: ac.effective_gain(ac.upper_bound_reflection(h, bits), h))(d.hbar)
    rms = jax.vmap(ac.rms_reflection)(d.V, q)
    csm = jax.vmap(lambda V, q: ac.csm_reflection(V, q, bits))(d.V, q)
    return ub, {"RMS": gains(rms, d.hbar, ub), "CSM": gains(csm, d.hbar, ub)}


_SOLVE_FNS = {}  # (id(solver), robust) -> (solver, jitted batched solve): one compile per shape across rows


def _solve_fn(solver, robust):
    key = (id(solver), robust)
    if key not in _SOLVE_FNS:
        if robust:
            f = jax.jit(jax.vmap(lambda V, lo, hi, s2: jaxisac.solve(ac.RobustMeasurements(V, lo, hi, s2), solver, throw=False),
                                 (0, 0, 0, None)))
        else:
            f = jax.jit(jax.vmap(lambda V, p: jaxisac.solve(ac.PowerMeasurements(V, p), solver, throw=False)))
        _SOLVE_FNS[key] = (solver, f)  # the solver is kept alive so its id is not reused
    return _SOLVE_FNS[key][1]


def run_solver(d, bits, solver, *, robust=None, y=None):
    """vmapped solve; returns (H_hat, nmse per drop, gain ratio per drop, steps)."""
    if robust is None:
        sol = _solve_fn(solver, False)(d.V, d.p if y is None else y)
    else:
        lo, hi, sigma2 = robust
        sol = _solve_fn(solver, True)(d.V, lo, hi, jnp.asarray(sigma2, jnp.float64))
    Hb = jax.vmap(lambda h: ac.true_autocorrelation(h, bits))(d.hbar)
    e = np.asarray(ac.nmse(sol.value, Hb))
    ub = jax.vmap(lambda h: ac.effective_gain(ac.upper_bound_reflection(h, bits), h))(d.hbar)
    v = jax.vmap(lambda H: ac.design_reflection(H, bits))(sol.value)
    return sol, e, gains(v, d.hbar, ub)


def db(x):
    return float(10 * np.log10(np.mean(x)))


def write_csv(rows, name):
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    return path


def plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
