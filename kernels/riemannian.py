"""Hot loops of the generic Riemannian solvers (pure functions; no configuration objects).

:func:`armijo_search` is the line search of :class:`jaxisac.core.riemannian.RiemannianAscent` and
:class:`~jaxisac.core.riemannian.RiemannianCG`: Armijo's sufficient-increase rule with step doubling
and halving (Abrudan et al.), tested against the TRUE directional slope of the search direction (the
BD-RIS paper's reference slope 1/2 tr(D D^H) is wrong for conjugate directions, see spec A2).
"""

from __future__ import annotations

from typing import Any, Callable

import equinox.internal as eqxi
import jax
import jax.numpy as jnp

__all__ = ["armijo_search", "polak_ribiere"]


def _where(pred, a, b):
    return jax.tree_util.tree_map(lambda u, v: jnp.where(pred, u, v), a, b)


def armijo_search(
    phi: Callable[[jax.Array], tuple[jax.Array, Any]],
    f0: jax.Array,
    slope: jax.Array,
    mu0: jax.Array,
    point0: Any,
    *,
    c: float = 0.5,
    max_doublings: int = 30,
    max_halvings: int = 50,
    loop_kind: str = "lax",
    accept_last: bool = False,
) -> tuple[jax.Array, jax.Array, Any, jax.Array, jax.Array]:
    """Armijo step with doubling / halving along a retraction curve.

    A step ``mu`` is *acceptable* when ``phi(mu)[0] - f0 >= c * mu * slope`` (and finite). Starting
    from ``mu0``: if acceptable, double while the doubled step stays acceptable; otherwise halve until
    acceptable. With ``slope > 0`` every accepted step strictly increases the objective.

    Args:
        phi: ``mu -> (f(R_x(mu d)), R_x(mu d))`` for a real scalar ``mu``.
        f0: objective at ``mu = 0`` (real scalar).
        slope: the true directional derivative ``<grad f(x), d>`` (must be > 0 to accept anything).
        mu0: initial trial step (real scalar, > 0).
        point0: a pytree with the structure of a point (returned when nothing is accepted).
        c: Armijo constant in ``(0, 1)``.
        max_doublings, max_halvings: caps on the two phases (``max_doublings=0``: plain backtracking,
            an acceptable first trial is taken at once).
        loop_kind: ``"lax"`` (fast; not reverse-differentiable) or ``"checkpointed"`` (equinox's
            reverse-differentiable while loop, for unrolled differentiation).
        accept_last: when the halving phase ends without an acceptable step, return its last
            (smallest) trial anyway, as the BD-RIS paper's code does (only for reproducing that rule).

    Returns:
        ``(mu, f, point, ok, evaluations)``: the accepted step, its objective and point, whether a
        step was accepted (``False``: ``mu = 0``, ``f = f0``, ``point = point0``), and the number of
        objective evaluations.
    """
    f0 = jnp.asarray(f0)
    mu0 = jnp.asarray(mu0, f0.dtype)
    slope = jnp.asarray(slope, f0.dtype)

    def acceptable(mu, f):
        return jnp.isfinite(f) & (f - f0 >= c * mu * slope) & (slope > 0)

    f1, p1 = phi(mu0)
    ok1 = acceptable(mu0, f1)
    zero = jnp.zeros((), f0.dtype)
    carry0 = dict(
        mu_try=jnp.where(ok1, 2 * mu0, 0.5 * mu0),
        mu=jnp.where(ok1, mu0, zero),
        f=jnp.where(ok1, f1, f0),
        point=_where(ok1, p1, point0),
        have=ok1,
        grow=ok1,
        k=jnp.zeros((), jnp.int32),
        done=(slope <= 0) | (ok1 & (max_doublings == 0)),  # no doubling phase: take the first success
        evals=jnp.ones((), jnp.int32),
    )

    def cond(s):
        return ~s["done"]

    def body(s):
        ft, pt = phi(s["mu_try"])
        ok = acceptable(s["mu_try"], ft)
        take = ok  # in both phases an acceptable trial becomes the incumbent
        new = dict(s)
        new["mu"] = jnp.where(take, s["mu_try"], s["mu"])
        new["f"] = jnp.where(take, ft, s["f"])
        new["point"] = _where(take, pt, s["point"])
        new["have"] = s["have"] | ok
        new["mu_try"] = jnp.where(s["grow"], 2 * s["mu_try"], 0.5 * s["mu_try"])
        k = s["k"] + 1
        cap = jnp.where(s["grow"], max_doublings, max_halvings)
        # doubling stops at the first failure; halving stops at the first success
        stop = jnp.where(s["grow"], ~ok, ok) | (k >= cap)
        new["k"] = k
        new["done"] = stop
        new["evals"] = s["evals"] + 1
        return new

    if accept_last:
        carry0["last"] = (mu0, f1, p1)

        def step_fn(s):
            ft, pt = phi(s["mu_try"])  # re-evaluated (cheap next to the loop; keeps body() unchanged)
            new = body(s)
            new["last"] = (s["mu_try"], ft, pt)
            return new

    else:
        step_fn = body
    if loop_kind == "lax":
        out = jax.lax.while_loop(cond, step_fn, carry0)
    else:
        out = eqxi.while_loop(cond, step_fn, carry0, max_steps=max_doublings + max_halvings + 1, kind=loop_kind)
    if accept_last:  # nothing acceptable: take the last (smallest) trial, as the paper's code does
        use = ~out["have"] & (slope > 0)
        mu_l, f_l, p_l = out["last"]
        return (jnp.where(use, mu_l, out["mu"]), jnp.where(use, f_l, out["f"]), _where(use, p_l, out["point"]),
                out["have"] | use, out["evals"])
    return out["mu"], out["f"], out["point"], out["have"], out["evals"]


