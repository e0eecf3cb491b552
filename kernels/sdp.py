"""Kernels of the batched SDP solver (pure functions, arrays in and arrays out).

The problem is held in *vectorised* form. A variable ``x`` is one real vector that stacks, block by
block, ``[Re X_j.ravel(), Im X_j.ravel()]`` for a complex Hermitian block (``2 n_j^2`` entries),
``X_j.ravel()`` for a real symmetric block (``n_j^2`` entries), then the orthant slack ``s``
(``p`` entries) and finally the second-order-cone blocks ``u_k`` (``q_k`` entries each,
``u_k[0] >= ||u_k[1:]||``). With this layout the real trace inner product ``Re tr(A^H X)`` is the
Euclidean dot product of the two vectors, the Frobenius projection onto the (self-dual) cone
``K = H^{n_1}_+ x ... x R^p_+ x L^{q_1} x ...`` is block-wise eigenvalue clipping, ``max(., 0)`` and
the closed-form second-order-cone projection, and the linear map of the constraints is one real
matrix ``M`` (``m x N``): ``A(x) = M x``, ``A^*(y) = M^T y``.

``layout`` (static) is a tuple of ``(n_j, is_complex_j)``, one per PSD block, followed by the slack
size ``p``: ``(((n_1, c_1), (n_2, c_2), ...), p)``, and, only when there are second-order-cone
blocks, their sizes: ``(((n_1, c_1), ...), p, (q_1, q_2, ...))``.

The iteration is the dual alternating-direction augmented Lagrangian method of Wen, Goldfarb and Yin
("Alternating direction augmented Lagrangian methods for semidefinite programming", Math. Prog.
Comp. 2010) on ``min <c, x> s.t. M x = b, x in K`` (``K`` self-dual)::

    y = (M M^T)^+ (M (c - z) - mu (M x - b))
    v = c - M^T y - mu x
    z = Pi_K(v)                 # dual slack, in K
    x = (1 - alpha) x + alpha (z - v) / mu      # primal, = Pi_K(-v)/mu when alpha = 1

``(M M^T)^+`` is formed once per instance (it does not depend on ``mu``), so ``mu`` may change
freely between iterations (residual balancing). With ``alpha = 1``, ``x`` and ``z`` are in ``K`` and
complementary (``<x, z> = 0``) at every iterate; only the two linear residuals and the gap remain.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "block_sizes",
    "pack",
    "unpack",
    "unpack_soc",
    "project_soc",
    "project_cone",
    "gram_pinv",
    "wgy_iterations",
    "wgy_iterations_aa",
    "residuals",
    "cone_violation",
]


def soc_sizes(layout) -> tuple[int, ...]:
    """Sizes of the second-order-cone blocks of ``layout`` (empty for the two-part layout)."""
    return tuple(layout[2]) if len(layout) > 2 else ()


def block_sizes(layout) -> list[int]:
    """Lengths of the segments of the vectorised variable: one per PSD block, the slack, then one
    per second-order-cone block."""
    blocks, p = layout[0], layout[1]
    return [n * n * (2 if c else 1) for n, c in blocks] + [p] + list(soc_sizes(layout))


def _split(v: jax.Array, layout) -> list[jax.Array]:
    out, start = [], 0
    for size in block_sizes(layout):
        out.append(jax.lax.slice_in_dim(v, start, start + size, axis=-1))
        start += size
    return out


def pack(blocks, s: jax.Array, layout, socs=()) -> jax.Array:
    """Tuple of ``(n_j, n_j)`` blocks, slack ``(p,)`` and second-order-cone blocks ``(q_k,)`` ->
    real vector ``(N,)``.

    Works with a leading axis too (blocks ``(m, n_j, n_j)``, slack ``(m, p)``, cones ``(m, q_k)``
    -> ``(m, N)``)."""
    if len(tuple(socs)) != len(soc_sizes(layout)):
        raise ValueError(f"socs: expected {len(soc_sizes(layout))} second-order-cone blocks, got {len(tuple(socs))}")
    parts = []
    for X, (n, c) in zip(blocks, layout[0]):
        flat = X.reshape(X.shape[:-2] + (n * n,))
        if c:
            parts += [jnp.real(flat), jnp.imag(flat)]
        else:
            parts.append(jnp.real(flat))
    parts.append(s)
    parts += [jnp.real(u) for u in socs]
    return jnp.concatenate(parts, axis=-1)


def unpack(v: jax.Array, layout) -> tuple[tuple[jax.Array, ...], jax.Array]:
    """Inverse of :func:`pack` for a single vector: ``(blocks, s)``."""
    segs = _split(v, layout)
    nb = len(layout[0])
    blocks = []
    for seg, (n, c) in zip(segs[:nb], layout[0]):
        if c:
            X = jax.lax.complex(seg[: n * n], seg[n * n :])
        else:
            X = seg
        blocks.append(X.reshape(n, n))
    return tuple(blocks), segs[nb]


def unpack_soc(v: jax.Array, layout) -> tuple[jax.Array, ...]:
    """The second-order-cone blocks ``(q_k,)`` of the vector ``v`` (empty tuple when none)."""
    return tuple(_split(v, layout)[len(layout[0]) + 1 :])


def project_soc(u: jax.Array) -> jax.Array:
    """Euclidean projection of ``u = (t, x)`` onto the second-order cone ``{t >= ||x||}``."""
    t, x = u[0], u[1:]
    nx = jnp.linalg.norm(x)
    a = 0.5 * (t + nx)
    scale = jnp.where(nx > 0, a / jnp.where(nx > 0, nx, 1.0), 0.0)
    outside = jnp.concatenate([a[None], scale * x])
    inside = nx <= t
    polar = nx <= -t
    return jnp.where(inside, u, jnp.where(polar, jnp.zeros_like(u), outside))


def _real_embedding(H: jax.Array) -> jax.Array:
    """Complex Hermitian ``n x n`` -> real symmetric ``2n x 2n`` ``[[Re, -Im], [Im, Re]]`` (same
    eigenvalues, each twice)."""
    Hr, Hi = jnp.real(H), jnp.imag(H)
    return jnp.concatenate([jnp.concatenate([Hr, -Hi], -1), jnp.concatenate([Hi, Hr], -1)], -2)


def _embed(n: int, cplx: bool, embed_above: int) -> bool:
    return bool(cplx) and n > embed_above


def _psd_part(X: jax.Array, embed: bool) -> jax.Array:
    H = 0.5 * (X + jnp.conj(X.T))
    if embed:  # complex Hermitian through the real 2n x 2n embedding
        n = H.shape[-1]
        w, U = jnp.linalg.eigh(_real_embedding(H))
        P = (U * jnp.maximum(w, 0.0)) @ U.T
        return jax.lax.complex(0.5 * (P[:n, :n] + P[n:, n:]), 0.5 * (P[n:, :n] - P[:n, n:]))
    w, U = jnp.linalg.eigh(H)
    return (U * jnp.maximum(w, 0.0)) @ jnp.conj(U.T)


def project_cone(v: jax.Array, layout, embed_above: int = 16) -> jax.Array:
    """Euclidean projection of the vector ``v`` onto ``K`` (eigenvalue clipping per Hermitian block,
    ``max(., 0)`` on the slack). Complex blocks larger than ``embed_above`` are decomposed through
    their real ``2n x 2n`` embedding (XLA's CPU complex ``eigh`` is many times slower there)."""
    blocks, s = unpack(v, layout)
    projected = tuple(_psd_part(X, _embed(n, c, embed_above)) for X, (n, c) in zip(blocks, layout[0]))
    socs = tuple(project_soc(u) for u in unpack_soc(v, layout))
    return pack(projected, jnp.maximum(s, 0.0), layout, socs)


def cone_violation(v: jax.Array, layout, embed_above: int = 16) -> jax.Array:
    """``||v - Pi_K(v)||``: the distance of ``v`` to ``K`` (from eigenvalues only)."""
    blocks, s = unpack(v, layout)
    sq = jnp.sum(jnp.minimum(s, 0.0) ** 2)
    for u in unpack_soc(v, layout):
        sq = sq + jnp.sum((u - project_soc(u)) ** 2)
    for X, (n, c) in zip(blocks, layout[0]):
        H = 0.5 * (X + jnp.conj(X.T))
        if _embed(n, c, embed_above):  # every eigenvalue twice
            sq = sq + 0.5 * jnp.sum(jnp.minimum(jnp.linalg.eigvalsh(_real_embedding(H)), 0.0) ** 2)
        else:
            sq = sq + jnp.sum(jnp.minimum(jnp.linalg.eigvalsh(H), 0.0) ** 2)
    return jnp.sqrt(sq)


def gram_pinv(M: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Pseudo-inverse of the Gram matrix ``M M^T`` (``m x m``) by a symmetric eigendecomposition.

    Returns ``(G^+, P, cut)``: ``P = G G^+`` projects onto the range of ``M`` (the identity when the
    constraints are linearly independent); eigenvalues below ``cut = m eps max(eig)`` are treated
    as zero, so a consistent right-hand side ``b = M x`` leaves at most ``sqrt(cut) ||x||`` outside
    the range of ``P``."""
    G = M @ M.T
    w, U = jnp.linalg.eigh(G)
    eps = jnp.finfo(M.dtype).eps
    cut = jnp.maximum(jnp.max(w), 1.0) * eps * max(M.shape[0], 1)
    keep = w > cut
    inv_w = jnp.where(keep, 1.0 / jnp.where(keep, w, 1.0), 0.0)
    Ginv = (U * inv_w) @ U.T
    P = (U * keep.astype(M.dtype)) @ U.T
    return Ginv, P, cut


def _wgy_map(M, Mc, Ginv, b, c, x, z, mu, alpha, layout, embed_above):
    """One plain (relaxed) iteration of the method: ``(x, z) -> (x+, z+, y, xh)``."""
    y = Ginv @ (Mc - M @ z - mu * (M @ x - b))
    v = c - M.T @ y - mu * x
    zn = project_cone(v, layout, embed_above)
    xh = (zn - v) / mu
    return (1.0 - alpha) * x + alpha * xh, zn, y, xh


def wgy_iterations(M, Ginv, b, c, x, z, y, mu, alpha, num: int, layout, embed_above: int = 16):
    """``num`` iterations of the dual ADMM (see the module docstring).

    Returns ``(x, z, y, xh)``: the (relaxed) primal iterate ``x`` that drives the method and
    ``xh = Pi_K(-v)/mu``, the primal point in ``K`` complementary to ``z`` (``xh == x`` when
    ``alpha == 1``), which is the one to report."""
    Mc = M @ c

    def body(_, carry):
        x, z, _, _ = carry
        return _wgy_map(M, Mc, Ginv, b, c, x, z, mu, alpha, layout, embed_above)

    return jax.lax.fori_loop(0, num, body, (x, z, y, x))


def wgy_iterations_aa(M, Ginv, b, c, y, mu, alpha, num: int, layout, embed_above, hist):
    """:func:`wgy_iterations` with type-II Anderson acceleration on ``w = (x, z)``.

    ``hist = (dW, dF, w_prev, f_prev, count, fnorm_prev, w)`` carries the last ``mem = dW.shape[0]``
    differences of iterates and of fixed-point residuals ``f = T(w) - w`` across calls, and the
    (extrapolated) point ``w`` the next iteration starts from; the caller resets ``count`` and sets
    ``w`` to the last plain point when ``mu`` changes (the map changes with it). Each iteration
    evaluates the plain map ``g = T(w)`` once and moves to ``g - (dW + dF) gamma``, ``gamma`` the
    regularised least-squares fit of ``f`` by ``dF``. Safeguard: when ``||f||`` grew by more than 2x
    over the previous iteration, the history is dropped and the plain step ``g`` taken.

    Returns ``(x, z, y, xh, hist)`` where ``x, z, y, xh`` are those of the last *plain* map
    evaluation (``xh, z`` in ``K`` and complementary), as :func:`wgy_iterations` returns them.
    """
    Mc = M @ c
    N = M.shape[1]
    mem = hist[0].shape[0]

    def plain(x, z):
        return _wgy_map(M, Mc, Ginv, b, c, x, z, mu, alpha, layout, embed_above)

    def body(_, carry):
        _, _, y, xh, (dW, dF, w_prev, f_prev, count, fn_prev, w) = carry
        xn, zn, y, xh = plain(w[:N], w[N:])
        g = jnp.concatenate([xn, zn])
        f = g - w
        fn = jnp.linalg.norm(f)
        restart = (count > 0) & (fn > 2.0 * fn_prev)
        # push the newest differences (ring buffer, slot count % mem)
        slot = jnp.mod(count - 1, mem)
        push = (count > 0) & ~restart
        dW = jnp.where(push, dW.at[slot].set(w - w_prev), dW)
        dF = jnp.where(push, dF.at[slot].set(f - f_prev), dF)
        count = jnp.where(restart, 0, count + 1)
        dt = f.dtype
        valid = (jnp.arange(mem) < jnp.minimum(count - 1, mem)).astype(dt)
        Fm = dF * valid[:, None]
        Gm = Fm @ Fm.T
        lam = 1e-10 * jnp.trace(Gm) + jnp.finfo(dt).tiny
        gam = jnp.linalg.solve(Gm + lam * jnp.eye(mem, dtype=dt) + jnp.diag(1.0 - valid), Fm @ f)
        w_new = g - ((dW + dF) * valid[:, None]).T @ gam
        ok = jnp.all(jnp.isfinite(w_new))
        w_new = jnp.where(ok, w_new, g)
        return (xn, zn, y, xh, (dW, dF, w, f, count, fn, w_new))

    w0 = hist[-1]
    carry0 = (w0[:N], w0[N:], y, w0[:N], hist)
    x, z, y, xh, hist = jax.lax.fori_loop(0, num, body, carry0)
    return x, z, y, xh, hist


def residuals(M, b, c, x, z, y):
    """Relative primal residual, dual residual and duality gap of ``(x, z, y)`` on
    ``min <c, x> s.t. Mx = b, x in K`` (dual: ``max b^T y s.t. c - M^T y = z in K``)::

        ||M x - b|| / (1 + ||b||),   ||c - M^T y - z|| / (1 + ||c||),
        |<c, x> - b^T y| / (1 + |<c, x>| + |b^T y|)
    """
    return residual_norms(b, c, x, y, M @ x - b, c - M.T @ y - z)


def residual_norms(b, c, x, y, rp, rd):
    """:func:`residuals` from the residual vectors ``rp = +-(M x - b)`` and ``rd = c - M^T y - z``
    (for a caller that keeps them)."""
    pobj = jnp.dot(c, x)
    dobj = jnp.dot(b, y)
    pr = jnp.linalg.norm(rp) / (1.0 + jnp.linalg.norm(b))
    dr = jnp.linalg.norm(rd) / (1.0 + jnp.linalg.norm(c))
    gap = jnp.abs(pobj - dobj) / (1.0 + jnp.abs(pobj) + jnp.abs(dobj))
    return pr, dr, gap
