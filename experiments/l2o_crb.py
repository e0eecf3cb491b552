"""Learning to optimise (issue 9): an Equinox network, trained with Optax through the differentiable
R-BAL solver, that warm-starts R-BAL (jaxisac.crb, seed 001) from the channel.

Setting S-A of the spec (§4.4): N_t = 16, K = 8, Gamma = 10 dB, P_T = 20 dBm, sigma^2 = 0 dBm,
i.i.d. CN(0, 1) channels (``jaxisac.crb.random_instance``), float64.

The network never outputs an arbitrary iterate. It predicts, per instance, the K SINR multipliers
mu_k > 0, the K user powers p_k > 0 and a regulariser eta > 0 of the MMSE-like optimal structure of
spec §2.9 (X_k* = p_k v_k v_k^H, v_k = B~^{-1} h~_k), with B~ replaced by eta I + sum_j mu_j Q~_j
(always positive definite). The rest of the primal-dual R-BAL state is then the fixed point of the
R-BAL maps for that primal-dual guess: Y = Z = sum_k X_k, Omega_2 = omega I,
Omega_1 = -Y^{-2} + omega I + sum_j mu_j Q~_j, mu_BAL = -mu (spec §3.2 / §2.9). So every output is a
finite, Hermitian, PSD, power-feasible R-BAL iterate: a valid ``init=`` for ``jaxisac.solve``.

Inputs are rotation-invariant: the upper-triangular reduced channel H~ of the QR that R-BAL itself
uses (H -> V H with V unitary leaves it unchanged), real-stacked, with log Gamma_k, log P_T,
log sigma^2.

Loss: a supervised term (relative error of X to the optimum X*, and of log mu to log mu*; optima
from ``RBAL()``) plus the unrolled term: log10 of R-BAL's own stopping measure (primal residual +
iterate change, both scaled as in the solver) after T unrolled ``RBAL(polish=False)`` iterations
from the predicted init, differentiated through ``jaxisac.solve(..., unroll=True, max_steps=T)``.

Evaluation on held-out channels (another seed): iterations to tolerance 1e-9 cold vs warm, for
``RBAL(polish=False)`` (the paper's algorithm) and ``RBAL()`` (default: Newton polish every 50
iterations, and a Newton attempt from a warm start before any iteration), batched wall time per instance (compile excluded; the warm time includes the
network), and the relative objective gap between warm and cold optima.

    .venv/bin/python experiments/l2o_crb.py            # full run (a few minutes on CPU)
    .venv/bin/python experiments/l2o_crb.py --quick    # CI-sized run (< 60 s)

Writes results/l2o/ (summary.json, per_instance.csv, iterations.png; ``_quick`` suffix with --quick).

Measured (full run, seed 0, held-out seed 1000, 64 channels, 2 shared CPU cores, 297 s), after the
active-set Newton polish of R-BAL: RBAL() 53.1 cold vs 50.0 warm iterations (mean, -5.9 %); cold
solves already stop at the first 50-iteration polish on 61 of 64 channels, the learned start
certifies 8 channels with no iteration and 4 need more iterations than cold; wall time 55.8 vs 54.1 ms
per instance. RBAL(polish=False): 910.6 vs 910.4 iterations (no gain: the paper's fixed-step
algorithm's iterations fall only with the logarithm of the start's error). Optima equal (max
relative gap 2.3e-13). Before the active-set polish the learned start saved 36 % (51.6 -> 32.8).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jaxisac  # noqa: E402
from jaxisac import crb  # noqa: E402
from jaxisac.kernels import crb as K_  # noqa: E402

SETTING = dict(n_t=16, k=8, sinr_db=10.0, power_dbm=20.0, noise_dbm=0.0)
P_FLOOR = 1e-6  # p_k >= P_FLOOR * P_T / N_t keeps sum_k X_k (= Y = Z) positive definite
TARGET_MAX_STEPS = 2000  # training optima: instances not converged by then get weight 0
EVAL_MAX_STEPS = 5000  # iteration cap in the evaluation (a vmapped batch runs as long as its slowest member)
POWER_CAP = 0.95  # sum_k tr X_k <= POWER_CAP * P_T


# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------


def instances(seed: int, n: int, setting=SETTING):
    """``n`` i.i.d. instances (batched ExtendedTargetCRB) from ``jax.random.key(seed)``."""
    keys = jax.random.split(jax.random.key(seed), n)
    s = dict(setting)
    n_t, k = s.pop("n_t"), s.pop("k")
    return jax.vmap(lambda kk: crb.random_instance(kk, n_t, k, dtype=jnp.complex128, **s))(keys)


def reduced_channel(problem):
    """H~ (K, K): the R factor of the thin QR of H, exactly as R-BAL's pre-processing computes it."""
    return jnp.linalg.qr(problem.H)[1]