def polak_ribiere(inner_new_diff: jax.Array, inner_old: jax.Array, *, nonnegative: bool = False) -> jax.Array:
    """Polak-Ribiere coefficient ``<g1 - T g0, g1> / <g0, g0>`` (optionally clipped at 0: PR+)."""
    tiny = jnp.finfo(jnp.asarray(inner_old).dtype).tiny
    beta = inner_new_diff / jnp.maximum(inner_old, tiny)
    return jnp.maximum(beta, 0.0) if nonnegative else beta


# --------------------------------------------------------------------- LAPACK-free small matrices
# A batched LAPACK call (svd/eigh) runs one small matrix at a time; the Jacobi kernels below use
# elementwise arithmetic only (one sweep unrolled over the static size), so XLA fuses them and
# vectorises over every batch axis (blocks, trials, vmapped instances): meant for vmap-batched solves
# and accelerators. Measured on a loaded 2-core CPU (experiments/bench_bdris.py set-up, N_R = N_T = 4):
# per 4x4 matrix about as fast as LAPACK's svd when batched by 256, SLOWER inside a lax.map solve, and
# 1.5x slower than LAPACK for the 4x4 eigh, so the library's solvers keep LAPACK on CPU.


def _default_sweeps(n: int, dtype) -> int:
    # cyclic Jacobi converges quadratically; measured on random complex matrices (2000 draws), sweeps
    # to reach round-off: 4x4: 5 (float64) / 4 (float32); 8x8: 6 / 6. One more for margin.
    if n <= 2:
        return 1  # one rotation diagonalises a 2x2 Gram matrix exactly
    wide = jnp.finfo(dtype).bits > 32
    if n <= 4:
        return 6 if wide else 5
    return 7 if n <= 8 else 10


