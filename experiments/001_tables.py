"""Seed 001, Tables I-II: average runtime per instance vs K (N_t = 64) and vs N_t (K = 8) for R-BAL
(jaxisac batched, and the paper's fixed-step R-BAL), BAL (jaxisac, full-dimensional), R-IPM and IPM
(CVXPY + Clarabel; IPM only up to --ipm-max-nt), measured in one run on this machine, with the
paper's MATLAB figures quoted beside. Writes results/crb/tables.csv."""

from __future__ import annotations

import argparse
import csv
import os
import time

import jax
import numpy as np

from crb_common import PAPER_TABLE_I, PAPER_TABLE_II, results_dir

jax.config.update("jax_enable_x64", True)

import jaxisac  # noqa: E402
import jaxisac.crb as C  # noqa: E402
from tests.crb import oracles as O  # noqa: E402


def measure(n_t, k, draws, n_ref, ipm_max_nt, bal_max_nt):
    probs = C.make_instances(range(draws), n_t, k)
    row = {"N_t": n_t, "K": k}
    for name, solver in (("R-BAL", C.RBAL()), ("R-BAL paper", C.RBAL(polish=False))):
        jax.block_until_ready(C.solve_batch(probs, solver))
        t0 = time.perf_counter()
        jax.block_until_ready(C.solve_batch(probs, solver))
        row[name] = (time.perf_counter() - t0) / draws
    sub = [C.make_instance(i, n_t, k) for i in range(n_ref)]
    if n_t <= bal_max_nt:
        jaxisac.solve(sub[0], C.BAL(), throw=False)
        t0 = time.perf_counter()
        for p in sub:
            jax.block_until_ready(jaxisac.solve(p, C.BAL(), throw=False).objective)
        row["BAL"] = (time.perf_counter() - t0) / n_ref
    t0 = time.perf_counter()
    for p in sub:
        O.reduced(p)
    row["R-IPM"] = (time.perf_counter() - t0) / n_ref
    if n_t <= ipm_max_nt:
        t0 = time.perf_counter()
        O.full_sdr(sub[0])
        row["IPM"] = time.perf_counter() - t0
    print(row, flush=True)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ipm-max-nt", type=int, default=16)
    ap.add_argument("--draws", type=int, default=None, help="R-BAL batch size per row (default 100; --quick 16)")
    ap.add_argument("--n-ref", type=int, default=None, help="instances timed for BAL / R-IPM (default 3; --quick 1)")
    a = ap.parse_args()
    if a.quick:
        t1, t2, draws, n_ref, bal_nt = [4, 8], [16, 32], 16, 1, 32
    else:
        t1, t2, draws, n_ref, bal_nt = PAPER_TABLE_I["K"], PAPER_TABLE_II["N_t"], 100, 3, 64
    draws = a.draws or draws
    n_ref = a.n_ref or n_ref
    rows = [dict(table="I", **measure(64, k, draws, n_ref, a.ipm_max_nt, bal_nt)) for k in t1]
    rows += [dict(table="II", **measure(n, 8, draws, n_ref, a.ipm_max_nt, bal_nt)) for n in t2]
    for r in rows:
        src = PAPER_TABLE_I if r["table"] == "I" else PAPER_TABLE_II
        key, val = ("K", r["K"]) if r["table"] == "I" else ("N_t", r["N_t"])
        if val in src[key]:
            i = src[key].index(val)
            for alg in ("IPM", "R-IPM", "BAL", "R-BAL"):
                r[f"paper {alg}"] = src[alg][i]
    fields = sorted({f for r in rows for f in r}, key=lambda s: (s.startswith("paper"), s))
    path = os.path.join(results_dir(), "tables.csv")
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    print("wrote", path)


if __name__ == "__main__":
    main()