def features(problem):
    """Real feature vector (2K^2 + K + 2,) of one instance; invariant to H -> V H, V unitary."""
    Ht = reduced_channel(problem) / jnp.sqrt(jnp.asarray(problem.n_t, problem.power.dtype))
    return jnp.concatenate([
        jnp.real(Ht).ravel(), jnp.imag(Ht).ravel(), jnp.log(problem.sinr_targets),
        jnp.log(problem.power)[None], jnp.log(problem.noise_var)[None],
    ])


# ------------------------------------------------------------------------------------------------
# the warm start: network output -> valid R-BAL iterate
# ------------------------------------------------------------------------------------------------


def _ct(a):
    return jnp.conj(jnp.swapaxes(a, -1, -2))


def _herm(a):
    return 0.5 * (a + _ct(a))


def iterate_from_primal_dual(problem, X, mu):
    """R-BAL state whose dual blocks are the fixed point of the R-BAL maps for (X, mu_KKT):
    Y = Z = sum X_k, Omega_2 = omega I, Omega_1 = -Y^{-2} + omega I + sum mu_j Q~_j."""
    Ht = reduced_channel(problem)
    k, n_t = problem.k, problem.n_t
    P, cdt = problem.power, Ht.dtype
    eye = jnp.eye(k, dtype=cdt)
    Y = _herm(jnp.sum(X, axis=0))  # exactly sum X_k: any ridge here costs hundreds of iterations
    omega = (n_t - k) ** 2 / (P - jnp.real(jnp.trace(Y))) ** 2
    Yi = jnp.linalg.inv(Y)
    Om1 = _herm(-Yi @ Yi + omega.astype(cdt) * eye + (Ht * mu.astype(cdt)[None, :]) @ _ct(Ht))
    Om2 = omega.astype(cdt) * eye
    return K_.RBALIterate(X, Y, Y, -mu, Om1, Om2)


def warm_start(problem, out):
    """Network output (2K + 1,) = [log mu, log p, log eta] -> a valid R-BAL iterate.

    X_k = p_k v_k v_k^H / |v_k|^2 with v_k = (eta I + sum_j mu_j Q~_j)^{-1} h~_k (positive definite
    for any output), powers capped at POWER_CAP * P_T."""
    Ht = reduced_channel(problem)
    k, P, cdt = problem.k, problem.power, Ht.dtype
    out = jnp.clip(out, -25.0, 25.0)
    mu, p, eta = jnp.exp(out[:k]), jnp.exp(out[k : 2 * k]), jnp.exp(out[2 * k])
    B = eta.astype(cdt) * jnp.eye(k, dtype=cdt) + (Ht * mu.astype(cdt)[None, :]) @ _ct(Ht)
    V = jnp.linalg.solve(_herm(B), Ht)
    V = V / jnp.linalg.norm(V, axis=0, keepdims=True)
    p = p * jnp.minimum(1.0, POWER_CAP * P / jnp.sum(p)) + P_FLOOR * P / problem.n_t
    X = p.astype(cdt)[:, None, None] * jnp.einsum("ik,jk->kij", V, jnp.conj(V))
    return iterate_from_primal_dual(problem, X, mu)


class WarmStartNet(eqx.Module):
    """MLP: features(H~, Gamma, P_T, sigma^2) -> [log mu_KKT, log p, log eta] (+ a fixed offset)."""

    mlp: eqx.nn.MLP
    offset: jax.Array  # data-dependent output bias, not trained (stop_gradient)

    def __init__(self, k: int, key, width: int = 128, depth: int = 2, offset=None):
        n_in = 2 * k * k + k + 2
        self.mlp = eqx.nn.MLP(n_in, 2 * k + 1, width, depth, activation=jax.nn.gelu, key=key)
        # start from the offset: zero last layer
        last = self.mlp.layers[-1]
        self.mlp = eqx.tree_at(lambda m: (m.layers[-1].weight, m.layers[-1].bias), self.mlp,
                               (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias)))
        self.offset = jnp.zeros((2 * k + 1,)) if offset is None else jnp.asarray(offset)

    def __call__(self, problem):
        return self.mlp(features(problem)) + jax.lax.stop_gradient(self.offset)

    def init(self, problem):
        """The warm start (an RBALIterate) for one instance."""
        return warm_start(problem, self(problem))


