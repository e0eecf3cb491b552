"""Fig. 5 of the BD-RIS paper (spec §5): channel power gain vs group size, H_D = 0.

SISO 1 x N_S x 1 and MIMO 4 x N_S x 4 with the paper's path loss; for every group size L the
power-gain maximiser (Prop 5, parallel, batched over draws with ``vmap``) and, for L = N_S, the
closed form V_B U_F^H (20a), against the bound (19).

``--quick``: N_S = 16, 8 draws, L in {1, 4, 16} (seconds). Full: N_S = 256, 100 draws,
L in {1, 4, 16, 64, 256}. Writes results/bdris/003_power_vs_group.{csv,png}.
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
import jaxisac  # noqa: E402
from jaxisac import bdris  # noqa: E402
from _common import pyplot, quick_cli, write_rows  # noqa: E402


def run(quick: bool, out_dir: pathlib.Path):
    n_s, draws, groups = (16, 8, [1, 4, 16]) if quick else (256, 100, [1, 4, 16, 64, 256])
    rows = []
    for n in (1, 4):
        keys = jax.random.split(jax.random.key(7000 + n), draws)
        chans = jax.vmap(lambda k: bdris.make_channels(k, n, n_s, n, direct=False))(keys)
        bound = jax.vmap(lambda c: bdris.power_bounds(c.H_backward, c.H_forward)[1])(chans)
        for L in groups:
            t0 = time.perf_counter()
            if L == n_s:
                th = jax.vmap(lambda c: bdris.theta_power_max(c.H_backward, c.H_forward))(chans)
                p = jax.vmap(lambda c, t: bdris.power_gain(bdris.channel(t, None, c.H_backward, c.H_forward)))(chans, th)
            else:
                solver = bdris.PowerGainMM(rtol=1e-8, max_steps=500)
                sol = jax.vmap(lambda c: jaxisac.solve(bdris.shaping_problem(c, group_size=L), solver, throw=False))(chans)
                p = sol.objective
            p = np.asarray(jax.block_until_ready(p))
            rows.append(dict(n_antennas=n, n_ris=n_s, group_size=L, mean_power=float(p.mean()),
                             stderr=float(p.std(ddof=1) / np.sqrt(draws)), mean_bound=float(np.mean(bound)),
                             draws=draws, seconds=time.perf_counter() - t0))
            print(f"{n}x{n_s}x{n} L={L:4d}: mean power {p.mean():.4e} (bound {np.mean(bound):.4e})")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out_dir / "003_power_vs_group.csv")
    plt = pyplot()

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, n in zip(axes, (1, 4)):
        r = [x for x in rows if x["n_antennas"] == n]
        ax.errorbar([x["group_size"] for x in r], [x["mean_power"] for x in r], yerr=[x["stderr"] for x in r], fmt="o-", label="P-max (Prop 5 / (20a))")
        ax.axhline(r[0]["mean_bound"], ls="--", c="k", label="bound (19)")
        ax.set(xscale="log", xlabel="group size L", ylabel="channel power gain", title=f"{n}x{n_s}x{n}, no direct link")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "003_power_vs_group.png", dpi=100)
    plt.close(fig)
    return rows


if __name__ == "__main__":
    run(*quick_cli("results/bdris"))
