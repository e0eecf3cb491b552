"""Fig. 9 (TPC) and Fig. 10 (PAPC) of seed 002: robust joint designs (Method 3).

(a) versus theta at rho = 0.25; (b) the box at theta = 0.16, rho = 0.25; (c) versus rho <= 0.1 and
(d) versus rho >= 0.1 at theta = 0.16. Boxes: true AASR R_{H0, X*}; red: R_{H*, X*}; green: nominal.
"""

import _robust_common as C
import jax
import numpy as np


def run(constraint: str, fig: str):
    args, out = C.parse(f"Fig. {fig[3:]} of seed 002 ({constraint.upper()})")
    n_mc = 200 if args.quick else 1000
    thetas = C.THETA_GRID[::5] if args.quick else C.THETA_GRID
    rho_fine = C.RHO_FINE[::2] if args.quick else C.RHO_FINE
    rho_coarse = C.RHO_COARSE[::2] if args.quick else C.RHO_COARSE
    sc, _ = C.scenario(dist=args.dist)
    H0 = C.true_channels(sc, n_mc, args.dist)
    i16 = int(np.argmin(np.abs(C.THETA_GRID - 0.16)))
    th16 = float(C.THETA_GRID[i16])
    with C.Timer() as t:
        a = C.joint_designs(sc, np.array([0.25]), thetas, constraint)  # (1, theta)
        b = C.joint_designs(sc, np.concatenate([rho_fine, rho_coarse]), np.array([0.0, th16]), constraint)
        ta = C.aasr_batch(H0, a.value[0], sc.S, sc.noise_var)  # (M, theta)
        tb = C.aasr_batch(H0, b.value[:, 1], sc.S, sc.noise_var)  # (M, rho) robust at 0.16
        tn = C.aasr_batch(H0, b.value[:, 0], sc.S, sc.noise_var)  # nominal designs (theta = 0)
        jax.block_until_ready(tb)
    ok = float(np.mean(np.asarray(a.result) == 0)), float(np.mean(np.asarray(b.result) == 0))
    print(f"Fig. {fig[3:]} ({constraint}): {a.value.shape[1] + 2 * b.value.shape[0]} designs x {n_mc} draws "
          f"in {t.s:.2f} s; success {ok}")
    rhos = np.concatenate([rho_fine, rho_coarse])
    rob_a = np.asarray(a.stats["aasr_robust"][0])
    cov_a = np.mean(np.asarray(ta) >= rob_a[None], axis=0)
    rob_b = np.asarray(b.stats["aasr_robust"][:, 1])
    nom_b = np.asarray(b.stats["aasr_nominal"][:, 0])
    cov_b = np.mean(np.asarray(tb) >= rob_b[None], axis=0)
    print(f"  rho = 0.25: nominal {float(a.stats['aasr_nominal'][0, 0]):.3f}; coverage of the robust line at "
          f"theta = {th16:.3f}: {cov_a[np.argmin(np.abs(thetas - th16))]:.3f} (paper: ~0.95)")
    print(f"  coverage at theta = {th16:.3f} over rho: min {cov_b.min():.3f}, mean {cov_b.mean():.3f}")
    print(f"  nominal AASR vs rho: " + ", ".join(f"{r:.2f}:{v:.3f}" for r, v in zip(rhos, nom_b)))
    bx_a, bx_b, bx_n = C.box_stats(ta), C.box_stats(tb), C.box_stats(tn)
    C.save_csv(out / f"{fig}.csv", {"rho": rhos, "nominal": nom_b, "robust_016": rob_b, "coverage_016": cov_b,
                                   **{f"true_{k}": v for k, v in bx_b.items()}})
    C.save_json(out / f"{fig}.json", {"constraint": constraint, "thetas": thetas, "rhos": rhos, "n_mc": n_mc,
                                      "robust_rho025": rob_a, "coverage_rho025": cov_a, "boxes_rho025": bx_a,
                                      "robust_016": rob_b, "nominal": nom_b, "coverage_016": cov_b, "boxes_016": bx_b,
                                      "boxes_nominal": bx_n, "seconds": t.s})
    plt = C.plt()
    fig_, axs = plt.subplots(2, 2, figsize=(11, 7))
    ax = axs[0, 0]
    C.draw_boxes(ax, thetas[:: (1 if args.quick else 3)], {k: np.asarray(v)[:: (1 if args.quick else 3)] for k, v in bx_a.items()}, 0.003)
    ax.step(thetas, rob_a, "r-", where="mid", label="robust")
    ax.axhline(float(a.stats["aasr_nominal"][0, 0]), color="g", label="nominal")
    ax.set(xlabel=r"$\theta$", ylabel="AASR", title=rf"(a) $\rho$ = 0.25")
    ax.legend(fontsize=7)
    ax = axs[0, 1]
    j = int(np.argmin(np.abs(thetas - th16)))
    C.draw_boxes(ax, [0.0], {k: np.asarray(v)[[j]] for k, v in bx_a.items()}, 0.4)
    ax.axhline(rob_a[j], color="r", label="robust")
    ax.axhline(float(a.stats["aasr_nominal"][0, 0]), color="g", label="nominal")
    ax.set(xlim=(-1, 1), xticks=[], title=rf"(b) $\theta$={th16:.3f}, coverage {cov_a[j]:.2f}")
    ax.legend(fontsize=7)
    for ax, sel, w, title in ((axs[1, 0], slice(0, len(rho_fine)), 0.003, r"(c) $\rho\leq0.1$"),
                              (axs[1, 1], slice(len(rho_fine), None), 0.03, r"(d) $\rho\geq0.1$")):
        C.draw_boxes(ax, rhos[sel], {k: np.asarray(v)[sel] for k, v in bx_b.items()}, w)
        ax.plot(rhos[sel], rob_b[sel], "r.-", label=rf"robust, $\theta$={th16:.3f}")
        ax.plot(rhos[sel], nom_b[sel], "g.-", label="nominal")
        ax.set(xlabel=r"$\rho$", ylabel="AASR", title=title)
        ax.legend(fontsize=7)
    fig_.suptitle(f"Method 3, {constraint.upper()}")
    fig_.tight_layout()
    fig_.savefig(out / f"{fig}.png", dpi=110)
    print(f"  wrote {out / (fig + '.png')}")
