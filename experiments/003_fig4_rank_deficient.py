"""Fig. 4 of the BD-RIS paper (spec §5, v5 Fig. 4 / v3 Fig. 3): shaping the singular values of a
channel with a rank-deficient forward link against the Prop 2 interlacing bounds (8a)/(8b).

4 x N_S x 4 with rank H_F = k (k = 1 at N_S = 32/64, 2 at 128, 4 at 256) and a direct link; for
D-RIS (L = 1) and fully connected BD-RIS (L = N_S) each singular value sigma_n is maximised
(rho = e_n) and minimised (rho = -e_n) by Riemannian CG (weighted singular-value objective (34)),
from Theta = I. Prop 2 says every Theta gives sigma_n(T) <= sigma_n(H) and, for n > k,
sigma_n(H) <= sigma_{n-k}(T), with T = H_D (I - V_F V_F^H). Spec target: the bounds are respected,
and BD-RIS gets closer to them than D-RIS.

``--quick``: N_S = 32 (k = 1), 1 draw (seconds). Full: N_S in {32, 64, 128, 256}, 2 draws (the
paper's). Writes results/bdris/003_fig4_rank_deficient.{csv,png}.
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

RANK = {32: 1, 64: 1, 128: 2, 256: 4}
N = 4


def run(quick: bool, out_dir: pathlib.Path):
    sizes, draws = ([32], 1) if quick else ([32, 64, 128, 256], 2)
    solver = bdris.RiemannianCG(gtol=1e-8, max_steps=3000)
    rows = []
    for n_s in sizes:
        k = RANK[n_s]
        for d in range(draws):
            c = bdris.make_channels(jax.random.key(4000 + 10 * n_s + d), N, n_s, N, rank_forward=k)
            lo, hi, k_found = bdris.interlacing_bounds(c.H_direct, c.H_backward, c.H_forward)
            assert k_found == k
            weights = jnp.concatenate([jnp.eye(N), -jnp.eye(N)])  # rho = e_n (max), -e_n (min)
            for L in (1, n_s):
                t0 = time.perf_counter()
                sol = jax.vmap(lambda w: jaxisac.solve(
                    bdris.shaping_problem(c, group_size=L, objective="pareto", params=w), solver, throw=False))(weights)
                H = jax.vmap(lambda th: bdris.channel(th, c.H_direct, c.H_backward, c.H_forward))(sol.value)
                sv = np.asarray(jnp.linalg.svd(H, compute_uv=False))
                dt = time.perf_counter() - t0
                for n in range(N):
                    smax, smin = float(sv[n, n]), float(sv[N + n, n])
                    rows.append(dict(n_ris=n_s, rank_forward=k, draw=d, group_size=L, n=n + 1, sigma_max=smax, sigma_min=smin,
                                     lower_bound=float(lo[n]), upper_bound=float(hi[n]),
                                     bounds_hold=bool(smin >= lo[n] - 1e-9 * lo[0] and smax <= hi[n] + 1e-9 * lo[0]),
                                     seconds=dt / N))
                    print(f"N_S={n_s:3d} k={k} draw {d} L={L:3d} sigma_{n + 1}: [{smin:.4e}, {smax:.4e}]"
                          f"  bounds [{lo[n]:.4e}, {hi[n]:.4e}]")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out_dir / "003_fig4_rank_deficient.csv")
    print("all bounds hold:", all(r["bounds_hold"] for r in rows))
    plt = pyplot()
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), squeeze=False)
    for ax, n_s in zip(axes[0], sizes):
        r0 = [r for r in rows if r["n_ris"] == n_s and r["draw"] == 0]
        for L, off, col in ((1, -0.12, "C0"), (n_s, 0.12, "C1")):
            r = [x for x in r0 if x["group_size"] == L]
            x = np.array([x["n"] for x in r]) + off
            ax.vlines(x, [x_["sigma_min"] for x_ in r], [x_["sigma_max"] for x_ in r], colors=col, lw=4,
                      label="D-RIS" if L == 1 else "fully connected")
        r = [x for x in r0 if x["group_size"] == 1]
        n = np.array([x["n"] for x in r])
        ax.plot(n, [x["lower_bound"] for x in r], "k_", ms=18, mew=2, label="Prop 2 bounds")
        up = np.array([x["upper_bound"] for x in r])
        ax.plot(n[np.isfinite(up)], up[np.isfinite(up)], "k_", ms=18, mew=2)
        ax.set(yscale="log", xlabel="n", ylabel="sigma_n(H)", title=f"4x{n_s}x4, rank H_F = {RANK[n_s]}", xticks=n)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "003_fig4_rank_deficient.png", dpi=100)
    plt.close(fig)
    return rows


if __name__ == "__main__":
    run(*quick_cli("results/bdris"))
