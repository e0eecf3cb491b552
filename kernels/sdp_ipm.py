"""Kernels of the interior-point algorithm of the batched SDP solver (pure functions).

Same problem and vectorised layout as :mod:`jaxisac.kernels.sdp`: ``min <c, x> s.t. M x = b,
x in K`` with ``K`` a product of Hermitian PSD blocks, an orthant and second-order cones; dual
``max b^T y s.t. c - M^T y = z in K``. The constraint rows are used block by block here: ``A_j``
``(m, n_j, n_j)`` (Hermitian), ``G`` ``(m, p)``, ``Q_k`` ``(m, q_k)`` (see :func:`split_rows`).

One iteration is a Mehrotra predictor-corrector step of an infeasible primal-dual path-following
method. Search directions: HKM on the PSD blocks (``dX = K - X dZ Z^{-1}``, symmetrised), the
diagonal scaling on the orthant and Nesterov-Todd scaling on the second-order cones. The Newton
system is reduced to the ``m x m`` Schur complement::

    S = sum_j [Re tr(A_j[i] X_j A_j[k] Z_j^{-1})]_ik + G diag(s / z) G^T + sum_k Q_k W_k^{-2} Q_k^T

factorised once per iteration (Cholesky) and used for both the predictor and the corrector. Its
PSD part costs ``O(m n_j^3 + m^2 n_j^2)`` per block; with ``low_rank = k`` (rows of rank one, e.g.
power measurements ``v v^H``) it costs ``O(m n_j^2 + m^2 n_j + k (n_j^3 + m n_j^2))`` instead
(:func:`_schur_rank_one`).
Step lengths: a fraction of the distance to the boundary of each cone (PSD blocks by the smallest
eigenvalue of ``L^{-1} dX L^{-H}``, cones by the closed-form root).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .sdp import _real_embedding, pack, unpack, unpack_soc

__all__ = ["split_rows", "cone_parts", "nt_scaling", "ipm_iteration", "initial_point", "rank_one_factors"]


def split_rows(M: jax.Array, layout):
    """Rows of the vectorised constraint matrix ``M`` ``(m, N)`` as blocks: ``(A, G, Q)`` with
    ``A`` a tuple of ``(m, n_j, n_j)`` Hermitian blocks, ``G`` ``(m, p)`` and ``Q`` a tuple of
    ``(m, q_k)``."""
    A, G = jax.vmap(lambda r: unpack(r, layout))(M)
    Q = jax.vmap(lambda r: unpack_soc(r, layout))(M)
    return tuple(A), G, tuple(Q)


def cone_parts(v: jax.Array, layout):
    """``(blocks, s, socs)`` of a single vector ``v`` (``N,``)."""
    X, s = unpack(v, layout)
    return X, s, unpack_soc(v, layout)


def _herm(X):
    return 0.5 * (X + jnp.conj(jnp.swapaxes(X, -1, -2)))


def _re_inner_rows(A, Y):
    """``[Re tr(A[i]^H Y)]_i`` for ``A`` ``(m, n, n)`` and ``Y`` ``(n, n)``."""
    return jnp.einsum("iab,ab->i", jnp.conj(A), Y).real


def _apply(A, G, Q, X, s, u):
    """``M x`` from the parts of ``x`` (``X`` blocks, slack ``s``, cones ``u``)."""
    r = G @ s
    for Aj, Xj in zip(A, X):
        r = r + _re_inner_rows(Aj, Xj)
    for Qk, uk in zip(Q, u):
        r = r + Qk @ uk
    return r


def _adjoint(A, G, Q, y):
    """``M^T y`` in parts: blocks ``sum_i y_i A_j[i]``, ``G^T y`` and ``Q_k^T y``."""
    return (
        tuple(jnp.einsum("i,iab->ab", y.astype(Aj.dtype), Aj) for Aj in A),
        G.T @ y,
        tuple(Qk.T @ y for Qk in Q),
    )


# ---- second-order cones: Jordan algebra and Nesterov-Todd scaling --------------------------------
def _jdet(u):
    return u[0] ** 2 - jnp.sum(u[1:] ** 2)


def _jprod(u, v):
    """Jordan product ``u o v = (u^T v, u0 v1 + v0 u1)``."""
    return jnp.concatenate([jnp.dot(u, v)[None], u[0] * v[1:] + v[0] * u[1:]])


def _jsolve(lam, d):
    """``v`` with ``lam o v = d`` (``lam`` in the interior of the cone)."""
    det = _jdet(lam)
    v0 = (lam[0] * d[0] - jnp.dot(lam[1:], d[1:])) / det
    v1 = (d[1:] - v0 * lam[1:]) / lam[0]
    return jnp.concatenate([v0[None], v1])


def nt_scaling(x, z):
    """Nesterov-Todd scaling of a second-order cone pair ``(x, z)`` (both interior), in the form of
    Andersen, Roos and Terlaky (2003): ``W = theta (-J + (e + w)(e + w)^T / (1 + w_0))`` with
    ``theta = (z^T J z / x^T J x)^{1/4}`` and ``w = (z / theta + theta J x) / sqrt(2 (x^T z +
    sqrt(x^T J x z^T J z)))`` (``w^T J w = 1``); ``W^{-1} = J W J / theta^2``.

    Returns ``(W, Winv, lam)``: the symmetric ``q x q`` scaling ``W`` with ``W x = W^{-1} z = lam``."""
    q = x.shape[0]
    sgn = jnp.concatenate([jnp.ones((1,), x.dtype), -jnp.ones((q - 1,), x.dtype)])
    dx, dz = _jdet(x), _jdet(z)
    theta = (dz / dx) ** 0.25
    w = (z / theta + theta * sgn * x) / jnp.sqrt(2.0 * (jnp.dot(x, z) + jnp.sqrt(dx * dz)))
    e = jnp.zeros_like(x).at[0].set(1.0)
    J = jnp.diag(sgn)
    W = theta * (-J + jnp.outer(e + w, e + w) / (1.0 + w[0]))
    ew = e + sgn * w
    Winv = (-J + jnp.outer(ew, ew) / (1.0 + w[0])) / theta
    return W, Winv, W @ x


# ---- distance to the boundary ---------------------------------------------------------------------
def _psd_steps(X, dX, embed: bool):
    """Largest ``a`` with ``X + a dX`` PSD (``inf`` when ``dX`` is PSD), for a stack ``(k, n, n)`` of
    blocks of one size and dtype (one LAPACK call each for the stack: per-call overhead dominates
    at these sizes)."""
    L = jnp.linalg.cholesky(X)
    T = jax.scipy.linalg.solve_triangular(L, dX, lower=True)
    T = jax.scipy.linalg.solve_triangular(L, jnp.conj(jnp.swapaxes(T, -1, -2)), lower=True)
    T = _herm(T)
    if embed:
        lmin = jnp.linalg.eigvalsh(_real_embedding(T))[..., 0]
    else:
        lmin = jnp.linalg.eigvalsh(T)[..., 0]
    return jnp.where(lmin < 0, -1.0 / jnp.minimum(lmin, -jnp.finfo(lmin.dtype).tiny), jnp.inf)


def _orthant_step(s, ds):
    ratio = jnp.where(ds < 0, -s / jnp.where(ds < 0, ds, -1.0), jnp.inf)
    return jnp.min(ratio, initial=jnp.inf)


def _soc_step(u, du):
    """Largest ``a`` with ``u + a du`` in the cone (``u`` interior)."""
    a = _jdet(du)
    b = 2.0 * (u[0] * du[0] - jnp.dot(u[1:], du[1:]))
    c = _jdet(u)
    disc = b * b - 4.0 * a * c
    sq = jnp.sqrt(jnp.maximum(disc, 0.0))
    tiny = jnp.finfo(u.dtype).tiny
    # a < 0: one positive root; a > 0 and b < 0: the smaller positive root; otherwise no exit,
    # except through the apex side u0 + a du0 = 0, covered by the roots when du leaves the cone.
    r_neg = (-b - sq) / jnp.where(a < 0, 2.0 * a, -1.0)
    r_pos = jnp.where(b < 0, (2.0 * c) / jnp.maximum(-b + sq, tiny), jnp.inf)  # = (-b - sq) / 2a
    r_lin = jnp.where(b < 0, -c / jnp.where(b < 0, b, -1.0), jnp.inf)
    alpha = jnp.where(a < 0, r_neg, jnp.where(a > 0, jnp.where(disc >= 0, r_pos, jnp.inf), r_lin))
    return jnp.where(alpha > 0, alpha, jnp.inf)


def _max_steps(primal, dual, embeds):
    """Largest steps to the cone boundary of the primal and of the dual point, each given as
    ``((blocks, s, cones), (dblocks, ds, dcones))``. PSD blocks of the same size, dtype and
    embedding, primal and dual alike, go through one stacked factorisation and eigenvalue call."""
    groups = {}
    for side, ((X, _, _), (dX, _, _)) in enumerate((primal, dual)):
        for Xj, dXj, e in zip(X, dX, embeds):
            groups.setdefault((Xj.shape, Xj.dtype, e), []).append((side, Xj, dXj))
    steps = [jnp.asarray(jnp.inf, primal[0][1].dtype), jnp.asarray(jnp.inf, primal[0][1].dtype)]
    for (_, _, e), members in groups.items():
        a = _psd_steps(jnp.stack([m[1] for m in members]), jnp.stack([m[2] for m in members]), e)
        for i, (side, _, _) in enumerate(members):
            steps[side] = jnp.minimum(steps[side], a[i])
    for side, ((_, s, u), (_, ds, du)) in enumerate((primal, dual)):
        steps[side] = jnp.minimum(steps[side], _orthant_step(s, ds))
        for uk, duk in zip(u, du):
            steps[side] = jnp.minimum(steps[side], _soc_step(uk, duk))
    return steps[0], steps[1]


# ---- Schur complement of a PSD block -------------------------------------------------------------
def _schur_dense(Aj, Xj, Zi):
    """``[Re tr(A[i] X A[k] Z^{-1})]_ik``, dense: ``O(m n^3 + m^2 n^2)``."""
    P = jnp.einsum("ab,kbc,cd->kad", Xj, Aj, Zi)  # X A_k Z^{-1}
    return jnp.einsum("iab,kba->ik", Aj, P).real


def rank_one_factors(Aj, k: int):
    """Rank-one factors of the rows of ``Aj`` ``(m, n, n)`` (Hermitian): ``A[i] ~ sgn_i a_i a_i^H``
    from the column of the largest diagonal entry (exact for rank-one rows), and the indices of the
    ``k`` rows farthest from it (relative squared Frobenius residual). Returns ``(U (m, n), sgn (m,), W (k, m))``
    with ``W`` the one-hot rows of those ``k`` indices and ``U``'s rows there zeroed (one-hot products,
    not gathers: batched gathers are slow on CPU)."""
    m, n = Aj.shape[0], Aj.shape[-1]
    diag = jnp.real(jnp.diagonal(Aj, axis1=-2, axis2=-1))
    pick = jax.nn.one_hot(jnp.argmax(jnp.abs(diag), axis=-1), n, dtype=diag.dtype)  # (m, n)
    d = jnp.sum(diag * pick, axis=-1)
    sgn = jnp.where(d < 0, -1.0, 1.0).astype(diag.dtype)
    col = jnp.einsum("iab,ib->ia", Aj, pick.astype(Aj.dtype))  # A[i][:, j_i]
    U = col / jnp.sqrt(jnp.where(d != 0, jnp.abs(d), 1.0))[:, None]
    # ||A - sgn a a^H||^2 = ||A||^2 - 2 sgn a^H A a + ||a||^4 (no (m, n, n) temporary)
    nA2 = jnp.sum(jnp.real(Aj * jnp.conj(Aj)), axis=(-2, -1))
    aAa = jnp.real(jnp.einsum("ia,iab,ib->i", jnp.conj(U), Aj, U))
    na2 = jnp.sum(jnp.real(U * jnp.conj(U)), axis=-1)
    err = jnp.maximum(nA2 - 2.0 * sgn * aAa + na2 * na2, 0.0) / jnp.where(nA2 > 0, nA2, 1.0)
    W = jax.nn.one_hot(jax.lax.top_k(err, k)[1], m, dtype=diag.dtype) if k else jnp.zeros((0, m), diag.dtype)
    return U * (1.0 - jnp.sum(W, axis=0))[:, None], sgn, W


def _schur_rank_one(Aj, Xj, Zi, k: int):
    """The block's Schur complement with rows ``sgn_i a_i a_i^H`` (:func:`rank_one_factors`):
    ``S_ik = sgn_i sgn_k Re((a_i^H X a_k)(a_k^H Z^{-1} a_i))``, and the ``k`` remaining rows and
    columns exactly (``Re tr(A[d] X A[i] Z^{-1})`` for every ``i``). Rows that are not of rank one
    beyond those ``k`` make it an approximation: the directions are then inexact, but residuals and
    the stopping rule always use the exact constraint map, so that costs iterations, not accuracy."""
    U, sgn, W = rank_one_factors(Aj, k)
    Uc = jnp.conj(U)
    F = Uc @ Xj @ U.T  # a_i^H X a_k
    Gm = Uc @ Zi @ U.T  # a_i^H Z^{-1} a_k; (a_k^H Z^{-1} a_i) = conj(Gm[i, k])
    S = jnp.real(F * jnp.conj(Gm)) * (sgn[:, None] * sgn[None, :])  # zero on the dense rows
    if k:
        Ad = jnp.einsum("km,mab->kab", W.astype(Aj.dtype), Aj)  # the k dense rows
        Qd = jnp.einsum("ab,kbc,cd->kad", Zi, Ad, Xj)  # Z^{-1} A_d X: S_di = Re tr(A_i Z^{-1} A_d X)
        R = jnp.einsum("iab,kab->ki", Aj, jnp.swapaxes(Qd, -1, -2)).real  # (k, m)
        # scatter R into rows and columns d (the d x d entries once): W^T R + R^T W - W^T (R W^T) W
        S = S + W.T @ R + R.T @ W - W.T @ (R @ W.T) @ W
    return S


# ---- the iteration --------------------------------------------------------------------------------
def initial_point(A, G, Q, b, c, layout):
    """Interior starting point ``(x, z)`` (vectors) scaled to the data (after equilibration ``b`` and
    ``c`` have unit norm and the rows of the constraint map too): ``X_j = xi_j I``, ``Z_j = eta_j I``
    with ``xi_j = max(10, sqrt n_j, n_j max_i (1 + |b_i|) / (1 + ||A_j[i]||))`` and
    ``eta_j = max(10, sqrt n_j, max_i ||A_j[i]||, ||C_j||)``; the orthant and cones alike with
    ``I`` replaced by ``1`` and the cone's identity ``e = (1, 0, ...)``."""
    rdt = b.dtype
    Cb, cs, cq = cone_parts(c, layout)
    Xs, Zs = [], []
    for Aj, Cj, (n, _) in zip(A, Cb, layout[0]):
        na = jnp.sqrt(jnp.sum(jnp.abs(Aj) ** 2, axis=(-2, -1)))
        xi = jnp.maximum(jnp.maximum(10.0, jnp.sqrt(n)), n * jnp.max((1.0 + jnp.abs(b)) / (1.0 + na)))
        eta = jnp.maximum(jnp.maximum(10.0, jnp.sqrt(n)), jnp.maximum(jnp.max(na), jnp.linalg.norm(Cj)))
        eye = jnp.eye(n, dtype=Aj.dtype)
        Xs.append(xi * eye)
        Zs.append(eta * eye)
    ng = jnp.linalg.norm(G, axis=1) if G.shape[1] else jnp.zeros_like(b)
    xi0 = jnp.maximum(10.0, jnp.max((1.0 + jnp.abs(b)) / (1.0 + ng)))
    eta0 = jnp.maximum(10.0, jnp.maximum(jnp.max(ng), jnp.max(jnp.abs(cs), initial=0.0)))
    s = jnp.full((G.shape[1],), xi0, rdt)
    z = jnp.full((G.shape[1],), eta0, rdt)
    us, ws = [], []
    for Qk, qk in zip(Q, cq):
        e = jnp.zeros((Qk.shape[1],), rdt).at[0].set(1.0)
        nq = jnp.max(jnp.linalg.norm(Qk, axis=1))
        us.append(jnp.maximum(10.0, 1.0 + 1.0 / jnp.maximum(nq, 1e-3)) * e)
        ws.append(jnp.maximum(10.0, jnp.maximum(nq, jnp.linalg.norm(qk))) * e)
    return pack(tuple(Xs), s, layout, tuple(us)), pack(tuple(Zs), z, layout, tuple(ws))


