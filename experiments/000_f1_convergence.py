"""F1 (spec §4.3): true P_tot vs AO iteration on the S0 drop, kappa in {0.1, 0.5}, with and without
the acceptance test (safeguard). Writes results/dma/f1_convergence.{csv,png}."""

from _dma_common import OUT, args, dma, jaxisac, np, plt, sizes, timer  # noqa: I001
import csv
import os


def main():
    a = args(__doc__)
    N, L_mu, T = sizes(a.quick)
    pb = dma.make_problem(dma.make_model(N=N, L_mu=L_mu))
    rows, curves = [], {}
    clock = timer()
    for kappa in (0.1, 0.5):
        for safe in (True, False):
            solver = dma.DMAAO(kappa0=kappa, safeguard=safe, max_iters=T, max_steps=3 * T)
            sol = jaxisac.solve(pb, solver, throw=False)
            it = int(sol.stats["iters"])
            tr = np.asarray(sol.stats["trace"])[: it + 1]
            name = f"kappa={kappa} {'safeguarded' if safe else 'plain'}"
            curves[name] = tr
            for i, v in enumerate(tr):
                rows.append((kappa, int(safe), i, float(v)))
            mono = bool(np.all(np.diff(tr) >= -1e-9 * np.abs(tr[:-1])))
            print(f"{name}: P_tot {tr[0]:.4f} -> {tr[-1]:.4f} in {it} iterations, monotone={mono}, "
                  f"final violation {float(sol.stats['violation']):.2e}")
    with open(os.path.join(OUT, "f1_convergence.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["kappa", "safeguard", "iteration", "P_tot"])
        w.writerows(rows)
    p = plt()
    fig, ax = p.subplots(figsize=(6, 4))
    for name, tr in curves.items():
        ax.plot(tr, "-" if "safe" in name else "--", label=name)
    ax.set(xlabel="AO iteration", ylabel="P_tot (true, exact inverse)", title=f"F1: AO convergence, L={N * L_mu}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "f1_convergence.png"), dpi=100)
    print(f"done in {clock():.1f} s")


if __name__ == "__main__":
    main()
