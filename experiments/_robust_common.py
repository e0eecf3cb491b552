"""Shared pipeline of the seed-002 experiments (robust ISAC waveforms): scenario, sweeps, box plots.

The paper's simulation engine (App. Q, Algorithm 1): one scenario (H_ref, S, X_s), one nominal
channel Hbar, robust designs over a theta (and rho) grid, and Monte-Carlo true channels H0 at which
the AASR of the nominal and robust waveforms is recorded. Every design of a grid is one vmapped
``jaxisac.solve``; the Monte-Carlo AASRs are one einsum.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

import jaxisac  # noqa: E402
from jaxisac import robust as rb  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "robust"
THETA_GRID = np.linspace(0.0, 0.2, 50)  # code grid linspace(0, 4 eps, 50); 0.127 ~ index 31, 0.16 ~ 39
RHO_COARSE = np.round(np.arange(0.0, 1.01, 0.1), 10)
RHO_FINE = np.round(np.arange(0.0, 0.101, 0.01), 10)


def parse(description: str):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true", help="CI-sized run")
    ap.add_argument("--dist", default="uniform", choices=["uniform", "gaussian"], help="perturbation distribution")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return args, out


_REF_CACHE: dict = {}


def scenario(epsilon: float = 0.05, *, quick: bool = False, dist: str = "uniform", dtype=jnp.complex128, seed: int = 68):
    """The paper's set-up: MMSE two-beam covariance + CA waveform (PAR 1.1), scattering H_ref, QPSK."""
    key = jax.random.key(seed)
    if seed not in _REF_CACHE:
        _REF_CACHE[seed] = rb.paper_reference_waveform(jax.random.fold_in(key, 1))
    R_mmse, X_s = _REF_CACHE[seed]
    sc = rb.make_scenario(jax.random.fold_in(key, 2), epsilon=epsilon, dist=dist, X_s=X_s, dtype=dtype)
    return sc, R_mmse


def true_channels(sc, n_mc: int, dist: str, seed: int = 2024):
    return sc.true_channels(jax.random.key(seed), n_mc, dist=dist)


@jax.jit
def aasr_batch(H0, X, S, n0):
    """AASR of every waveform ``X (..., N, L)`` at every channel ``H0 (M, K, N)`` -> ``(M, ...)``."""
    L = S.shape[-1]
    HX = jnp.einsum("mkn,...nl->m...kl", H0, X)
    mui = jnp.sum(jnp.abs(HX - S) ** 2, axis=-1) / L
    sig = jnp.sum(jnp.abs(S) ** 2, axis=-1) / L
    return jnp.mean(jnp.log2(1 + sig / (mui + n0)), axis=-1)


def box_stats(a: np.ndarray, axis: int = 0) -> dict:
    a = np.asarray(a)
    q = np.percentile(a, [0, 5, 50, 95, 100], axis=axis)
    return {k: q[i] for i, k in enumerate(["min", "p5", "median", "p95", "max"])}


def sc_designs(sc, thetas, solver):
    probs = jax.vmap(lambda t: rb.SensingCentricProblem(sc.H_nominal, sc.S, sc.R, t, noise_var=sc.noise_var))(
        jnp.asarray(thetas)
    )
    return jax.jit(jax.vmap(lambda p: jaxisac.solve(p, solver, throw=False)))(probs)


def joint_designs(sc, rhos, thetas, constraint, solver=None):
    solver = rb.Method3() if solver is None else solver
    P = float(sc.power)

    def one(r, t):
        p = rb.JointProblem(sc.H_nominal, sc.S, sc.X_s, P, r, t, noise_var=sc.noise_var, constraint=constraint)
        return jaxisac.solve(p, solver, throw=False)

    return jax.jit(jax.vmap(jax.vmap(one, (None, 0)), (0, None)))(jnp.asarray(rhos), jnp.asarray(thetas))


def draw_boxes(ax, xs, stats, width, color="tab:blue", label=None):
    """Box plot from precomputed (min, 5 %, median, 95 %, max) like the paper's boxplot_bear."""
    for i, x in enumerate(xs):
        lo, p5, md, p95, hi = (float(np.asarray(stats[k])[i]) for k in ["min", "p5", "median", "p95", "max"])
        ax.add_patch(__import__("matplotlib").patches.Rectangle((x - width / 2, p5), width, p95 - p5, fill=False,
                                                                 edgecolor=color, lw=0.8))
        ax.plot([x - width / 2, x + width / 2], [md, md], color="tab:red" if color == "tab:blue" else color, lw=0.8)
        ax.plot([x, x], [lo, p5], color=color, lw=0.6)
        ax.plot([x, x], [p95, hi], color=color, lw=0.6)
        ax.plot([x - width / 4, x + width / 4], [lo, lo], color=color, lw=0.6)
        ax.plot([x - width / 4, x + width / 4], [hi, hi], color=color, lw=0.6)
    if label:
        ax.plot([], [], color=color, label=label)


def plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as p

    return p


def save_json(path, obj):
    def conv(o):
        if isinstance(o, dict):
            return {k: conv(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [conv(v) for v in o]
        if isinstance(o, (np.ndarray, jax.Array)):
            return np.asarray(o).tolist()
        if isinstance(o, (np.floating, np.integer)):
            return o.item()
        return o

    with open(path, "w") as f:
        json.dump(conv(obj), f, indent=1)


def save_csv(path, columns: dict):
    keys = list(columns)
    n = len(np.asarray(columns[keys[0]]))
    with open(path, "w") as f:
        f.write(",".join(keys) + "\n")
        for i in range(n):
            f.write(",".join(f"{float(np.asarray(columns[k])[i]):.10g}" for k in keys) + "\n")


class Timer:
    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, *a):
        self.s = time.perf_counter() - self.t