# ------------------------------------------------------------------------------------------------
# targets, losses, training
# ------------------------------------------------------------------------------------------------


CHUNK = 32  # vmapped solves run in chunks of at most 32 instances (see CONFIGS)


def _chunks(probs, size=CHUNK):
    n = probs.power.shape[0]
    return [jax.tree_util.tree_map(lambda a: a[i : i + size], probs) for i in range(0, n, size)]


@eqx.filter_jit
def _solve_batch(probs, solver, init=None):
    if init is None:
        return jax.vmap(lambda p: jaxisac.solve(p, solver, throw=False))(probs)
    return jax.vmap(lambda p, i: jaxisac.solve(p, solver, init=i, throw=False))(probs, init)


def optimum_targets(probs):
    """Optimal reduced X* (B, K, K, K) and mu_KKT* (B, K) from ``RBAL()`` (Newton-polished)."""
    sols = [_solve_batch(pb, crb.RBAL(max_steps=TARGET_MAX_STEPS)) for pb in _chunks(probs)]
    X = jnp.concatenate([s.value.reduced.X for s in sols])
    mu = jnp.concatenate([s.stats["mu"] for s in sols])
    obj = jnp.concatenate([s.objective for s in sols])
    ok = np.concatenate([np.asarray(s.result) == 0 for s in sols])
    return X, mu, obj, ok


def initial_offset(mu_star, X_star, ok):
    """Output bias = mean of the targets' log mu, log p; log eta from mean mu * mean |h|^2 scale."""
    mu = np.asarray(mu_star)[ok]
    p = np.real(np.einsum("bkii->bk", np.asarray(X_star)))[ok]
    k = mu.shape[1]
    lm = np.log(np.maximum(mu, 1e-12)).mean()
    return np.concatenate([np.full(k, lm), np.full(k, np.log(np.maximum(p, 1e-12)).mean()), [lm]])


def supervised_loss(net, probs, X_star, mu_star, w):
    def one(p, Xs, ms):
        it = net.init(p)
        ex = jnp.sum(jnp.abs(it.X - Xs) ** 2) / jnp.sum(jnp.abs(Xs) ** 2)
        em = jnp.mean((jnp.log(jnp.maximum(-it.mu, 1e-12)) - jnp.log(jnp.maximum(ms, 1e-12))) ** 2)
        return ex + 0.1 * em

    return jnp.sum(w * jax.vmap(one)(probs, X_star, mu_star)) / jnp.sum(w)


def unrolled_loss(net, probs, T: int, w):
    """log10 of R-BAL's stopping measure after T unrolled iterations from the network's init."""
    solver = crb.RBAL(polish=False)

    def one(p):
        sol = jaxisac.solve(p, solver, init=net.init(p), unroll=True, max_steps=T, throw=False)
        k = p.k
        sp = 1 + p.noise_var * jnp.sqrt(jnp.asarray(k, p.power.dtype))
        sd = 1 + jnp.sqrt(jnp.sum(jnp.abs(sol.value.reduced.Y) ** 2))
        return jnp.log10(sol.stats["primal_residual"] / sp + sol.stats["change"] / sd)

    return jnp.sum(w * jax.vmap(one)(probs)) / jnp.sum(w)