def jacobi_svd(a: jax.Array, sweeps: int | None = None) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Thin SVD ``a = u diag(s) v^H`` of small matrices by one-sided (Hestenes) cyclic Jacobi.

    Args:
        a: ``(..., m, n)`` real or complex with ``m >= n`` (pass ``a^H`` otherwise), ``n`` small
            (the cost grows as ``n^2 m`` per sweep; one sweep is unrolled at trace time: meant for
            ``n <= 8``).
        sweeps: cyclic sweeps (static); default by size and precision (6 / 5 for ``n <= 4`` in
            64 / 32 bit, 7 for ``n <= 8``), one more than measured to reach round-off.

    Returns:
        ``(u, s, v)``: ``u (..., m, n)``, ``s (..., n)`` non-negative and UNSORTED, ``v (..., n, n)``
        unitary. Columns of ``u`` with ``s = 0`` are zero (no completion). The singular values have
        high relative accuracy (rotations act on ``a`` itself, not on ``a^H a``).
    """
    m, n = a.shape[-2:]
    if m < n:
        raise ValueError(f"a: expected m >= n, got shape {a.shape}")
    rdt = jnp.finfo(a.dtype).dtype
    cplx = jnp.iscomplexobj(a)
    sweeps = _default_sweeps(n, rdt) if sweeps is None else int(sweeps)
    tiny = jnp.finfo(rdt).tiny

    def sq(x):
        return jnp.sum(jnp.real(x) ** 2 + jnp.imag(x) ** 2, -1) if cplx else jnp.sum(x * x, -1)

    def sweep(_, carry):
        # one cyclic sweep, unrolled over the n(n-1)/2 column pairs (elementwise ops only)
        cols, vcols = list(carry[0]), list(carry[1])
        for i in range(n - 1):
            for j in range(i + 1, n):
                ai, aj = cols[i], cols[j]
                al, be = sq(ai), sq(aj)
                ga = jnp.sum(jnp.conj(ai) * aj, -1)
                ag = jnp.abs(ga)
                rot = ag > tiny
                ags = jnp.where(rot, ag, 1.0)
                # the phase e^{-j phi} of a_j makes the 2x2 Gram real; then the symmetric Schur rotation
                if cplx:
                    ph = jnp.where(rot, jnp.conj(ga) / ags, 1.0).astype(a.dtype)
                else:
                    ph = jnp.where(rot, jnp.sign(ga), 1.0)
                ze = (be - al) / (2 * ags)
                t = jnp.where(ze >= 0, 1.0, -1.0) / (jnp.abs(ze) + jnp.sqrt(1 + ze * ze))
                t = jnp.where(rot, t, 0.0)
                c = 1 / jnp.sqrt(1 + t * t)
                c_, s_ = c[..., None].astype(a.dtype), (c * t)[..., None].astype(a.dtype)
                pj = ph[..., None]
                ajp = aj * pj
                cols[i], cols[j] = c_ * ai - s_ * ajp, s_ * ai + c_ * ajp
                vi, vjp = vcols[i], vcols[j] * pj
                vcols[i], vcols[j] = c_ * vi - s_ * vjp, s_ * vi + c_ * vjp
        return tuple(cols), tuple(vcols)

    eye = jnp.eye(n, dtype=a.dtype)
    cols0 = tuple(a[..., :, i] for i in range(n))
    vcols0 = tuple(jnp.broadcast_to(eye[:, i], a.shape[:-2] + (n,)) for i in range(n))
    # a fori_loop over sweeps (not a full unroll) keeps the program small: compile time stays low
    cols, vcols = jax.lax.fori_loop(0, sweeps, sweep, (cols0, vcols0))
    s = jnp.stack([jnp.sqrt(sq(x)) for x in cols], -1)
    pos = s > 0
    inv = jnp.where(pos, 1 / jnp.where(pos, s, 1.0), 0.0).astype(a.dtype)
    u = jnp.stack(cols, -1) * inv[..., None, :]
    return u, s, jnp.stack(vcols, -1)


def jacobi_eigh(h: jax.Array, sweeps: int | None = None) -> tuple[jax.Array, jax.Array]:
    """Eigen-decomposition ``h = w diag(lam) w^H`` of small Hermitian matrices, LAPACK-free.

    The one-sided Jacobi SVD of the positive semidefinite shift ``h + c I`` (``c = ||h||_F``) gives
    the eigenvectors and ``lam = s - c`` (absolute accuracy ``eps ||h||``, as LAPACK's ``eigh``).

    Args:
        h: ``(..., n, n)`` Hermitian (only small ``n``; see :func:`jacobi_svd`).
        sweeps: as :func:`jacobi_svd`.

    Returns:
        ``(lam, w)``: eigenvalues ``(..., n)`` UNSORTED and unitary eigenvectors ``(..., n, n)``.
    """
    n = h.shape[-1]
    c = jnp.sqrt(jnp.sum(jnp.abs(h) ** 2, (-2, -1)))
    eye = jnp.eye(n, dtype=h.dtype)
    _, s, w = jacobi_svd(h + c[..., None, None].astype(h.dtype) * eye, sweeps)
    return s - c[..., None], w
