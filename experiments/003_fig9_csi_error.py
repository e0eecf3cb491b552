"""Fig. 9 of the BD-RIS paper (spec §5, v5 Fig. 9 / v3 Fig. 8), rate half: achievable rate under
imperfect CSI, 4 x N_S x 4 with a direct link, D-RIS (L = 1) vs fully connected BD-RIS (L = N_S).

The design (rate AO, spec §4.8) sees estimated channels with the multiplicative error of the authors'
code (spec A18), ``H_hat = H o (1 + eps CN(0, 1))`` entrywise on the direct, forward and backward links;
the rate is evaluated on the TRUE channels with the designed ``(Theta, Q)``. eps = 0 is perfect CSI.
Spec target: BD-RIS at eps = 0.5 can beat D-RIS at eps = 0.01.

``--quick``: N_S = 16, 4 draws, P = 20 dB. Full: N_S = 128, 100 draws, P in {0, 10, 20} dB.
Writes results/bdris/003_fig9_csi_error.{csv,png}. (The Pareto half of the figure is not scripted.)
"""

from __future__ import annotations

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
from _common import pyplot, quick_cli, write_rows  # noqa: E402

ETA = 10 ** (-7.5)
EPS = (0.0, 0.01, 0.1, 0.5)


def _perturb(key, H, eps):
    kr, ki = jax.random.split(key)
    e = (jax.random.normal(kr, H.shape) + 1j * jax.random.normal(ki, H.shape)) / np.sqrt(2)
    return H * (1 + eps * e)


def run(quick: bool, out_dir: pathlib.Path):
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
                rows.append(dict(group_size=L, power_db=P, eps=eps, mean_rate_nats=float(true_r.mean()),
                                 stderr=float(true_r.std(ddof=1) / np.sqrt(draws)),
                                 mean_designed_rate_nats=float(est_r.mean()), draws=draws, seconds=time.perf_counter() - t0))
                print(f"L={L:4d} P={P:+5.1f} dB eps={eps:4.2f}: true rate {true_r.mean() / np.log(2):.3f} bit/s/Hz"
                      f" (rate the design expected {est_r.mean() / np.log(2):.3f})")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out_dir / "003_fig9_csi_error.csv")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for L, mk in ((1, "o-"), (n_s, "s--")):
        for eps in EPS:
            r = [x for x in rows if x["group_size"] == L and x["eps"] == eps]
            ax.plot([x["power_db"] for x in r], [x["mean_rate_nats"] / np.log(2) for x in r], mk,
                    label=f"{'D-RIS' if L == 1 else 'BD-RIS (fully)'}, eps={eps}")
    ax.set(xlabel="transmit power P [dB]", ylabel="rate on the true channel [bit/s/Hz]", title=f"4x{n_s}x4, {draws} draws")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(out_dir / "003_fig9_csi_error.png", dpi=100)
    plt.close(fig)
    return rows


if __name__ == "__main__":
    run(*quick_cli("results/bdris"))
