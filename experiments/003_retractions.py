"""Retractions on U(L)^G compared (spec §4.3): accuracy against the geodesic, drift from the group
after many steps in complex128 / complex64, and CPU time per call (jit, compile excluded).

``--quick``: 4 blocks of L = 16. Full: also 16 blocks of L = 4 and 1 block of 64 and of 256.
Writes results/bdris/003_retractions.{csv,png}.
"""

from __future__ import annotations

import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from jaxisac.core.manifolds import BlockUnitary, skew  # noqa: E402
from _common import pyplot, quick_cli, write_rows  # noqa: E402

RETRACTIONS = ["exp", "expm", "cayley", "qr", "polar"]


def _direction(key, x):
    kr, ki = jax.random.split(key)
    v = jax.random.normal(kr, x.shape, jnp.finfo(x.dtype).dtype) + 1j * jax.random.normal(ki, x.shape, jnp.finfo(x.dtype).dtype)
    om = skew(v.astype(x.dtype))
    lam = jnp.max(jnp.abs(jnp.linalg.eigvalsh(1j * om)))
    return (om / lam) @ x  # ||Omega||_2 = 1


def run(quick: bool, out_dir: pathlib.Path):
    sizes = [(4, 16)] if quick else [(16, 4), (4, 16), (1, 64), (1, 256)]
    steps = 200
    rows = []
    for G, L in sizes:
        ref = BlockUnitary(G, L, "exp")
        x = ref.random_point(jax.random.key(0))
        v = _direction(jax.random.key(1), x)
        geo = ref.curve(x, v)(0.1)
        for r in RETRACTIONS:
            man = BlockUnitary(G, L, r)
            f = jax.jit(lambda x, v: man.retract(x, 0.1 * v))
            dev = float(jnp.linalg.norm(f(x, v) - geo) / jnp.linalg.norm(geo))
            jax.block_until_ready(f(x, v))
            t0 = time.perf_counter()
            reps = 20
            for _ in range(reps):
                jax.block_until_ready(f(x, v))
            t = (time.perf_counter() - t0) / reps
            drift = {}
            for dt in (jnp.complex128, jnp.complex64):
                x0 = x.astype(dt)

                def body(i, y):
                    return man.retract(y, (0.1 * _direction(jax.random.fold_in(jax.random.key(2), i), y)))

                y = jax.jit(lambda y: jax.lax.fori_loop(0, steps, body, y))(x0)
                drift[str(jnp.dtype(dt))] = float(man.distance_to_manifold(y))
            rows.append(dict(blocks=G, block_size=L, retraction=r, deviation_from_geodesic=dev,
                             drift_c128=drift["complex128"], drift_c64=drift["complex64"], ms_per_call=1e3 * t))
            print(f"G={G:3d} L={L:3d} {r:7s}: dev {dev:.1e}, drift c128 {drift['complex128']:.1e} c64 {drift['complex64']:.1e}, {1e3 * t:.3f} ms")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out_dir / "003_retractions.csv")
    plt = pyplot()

    fig, ax = plt.subplots(1, 3, figsize=(12, 3.5))
    for k, (key, title) in enumerate([("deviation_from_geodesic", "deviation from geodesic (mu=0.1)"), ("drift_c64", f"unitarity drift, c64, {steps} steps"), ("ms_per_call", "ms per call (CPU)")]):
        for i, (G, L) in enumerate(sizes):
            vals = [x[key] for x in rows if x["blocks"] == G and x["block_size"] == L]
            ax[k].bar(np.arange(len(RETRACTIONS)) + 0.8 * i / len(sizes), np.maximum(vals, 1e-17), width=0.8 / len(sizes), label=f"{G}x U({L})")
        ax[k].set(xticks=np.arange(len(RETRACTIONS)) + 0.3, xticklabels=RETRACTIONS, yscale="log", title=title)
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "003_retractions.png", dpi=100)
    plt.close(fig)
    return rows


if __name__ == "__main__":
    run(*quick_cli("results/bdris"))