def train(seed: int, n_train: int, n_steps: int, batch: int, T: int, lam_unroll: float, lr: float, log=print):
    """Train the warm-start network. Returns (net, history)."""
    key = jax.random.key(seed)
    k_data, k_net, k_batch = jax.random.split(key, 3)
    probs = instances(seed, n_train)
    t0 = time.perf_counter()
    X_star, mu_star, _, ok = optimum_targets(probs)
    log(f"  targets: {int(ok.sum())}/{n_train} training optima (RBAL) in {time.perf_counter() - t0:.1f} s")
    w_all = jnp.asarray(ok, jnp.float64)
    net = WarmStartNet(SETTING["k"], k_net, offset=initial_offset(mu_star, X_star, ok))
    opt = optax.adam(optax.cosine_decay_schedule(lr, n_steps, alpha=0.05))
    params, static = eqx.partition(net, eqx.is_inexact_array)
    opt_state = opt.init(params)

    def loss_fn(params, idx):
        net = eqx.combine(params, static)
        pb = jax.tree_util.tree_map(lambda a: a[idx], probs)
        w = w_all[idx]
        ls = supervised_loss(net, pb, X_star[idx], mu_star[idx], w)
        lu = unrolled_loss(net, pb, T, w) if lam_unroll > 0 else jnp.zeros(())
        return ls + lam_unroll * lu, (ls, lu)

    @jax.jit
    def step(params, opt_state, idx):
        (loss, aux), g = jax.value_and_grad(loss_fn, has_aux=True)(params, idx)
        upd, opt_state = opt.update(g, opt_state, params)
        return optax.apply_updates(params, upd), opt_state, loss, aux

    hist = []
    t0 = time.perf_counter()
    for i in range(n_steps):
        idx = jax.random.choice(jax.random.fold_in(k_batch, i), n_train, (batch,), replace=False)
        params, opt_state, loss, (ls, lu) = step(params, opt_state, idx)
        hist.append((float(loss), float(ls), float(lu)))
        if i == 0 or (i + 1) % max(1, n_steps // 10) == 0:
            log(f"  step {i + 1:4d}/{n_steps}  loss {float(loss): .4f}  supervised {float(ls):.4f}  "
                f"unrolled log10 residual {float(lu): .3f}  ({time.perf_counter() - t0:.1f} s)")
    return eqx.combine(params, static), hist


# ------------------------------------------------------------------------------------------------
# evaluation
# ------------------------------------------------------------------------------------------------


def _timed(fn, *args, repeats: int = 1):
    out = fn(*args)
    jax.block_until_ready(out)  # compile + first run
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args)
        jax.block_until_ready(out)
        best = min(best, time.perf_counter() - t0)
    return out, best


def evaluate(net, probs, solvers: dict, repeats: int = 1):
    """Cold vs warm for each solver: per-instance iterations, status, objective; batched times."""
    n = probs.power.shape[0]
    res = {}
    for name, solver in solvers.items():
        cold_fn = eqx.filter_jit(lambda pb: jax.vmap(lambda p: jaxisac.solve(p, solver, throw=False))(pb))
        warm_fn = eqx.filter_jit(
            lambda nt, pb: jax.vmap(lambda p: jaxisac.solve(p, solver, init=nt.init(p), throw=False))(pb))
        cat = lambda xs: np.concatenate([np.asarray(x) for x in xs])  # noqa: E731
        parts = {key: [] for key in ("ic", "iw", "sc", "sw", "oc", "ow")}
        t_cold = t_warm = 0.0
        for pb in _chunks(probs):
            cold, tc = _timed(cold_fn, pb, repeats=repeats)
            warm, tw = _timed(warm_fn, net, pb, repeats=repeats)
            t_cold, t_warm = t_cold + tc, t_warm + tw
            for key, val in zip(parts, (cold.stats["iterations"], warm.stats["iterations"], cold.result, warm.result,
                                        cold.objective, warm.objective)):
                parts[key].append(val)
        oc, ow = cat(parts["oc"]), cat(parts["ow"])
        res[name] = dict(
            iters_cold=cat(parts["ic"]), iters_warm=cat(parts["iw"]),
            status_cold=cat(parts["sc"]), status_warm=cat(parts["sw"]),
            obj_cold=oc, obj_warm=ow, rel_gap=np.abs(ow - oc) / np.abs(oc),
            ms_per_instance_cold=1e3 * t_cold / n, ms_per_instance_warm=1e3 * t_warm / n,
        )
    return res


def summarise(res):
    out = {}
    for name, r in res.items():
        both = (r["status_cold"] == 0) & (r["status_warm"] == 0)
        out[name] = dict(
            n=int(len(both)), converged_cold=int((r["status_cold"] == 0).sum()), converged_warm=int((r["status_warm"] == 0).sum()),
            iters_cold_mean=float(r["iters_cold"].mean()), iters_warm_mean=float(r["iters_warm"].mean()),
            iters_cold_median=float(np.median(r["iters_cold"])), iters_warm_median=float(np.median(r["iters_warm"])),
            iters_saved_mean_pct=float(100 * (1 - r["iters_warm"].mean() / r["iters_cold"].mean())),
            warm_fewer_frac=float(np.mean(r["iters_warm"] < r["iters_cold"])),
            ms_per_instance_cold=float(r["ms_per_instance_cold"]), ms_per_instance_warm=float(r["ms_per_instance_warm"]),
            rel_objective_gap_max=float(r["rel_gap"][both].max()) if both.any() else float("nan"),
            rel_objective_gap_median=float(np.median(r["rel_gap"][both])) if both.any() else float("nan"),
        )
    return out


