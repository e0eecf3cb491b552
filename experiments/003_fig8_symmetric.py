"""Fig. 8 of the BD-RIS paper (spec §5, v5 Fig. 8 / v3 Fig. 7), power half: the cost of reciprocity
(symmetric BD-RIS) for the channel power gain, 2 x N_S x 2 without a direct link.

Per group size L: asymmetric P-max (Prop 5, parallel MM); symmetric by the exact routes of spec §3.3
(Takagi MM ``PowerGainMM(variant="takagi")`` and Riemannian CG over ``Q`` with ``Theta = Q Q^T``);
and the paper's "projection" ``(Theta + Theta^T)/2`` of the asymmetric optimum (spec A11), whose power is
reported together with its unitarity error: it is not a lossless scattering matrix. Spec target:
a small loss from symmetry.

``--quick``: N_S = 16, L in {1, 4, 16}, 4 draws. Full: N_S in {16, 64}, L in {1, 4, 16, 64} (<= N_S),
100 draws. Writes results/bdris/003_fig8_symmetric.{csv,png}. (The rate half of the figure is not
scripted.)
"""

from __future__ import annotations

import pathlib
import sys
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import jaxisac  # noqa: E402
from jaxisac import bdris  # noqa: E402
from _common import pyplot, quick_cli, write_rows  # noqa: E402


def run(quick: bool, out_dir: pathlib.Path):
    sizes, draws = ([16], 4) if quick else ([16, 64], 100)
    mm = bdris.PowerGainMM(rtol=1e-10, max_steps=1000)
    mm_t = bdris.PowerGainMM(rtol=1e-10, max_steps=1000, variant="takagi")
    rcg = bdris.RiemannianCG(gtol=1e-8, max_steps=2000)
    rows = []
    for n_s in sizes:
        keys = jax.random.split(jax.random.key(8000 + n_s), draws)
        chans = jax.vmap(lambda k: bdris.make_channels(k, 2, n_s, 2, direct=False))(keys)
        for L in [g for g in (1, 4, 16, 64) if g <= n_s]:
            t0 = time.perf_counter()

            def one(c, L=L):
                asym = jaxisac.solve(bdris.shaping_problem(c, group_size=L), mm, throw=False)
                tak = jaxisac.solve(bdris.shaping_problem(c, group_size=L), mm_t, throw=False)
                symp = bdris.shaping_problem(c, group_size=L, symmetric=True)
                q = jaxisac.solve(symp, rcg, throw=False)
                proj = bdris.enforce_symmetry_paper(asym.value)
                p_proj = bdris.power_gain(bdris.channel(proj, None, c.H_backward, c.H_forward))
                return dict(asymmetric=asym.objective, takagi_mm=tak.objective, rcg_QQT=q.objective,
                            paper_projection=p_proj,
                            projection_unitarity_error=bdris.unitarity_error(proj),
                            takagi_symmetry_error=bdris.symmetry_error(tak.value),
                            qqt_symmetry_error=bdris.symmetry_error(symp.theta(q.value)))

            res = {k: np.asarray(v) for k, v in jax.block_until_ready(jax.vmap(one)(chans)).items()}
            dt = time.perf_counter() - t0
            for m in ("asymmetric", "takagi_mm", "rcg_QQT", "paper_projection"):
                p = res[m]
                rows.append(dict(n_ris=n_s, group_size=L, method=m, mean_power=float(p.mean()),
                                 stderr=float(p.std(ddof=1) / np.sqrt(draws)),
                                 mean_ratio_to_asymmetric=float(np.mean(p / res["asymmetric"])),
                                 max_unitarity_error=float(res["projection_unitarity_error"].max()) if m == "paper_projection" else 0.0,
                                 max_symmetry_error=float({"takagi_mm": res["takagi_symmetry_error"], "rcg_QQT": res["qqt_symmetry_error"]}
                                                          .get(m, np.zeros(1)).max()),
                                 draws=draws, seconds=dt))
                print(f"2x{n_s}x2 L={L:3d} {m:17s}: mean power {p.mean():.4e}  (x{np.mean(p / res['asymmetric']):.4f} of asymmetric)")
            print(f"   paper projection unitarity error up to {res['projection_unitarity_error'].max():.2e}")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out_dir / "003_fig8_symmetric.csv")
    plt = pyplot()
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.6 * len(sizes), 3.6), squeeze=False)
    for ax, n_s in zip(axes[0], sizes):
        for m, mk in (("asymmetric", "o-"), ("takagi_mm", "s--"), ("rcg_QQT", "x:"), ("paper_projection", "v-.")):
            r = [x for x in rows if x["n_ris"] == n_s and x["method"] == m]
            ax.errorbar([x["group_size"] for x in r], [x["mean_power"] for x in r], yerr=[x["stderr"] for x in r], fmt=mk,
                        label=m + (" (not unitary)" if m == "paper_projection" else ""))
        ax.set(xscale="log", xlabel="group size L", ylabel="channel power gain", title=f"2x{n_s}x2, no direct link")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "003_fig8_symmetric.png", dpi=100)
    plt.close(fig)
    return rows


if __name__ == "__main__":
    run(*quick_cli("results/bdris"))
