"""Demo of the foundation: a sharded-ready Monte-Carlo sweep of zero-forcing sum rates over SNR."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxisac.core import sweep
from jaxisac.scenarios import beampattern, deg2rad, rayleigh, ula_steering


def _zf_sum_rate(key, snr_db):
    H = rayleigh(key, (4, 16))  # 4 users, 16 antennas
    W = jnp.linalg.pinv(H)
    W = W / jnp.linalg.norm(W)  # unit total power
    g = jnp.abs(jnp.diag(H @ W)) ** 2
    return {"sum_rate": jnp.sum(jnp.log2(1 + 10 ** (snr_db / 10) * g))}


def run(out_dir):
    t0 = time.perf_counter()
    keys = jax.random.split(jax.random.key(0), 2000)
    table = sweep(_zf_sum_rate, keys, {"snr_db": jnp.arange(0.0, 31.0, 5.0)}, progress=False)
    jax.block_until_ready(table["sum_rate"])
    dt = time.perf_counter() - t0
    table.to_csv(str(out_dir / "scenarios_zf_sum_rate.csv"))
    snrs = np.unique(table["snr_db"])
    means = [float(np.mean(table["sum_rate"][table["snr_db"] == s])) for s in snrs]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
        ax[0].plot(snrs, means, "o-")
        ax[0].set(xlabel="SNR [dB]", ylabel="ZF sum rate [bit/s/Hz]", title="4 users, 16 antennas, 2000 draws")
        grid = jnp.linspace(-90, 90, 721)
        w = ula_steering(16, deg2rad(jnp.array([-30.0, 20.0]))).T
        P = beampattern(w @ jnp.conj(w).T, ula_steering(16, deg2rad(grid)))
        ax[1].plot(grid, 10 * np.log10(np.asarray(P) / float(jnp.max(P))))
        ax[1].set(xlabel="angle [deg]", ylabel="beampattern [dB]", ylim=(-40, 1), title="two-beam ULA pattern")
        fig.tight_layout()
        fig.savefig(out_dir / "scenarios.png", dpi=100)
        plt.close(fig)
    except ImportError:
        pass
    return [
        {"what": f"ZF sum rate at {s:.0f} dB", "batch": 2000, "result": f"{m:.2f} bit/s/Hz", "time": f"{dt:.2f} s (whole sweep)"}
        for s, m in zip(snrs[::2], means[::2])
    ]
