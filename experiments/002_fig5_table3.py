"""Fig. 5 and Table III of seed 002: perfect sensing (X_s, CA waveform of the MMSE two-beam covariance)
versus perfect communication (ZF X_c = Hbar^H (Hbar Hbar^H)^{-1} S): beampatterns, detection
probability at the -45 deg target (P_fa = 1e-3, |a^H R a|^2 as coded) and AASR at one true channel."""

import _robust_common as C
import jax
import jax.numpy as jnp
import numpy as np

from jaxisac import robust as rb


def main():
    args, out = C.parse(__doc__)
    sc, R_mmse = C.scenario(dist=args.dist)
    Xc = jnp.linalg.pinv(sc.H_nominal) @ sc.S
    H0 = C.true_channels(sc, 1, args.dist)[0]
    target = np.deg2rad(-45.0)
    rows = {}
    for name, X in (("X_s", sc.X_s), ("X_c", Xc)):
        rows[name] = dict(pd=float(rb.detection_probability(X, target, sc.noise_var, pfa=1e-3)),
                          aasr=float(rb.aasr(H0, X, sc.S, sc.noise_var)), par=float(jnp.max(rb.par(X))))
    print("Table III (target at -45 deg; paper: Pd 1 / 0.38, AASR 0.30 / 3.07)")
    for k, v in rows.items():
        print(f"  {k}: Pd = {v['pd']:.3f}, AASR = {v['aasr']:.3f} bps/Hz/user, max PAR = {v['par']:.2f}")
    ang = jnp.linspace(-np.pi / 2, np.pi / 2, 361)
    B = {k: np.asarray(rb.beampattern(X @ X.conj().T / X.shape[1], ang)) for k, X in (("X_s", sc.X_s), ("X_c", Xc))}
    B["R_mmse"] = np.asarray(rb.beampattern(R_mmse, ang))
    C.save_csv(out / "fig5.csv", {"angle_deg": np.rad2deg(np.asarray(ang)), **B})
    C.save_json(out / "table3.json", rows)
    plt = C.plt()
    fig, axs = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, k, title in ((axs[0], "X_s", "(a) perfect sensing $X_s$"), (axs[1], "X_c", "(b) perfect communication (ZF)")):
        ax.plot(np.rad2deg(np.asarray(ang)), B[k])
        ax.set(xlabel="angle [deg]", ylabel="beampattern", title=title)
    axs[0].plot(np.rad2deg(np.asarray(ang)), B["R_mmse"], "--", label="MMSE R")
    axs[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "fig5.png", dpi=110)
    print(f"  wrote {out / 'fig5.png'}")


if __name__ == "__main__":
    main()
