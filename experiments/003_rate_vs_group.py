"""Fig. 7a / Table II of the BD-RIS paper (spec §5): achievable rate vs transmit power and group size.

4 x N_S x 4 with the direct link (paper path loss, eta = -75 dB). For L in {1, 4, N_S}: the AO
(RCG <-> water-filling, initialised from the power-gain optimum) and the decoupled design (Prop 5
then water-filling), against the direct channel alone. Batched over draws with ``vmap``; rates in
bit/s/Hz in the plot, nats in the CSV.

``--quick``: N_S = 16, 4 draws, P in {0, 10, 20} dB. Full: N_S = 128, 100 draws, P = -20..20 dB.
Writes results/bdris/003_rate_vs_group.{csv,png}.
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


def run(quick: bool, out_dir: pathlib.Path):
    n_s, draws, p_db = (16, 4, [0.0, 10.0, 20.0]) if quick else (128, 100, [-20.0, -10.0, 0.0, 10.0, 20.0])
    groups = [1, 4, n_s]
    keys = jax.random.split(jax.random.key(5000), draws)
    chans = jax.vmap(lambda k: bdris.make_channels(k, 4, n_s, 4))(keys)
    s = float(np.sqrt(ETA))  # noise-normalised channels (spec §8): rates unchanged, better scaled
    chans = bdris.Channels(chans.H_direct / s, chans.H_backward / s, chans.H_forward)
    ao = bdris.RateAO(rtol=1e-6, inner=bdris.RiemannianCG(gtol=1e-6, max_steps=300))
    rows = []

    def make(L):  # one compiled function per group size; the power is a traced argument
        def ao_rates(chans, power):
            def one(c):
                prob = bdris.RateMaximisation(c.H_direct, c.H_backward, c.H_forward, power=power, noise=1.0, group_size=L)
                r = jaxisac.solve(prob, ao, throw=False).objective
                d = bdris.decoupled_rate(c.H_direct, c.H_backward, c.H_forward, power=power, noise=1.0, group_size=L)[0]
                return r, d

            return jax.vmap(one)(chans)

        return jax.jit(ao_rates)

    fns = {L: make(L) for L in groups}
    cap_direct = jax.jit(jax.vmap(lambda c, p: bdris.capacity(c.H_direct, p, 1.0), in_axes=(0, None)))
    for P in p_db:
        power = jnp.asarray(10 ** (P / 10))
        direct = np.asarray(cap_direct(chans, power))
        rows.append(dict(power_db=P, group_size=0, design="no RIS", mean_rate_nats=float(direct.mean()), stderr=float(direct.std(ddof=1) / np.sqrt(draws)), seconds=0.0))
        for L in groups:
            t0 = time.perf_counter()
            r, dec = (np.asarray(a) for a in jax.block_until_ready(fns[L](chans, power)))
            dt = time.perf_counter() - t0
            rows.append(dict(power_db=P, group_size=L, design="AO", mean_rate_nats=float(r.mean()), stderr=float(r.std(ddof=1) / np.sqrt(draws)), seconds=dt))
            rows.append(dict(power_db=P, group_size=L, design="decoupled", mean_rate_nats=float(dec.mean()), stderr=float(dec.std(ddof=1) / np.sqrt(draws)), seconds=dt))
            print(f"P={P:+5.1f} dB L={L:4d}: AO {r.mean() / np.log(2):.3f}, decoupled {dec.mean() / np.log(2):.3f} bit/s/Hz")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out_dir / "003_rate_vs_group.csv")
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for (design, L), style in [(("no RIS", 0), "k:")] + [((d, L), ("-" if d == "AO" else "--")) for L in groups for d in ("AO", "decoupled")]:
        r = [x for x in rows if x["design"] == design and x["group_size"] == L]
        label = design if L == 0 else f"{design}, L={L}"
        ax.plot([x["power_db"] for x in r], [x["mean_rate_nats"] / np.log(2) for x in r], style, marker="o", label=label)
    ax.set(xlabel="transmit power P [dB]", ylabel="rate [bit/s/Hz]", title=f"4x{n_s}x4, {draws} draws")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "003_rate_vs_group.png", dpi=100)
    plt.close(fig)
    return rows


if __name__ == "__main__":
    run(*quick_cli("results/bdris"))
