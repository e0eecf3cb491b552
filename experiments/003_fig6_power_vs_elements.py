"""Fig. 6 of the BD-RIS paper (spec §5, v5 Fig. 6 / v3 Fig. 5): channel power gain vs number of
scattering elements N_S, 16 x N_S x 16, for group sizes L = 2^k; (a) no direct link, (b) with one.

For every (N_S, L) the power-gain maximiser (Prop 5, parallel MM, batched over draws with ``vmap``);
for the fully connected case also the closed forms: (20a) ``V_B U_F^H`` without a direct link (it
attains the bound (19)) and the orthogonal-Procrustes shortcuts OP-left / OP-right (44) with one.
Spec target: with a direct link, a 64-element BD-RIS (L = N_S) gives about the power of a
256-element D-RIS (L = 1).

``--quick``: N_S in {16, 32}, L in {1, 4, N_S}, 4 draws (seconds). Full: N_S in {16, ..., 256},
L in {1, 4, 16, 64, 256} (up to N_S), 100 draws. Writes results/bdris/003_fig6_power_vs_elements.{csv,png}.
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

N_ANT = 16


def _power(theta_fn, chans, direct):
    def one(c):
        th = theta_fn(c)
        return bdris.power_gain(bdris.channel(th, c.H_direct if direct else None, c.H_backward, c.H_forward))

    return np.asarray(jax.block_until_ready(jax.vmap(one)(chans)))


def run(quick: bool, out_dir: pathlib.Path):
    sizes, draws = ([16, 32], 4) if quick else ([16, 32, 64, 128, 256], 100)
    rows = []
    for direct in (False, True):
        for n_s in sizes:
            keys = jax.random.split(jax.random.key(6000 + n_s), draws)
            chans = jax.vmap(lambda k: bdris.make_channels(k, N_ANT, n_s, N_ANT, direct=direct))(keys)
            groups = sorted({1, 4, n_s} if quick else {L for L in (1, 4, 16, 64, 256) if L <= n_s} | {n_s})
            methods = []
            for L in groups:
                solver = bdris.PowerGainMM(rtol=1e-8, max_steps=500)
                methods.append((f"P-max L={L}", L, lambda c, L=L, solver=solver: jaxisac.solve(
                    bdris.shaping_problem(c, group_size=L),
                    solver, throw=False).value))
            if direct:
                methods += [(f"OP-{side} (44)", n_s, lambda c, side=side: bdris.theta_procrustes(c.H_direct, c.H_backward, c.H_forward, side))
                            for side in ("left", "right")]
            else:
                methods.append(("explicit (20a)", n_s, lambda c: bdris.theta_power_max(c.H_backward, c.H_forward)))
            for name, L, fn in methods:
                t0 = time.perf_counter()
                p = _power(fn, chans, direct)
                rows.append(dict(direct=direct, n_ris=n_s, group_size=L, method=name, mean_power=float(p.mean()),
                                 stderr=float(p.std(ddof=1) / np.sqrt(draws)), draws=draws, seconds=time.perf_counter() - t0))
                print(f"{'H_D' if direct else 'no H_D'} N_S={n_s:3d} {name:16s}: mean power {p.mean():.4e}")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out_dir / "003_fig6_power_vs_elements.csv")
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, direct in zip(axes, (False, True)):
        sub = [r for r in rows if r["direct"] == direct]
        for name in sorted({r["method"] for r in sub if r["method"].startswith("P-max")}, key=lambda s: int(s.split("=")[1])):
            r = [x for x in sub if x["method"] == name]
            ax.errorbar([x["n_ris"] for x in r], [x["mean_power"] for x in r], yerr=[x["stderr"] for x in r], fmt="o-", label=name)
        for name, mk in (("explicit (20a)", "k--"), ("OP-left (44)", "k:"), ("OP-right (44)", "k-.")):
            r = [x for x in sub if x["method"] == name]
            if r:
                ax.plot([x["n_ris"] for x in r], [x["mean_power"] for x in r], mk, label=name)
        ax.set(xscale="log", yscale="log", xlabel="N_S", ylabel="channel power gain",
               title=f"{N_ANT}xN_Sx{N_ANT}, {'with' if direct else 'no'} direct link")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "003_fig6_power_vs_elements.png", dpi=100)
    plt.close(fig)
    return rows


if __name__ == "__main__":
    run(*quick_cli("results/bdris"))
