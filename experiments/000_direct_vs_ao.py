"""Beyond the paper (spec §7): the direct method (smooth ALM on (y, B) jointly, exact inverse,
jaxisac.dma.direct) vs the safeguarded AO (DMAAO) on the same drops and the same start (y0 = -15.79,
B0 = the digital step P2 at y0).

Per drop: final P_tot, exact feasibility and wall time per run (after compilation) of the AO, of the
direct method's ALM end point and of the direct method + polish (P2 at its final loads); the
unrolled derivative dP_tot/d(P_max, Gamma, R0) of the direct method's fixed-count map (checked
against central differences of the same map) next to the envelope sensitivity of P2's optimal
value (jaxisac.dma.p2_value) at the AO's and at the direct method's final loads. Gamma is the SINR
threshold common to the users (linear); R0 the load conductance (normalised S); the noise power is
held fixed. Writes results/dma/000_direct_vs_ao.{csv,png} (--quick: L = 16, 4 drops) or
results/dma/000_direct_vs_ao.full.{csv,png} (L = 32, the S0 user drop and 7 random drops).
"""

from _dma_common import OUT, args, dma, jax, jaxisac, jnp, np, plt, timer  # noqa: I001
import os
import time

import equinox as eqx

from _common import write_rows
from jaxisac.dma.direct import direct_solve, optimised_value, polish

FEAS_TOL = 1e-5


def scenario(pb, x):
    """x = [P_max, Gamma, R0] -> the problem with those values (noise fixed)."""
    q = pb.with_(p_max=x[0], gamma=jnp.full(pb.gamma.shape, x[1]))
    return eqx.tree_at(lambda p: p.model.R0, q, x[2])


def timed(f, *a, reps=2):
    """Run once (compile), then the median wall time of ``reps`` runs."""
    out = jax.block_until_ready(f(*a))
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = jax.block_until_ready(f(*a))
        ts.append(time.perf_counter() - t0)
    return out, float(np.median(ts))


