"""Benchmark: a batch of small random SDPs, jaxisac's batched ADMM against a CVXPY + Clarabel loop.

Each instance: one complex Hermitian block n x n, m equality constraints, an orthant slack of size p,
strictly feasible primal and dual (so every instance has a finite optimum). Both run in one process
on the same machine; the CVXPY loop solves a subset (``--cvxpy``) and its per-instance time is
extrapolated. Prints per-instance times, the ratio and the largest relative objective difference,
and writes ``results/bench_sdp/bench_sdp.json``.

    python experiments/bench_sdp.py --quick          # 256 instances, n=8, m=20
    python experiments/bench_sdp.py --batch 4096 --n 16 --m 60 --float32
    python experiments/bench_sdp.py --quick --anderson 10    # Anderson-accelerated ADMM
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxisac.core.sdp import ADMMSDP, SDP, solve_sdp  # noqa: E402


def random_batch(rng, batch, n, m, p):
    """Batch of strictly primal-dual feasible instances (complex Hermitian block + slack)."""

    def cn(*shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    A = cn(batch, m, n, n)
    A = 0.5 * (A + np.conj(np.swapaxes(A, -1, -2)))
    B, R = cn(batch, n, n), cn(batch, n, n)
    X0 = B @ np.conj(np.swapaxes(B, -1, -2)) / n
    Z0 = R @ np.conj(np.swapaxes(R, -1, -2)) / n
    y0 = rng.standard_normal((batch, m))
    C = np.einsum("bi,bikl->bkl", y0, A) + Z0
    G = rng.standard_normal((batch, m, p))
    b = np.real(np.einsum("bikl,bkl->bi", np.conj(A), X0)) + np.einsum("bip,bp->bi", G, rng.random((batch, p)))
    c = np.einsum("bip,bi->bp", G, y0) + rng.random((batch, p))
    return C, A, b, c, G


def cvxpy_solve(C, A, b, c, G):
    import cvxpy as cp

    n = C.shape[0]
    X = cp.Variable((n, n), hermitian=True)
    s = cp.Variable(len(c))
    cons = [X >> 0, s >= 0]
    cons += [cp.real(cp.trace(A[i].conj().T @ X)) + G[i] @ s == b[i] for i in range(len(b))]
    prob = cp.Problem(cp.Minimize(cp.real(cp.trace(C.conj().T @ X)) + c @ s), cons)
    prob.solve(solver="CLARABEL")
    return prob.value


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CI size: 256 instances, n=8, m=20, 32 CVXPY solves")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--m", type=int, default=20)
    ap.add_argument("--p", type=int, default=4)
    ap.add_argument("--cvxpy", type=int, default=64, help="instances solved by the CVXPY loop")
    ap.add_argument("--tol", type=float, default=1e-7)
    ap.add_argument("--float32", action="store_true", help="also time complex64/float32")
    ap.add_argument("--anderson", type=int, default=0, help="ADMMSDP(anderson=...) memory (0: plain ADMM)")
    ap.add_argument("--out", default="results/bench_sdp")
    args = ap.parse_args()
    if args.quick:
        args.batch, args.n, args.m, args.cvxpy = 256, 8, 20, 32

    rng = np.random.default_rng(0)
    C, A, b, c, G = random_batch(rng, args.batch, args.n, args.m, args.p)
    device = jax.devices()[0]
    report = dict(batch=args.batch, n=args.n, m=args.m, p=args.p, tol=args.tol, anderson=args.anderson,
                  device=str(device))

    def timed(cdt, rdt, tol):
        sdps = SDP(C=(jnp.asarray(C, cdt),), A=(jnp.asarray(A, cdt),), b=jnp.asarray(b, rdt),
                   c=jnp.asarray(c, rdt), G=jnp.asarray(G, rdt))
        solver = ADMMSDP(tol=tol, max_steps=2000, anderson=args.anderson)
        f = jax.jit(jax.vmap(lambda p: solve_sdp(p, solver)))
        t0 = time.perf_counter()
        jax.block_until_ready(f(sdps))
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        sol = jax.block_until_ready(f(sdps))
        run_s = time.perf_counter() - t0
        return sol, compile_s, run_s

    sol, compile_s, run_s = timed(jnp.complex128, jnp.float64, args.tol)
    ok = np.asarray(sol.result) == 0
    report.update(
        jax_float64_compile_s=compile_s,
        jax_float64_run_s=run_s,
        jax_float64_per_instance_ms=1e3 * run_s / args.batch,
        jax_float64_success=float(ok.mean()),
        jax_float64_mean_iterations=float(np.mean(np.asarray(sol.stats["iterations"]))),
        # the batched loop runs until its slowest member is done (finished members are frozen)
        jax_float64_max_iterations=int(np.max(np.asarray(sol.stats["iterations"]))),
    )
    if args.float32:
        sol32, c32, r32 = timed(jnp.complex64, jnp.float32, max(args.tol, 1e-5))
        report.update(
            jax_float32_compile_s=c32,
            jax_float32_per_instance_ms=1e3 * r32 / args.batch,
            jax_float32_success=float(np.mean(np.asarray(sol32.result) == 0)),
            jax_float32_max_rel_diff_vs_float64=float(
                np.max(np.abs(np.asarray(sol32.objective, np.float64) - np.asarray(sol.objective))
                       / (1 + np.abs(np.asarray(sol.objective))))
            ),
        )

    k = min(args.cvxpy, args.batch)
    t0 = time.perf_counter()
    ref = np.array([cvxpy_solve(C[i], A[i], b[i], c[i], G[i]) for i in range(k)])
    cvx_s = (time.perf_counter() - t0) / k
    diff = np.abs(np.asarray(sol.objective[:k]) - ref) / (1 + np.abs(ref))
    report.update(
        cvxpy_clarabel_per_instance_ms=1e3 * cvx_s,
        speedup_float64=cvx_s / (run_s / args.batch),
        max_rel_objective_diff=float(diff.max()),
    )
    for key, val in report.items():
        print(f"{key:40s} {val}")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "bench_sdp.json"), "w") as fh:
        json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
