"""Seed 001, Figs. 2-3: optimality gap |f - f*| and constraint violation ||D u - b|| vs wall-clock time
for R-BAL (reduced, K x K blocks) and BAL (full, N_t x N_t blocks), N_t in {32, 64, 128}, K = 8,
P_T = 15 dBm, fixed tau (the paper's algorithms). The reference f* is N_t^2/P_T when the instance is
isotropic (the case on seed 0, spec §9.6), else a tight jaxisac solve. Iterations are traced by a
jitted ``lax.scan`` of the kernels; the time axis is iteration x measured per-iteration time.
Writes results/crb/fig2_3.csv and fig2_3.png."""

from __future__ import annotations

import argparse
import csv
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from crb_common import results_dir

jax.config.update("jax_enable_x64", True)

import jaxisac  # noqa: E402
import jaxisac.crb as C  # noqa: E402
from jaxisac.kernels import crb as K  # noqa: E402


def trace_rbal(prob, iters, tau0=0.1):
    rho = 1 + 1 / prob.sinr_targets
    _, d = K.preprocess(prob.H, rho, prob.noise_var, prob.power, 1e-4)
    k, n = prob.k, prob.n_t
    eye = jnp.eye(k, dtype=complex)
    s = prob.power / n
    it0 = K.RBALIterate(jnp.zeros((k, k, k), complex), s * eye, s * eye, jnp.zeros(k), 0 * eye, 0 * eye)
    tau = tau0 * s**3

    def body(it, _):
        it = K.rbal_step(it, d, tau)
        r, R1, R2 = K.rbal_residuals(it, d)
        viol = jnp.sqrt(jnp.sum(r**2) + jnp.sum(jnp.abs(R1) ** 2) + jnp.sum(jnp.abs(R2) ** 2))
        return it, (K.reduced_objective(it.Y, d.c, d.P), viol)

    return jax.jit(lambda: jax.lax.scan(body, it0, None, length=iters)[1])


def trace_bal(prob, iters, tau0=0.1):
    rho = 1 + 1 / prob.sinr_targets
    d = K.bal_preprocess(prob.H, rho, prob.noise_var, prob.power, 1e-4)
    k, n = prob.k, prob.n_t
    s = prob.power / n
    it0 = K.BALIterate(jnp.zeros((k + 1, n, n), complex), s * jnp.eye(n, dtype=complex), jnp.zeros(k), jnp.zeros((n, n), complex))
    tau = tau0 * s**3

    def body(it, _):
        it = K.bal_step(it, d, tau)
        r, R1 = K.bal_residuals(it, d)
        viol = jnp.sqrt(jnp.sum(r**2) + jnp.sum(jnp.abs(R1) ** 2))
        obj = jnp.real(jnp.trace(jnp.linalg.inv(it.Y)))
        return it, (obj, viol)

    return jax.jit(lambda: jax.lax.scan(body, it0, None, length=iters)[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    nts = [32] if a.quick else [32, 64, 128]
    iters = 150 if a.quick else 600
    out = results_dir()
    rows = []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for n in nts:
        prob = C.make_instance(0, n, 8, power_dbm=15.0)
        ref = float(jaxisac.solve(prob, C.RBAL()).objective)
        for name, mk in (("R-BAL", trace_rbal), ("BAL", trace_bal)):
            f = mk(prob, iters)
            jax.block_until_ready(f())
            t0 = time.perf_counter()
            obj, viol = jax.block_until_ready(f())
            per_it = (time.perf_counter() - t0) / iters
            tt = per_it * np.arange(1, iters + 1)
            gap = np.abs(np.asarray(obj) - ref)
            ax[0].loglog(tt, gap, label=f"{name}, N_t={n}")
            ax[1].loglog(tt, np.asarray(viol), label=f"{name}, N_t={n}")
            for i in range(0, iters, max(1, iters // 50)):
                rows.append({"algo": name, "N_t": n, "iter": i + 1, "time_s": tt[i], "gap": gap[i], "violation": float(viol[i]), "ref": ref})
            print(name, n, f"{1e6 * per_it:.0f} us/iteration, final gap {gap[-1]:.2e}, violation {float(viol[-1]):.2e}", flush=True)
    ax[0].set(xlabel="time [s]", ylabel="|f - f*|", title="optimality gap (K = 8, P_T = 15 dBm)")
    ax[1].set(xlabel="time [s]", ylabel="||Du - b||", title="constraint violation")
    for a_ in ax:
        a_.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "fig2_3.png"), dpi=100)
    with open(os.path.join(out, "fig2_3.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("wrote", out)


if __name__ == "__main__":
    main()