def main():
    a = args(__doc__)
    N, L_mu, n_drops = (4, 4, 4) if a.quick else (4, 8, 8)
    tag = "" if a.quick else ".full"  # the full run (S0 size, L = 32) keeps its own files
    clock = timer()
    keys = jax.random.split(jax.random.key(7), n_drops - 1)
    drops = [dma.make_problem(dma.make_model(N=N, L_mu=L_mu))]  # the S0 user drop
    drops += [dma.make_problem(dma.make_model(dma.random_users(k, 2), N=N, L_mu=L_mu)) for k in keys]
    ao = jax.jit(lambda p: jaxisac.solve(p, dma.DMAAO(), throw=False))
    start = jax.jit(lambda p: dma.digital_step(p, p.y0)[0])
    direct = jax.jit(lambda p, b: direct_solve(p, p.y0, b))
    pol = jax.jit(polish)
    ev = jax.jit(dma.evaluate)
    x0 = jnp.array([1.0, 2.0, 2.0])

    def unrolled(p, b, x):
        return optimised_value(scenario(p, x), p.y0, b)

    g_unrolled = jax.jit(jax.value_and_grad(unrolled, argnums=2))
    f_unrolled = jax.jit(unrolled)
    g_env = jax.jit(jax.grad(lambda p, y, x: dma.p2_value(scenario(p, x), y), argnums=2))

    rows = []
    for i, pb in enumerate(drops):
        B0 = start(pb)
        v_start = float(ev(pb, pb.y0, B0)["value"])
        sol, t_ao = timed(ao, pb)
        e_ao = ev(pb, sol.value["y"], sol.value["B"])
        (y, B, v, viol), t_dir = timed(direct, pb, B0)
        (Bp, vp, ok), t_pol = timed(pol, pb, y)
        e_pol = ev(pb, y, Bp)
        # unrolled derivative of the direct method's map, and its check by central differences
        _, g = g_unrolled(pb, B0, x0)
        g = np.asarray(g)
        h = 1e-5 * np.maximum(np.abs(np.asarray(x0)), 1.0)
        fu = lambda x: float(f_unrolled(pb, B0, x))  # noqa: E731
        fd = np.array([(fu(x0.at[j].add(h[j])) - fu(x0.at[j].add(-h[j]))) / (2 * h[j]) for j in range(3)])
        fd_err = float(np.max(np.abs(g - fd)) / np.max(np.abs(fd)))
        env_ao = np.asarray(g_env(pb, sol.value["y"], x0))
        env_dir = np.asarray(g_env(pb, y, x0))
        base = dict(drop=i, L=pb.model.L, start_P_tot=v_start)

        def row(method, value, e, t, grad=(np.nan,) * 3, grad_kind="", err=np.nan):
            return dict(base, method=method, P_tot=float(value), violation=float(e["violation"]),
                        feasible=int(float(e["violation"]) <= FEAS_TOL), time_s=t, grad_kind=grad_kind,
                        dP_dPmax=float(grad[0]), dP_dGamma=float(grad[1]), dP_dR0=float(grad[2]), fd_rel_err=err)

        rows.append(row("ao", sol.objective, e_ao, t_ao, env_ao, "envelope p2_value at AO loads"))
        rows[-1]["ao_iters"] = int(sol.stats["iters"])
        rows.append(row("direct (ALM end point)", v, ev(pb, y, B), t_dir, g, "unrolled (10 x 400 steps)", fd_err))
        rows.append(row("direct + polish", vp, e_pol, t_dir + t_pol, env_dir, "envelope p2_value at direct loads"))
        for r in rows[-3:]:
            r.setdefault("ao_iters", "")
        print(f"drop {i}: start {v_start:.4f} | AO {float(sol.objective):.4f} "
              f"({int(sol.stats['iters'])} it, {t_ao:.2f} s, "
              f"viol {float(e_ao['violation']):.1e}) | direct {float(v):.4f} -> polish {float(vp):.4f} "
              f"({t_dir:.2f} + {t_pol:.2f} s, viol {float(e_pol['violation']):.1e}, ok {bool(ok)}) | "
              f"ratio direct+polish/AO {float(vp) / float(sol.objective):.3f}")
        print(f"   dP/d(P_max, Gamma, R0): unrolled {np.array2string(g, precision=4)} (vs FD {fd_err:.1e}); "
              f"envelope at AO loads {np.array2string(env_ao, precision=4)}; "
              f"at direct loads {np.array2string(env_dir, precision=4)}")
    ratio = np.array([r2["P_tot"] / r1["P_tot"] for r1, r2 in zip(rows[0::3], rows[2::3])])
    errs = np.array([r["fd_rel_err"] for r in rows[1::3]])
    print(f"direct + polish / AO: {np.array2string(ratio, precision=3)} (above on {int(np.sum(ratio >= 1))}/{len(ratio)}); "
          f"unrolled derivative within 1e-4 of central differences on {int(np.sum(errs <= 1e-4))}/{len(errs)} drops")
    cols = ["drop", "L", "method", "P_tot", "feasible", "violation", "time_s", "ao_iters", "start_P_tot", "grad_kind",
            "dP_dPmax", "dP_dGamma", "dP_dR0", "fd_rel_err"]
    write_rows([{c: r[c] for c in cols} for r in rows], os.path.join(OUT, f"000_direct_vs_ao{tag}.csv"))

    p = plt()
    fig, axs = p.subplots(1, 2, figsize=(11, 4))
    idx = np.arange(len(drops))
    get = lambda m, k: np.array([r[k] for r in rows if r["method"] == m])  # noqa: E731
    axs[0].bar(idx - 0.2, get("ao", "P_tot"), 0.4, label="DMAAO")
    axs[0].bar(idx + 0.2, get("direct + polish", "P_tot"), 0.4, label="direct + polish")
    axs[0].plot(idx, get("ao", "start_P_tot"), "k_", ms=20, label="start (digital only)")
    axs[0].set(xlabel="drop", ylabel="P_tot (exact, feasible)", title=f"final P_tot, L = {N * L_mu}")
    axs[0].legend(loc="lower center", fontsize=8)
    names = ["dP_dPmax", "dP_dGamma", "dP_dR0"]
    for j, (m, lab) in enumerate((("direct (ALM end point)", "unrolled (direct)"), ("ao", "envelope @ AO loads"),
                                  ("direct + polish", "envelope @ direct loads"))):
        vals = np.array([get(m, n) for n in names])  # (3, drops)
        axs[1].bar(np.arange(3) + (j - 1) * 0.27, vals.mean(1), 0.27, yerr=vals.std(1), label=lab)
    axs[1].set_xticks(np.arange(3), ["dP/dP_max", "dP/dGamma", "dP/dR0"])
    axs[1].axhline(0, color="k", lw=0.5)
    axs[1].set(title="sensitivities (mean +- std over drops)")
    axs[1].legend()
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, f"000_direct_vs_ao{tag}.png"), dpi=100)
    print(f"wrote {OUT}/000_direct_vs_ao{tag}.csv and .png in {clock():.1f} s")


if __name__ == "__main__":
    main()
