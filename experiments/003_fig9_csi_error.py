"""Fig. 9 of the BD-RIS paper (spec §5, v5 Fig. 9 / v3 Fig. 8): channel shaping and rate under
imperfect CSI, D-RIS (L = 1) vs fully connected BD-RIS (L = N_S). Spec target: BD-RIS at eps = 0.5
can beat D-RIS at eps = 0.01.

Every design sees estimated channels with the multiplicative error of the authors' code (spec A18),
``H_hat = H o (1 + eps CN(0, 1))`` entrywise; it is evaluated on the TRUE channels. eps = 0 is perfect
CSI. The same error draws are used for D-RIS and BD-RIS.

(a) Pareto half: singular-value shaping region of a 2 x N_S x 2 channel with the direct link. For
    Pareto weights ``rho`` on the unit circle, Riemannian CG maximises ``rho_1 sigma_1 + rho_2 sigma_2``
    (34) of the ESTIMATED channel (errors on the forward and backward links, the direct link known, as
    in the authors' ``pc_singular_csi.m``; initial point: the estimated channel's P-max (Prop 5) when
    both weights are >= 0, else ``I``); the singular values of the TRUE channel at that design are
    averaged over the draws per weight, and the convex hull of the averaged points is the region.
    Summary per (L, eps): max/min sigma_1, sigma_2 and the region's area.
(b) Rate half: 4 x N_S x 4 with the direct link; rate AO (spec §4.8) on the estimated channels (errors on
    all three links), rate of the designed ``(Theta, Q)`` on the true channels.

``--quick``: Pareto N_S = 16, 16 weights, 2 draws; rate N_S = 16, 4 draws, P = 20 dB. Full: Pareto
N_S = 64, 64 weights, 2 draws (as the paper); rate N_S = 128, 100 draws, P in {0, 10, 20} dB.
``--pareto-ris`` / ``--angles`` / ``--only`` override the Pareto half. Writes
results/bdris/003_fig9_csi_error.{csv,png}: one CSV with a ``half`` column (``pareto`` points,
``pareto_summary``, ``rate``) and a two-panel figure.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import jaxisac  # noqa: E402
from jaxisac import bdris  # noqa: E402
from _common import pyplot, write_rows  # noqa: E402

ETA = 10 ** (-7.5)
EPS = (0.0, 0.01, 0.1, 0.5)


def _perturb(key, H, eps):
    kr, ki = jax.random.split(key)
    e = (jax.random.normal(kr, H.shape) + 1j * jax.random.normal(ki, H.shape)) / np.sqrt(2)
    return H * (1 + eps * e)


def rate_half(quick: bool):
    """Rate on the true channel of AO designs made on estimated channels (4 x N_S x 4, direct link)."""
    n_s, draws, p_db = (16, 4, [20.0]) if quick else (128, 100, [0.0, 10.0, 20.0])
    keys = jax.random.split(jax.random.key(9000), draws)
    chans = jax.vmap(lambda k: bdris.make_channels(k, 4, n_s, 4))(keys)
    s = float(np.sqrt(ETA))  # noise-normalised channels (spec §8): rates unchanged, better scaled
    chans = bdris.Channels(chans.H_direct / s, chans.H_backward / s, chans.H_forward)
    ao = bdris.RateAO(rtol=1e-6, inner=bdris.RiemannianCG(gtol=1e-6, max_steps=300))

    def make(L):
        def rates(chans, power, eps, ekeys):
            def one(c, k):
                k1, k2, k3 = jax.random.split(k, 3)
                est = bdris.Channels(_perturb(k1, c.H_direct, eps), _perturb(k2, c.H_backward, eps), _perturb(k3, c.H_forward, eps))
                prob = bdris.RateMaximisation(est.H_direct, est.H_backward, est.H_forward, power=power, noise=1.0, group_size=L)
                sol = jaxisac.solve(prob, ao, throw=False)
                H_true = bdris.channel(sol.value["theta"], c.H_direct, c.H_backward, c.H_forward)
                return bdris.rate(H_true, sol.value["covariance"], 1.0), sol.objective

            return jax.vmap(one)(chans, ekeys)

        return jax.jit(rates)

    rows = []
    for L in (1, n_s):
        fn = make(L)
        for P in p_db:
            power = jnp.asarray(10 ** (P / 10))
            for eps in EPS:
                t0 = time.perf_counter()
                ekeys = jax.random.split(jax.random.key(91), draws)  # same errors for D and BD
                true_r, est_r = (np.asarray(a) for a in jax.block_until_ready(fn(chans, power, jnp.asarray(eps), ekeys)))
                rows.append(dict(half="rate", n_ris=n_s, group_size=L, power_db=P, eps=eps, mean_rate_nats=float(true_r.mean()),
                                 stderr=float(true_r.std(ddof=1) / np.sqrt(draws)),
                                 mean_designed_rate_nats=float(est_r.mean()), draws=draws, seconds=time.perf_counter() - t0))
                print(f"L={L:4d} P={P:+5.1f} dB eps={eps:4.2f}: true rate {true_r.mean() / np.log(2):.3f} bit/s/Hz"
                      f" (rate the design expected {est_r.mean() / np.log(2):.3f})")
    return rows


def pareto_points(chans, eps, ekeys, weights, *, group_size: int, solver):
    """Singular values of the TRUE channel at Pareto designs made on estimated channels.

    Args:
        chans: :class:`~jaxisac.bdris.Channels` with a leading draw axis, scaled (see :func:`pareto_half`).
        eps: CSI error level (scalar); ekeys: ``(draws,)`` keys of the errors (forward, backward links).
        weights: ``(K, 2)`` Pareto weights.
        group_size: ``L``; solver: the Riemannian solver.

    Returns:
        ``(draws, K, 2)`` singular values of the true channels, and ``(draws, K)`` solver status codes.
    """
    L = int(group_size)

    def one_draw(args):
        c, k = args
        k1, k2 = jax.random.split(k)
        HB_hat, HF_hat = _perturb(k1, c.H_backward, eps), _perturb(k2, c.H_forward, eps)
        G = HB_hat.shape[1] // L
        eye = jnp.broadcast_to(jnp.eye(L, dtype=HB_hat.dtype), (G, L, L))
        th_p = bdris.power_gain_theta(c.H_direct, HB_hat, HF_hat, eye)

        def one_weight(w):
            prob = bdris.ChannelShaping(c.H_direct, HB_hat, HF_hat, group_size=L, objective="pareto", params=w)
            init = jnp.where(jnp.all(w >= 0), th_p, eye)
            sol = jaxisac.solve(prob, solver, init=init, throw=False)
            H_true = bdris.channel(sol.value, c.H_direct, c.H_backward, c.H_forward)
            return jnp.linalg.svd(H_true, compute_uv=False), sol.result

        return jax.vmap(one_weight)(weights)

    return jax.lax.map(one_draw, (chans, ekeys))


def _hull(points):
    from scipy.spatial import ConvexHull

    h = ConvexHull(points)
    return np.append(h.vertices, h.vertices[0]), float(h.volume)


def pareto_half(quick: bool, n_ris=None, n_angles=None):
    """Shaping regions (sigma_1, sigma_2) on the true channel for designs on estimated CSI (2 x N_S x 2)."""
    n_s = n_ris or (16 if quick else 64)
    n_angles = n_angles or (16 if quick else 64)
    draws = 2
    keys = jax.random.split(jax.random.key(9100), draws)
    chans = jax.vmap(lambda k: bdris.make_channels(k, 2, n_s, 2))(keys)
    # scale so that the cascade's largest singular value is ~1 (spec §8); singular values rescaled back
    scale = jnp.linalg.norm(chans.H_backward, ord=2, axis=(1, 2)) * jnp.linalg.norm(chans.H_forward, ord=2, axis=(1, 2))
    scaled = bdris.Channels(chans.H_direct / scale[:, None, None], chans.H_backward, chans.H_forward / scale[:, None, None])
    angles = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    weights = jnp.asarray(np.stack([np.cos(angles), np.sin(angles)], axis=1))
    solver = bdris.RiemannianCG(gtol=1e-6, max_steps=400)
    direct_sv = np.mean(np.asarray(jax.vmap(lambda h: jnp.linalg.svd(h, compute_uv=False))(chans.H_direct)), axis=0)
    rows, regions = [], {}
    for L in (1, n_s):
        fn = jax.jit(lambda c, e, k, w, L=L: pareto_points(c, e, k, w, group_size=L, solver=solver))
        for eps in EPS:
            t0 = time.perf_counter()
            ekeys = jax.random.split(jax.random.key(92), draws)  # same errors for D and BD
            sv, status = jax.block_until_ready(fn(scaled, jnp.asarray(eps), ekeys, weights))
            sv = np.asarray(sv) * np.asarray(scale)[:, None, None]
            dt = time.perf_counter() - t0
            pts = sv.mean(axis=0)  # average over draws per weight (as the authors' script)
            cyc, area = _hull(pts)
            regions[(L, eps)] = (pts, cyc)
            for w, p in zip(np.asarray(weights), pts):
                rows.append(dict(half="pareto", n_ris=n_s, group_size=L, eps=eps, weight1=float(w[0]), weight2=float(w[1]),
                                 sigma1=float(p[0]), sigma2=float(p[1]), draws=draws, seconds=dt))
            summ = dict(max_sigma1=pts[:, 0].max(), min_sigma1=pts[:, 0].min(), max_sigma2=pts[:, 1].max(),
                        min_sigma2=pts[:, 1].min(), region_area=area, max_power_gain=float(np.max(np.sum(pts ** 2, axis=1))))
            rows.append(dict(half="pareto_summary", n_ris=n_s, group_size=L, eps=eps, draws=draws, seconds=dt,
                             not_converged=int(np.sum(np.asarray(status) != 0)), **{k: float(v) for k, v in summ.items()}))
            print(f"pareto 2x{n_s}x2 L={L:3d} eps={eps:4.2f}: sigma_1 in [{summ['min_sigma1']:.3e}, {summ['max_sigma1']:.3e}],"
                  f" sigma_2 in [{summ['min_sigma2']:.3e}, {summ['max_sigma2']:.3e}], area {area:.3e},"
                  f" max power {summ['max_power_gain']:.3e}  ({int(np.sum(np.asarray(status) != 0))} at max steps, {dt:.1f} s)")
    rows.append(dict(half="pareto_summary", n_ris=n_s, group_size=0, eps=float("nan"), draws=draws,
                     max_sigma1=float(direct_sv[0]), min_sigma1=float(direct_sv[0]), max_sigma2=float(direct_sv[1]),
                     min_sigma2=float(direct_sv[1]), region_area=0.0, max_power_gain=float(np.sum(direct_sv ** 2))))
    return rows, regions, direct_sv


def plot(rows, regions, direct_sv, path):
    plt = pyplot()
    fig, (ax_s, ax_r) = plt.subplots(1, 2, figsize=(11, 5.2))
    n_s = max(L for L, _ in regions)
    colors = {1: "tab:blue", n_s: "tab:orange"}
    for (L, eps), (pts, cyc) in regions.items():
        alpha = 1.0 - 0.6 * EPS.index(eps) / (len(EPS) - 1)
        ax_s.plot(pts[cyc, 0], pts[cyc, 1], "--" if L == 1 else "-", color=colors[L], alpha=alpha, lw=1.5,
                  label=f"{'D' if L == 1 else 'BD'}: eps = {eps}")
    ax_s.plot([direct_sv[0]], [direct_sv[1]], "k^", ms=8, zorder=5, label="direct link only (mean sv)")
    ax_s.set(xlabel=r"$\sigma_1(\mathbf{H})$ (true channel)", ylabel=r"$\sigma_2(\mathbf{H})$ (true channel)",
             title=f"(a) shaping regions, 2x{n_s}x2, designs on estimated CSI")
    ax_s.legend(fontsize=6, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    rate = [r for r in rows if r["half"] == "rate"]
    n_r = rate[0]["n_ris"] if rate else 0
    for L, mk in ((1, "o--"), (n_r, "s-")):
        for eps in EPS:
            r = [x for x in rate if x["group_size"] == L and x["eps"] == eps]
            alpha = 1.0 - 0.6 * EPS.index(eps) / (len(EPS) - 1)
            ax_r.plot([x["power_db"] for x in r], [x["mean_rate_nats"] / np.log(2) for x in r], mk, alpha=alpha,
                      color="tab:blue" if L == 1 else "tab:orange", label=f"{'D' if L == 1 else 'BD'}: eps = {eps}")
    ax_r.set(xlabel="transmit power P [dB]", ylabel="rate on the true channel [bit/s/Hz]",
             title=f"(b) rate, 4x{n_r}x4 (AO on estimated CSI)")
    ax_r.legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    for ax in (ax_s, ax_r):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(quick: bool, out_dir: pathlib.Path, *, pareto_ris=None, angles=None, only: str = "both"):
    rows, regions, direct_sv = [], {}, None
    if only in ("both", "pareto"):
        rows, regions, direct_sv = pareto_half(quick, pareto_ris, angles)
    if only in ("both", "rate"):
        rows += rate_half(quick)
    keys = list(dict.fromkeys(k for r in rows for k in r))  # union of the columns, first-seen order
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows([{k: r.get(k, "") for k in keys} for r in rows], out_dir / "003_fig9_csi_error.csv")
    if regions:
        plot(rows, regions, direct_sv, out_dir / "003_fig9_csi_error.png")
    return rows


def _cli():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI-sized run")
    ap.add_argument("--out", default="results/bdris", help="output folder for CSV + PNG")
    ap.add_argument("--pareto-ris", type=int, default=None, help="N_S of the Pareto half")
    ap.add_argument("--angles", type=int, default=None, help="number of Pareto weights on the unit circle")
    ap.add_argument("--only", choices=("both", "pareto", "rate"), default="both")
    a = ap.parse_args()
    if a.angles is not None and a.angles < 4:
        ap.error("--angles: expected at least 4 weights (a 2-D convex hull)")
    if a.pareto_ris is not None and a.pareto_ris < 1:
        ap.error("--pareto-ris: expected a positive number of RIS elements")
    return a


if __name__ == "__main__":
    a = _cli()
    run(a.quick, pathlib.Path(a.out), pareto_ris=a.pareto_ris, angles=a.angles, only=a.only)
