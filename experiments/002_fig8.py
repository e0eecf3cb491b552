"""Fig. 8 of seed 002: beampatterns of X_s, the nominal Xbar and the robust X* (theta = 0.127),
sensing-centric, Methods 1 and 2: identical because X X^H = L R."""

import _robust_common as C
import jax.numpy as jnp
import numpy as np

from jaxisac import robust as rb


def main():
    args, out = C.parse(__doc__)
    sc, _ = C.scenario(dist=args.dist)
    ang = jnp.linspace(-np.pi / 2, np.pi / 2, 361)
    th = float(C.THETA_GRID[np.argmin(np.abs(C.THETA_GRID - 0.127))])
    B, dev = {}, {}
    for name, solver in (("method1", rb.Method1()), ("method2", rb.Method2())):
        s = C.sc_designs(sc, np.array([th]), solver)
        for lab, X in (("X_s", sc.X_s), ("nominal", s.stats["X_nominal"][0]), ("robust", s.value[0])):
            B[f"{name}_{lab}"] = np.asarray(rb.beampattern(X @ X.conj().T / X.shape[1], ang))
        dev[name] = float(np.max(np.abs(B[f"{name}_robust"] - B[f"{name}_X_s"])) / np.max(B[f"{name}_X_s"]))
    print(f"Fig. 8: max relative beampattern difference robust vs X_s: {dev} (identical up to round-off)")
    C.save_csv(out / "fig8.csv", {"angle_deg": np.rad2deg(np.asarray(ang)), **B})
    plt = C.plt()
    fig, axs = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, name in zip(axs, ("method1", "method2")):
        for lab, st in (("X_s", "-"), ("nominal", "--"), ("robust", ":")):
            ax.plot(np.rad2deg(np.asarray(ang)), B[f"{name}_{lab}"], st, label=lab)
        ax.set(xlabel="angle [deg]", ylabel="beampattern", title=f"{name}, theta = {th:.3f}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "fig8.png", dpi=110)
    print(f"  wrote {out / 'fig8.png'}")


if __name__ == "__main__":
    main()
