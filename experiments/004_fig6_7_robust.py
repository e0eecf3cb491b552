"""Figs. 6 and 7 of seed 004 (b = 1): robust ALRA under noise (NMSE / gain vs T_p for N0 in
{1, 8, 80} and sigma^2 in {-90, -85} dBm) and under RSRP quantisation (vs the gap D at T_p = 200,
sigma^2 = -90 dBm, N0 = 8), with UB / RMS / CSM. R-ALRA runs to convergence (phi stagnation) with the
exact mu, and with the paper's eps-rule (R-ALRA-eps). rho = 10 in the paper's units (W, p0 = 1 W).
Robust TM (R-TM) and robust LRA (R-LRA, paper eps-rule, at most 10 SDP steps) run on the shared
interior-point SDP solver (their default; second-order-cone epigraph of the penalty), rho = 10 per
sigma^2 unit (spec A9), on the first ``sdp_drops`` drops only. (At N = 65, T_p = 100 one drop took
19 s for R-TM and 26 s for R-LRA on 2 loaded cores, against 61 s and 234 s with the ADMM SDP capped at
500 x 10 iterations, which also stopped short of its tolerance: the full size is run with the IPM.)

Full: N = 65, T_p in {100, 200, 300, 400}, 6 drops (R-TM / R-LRA: 2); D in {1, 2, 4, 8, 12, 16} dB, 6
drops (R-TM / R-LRA: 2). --quick: N = 17, T_p in {40, 80}, 3 drops (all); D in {1, 8} dB.

    python experiments/004_fig6_7_robust.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from _004_common import OUT, baselines, db, drops, plt, run_solver, write_csv
from jaxisac import autocorrelation as ac


def _head(tree, n):
    return jax.tree_util.tree_map(lambda x: x[:n], tree)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    bits = 1
    if a.quick:
        nx, Ts, nd, N0s, gaps, Tq, nsdp = 4, [40, 80], 3, [1, 8], [1.0, 8.0], 60, 3
    else:
        nx, Ts, nd, N0s, gaps, Tq, nsdp = 8, [100, 200, 300, 400], 6, [1, 8, 80], [1.0, 2.0, 4.0, 8.0, 12.0, 16.0], 200, 2
    solvers = {"R-ALRA": ac.RobustALRA(), "R-ALRA-eps": ac.RobustALRA(rule="paper")}
    sdp_solvers = {"R-TM": ac.RobustTM(), "R-LRA": ac.RobustLRA(max_steps=10)}
    t0 = time.time()
    rows6 = []
    for N0 in N0s:
        for s_dbm in (-90.0, -85.0):
            sigma2 = float(ac.dbm_to_watt(s_dbm))
            for T in Ts:
                d = drops(7 + T, nd, T, bits, nx, sigma2=sigma2, n_samples=N0)
                ub, base = baselines(d, bits)
                row = dict(N0=N0, sigma2_dBm=s_dbm, T=T, drops=nd)
                for name, s in solvers.items():
                    _, e, g = run_solver(d, bits, s, robust=(d.q, d.q, sigma2))
                    row[f"{name}_nmse_mean"] = float(np.mean(e))
                    row[f"{name}_nmse_median"] = float(np.median(e))
                    row[f"{name}_gain_dB"] = db(g)
                ds = _head(d, nsdp)
                for name, s in sdp_solvers.items():
                    _, e, g = run_solver(ds, bits, s, robust=(ds.q, ds.q, sigma2))
                    row[f"{name}_nmse_mean"] = float(np.mean(e))
                    row[f"{name}_nmse_median"] = float(np.median(e))
                    row[f"{name}_gain_dB"] = db(g)
                for k, g in base.items():
                    row[f"{k}_gain_dB"] = db(g)
                rows6.append(row)
                print(row, flush=True)
    write_csv(rows6, "fig6_noise.csv")
    rows7 = []
    sigma2 = float(ac.dbm_to_watt(-90.0))
    d = drops(77, nd, Tq, bits, nx, sigma2=sigma2, n_samples=8)
    for gap in gaps:
        lvl, lo, hi = jax.vmap(lambda q: ac.quantize_rsrp(q, gap))(d.q)
        qhat = 0.5 * (lo + hi)
        ub, base = baselines(d, bits, q=qhat)
        row = dict(gap_dB=gap, T=Tq, drops=nd, levels_used=float(np.mean([len(np.unique(np.asarray(l))) for l in lvl])))
        for name, s in solvers.items():
            _, e, g = run_solver(d, bits, s, robust=(lo, hi, sigma2))
            row[f"{name}_nmse_mean"] = float(np.mean(e))
            row[f"{name}_nmse_median"] = float(np.median(e))
            row[f"{name}_gain_dB"] = db(g)
        ds = _head(d, nsdp)
        for name, s in sdp_solvers.items():
            _, e, g = run_solver(ds, bits, s, robust=(lo[:nsdp], hi[:nsdp], sigma2))
            row[f"{name}_nmse_mean"] = float(np.mean(e))
            row[f"{name}_nmse_median"] = float(np.median(e))
            row[f"{name}_gain_dB"] = db(g)
        for k, g in base.items():
            row[f"{k}_gain_dB"] = db(g)
        rows7.append(row)
        print(row, flush=True)
    write_csv(rows7, "fig7_quantisation.csv")
    P = plt()
    fig, ax = P.subplots(2, 2, figsize=(10, 7))
    for N0 in N0s:
        for s_dbm in (-90.0, -85.0):
            rr = [r for r in rows6 if r["N0"] == N0 and r["sigma2_dBm"] == s_dbm]
            lab = f"N0={N0}, {s_dbm:.0f} dBm"
            ax[0, 0].semilogy([r["T"] for r in rr], [r["R-ALRA_nmse_mean"] for r in rr], "o-", label=lab)
            ax[1, 0].plot([r["T"] for r in rr], [r["R-ALRA_gain_dB"] for r in rr], "o-", label=lab)
    rr = [r for r in rows6 if r["N0"] == N0s[-1] and r["sigma2_dBm"] == -90.0]
    for k in sdp_solvers:
        lab = f"{k} (N0={N0s[-1]}, -90 dBm, {nsdp} drops)"
        ax[0, 0].semilogy([r["T"] for r in rr], [r[f"{k}_nmse_mean"] for r in rr], "^:", label=lab)
        ax[1, 0].plot([r["T"] for r in rr], [r[f"{k}_gain_dB"] for r in rr], "^:", label=lab)
    for k in ("RMS", "CSM"):
        ax[1, 0].plot([r["T"] for r in rr], [r[f"{k}_gain_dB"] for r in rr], "s--", label=k)
    for name in list(solvers) + list(sdp_solvers):
        ax[0, 1].semilogy([r["gap_dB"] for r in rows7], [r[f"{name}_nmse_mean"] for r in rows7], "o-", label=name)
        ax[1, 1].plot([r["gap_dB"] for r in rows7], [r[f"{name}_gain_dB"] for r in rows7], "o-", label=name)
    for k in ("RMS", "CSM"):
        ax[1, 1].plot([r["gap_dB"] for r in rows7], [r[f"{k}_gain_dB"] for r in rows7], "s--", label=k)
    ax[0, 0].set(title="Fig. 6(a): NMSE, b = 1", xlabel="T_p", ylabel="NMSE")
    ax[1, 0].set(title="Fig. 6(b): gain vs UB", xlabel="T_p", ylabel="dB")
    ax[0, 1].set(title=f"Fig. 7(a): NMSE vs RSRP gap, T_p = {Tq}", xlabel="D [dB]", ylabel="NMSE")
    ax[1, 1].set(title="Fig. 7(b): gain vs UB", xlabel="D [dB]", ylabel="dB")
    for x in ax.ravel():
        x.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "fig6_7_robust.png", dpi=100)
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
