"""Shared helpers of the DMA experiments (seed 000): drops, batched AO runs, output folder."""

from __future__ import annotations

import argparse
import json
import os
import time

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxisac  # noqa: E402
from jaxisac import dma  # noqa: E402
from jaxisac.core import ProgressBar  # noqa: E402

OUT = os.path.join("results", "dma")


def args(desc, extra=None):
    """Parse ``--quick`` (and the options ``extra(parser)`` adds); create the output folder."""
    p = argparse.ArgumentParser(description=desc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CI-sized run (small array, few drops, few iterations)")
    if extra is not None:
        extra(p)
    a = p.parse_args()
    os.makedirs(OUT, exist_ok=True)
    return a


def sizes(quick):
    """(N, L_mu, max_iters): S0 (4, 8, 100) or the quick (4, 4, 10)."""
    return (4, 4, 10) if quick else (4, 8, 100)


def make_drop(key, N=4, L_mu=8, M=2, random_start=False, **problem_kw):
    """One S0 drop (users uniform in the box); optional random start y0 ~ 10 N(0, I)."""
    k1, k2 = jax.random.split(key)
    model = dma.make_model(dma.random_users(k1, M), N=N, L_mu=L_mu)
    y0 = 10.0 * jax.random.normal(k2, (model.L,)) if random_start else dma.Y0_CST
    return dma.make_problem(model, y0=y0, **problem_kw)


def stack(problems):
    return jax.tree_util.tree_map(lambda *x: jnp.stack(x), *problems)


def run_batched(problems, solver, chunk=16, progress=True, width=None):
    """Run the AO over a list of problems; returns a list of per-instance dicts.

    ``width=None``: vmapped chunks of ``chunk`` problems (a chunk waits for its slowest member).
    ``width=w``: chunks of ``chunk`` problems, each solved by :func:`jaxisac.core.solve_refill` in
    ``w`` refilled slots (a finished run hands its slot to the next one)."""
    if width is None:
        f = jax.jit(jax.vmap(lambda p: jaxisac.solve(p, solver, throw=False)))
    else:
        f = jax.jit(lambda b: jaxisac.core.solve_refill(b, solver, width=width))
    out = []
    bar = ProgressBar(len(problems), "AO") if progress else None
    for s in range(0, len(problems), chunk):
        part = problems[s:s + chunk]
        pad = chunk - len(part) if len(problems) > chunk else 0
        batch = stack(part + [part[-1]] * pad)
        sol = f(batch)
        jax.block_until_ready(sol)
        for i in range(len(part)):
            out.append({
                "objective": float(sol.objective[i]), "status": int(sol.result[i]), "iters": int(sol.stats["iters"][i]),
                "steps": int(sol.stats["steps"][i]), "phase_one_steps": int(sol.stats["phase_one_steps"][i]),
                "y": np.asarray(sol.value["y"][i]), "B": np.asarray(sol.value["B"][i]),
                "trace": np.asarray(sol.stats["trace"][i]),
            })
        if bar is not None:
            bar.update(len(part))
    return out


def save_json(name, obj):
    with open(os.path.join(OUT, name), "w") as fh:
        json.dump(obj, fh, indent=1, default=float)


def plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as p

    return p


def timer():
    t0 = time.perf_counter()
    return lambda: time.perf_counter() - t0
