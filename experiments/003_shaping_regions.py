"""Figs. 1 and 3 of the BD-RIS paper (spec §5): singular-value shaping regions.

(a) Example-2 style 2x2x2 channel without direct link: (sigma_1, sigma_2) over a 100x100 grid of
    D-RIS phases (theta_1, theta_2) and of the symmetric BD-RIS family
    [[e^{ja} cos(psi), j sin(psi)], [j sin(psi), e^{-ja} cos(psi)]]; dynamic ranges with the
    midrange definition (spec A10). (The paper's exact instance is not in the seed; a seeded random
    one is used.)
(b) Pareto frontier (34) for 2 x N_S x 2 with the direct link: maximise rho_1 sigma_1 + rho_2 sigma_2
    for weights on the unit circle (batched over the weights with ``vmap``: one compiled solve for
    all of them), for L in {1, 4, N_S}; the convex hull of the points is the achievable region.

``--quick``: N_S = 16, 24 weight angles. Full: N_S = 64, 96 angles.
Writes results/bdris/003_shaping_regions.{csv,png}.
"""

from __future__ import annotations

import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import jaxisac  # noqa: E402
from jaxisac import bdris  # noqa: E402
from _common import pyplot, quick_cli, write_rows  # noqa: E402


def example2(key):
    c = bdris.make_channels(key, 2, 2, 2, direct=False, pathloss_db=(0.0, 0.0, 0.0))
    grid = 2 * jnp.pi * jnp.arange(1, 101) / 100
    a, b = jnp.meshgrid(grid, grid, indexing="ij")

    def sv_d(t1, t2):
        return jnp.linalg.svd(bdris.channel(jnp.exp(1j * jnp.array([t1, t2])), None, c.H_backward, c.H_forward), compute_uv=False)

    def sv_bd(alpha, psi):
        th = jnp.array([[jnp.exp(1j * alpha) * jnp.cos(psi), 1j * jnp.sin(psi)], [1j * jnp.sin(psi), jnp.exp(-1j * alpha) * jnp.cos(psi)]])
        return jnp.linalg.svd(bdris.channel(th, None, c.H_backward, c.H_forward), compute_uv=False)

    sd = jax.vmap(jax.vmap(sv_d))(a, b).reshape(-1, 2)
    sb = jax.vmap(jax.vmap(sv_bd))(a, b).reshape(-1, 2)

    def dyn(s):  # +-(max-min)/(max+min) per singular value (midrange definition)
        mx, mn = s.max(axis=0), s.min(axis=0)
        return np.asarray((mx - mn) / (mx + mn))

    return np.asarray(sd), np.asarray(sb), dyn(sd), dyn(sb)


def pareto(key, n_s, n_angles, L):
    c = bdris.make_channels(key, 2, n_s, 2)
    scale = float(jnp.linalg.norm(c.H_backward, 2) * jnp.linalg.norm(c.H_forward, 2))
    angles = jnp.linspace(0, 2 * jnp.pi, n_angles, endpoint=False)
    weights = jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1)
    solver = bdris.RiemannianCG(gtol=1e-6, max_steps=400)

    def one(w):
        prob = bdris.ChannelShaping(c.H_direct / scale, c.H_backward, c.H_forward / scale, group_size=L, objective="pareto", params=w)
        sol = jaxisac.solve(prob, solver, throw=False)
        return jnp.linalg.svd(prob.channel(sol.value), compute_uv=False) * scale

    return np.asarray(jax.vmap(one)(weights)), np.asarray(weights)


def run(quick: bool, out_dir: pathlib.Path):
    n_s, n_angles = (16, 24) if quick else (64, 96)
    sd, sb, dd, db = example2(jax.random.key(3))
    print(f"Example 2 style: dynamic range D-RIS {100 * dd.round(3)} %, symmetric BD-RIS {100 * db.round(3)} %")
    rows = [dict(part="example2", design=d, group_size=g, sigma1=float(s[0]), sigma2=float(s[1]), weight1=np.nan, weight2=np.nan)
            for d, g, arr in (("D-RIS grid", 1, sd[::50]), ("symmetric BD grid", 2, sb[::50])) for s in arr]
    regions = {}
    for L in (1, 4, n_s):
        pts, w = pareto(jax.random.key(11), n_s, n_angles, L)
        regions[L] = pts
        rows += [dict(part="pareto", design="RCG", group_size=L, sigma1=float(p[0]), sigma2=float(p[1]), weight1=float(ww[0]), weight2=float(ww[1])) for p, ww in zip(pts, w)]
        print(f"2x{n_s}x2 L={L:3d}: sigma_1 in [{pts[:, 0].min():.3e}, {pts[:, 0].max():.3e}], sigma_2 in [{pts[:, 1].min():.3e}, {pts[:, 1].max():.3e}]")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out_dir / "003_shaping_regions.csv")
    plt = pyplot()
    from scipy.spatial import ConvexHull

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ax[0].plot(sd[:, 0], sd[:, 1], ".", ms=1, label=f"D-RIS (±{100 * dd.max():.0f} %)")
    ax[0].plot(sb[:, 0], sb[:, 1], ".", ms=1, alpha=0.4, label=f"symmetric BD-RIS (±{100 * db.max():.0f} %)")
    ax[0].set(xlabel=r"$\sigma_1$", ylabel=r"$\sigma_2$", title="2x2x2, no direct link (grid)")
    ax[0].legend(markerscale=8)
    for L, pts in regions.items():
        hull = ConvexHull(pts)
        cyc = np.append(hull.vertices, hull.vertices[0])
        ax[1].plot(pts[cyc, 0], pts[cyc, 1], "-o", ms=2, label=f"L = {L}")
    ax[1].set(xlabel=r"$\sigma_1$", ylabel=r"$\sigma_2$", title=f"Pareto regions, 2x{n_s}x2 with direct link")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(out_dir / "003_shaping_regions.png", dpi=100)
    plt.close(fig)
    return rows


if __name__ == "__main__":
    run(*quick_cli("results/bdris"))
