"""Fig. 11 of seed 002: joint-design beampatterns (perfect sensing X_s, nominal, robust at theta = 0.16)
for TPC and PAPC at rho = 0.25 and 0.75, with the sensing error ||X X^H / L - R||_F."""

import _robust_common as C
import jax.numpy as jnp
import numpy as np

from jaxisac import robust as rb


def main():
    args, out = C.parse(__doc__)
    sc, _ = C.scenario(dist=args.dist)
    ang = jnp.linspace(-np.pi / 2, np.pi / 2, 361)
    th = float(C.THETA_GRID[np.argmin(np.abs(C.THETA_GRID - 0.16))])
    B, err = {}, {}
    Bs = np.asarray(rb.beampattern(sc.R, ang))
    for c in ("tpc", "papc"):
        d = C.joint_designs(sc, np.array([0.25, 0.75]), np.array([th]), c)
        for i, r in enumerate((0.25, 0.75)):
            for lab, X in (("nominal", d.stats["X_nominal"][i, 0]), ("robust", d.value[i, 0])):
                B[f"{c}_{r}_{lab}"] = np.asarray(rb.beampattern(X @ X.conj().T / X.shape[1], ang))
                err[f"{c}_{r}_{lab}"] = float(rb.covariance_error(X, sc.R))
    print("Fig. 11: sensing error ||XX^H/L - R||_F: " + ", ".join(f"{k} {v:.3f}" for k, v in err.items()))
    C.save_csv(out / "fig11.csv", {"angle_deg": np.rad2deg(np.asarray(ang)), "X_s": Bs, **B})
    C.save_json(out / "fig11.json", err)
    plt = C.plt()
    fig, axs = plt.subplots(2, 2, figsize=(10, 6))
    for i, c in enumerate(("tpc", "papc")):
        for j, r in enumerate((0.25, 0.75)):
            ax = axs[i, j]
            ax.plot(np.rad2deg(np.asarray(ang)), Bs, "-", label="perfect sensing")
            ax.plot(np.rad2deg(np.asarray(ang)), B[f"{c}_{r}_nominal"], "--", label="nominal")
            ax.plot(np.rad2deg(np.asarray(ang)), B[f"{c}_{r}_robust"], ":", label=f"robust theta={th:.3f}")
            ax.set(title=f"{c.upper()}, rho = {r}", xlabel="angle [deg]", ylabel="beampattern")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "fig11.png", dpi=110)
    print(f"  wrote {out / 'fig11.png'}")


if __name__ == "__main__":
    main()