def print_table(summary, log=print):
    log(f"{'solver':18s} {'conv c/w':>9s} {'iters mean c/w':>17s} {'median c/w':>14s} {'saved':>7s} "
        f"{'ms/inst c/w':>15s} {'max rel gap':>11s}")
    for name, s in summary.items():
        log(f"{name:18s} {s['converged_cold']:>4d}/{s['converged_warm']:<4d} "
            f"{s['iters_cold_mean']:>8.1f}/{s['iters_warm_mean']:<8.1f} {s['iters_cold_median']:>6.0f}/{s['iters_warm_median']:<7.0f} "
            f"{s['iters_saved_mean_pct']:>6.1f}% {s['ms_per_instance_cold']:>7.2f}/{s['ms_per_instance_warm']:<7.2f} "
            f"{s['rel_objective_gap_max']:>11.1e}")


def plot(res, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(res), figsize=(5.2 * len(res), 3.4))
    axes = np.atleast_1d(axes)
    for ax, (name, r) in zip(axes, res.items()):
        hi = max(r["iters_cold"].max(), r["iters_warm"].max())
        bins = np.linspace(0, hi * 1.02 + 1, 30)
        ax.hist(r["iters_cold"], bins=bins, alpha=0.6, label=f"cold (mean {r['iters_cold'].mean():.0f})")
        ax.hist(r["iters_warm"], bins=bins, alpha=0.6, label=f"learned warm start (mean {r['iters_warm'].mean():.0f})")
        ax.set_xlabel("R-BAL iterations to tolerance 1e-9")
        ax.set_ylabel("held-out instances")
        ax.set_title(name)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


CONFIGS = {
    # n_train, n_steps, batch, T (unrolled iterations), lam_unroll, lr, n_test
    # (solves run in chunks of 32: on XLA:CPU here a vmapped solve over 48 or 256 instances stalled
    # for minutes at low CPU load, while 16/32/64 took seconds)
    "quick": dict(n_train=32, n_steps=40, batch=16, T=4, lam_unroll=0.05, lr=3e-3, n_test=32),
    "full": dict(n_train=256, n_steps=1500, batch=16, T=4, lam_unroll=0.05, lr=2e-3, n_test=64),
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CI-sized run (< 60 s)")
    ap.add_argument("--seed", type=int, default=0, help="training seed (held-out channels use seed + 1000)")
    ap.add_argument("--out", default=str(ROOT / "results" / "l2o"))
    a = ap.parse_args(argv)
    cfg = dict(CONFIGS["quick" if a.quick else "full"])
    cmd = "python experiments/l2o_crb.py" + (" --quick" if a.quick else "") + (f" --seed {a.seed}" if a.seed else "")
    print(f"l2o warm start for R-BAL, setting S-A {SETTING}; seed {a.seed} (held-out seed {a.seed + 1000}); config {cfg}")
    print(f"re-run: {cmd}")
    t_all = time.perf_counter()
    net, hist = train(a.seed, cfg["n_train"], cfg["n_steps"], cfg["batch"], cfg["T"], cfg["lam_unroll"], cfg["lr"])
    test = instances(a.seed + 1000, cfg["n_test"])
    solvers = {"RBAL(polish=False)": crb.RBAL(polish=False, max_steps=EVAL_MAX_STEPS)}
    if not a.quick:
        solvers["RBAL()"] = crb.RBAL(max_steps=EVAL_MAX_STEPS)
    res = evaluate(net, test, solvers)
    summary = summarise(res)
    print_table(summary)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "_quick" if a.quick else ""
    meta = dict(command=cmd, seed=a.seed, heldout_seed=a.seed + 1000, setting=SETTING, config=cfg,
                jax=jax.__version__, backend=jax.default_backend(), final_loss=hist[-1],
                wall_s=time.perf_counter() - t_all, results=summary)
    (out / f"summary{tag}.json").write_text(json.dumps(meta, indent=2))
    with open(out / f"per_instance{tag}.csv", "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["solver", "instance", "iters_cold", "iters_warm", "status_cold", "status_warm", "obj_cold", "obj_warm", "rel_gap"])
        for name, r in res.items():
            for i in range(len(r["iters_cold"])):
                wr.writerow([name, i, int(r["iters_cold"][i]), int(r["iters_warm"][i]), int(r["status_cold"][i]),
                             int(r["status_warm"][i]), repr(float(r["obj_cold"][i])), repr(float(r["obj_warm"][i])),
                             repr(float(r["rel_gap"][i]))])
    plot(res, out / f"iterations{tag}.png")
    print(f"wrote {os.path.relpath(out, ROOT)}/summary{tag}.json, per_instance{tag}.csv, iterations{tag}.png "
          f"({time.perf_counter() - t_all:.0f} s total)")
    return summary


if __name__ == "__main__":
    main()
