"""Fig. 7 of seed 002: robust sensing-centric designs (Methods 1 and 2) versus theta.

Boxes: true AASR R_{H0, X*(theta)} over Monte-Carlo H0 (min / 5 % / median / 95 % / max); red line:
the robust characterisation R_{H*, X*}(theta); green: the nominal R_{Hbar, Xbar}. Also the 95 %
calibration (smallest theta whose red line is below the 5th percentile) and R_{H_w(X*), X*} (the
worst case of X* itself, spec §6.8). Writes results/robust/fig7.{csv,json,png}.
"""

import _robust_common as C
import jax
import jax.numpy as jnp
import numpy as np

from jaxisac import robust as rb


def main():
    args, out = C.parse(__doc__)
    n_mc = 200 if args.quick else 1000
    thetas = C.THETA_GRID[::5] if args.quick else C.THETA_GRID
    sc, _ = C.scenario(quick=args.quick, dist=args.dist)
    H0 = C.true_channels(sc, n_mc, args.dist)
    res = {}
    with C.Timer() as t:
        for name, solver in (("method1", rb.Method1(certify=True)), ("method2", rb.Method2(certify=True))):
            sol = C.sc_designs(sc, thetas, solver)
            true = C.aasr_batch(H0, sol.value, sc.S, sc.noise_var)  # (M, theta)
            nominal_true = C.aasr_batch(H0, sol.stats["X_nominal"][0], sc.S, sc.noise_var)
            res[name] = dict(
                robust=np.asarray(sol.stats["aasr_robust"]), certified=np.asarray(sol.stats["aasr_certified"]),
                nominal=float(sol.stats["aasr_nominal"][0]), boxes=C.box_stats(true),
                coverage=np.mean(np.asarray(true) >= np.asarray(sol.stats["aasr_robust"])[None], axis=0),
                nominal_coverage=float(np.mean(np.asarray(nominal_true) <= float(sol.stats["aasr_nominal"][0]))),
                gap=np.asarray((sol.stats["upper"] - sol.stats["lower"]) / sol.stats["lower"]),
            )
        jax.block_until_ready(true)
    p = rb.SensingCentricProblem(sc.H_nominal, sc.S, sc.R, 0.0, noise_var=sc.noise_var)
    cal = jax.jit(lambda p, H: rb.calibrate_theta(p, H, theta_max=0.2))(p, H0)
    print(f"Fig. 7: {len(thetas)} thetas x 2 methods x {n_mc} draws in {t.s:.2f} s")
    print(f"  nominal AASR {res['method1']['nominal']:.3f}; fraction of true AASRs below it: "
          f"{res['method1']['nominal_coverage']:.3f}")
    print(f"  95 % calibration: theta_95 = {float(cal.theta):.4f} (coverage {float(cal.fraction):.3f}); paper: 0.127")
    print(f"  max sandwich relative gap (Method 1): {np.max(res['method1']['gap']):.2e} (target <= 1e-3)")
    C.save_csv(out / "fig7.csv", {"theta": thetas, **{f"{m}_{k}": res[m][k] for m in res for k in ("robust", "certified", "coverage")},
                                  **{f"method1_{k}": res["method1"]["boxes"][k] for k in res["method1"]["boxes"]}})
    C.save_json(out / "fig7.json", {"thetas": thetas, "n_mc": n_mc, "dist": args.dist, "theta_95": float(cal.theta),
                                    "coverage_95": float(cal.fraction), "results": res, "seconds": t.s})
    plt = C.plt()
    fig, axs = plt.subplots(2, 2, figsize=(11, 7))
    i127 = int(np.argmin(np.abs(thetas - 0.127)))
    for row, m in enumerate(("method1", "method2")):
        r = res[m]
        ax = axs[row, 0]
        sel = np.arange(0, len(thetas), 1 if args.quick else 3)
        C.draw_boxes(ax, thetas[sel], {k: np.asarray(v)[sel] for k, v in r["boxes"].items()}, 0.003)
        ax.step(thetas, r["robust"], "r-", where="mid", label=r"robust $R_{H^*,X^*}$")
        ax.plot(thetas, r["certified"], "m:", label=r"$R_{H_w(X^*),X^*}$")
        ax.axhline(r["nominal"], color="g", label=r"nominal $R_{\bar H,\bar X}$")
        ax.axvline(float(cal.theta), color="k", ls="--", lw=0.7, label=r"$\theta_{95}$")
        ax.set(xlabel=r"$\theta$", ylabel="AASR [bps/Hz/user]", title=f"({'ac'[row]}) Method {row + 1}")
        ax.legend(fontsize=7)
        ax = axs[row, 1]
        C.draw_boxes(ax, [0.0], {k: np.asarray(v)[[i127]] for k, v in r["boxes"].items()}, 0.4)
        ax.axhline(r["robust"][i127], color="r", label=f"robust, theta={thetas[i127]:.3f}")
        ax.axhline(r["nominal"], color="g", label="nominal")
        ax.set(xlim=(-1, 1), xticks=[], ylabel="AASR", title=f"({'bd'[row]}) coverage {r['coverage'][i127]:.2f}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "fig7.png", dpi=110)
    print(f"  wrote {out / 'fig7.png'}")


if __name__ == "__main__":
    main()