def ipm_iteration(M, b, c, x, z, y, layout, step_fraction, embed_above: int = 16, reg: float = 0.0,
                  low_rank: int | None = None, rows=None):
    """One predictor-corrector iteration from the interior point ``(x, z, y)``; returns the new
    ``(x, z, y)`` and the primal and dual step lengths taken. ``low_rank`` (static): ``None`` forms
    the Schur complement densely; ``k`` treats the rows of every PSD block as rank one except the
    ``k`` farthest from it (:func:`_schur_rank_one`). ``rows``: ``split_rows(M, layout)`` when the
    caller keeps it between iterations."""
    A, G, Q = split_rows(M, layout) if rows is None else rows
    rdt = b.dtype
    X, s, u = cone_parts(x, layout)
    Z, zs, w = cone_parts(z, layout)
    embeds = tuple(bool(cp) and n > embed_above for n, cp in layout[0])
    nu = sum(n for n, _ in layout[0]) + s.shape[0] + len(u)
    rp = b - M @ x
    Rd, rds, rdq = cone_parts(c - M.T @ y - z, layout)
    mu = jnp.dot(x, z) / nu

    # scalings and the Schur complement (shared by predictor and corrector)
    Zinv = []
    for Zj in Z:
        Lz = jnp.linalg.cholesky(_herm(Zj))
        Li = jax.scipy.linalg.solve_triangular(Lz, jnp.eye(Zj.shape[-1], dtype=Zj.dtype), lower=True)
        Zinv.append(jnp.conj(Li.T) @ Li)
    d = s / zs
    S = (G * d) @ G.T
    for Aj, Xj, Zi in zip(A, X, Zinv):
        S = S + (_schur_dense(Aj, Xj, Zi) if low_rank is None else _schur_rank_one(Aj, Xj, Zi, int(low_rank)))
    nts = [nt_scaling(uk, wk) for uk, wk in zip(u, w)]
    for Qk, (_, Wi, _) in zip(Q, nts):
        QW = Qk @ Wi
        S = S + QW @ QW.T
    S = 0.5 * (S + S.T)
    smax = jnp.max(jnp.abs(jnp.diagonal(S)))
    eye = jnp.eye(S.shape[0], dtype=rdt)
    L = jnp.linalg.cholesky(S + (reg * smax + jnp.finfo(rdt).tiny) * eye)
    # redundant rows (e.g. repeated measurement patterns) make S singular; in float32 a relative
    # reg of 1e-13 is below resolution and the factorisation fails: retry with 100 eps (an m^3/3
    # refactorisation, evaluated under vmap either way, kept only where the first one failed)
    # (float32 only: in float64 the first factorisation of a consistent problem succeeds, and the
    # second one would double the factorisation cost of every iteration)
    if jnp.dtype(rdt) == jnp.float32:
        L2 = jnp.linalg.cholesky(S + (100.0 * jnp.finfo(rdt).eps * smax + jnp.finfo(rdt).tiny) * eye)
        L = jnp.where(jnp.all(jnp.isfinite(L)), L, L2)
    cf = (L, True)

    def direction(K, ks, kq):
        """Solve the Newton system for the targets ``dX = K - X dZ Z^{-1}``, ``ds = ks - d dz``,
        ``du = kq - W^{-2} dw``."""
        rhs = rp - _apply(A, G, Q, K, ks, kq)
        rhs = rhs + _apply(
            A, G, Q,
            tuple(Xj @ Rj @ Zi for Xj, Rj, Zi in zip(X, Rd, Zinv)),
            d * rds,
            tuple(Wi @ (Wi @ rk) for (_, Wi, _), rk in zip(nts, rdq)),
        )

        def back(dy):
            aZ, az, aw = _adjoint(A, G, Q, dy)
            dZ = tuple(Rj - a for Rj, a in zip(Rd, aZ))
            dz = rds - az
            dw = tuple(rk - a for rk, a in zip(rdq, aw))
            dX = tuple(_herm(Kj - Xj @ dZj @ Zi) for Kj, Xj, dZj, Zi in zip(K, X, dZ, Zinv))
            ds = ks - d * dz
            du = tuple(kk - Wi @ (Wi @ dwk) for kk, (_, Wi, _), dwk in zip(kq, nts, dw))
            return dX, ds, du, dy, dZ, dz, dw

        dy = jax.scipy.linalg.cho_solve(cf, rhs)
        dX, ds, du, *_ = back(dy)
        # one step of iterative refinement on the primal equation M dx = rp: near the optimum the
        # Schur complement is ill-conditioned and the unrefined direction drifts off M x = b
        dy = dy + jax.scipy.linalg.cho_solve(cf, rp - _apply(A, G, Q, dX, ds, du))
        return back(dy)

    def targets(sigma_mu, cX, cs, cq):
        """Targets of the linearised complementarity ``X Z = sigma mu I`` (minus the second-order
        terms ``cX``, ``cs``, ``cq`` of the corrector)."""
        K = tuple(sigma_mu * Zi - Xj - cj @ Zi for Zi, Xj, cj in zip(Zinv, X, cX))
        ks = (sigma_mu - s * zs - cs) / zs
        kq = []
        for (_, Wi, lam), ck in zip(nts, cq):
            e = jnp.zeros_like(lam).at[0].set(1.0)
            r = _jsolve(lam, sigma_mu * e - _jprod(lam, lam) - ck)
            kq.append(Wi @ r)
        return K, ks, tuple(kq)

    zero_X = tuple(jnp.zeros_like(Xj) for Xj in X)
    zero_q = tuple(jnp.zeros_like(uk) for uk in u)
    # predictor (affine scaling)
    dXa, dsa, dua, _, dZa, dza, dwa = direction(*targets(0.0, zero_X, jnp.zeros_like(s), zero_q))
    ap, ad = _max_steps(((X, s, u), (dXa, dsa, dua)), ((Z, zs, w), (dZa, dza, dwa)), embeds)
    ap, ad = jnp.minimum(1.0, ap), jnp.minimum(1.0, ad)
    mu_aff = (
        sum(jnp.sum(jnp.real(jnp.conj(Xj + ap * a) * (Zj + ad * bz))) for Xj, a, Zj, bz in zip(X, dXa, Z, dZa))
        + jnp.dot(s + ap * dsa, zs + ad * dza)
        + sum(jnp.dot(uk + ap * a, wk + ad * bw) for uk, a, wk, bw in zip(u, dua, w, dwa))
    ) / nu
    sigma = jnp.clip((mu_aff / mu) ** 3, 0.0, 1.0)
    # corrector: centring plus the second-order terms of the predictor
    cX = tuple(a @ bz for a, bz in zip(dXa, dZa))
    cq = tuple(_jprod(W @ a, Wi @ bw) for (W, Wi, _), a, bw in zip(nts, dua, dwa))
    dX, ds, du, dy, dZ, dz, dw = direction(*targets(sigma * mu, cX, dsa * dza, cq))
    ap, ad = _max_steps(((X, s, u), (dX, ds, du)), ((Z, zs, w), (dZ, dz, dw)), embeds)
    ap, ad = jnp.minimum(1.0, step_fraction * ap), jnp.minimum(1.0, step_fraction * ad)
    x_new = x + ap * pack(dX, ds, layout, du)
    z_new = z + ad * pack(dZ, dz, layout, dw)
    return x_new.astype(rdt), z_new.astype(rdt), (y + ad * dy).astype(rdt), ap, ad

