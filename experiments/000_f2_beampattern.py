"""F2 (spec §4.3): beampattern P(phi_az) at theta_el = -10 deg after optimisation on the S0 drop:
DMA-AO, digital-only DMA at y0, fully-digital upper bound; targets and user azimuths marked.
Writes results/dma/f2_beampattern.{csv,png}."""

from _dma_common import OUT, args, dma, jaxisac, jnp, np, plt, sizes, timer  # noqa: I001
import csv
import os


def main():
    a = args(__doc__)
    N, L_mu, T = sizes(a.quick)
    clock = timer()
    pb = dma.make_problem(dma.make_model(N=N, L_mu=L_mu))
    sol = jaxisac.solve(pb, dma.DMAAO(max_iters=T, max_steps=3 * T), throw=False)
    v0, B0, _ = dma.digital_only(pb)
    vfd, _, R = dma.fd_upper_bound(pb)
    az = np.linspace(-90, 90, 361)
    grid = dma.directions_from_degrees(np.stack([az, np.full_like(az, -10.0)], -1))
    A = dma.steering(pb.model, grid)
    pats = {
        "DMA-AO": np.asarray(dma.beampattern(pb.model, sol.value["y"], sol.value["B"], grid)),
        "digital-only (y0)": np.asarray(dma.beampattern(pb.model, pb.y0, B0, grid)),
        "FD-UB": np.asarray(jnp.real(jnp.einsum("dl,lk,dk->d", A, R, jnp.conj(A)))),
    }
    users = np.asarray(dma.S0_USERS)
    user_az = np.degrees(np.arctan2(users[:, 0], users[:, 1]))
    with open(os.path.join(OUT, "f2_beampattern.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["azimuth_deg"] + list(pats))
        for i, x in enumerate(az):
            w.writerow([x] + [pats[k][i] for k in pats])
    print(f"P_tot: DMA-AO {float(sol.objective):.4f}, digital-only {float(v0):.4f}, FD-UB {float(vfd):.4f}")
    p = plt()
    fig, ax = p.subplots(figsize=(7, 4))
    for k, v in pats.items():
        ax.plot(az, v, label=k)
    for t in dma.S0_TARGETS_DEG:
        ax.axvline(t[0], color="k", ls=":", lw=1)
    for u in user_az:
        ax.axvline(u, color="r", ls="--", lw=1)
    ax.set(xlabel="azimuth [deg] (el = -10 deg)", ylabel="P(phi)", title="F2: beampatterns (targets dotted, users dashed)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "f2_beampattern.png"), dpi=100)
    print(f"done in {clock():.1f} s")


if __name__ == "__main__":
    main()
