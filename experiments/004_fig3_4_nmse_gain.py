"""Figs. 3 and 4 of seed 004: NMSE and effective gain vs the number of measurements T_p.

ALRA with the paper's stopping rule (ALRA-eps) and run to convergence (distance rule, ALRA-conv),
TM and LRA (ADMM SDP; optional at N = 65, slow), with UB / RMS / CSM, for b = 1 and b = 2.
Full: N = 65, T_p in {65, 130, 200, 260, 350, 500}, 10 drops (spec §10.3 scale; the paper used 1000).
--quick: N = 17, T_p in {40, 80}, 3 drops (TM and LRA only with --sdp).

    python experiments/004_fig3_4_nmse_gain.py [--quick] [--sdp] [--drops 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _004_common import OUT, baselines, db, drops, plt, run_solver, write_csv
from jaxisac import autocorrelation as ac
from jaxisac.core import ProgressBar


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sdp", action="store_true", help="also TM and LRA (ADMM SDP; slow on CPU)")
    ap.add_argument("--drops", type=int, default=None)
    a = ap.parse_args()
    nx, Ts, nd = (4, [40, 80], 3) if a.quick else (8, [65, 130, 200, 260, 350, 500], 10)
    nd = a.drops or nd
    with_sdp = a.sdp
    solvers = {"ALRA-eps": ac.ALRA(rule="paper"), "ALRA-conv": ac.ALRA()}
    if with_sdp:
        solvers.update({"TM": ac.TM(), "LRA": ac.LRA()})
    rows = []
    bar = ProgressBar(2 * len(Ts), desc="fig3/4")
    t0 = time.time()
    for bits in (2, 1):
        for T in Ts:
            d = drops(100 + T, nd, T, bits, nx)
            ub, base = baselines(d, bits)
            row = dict(b=bits, T=T, T_over_N=T / (nx * nx + 1), drops=nd, UB_dB=db(ub))
            for name, s in solvers.items():
                if name in ("TM", "LRA"):
                    # SDP solvers work on scaled powers (same estimate up to the scale)
                    scale = np.asarray(d.p).mean(axis=1, keepdims=True)
                    sol, e, g = run_solver(d, bits, s, y=d.p / scale)
                    e = np.asarray(ac.nmse(sol.value * scale[:, :, None], np.asarray(jax_true(d, bits))))
                else:
                    sol, e, g = run_solver(d, bits, s)
                row[f"{name}_nmse_mean"] = float(np.mean(e))
                row[f"{name}_nmse_median"] = float(np.median(e))
                row[f"{name}_gain_dB"] = db(g)
                row[f"{name}_steps_mean"] = float(np.mean(np.asarray(sol.stats["steps"])))
            for k, g in base.items():
                row[f"{k}_gain_dB"] = db(g)
            rows.append(row)
            bar.update(1)
    path = write_csv(rows, "fig3_4_nmse_gain.csv")
    P = plt()
    fig, ax = P.subplots(2, 2, figsize=(10, 7))
    for j, bits in enumerate((1, 2)):
        rr = [r for r in rows if r["b"] == bits]
        T = [r["T"] for r in rr]
        for name in solvers:
            ax[0, j].semilogy(T, [max(r[f"{name}_nmse_mean"], 1e-16) for r in rr], "o-", label=name)
            ax[1, j].plot(T, [r[f"{name}_gain_dB"] for r in rr], "o-", label=name)
        for k in ("RMS", "CSM"):
            ax[1, j].plot(T, [r[f"{k}_gain_dB"] for r in rr], "s--", label=k)
        ax[1, j].axhline(0.0, color="k", lw=0.8, label="UB")
        ax[0, j].set(title=f"Fig. 3: NMSE, b = {bits}", xlabel="T_p", ylabel="NMSE (mean)")
        ax[1, j].set(title=f"Fig. 4: gain vs UB, b = {bits}", xlabel="T_p", ylabel="gain / UB [dB]")
        ax[0, j].legend(fontsize=7)
        ax[1, j].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "fig3_4_nmse_gain.png", dpi=100)
    print(f"wrote {path} and fig3_4_nmse_gain.png in {time.time() - t0:.0f} s")
    for r in rows:
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()})


def jax_true(d, bits):
    import jax

    return jax.vmap(lambda h: ac.true_autocorrelation(h, bits))(d.hbar)


if __name__ == "__main__":
    main()
