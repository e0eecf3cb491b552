"""F3/F4 (spec §4.3): Monte-Carlo mean P_tot vs Gamma (0-10 dB), vs P_max and vs L_mu, for DMA-AO,
digital-only DMA at y0 and the fully-digital upper bound, with infeasible counts.
Writes results/dma/f3_f4_tradeoffs.{csv,png}."""

from _dma_common import OUT, args, dma, jax, make_drop, np, plt, run_batched, sizes, timer  # noqa: I001
import csv
import os


def sweep(name, values, make, drops, solver):
    rows = []
    for v in values:
        probs = [make(k, v) for k in drops]
        res = run_batched(probs, solver, chunk=len(probs), progress=False)
        ok = [r["status"] == 0 for r in res]
        dig = [float(dma.digital_only(p)[0]) for p in probs]
        fd = [float(dma.fd_upper_bound(p)[0]) for p in probs]
        ao = [r["objective"] for r in res]
        row = dict(sweep=name, value=v, ao=np.mean([a for a, o in zip(ao, ok) if o]) if any(ok) else np.nan,
                   digital=np.mean([d for d, o in zip(dig, ok) if o]) if any(ok) else np.nan,
                   fdub=np.mean(fd), infeasible=int(len(ok) - sum(ok)), drops=len(ok))
        print(row)
        rows.append(row)
    return rows


def main():
    a = args(__doc__)
    N, L_mu, T = sizes(a.quick)
    clock = timer()
    n = 2 if a.quick else 20
    drops = list(jax.random.split(jax.random.key(1), n))
    solver = dma.DMAAO(max_iters=T, max_steps=3 * T)
    rows = []
    gammas_db = [0.0, 5.0, 10.0] if a.quick else [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    rows += sweep("gamma_db", gammas_db, lambda k, g: make_drop(k, N, L_mu, gamma=10 ** (g / 10)), drops, solver)
    pmaxs = [0.5, 2.0] if a.quick else [0.25, 0.5, 1.0, 2.0, 4.0]
    rows += sweep("p_max", pmaxs, lambda k, p: make_drop(k, N, L_mu, p_max=p), drops, solver)
    for lm in ([4] if a.quick else [4, 6, 8, 10]):
        rows += sweep("L_mu", [lm], lambda k, _, lm=lm: make_drop(k, N, lm), drops, solver)
    with open(os.path.join(OUT, "f3_f4_tradeoffs.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    p = plt()
    fig, axs = p.subplots(1, 3, figsize=(13, 3.8))
    for ax, name in zip(axs, ("gamma_db", "p_max", "L_mu")):
        rs = [r for r in rows if r["sweep"] == name]
        x = [r["value"] for r in rs]
        for key, lab in (("ao", "DMA-AO"), ("digital", "digital-only"), ("fdub", "FD-UB")):
            ax.plot(x, [r[key] for r in rs], "o-", label=lab)
        ax.set(xlabel=name, ylabel="mean P_tot", title=f"{name} ({n} drops)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "f3_f4_tradeoffs.png"), dpi=100)
    print(f"done in {clock():.1f} s")


if __name__ == "__main__":
    main()
