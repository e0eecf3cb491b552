"""Fig. 13 of seed 002: sensing-centric nominal and conservative (Method 1, theta = 1.2 eps) results
for eps in {0.001, 0.01, 0.1, 0.5}: boxes of the true AASR, nominal / robust lines and coverage."""

import _robust_common as C
import jax
import numpy as np

EPS = (0.001, 0.01, 0.1, 0.5)

from jaxisac import robust as rb  # noqa: E402


def main():
    args, out = C.parse(__doc__)
    n_mc = 200 if args.quick else 1000
    res = {}
    with C.Timer() as t:
        for eps in EPS:
            sc, _ = C.scenario(eps, dist=args.dist)
            H0 = C.true_channels(sc, n_mc, args.dist)
            s = C.sc_designs(sc, np.array([0.0, 1.2 * eps]), rb.Method1())
            tr = np.asarray(C.aasr_batch(H0, s.value, sc.S, sc.noise_var))  # (M, 2)
            rob = np.asarray(s.stats["aasr_robust"])
            p = rb.SensingCentricProblem(sc.H_nominal, sc.S, sc.R, 0.0, noise_var=sc.noise_var)
            cal = rb.calibrate_theta(p, H0, theta_max=4 * eps, tol=1e-3 * eps)
            res[str(eps)] = dict(nominal=float(rob[0]), robust=float(rob[1]), boxes_nominal=C.box_stats(tr[:, 0]),
                                 boxes_robust=C.box_stats(tr[:, 1]), coverage=float(np.mean(tr[:, 1] >= rob[1])),
                                 nominal_below=float(np.mean(tr[:, 0] < rob[0])),
                                 theta_95=float(cal.theta), theta_95_status=int(cal.status))
    print(f"Fig. 13: {len(EPS)} eps x {n_mc} draws in {t.s:.2f} s")
    for e, r in res.items():
        print(f"  eps {e}: nominal {r['nominal']:.3f} (true below: {r['nominal_below']:.2f}); robust (theta = 1.2 eps) "
              f"{r['robust']:.3f}, coverage {r['coverage']:.3f}; true AASR spread (p95 - p5) "
              f"{float(r['boxes_robust']['p95'] - r['boxes_robust']['p5']):.4f}; calibrated theta_95/eps = "
              f"{r['theta_95'] / float(e):.2f} (status {r['theta_95_status']}; paper's rule 1.2)")
    C.save_json(out / "fig13.json", {"eps": EPS, "n_mc": n_mc, "results": res, "seconds": t.s})
    C.save_csv(out / "fig13.csv", {"eps": np.array(EPS), "nominal": [res[str(e)]["nominal"] for e in EPS],
                                   "robust": [res[str(e)]["robust"] for e in EPS],
                                   "coverage": [res[str(e)]["coverage"] for e in EPS],
                                   "theta_95": [res[str(e)]["theta_95"] for e in EPS]})
    plt = C.plt()
    fig, axs = plt.subplots(2, len(EPS), figsize=(14, 6))
    for j, e in enumerate(EPS):
        r = res[str(e)]
        for i, (kind, line, col) in enumerate((("boxes_nominal", "nominal", "g"), ("boxes_robust", "robust", "r"))):
            ax = axs[i, j]
            C.draw_boxes(ax, [0.0], {k: np.asarray(v)[None] for k, v in r[kind].items()}, 0.4)
            ax.axhline(r[line], color=col)
            ax.set(xlim=(-1, 1), xticks=[], title=f"eps = {e}: {line}")
    fig.tight_layout()
    fig.savefig(out / "fig13.png", dpi=100)
    print(f"  wrote {out / 'fig13.png'}")


if __name__ == "__main__":
    main()
