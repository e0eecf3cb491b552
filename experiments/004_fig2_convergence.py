"""Fig. 2 of seed 004: convergence of LRA (g / g_r vs SDP step) and ALRA (normalised distance vs
iteration) at T_p = 65, b = 1 and b = 2.

Full: N = 65 (ALRA and LRA with b = 1; LRA with b = 2 at N = 65 is slow on CPU, add --lra-b2).
--quick: N = 17, T_p = 40.

    python experiments/004_fig2_convergence.py [--quick] [--lra-b2]
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from _004_common import OUT, plt, write_csv
import jaxisac
from jaxisac import autocorrelation as ac


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--lra-b2", action="store_true")
    a = ap.parse_args()
    nx, T = (4, 40) if a.quick else (8, 65)
    t0 = time.time()
    rows, curves = [], {}
    for bits in (2, 1):
        d = ac.paper_drop(0, T, bits, nx=nx, nz=nx)
        prob = ac.PowerMeasurements(d.V, d.p)
        Hb = ac.true_autocorrelation(d.hbar, bits)
        # ALRA: normalised distance d_e / ||H||_F per iteration (paper rule and to convergence)
        for rule in ("paper", "distance"):
            L = 300
            sol = jaxisac.solve(prob, ac.ALRA(rule=rule, trace_length=L, max_steps=L - 1), throw=False)
            n = int(sol.stats["steps"])
            d2 = np.asarray(sol.stats["trace_objective"])[: n + 1]
            dist = np.sqrt(d2) / np.sqrt(np.sum(np.abs(np.asarray(Hb)) ** 2))
            curves[f"ALRA-{rule} b={bits}"] = dist.tolist()
            rows.append(dict(alg=f"ALRA ({rule} rule)", b=bits, N=nx * nx + 1, T=T, steps=n,
                             nmse=float(ac.nmse(sol.value, Hb)), final=float(dist[-1])))
        if bits == 1 or a.quick or a.lra_b2:
            sol = jaxisac.solve(prob, ac.LRA(trace_length=31), throw=False)
            n = int(sol.stats["steps"])
            g = np.asarray(sol.stats["trace_ratio"])[: n + 1]
            curves[f"LRA b={bits}"] = g.tolist()
            rows.append(dict(alg="LRA", b=bits, N=nx * nx + 1, T=T, steps=n, nmse=float(ac.nmse(sol.value, Hb)), final=float(g[-1])))
    write_csv(rows, "fig2_convergence.csv")
    (OUT / "fig2_convergence.json").write_text(json.dumps(curves))
    P = plt()
    fig, ax = P.subplots(1, 2, figsize=(10, 3.8))
    for k, c in curves.items():
        if k.startswith("LRA"):
            ax[0].plot(np.arange(len(c)), c, "o-", label=k)
        else:
            ax[1].semilogy(np.arange(len(c)), c, label=k)
    ax[0].set(title=f"Fig. 2(a): LRA, T_p = {T}", xlabel="SDP step (0 = TM)", ylabel="g (b=2) / g_r (b=1)")
    ax[1].set(title=f"Fig. 2(b): ALRA, T_p = {T}", xlabel="iteration", ylabel="d_e / ||Hbar||_F")
    ax[0].legend(fontsize=8)
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "fig2_convergence.png", dpi=100)
    print(f"done in {time.time() - t0:.0f} s")
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
