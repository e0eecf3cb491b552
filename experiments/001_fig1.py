"""Seed 001, Fig. 1: CRB (tr(R^-1)) vs K (N_t = 64) and vs N_t (K = 8) for R-BAL (jaxisac, batched
over draws), the paper's fixed-step R-BAL, full-dimensional BAL (jaxisac) and CVXPY + Clarabel R-IPM (7)
and IPM (2) (small N_t only). All methods reach the same values; at the paper's defaults the curve is
N_t^2/P_T except at small N_t (spec §9.6). Writes results/crb/fig1_*.csv and fig1.png."""

from __future__ import annotations

import argparse
import csv
import os
import time

import jax
import numpy as np

from crb_common import results_dir

jax.config.update("jax_enable_x64", True)

import jaxisac  # noqa: E402
import jaxisac.crb as C  # noqa: E402
from tests.crb import oracles as O  # noqa: E402


def sweep(points, draws, n_oracle, ipm_max_nt, bal_max_nt):
    rows = []
    for n_t, k in points:
        probs = C.make_instances(range(draws), n_t, k)
        t0 = time.perf_counter()
        sol = jax.block_until_ready(C.solve_batch(probs, C.RBAL()))
        row = {"N_t": n_t, "K": k, "draws": draws, "rbal": float(np.mean(sol.objective)),
               "rbal_success": int(np.sum(np.asarray(sol.result) == 0)), "rbal_s": time.perf_counter() - t0,
               "iso_bound": n_t**2 / 100.0}
        sub = [C.make_instance(i, n_t, k) for i in range(n_oracle)]
        row["rbal_sub"] = float(np.mean(np.asarray(sol.objective)[:n_oracle]))
        row["ripm_sub"] = float(np.mean([O.reduced(p)[0] for p in sub]))
        row["ipm_sub"] = float(np.mean([O.full_sdr(p)[0] for p in sub])) if n_t <= ipm_max_nt else None
        if n_t <= bal_max_nt:
            bs = [jaxisac.solve(p, C.BAL(), throw=False) for p in sub]
            row["bal_sub"] = float(np.mean([float(b.objective) for b in bs]))
        else:
            row["bal_sub"] = None
        print(row, flush=True)
        rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        k_pts, n_pts, draws, n_or, ipm_nt, bal_nt = [4, 8], [16, 24], 8, 1, 0, 16
    else:
        k_pts, n_pts, draws, n_or, ipm_nt, bal_nt = [4, 6, 8, 10, 12, 14, 16], [16, 24, 32, 48, 64, 96, 128], 100, 3, 16, 32
    out = results_dir()
    res_k = sweep([(64, k) for k in k_pts], draws, n_or, ipm_nt, bal_nt)
    res_n = sweep([(n, 8) for n in n_pts], draws, n_or, ipm_nt, bal_nt)
    for name, rows in (("fig1_vs_K.csv", res_k), ("fig1_vs_Nt.csv", res_n)):
        with open(os.path.join(out, name), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for a_, rows, x in ((ax[0], res_k, "K"), (ax[1], res_n, "N_t")):
        xs = [r[x] for r in rows]
        a_.plot(xs, [r["rbal"] for r in rows], "o-", label=f"R-BAL (jaxisac, mean of {rows[0]['draws']})")
        a_.plot(xs, [r["ripm_sub"] for r in rows], "s--", mfc="none", label="R-IPM (CVXPY, subset)")
        a_.plot(xs, [r["rbal_sub"] for r in rows], "x", label="R-BAL (same subset)")
        pts = [(r[x], r["bal_sub"]) for r in rows if r["bal_sub"] is not None]
        if pts:
            a_.plot(*zip(*pts), "d", mfc="none", label="BAL (jaxisac, subset)")
        pts = [(r[x], r["ipm_sub"]) for r in rows if r["ipm_sub"] is not None]
        if pts:
            a_.plot(*zip(*pts), "^", mfc="none", label="IPM (CVXPY, subset)")
        a_.plot(xs, [r["iso_bound"] for r in rows], "k:", label="N_t^2/P_T")
        a_.set(xlabel=x, ylabel="tr(R^-1)  [1/mW]", yscale="log")
        a_.legend(fontsize=7)
    ax[0].set_title("CRB vs K (N_t = 64)")
    ax[1].set_title("CRB vs N_t (K = 8)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "fig1.png"), dpi=100)
    print("wrote", out)


if __name__ == "__main__":
    main()
