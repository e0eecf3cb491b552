"""Monte-Carlo table (spec §4.2): 100 user drops x 3 starts (y0 = CST value and random 10 N(0, I))
of the S0 set-up; mean P_tot of DMA-AO and digital-only, infeasible counts (Phase I failures).
Writes results/dma/montecarlo.{csv,json} (``_<mode>`` suffix for a non-default mode).

    python experiments/000_montecarlo.py [--quick] [--mode exact|admm] [--width 8] [--chunk 100]

``--mode exact`` (default, ``DMAAO()``): P2 and P4-MM on the interior-point SDP solver (the
reference procedure's subproblems); ``admm``: the inexact mode (budgeted ADMM P2, warm ALM P4-MM).
Runs are solved in ``--width`` refilled slots (``jaxisac.core.solve_refill``), ``--chunk`` runs per
compiled call."""

from _dma_common import OUT, args, dma, jax, make_drop, np, run_batched, save_json, sizes, timer  # noqa: I001
import csv
import os


def _options(ap):
    ap.add_argument("--mode", choices=("exact", "admm"), default="exact")
    ap.add_argument("--width", type=int, default=8, help="refilled slots (0: plain vmap over each chunk)")
    ap.add_argument("--chunk", type=int, default=100, help="runs per compiled call")


def main():
    a = args(__doc__, _options)
    N, L_mu, T = sizes(a.quick)
    n_drops, n_starts = (4, 2) if a.quick else (100, 3)
    clock = timer()
    keys = jax.random.split(jax.random.key(2026), n_drops * n_starts)
    probs = [make_drop(keys[i], N, L_mu, random_start=(i % n_starts) > 0) for i in range(len(keys))]
    setup = clock()
    solver = dma.DMAAO(max_iters=T, max_steps=3 * T)
    if a.mode == "admm":
        solver = dma.DMAAO(max_iters=T, max_steps=3 * T, sdp=dma.default_sdp_solver(np.float64), p4mm_solver=None)
    res = run_batched(probs, solver, chunk=8 if a.quick else a.chunk, width=a.width or None)
    elapsed = clock()
    rows = []
    for i, (p, r) in enumerate(zip(probs, res)):
        rows.append(dict(drop=i // n_starts, start=i % n_starts, status=r["status"], p_tot=r["objective"],
                         iters=r["iters"], steps=r["steps"], phase_one_steps=r["phase_one_steps"]))
    tag = "" if a.mode == "exact" else f"_{a.mode}"
    with open(os.path.join(OUT, f"montecarlo{tag}.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    # status 0: converged; 1: attempt cap (max_steps) reached, the iterate is still exactly feasible
    # and monotone; 2: infeasible (P2 infeasible at y0 and Phase I failed)
    ok = np.array([r["status"] in (0, 1) for r in rows])
    best = {}
    for r in rows:
        if r["status"] in (0, 1):
            best[r["drop"]] = max(best.get(r["drop"], -np.inf), r["p_tot"])
    summary = dict(mode=a.mode, width=a.width, chunk=a.chunk, drops=n_drops, starts=n_starts, runs=len(rows), infeasible=int((~ok).sum()),
                   phase_one_used=int(sum(r["phase_one_steps"] > 0 for r in rows)),
                   mean_p_tot=float(np.mean([r["p_tot"] for r in rows if r["status"] in (0, 1)])),
                   mean_best_of_starts=float(np.mean(list(best.values()))) if best else float("nan"),
                   seconds_total=elapsed, seconds_drops_setup=setup, seconds_ao_incl_compile=elapsed - setup,
                   seconds_per_run=(elapsed - setup) / len(rows),
                   max_steps_hit=int(sum(r["status"] == 1 for r in rows)))
    save_json(f"montecarlo{tag}.json", summary)
    print(summary)


if __name__ == "__main__":
    main()
