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
(:func:`_schur_rank_one_group`), from rank-one factors computed once per solve (:func:`prepare_rows`).
Step lengths: a fraction of the distance to the boundary of each cone (PSD blocks by the smallest
eigenvalue of ``L^{-1} dX L^{-H}``, cones by the closed-form root).

Cost per iteration (the sizes of the library's SDPs are small, so the number of operations and of
LAPACK calls matters more than flops): PSD blocks of the same size and kind, and second-order cones
of the same size, are stacked and processed as one array (:func:`prepare_rows`); each iteration
factorises the stacked ``[X; Z]`` once (Cholesky and its triangular inverse give ``Z^{-1}`` and
both step-length transforms), and each of the two step-length computations is one eigenvalue call
per group, on CPU LAPACK's ``?syevd``/``?heevd`` without eigenvectors (:func:`eigvalsh`). The
constraint map and its adjoint inside the iteration are one real matrix-vector product each with
``M`` (or with a copy whose columns follow the groups, where the grouping reorders them:
:func:`prepare_rows`), and the residuals of the iterate are computed once per iteration and reused
by the next one (``resid``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .sdp import _real_embedding, pack, soc_sizes, unpack, unpack_soc

try:  # LAPACK targets of jaxlib's CPU backend (eigenvalues without eigenvectors)
    from jaxlib import lapack as _lapack
except ImportError:  # pragma: no cover - jaxlib without its LAPACK module
    _lapack = None

__all__ = ["split_rows", "prepare_rows", "psd_groups", "soc_groups", "cone_parts", "nt_scaling", "ipm_iteration",
           "initial_point", "rank_one_factors", "eigvalsh", "residual_vectors"]


def split_rows(M: jax.Array, layout):
    """Rows of the vectorised constraint matrix ``M`` ``(m, N)`` as blocks: ``(A, G, Q)`` with
    ``A`` a tuple of ``(m, n_j, n_j)`` Hermitian blocks, ``G`` ``(m, p)`` and ``Q`` a tuple of
    ``(m, q_k)``."""
    A, G = jax.vmap(lambda r: unpack(r, layout))(M)
    Q = jax.vmap(lambda r: unpack_soc(r, layout))(M)
    return tuple(A), G, tuple(Q)


def psd_groups(layout):
    """Static grouping of the PSD blocks of ``layout`` by size and kind: a tuple of
    ``((n, is_complex), (j_1, j_2, ...))`` in order of first appearance."""
    groups: dict = {}
    for j, (n, cplx) in enumerate(layout[0]):
        groups.setdefault((int(n), bool(cplx)), []).append(j)
    return tuple((key, tuple(idx)) for key, idx in groups.items())


def soc_groups(layout):
    """Static grouping of the second-order cones of ``layout`` by size: ``((q, (k_1, ...)), ...)``."""
    groups: dict = {}
    for k, q in enumerate(soc_sizes(layout)):
        groups.setdefault(int(q), []).append(k)
    return tuple((q, tuple(idx)) for q, idx in groups.items())


def _grouped(parts, groups):
    """Stack the per-block arrays ``parts`` by ``groups``: one ``(k, ...)`` array per group."""
    return tuple(jnp.stack([parts[j] for j in idx]) for _, idx in groups)


def _ungrouped(stacks, groups, count: int):
    """Inverse of :func:`_grouped`: the tuple of ``count`` per-block arrays."""
    out = [None] * count
    for arr, (_, idx) in zip(stacks, groups):
        for i, j in enumerate(idx):
            out[j] = arr[i]
    return tuple(out)


def prepare_rows(A, G, Q, layout, low_rank: int | None = None):
    """The constraint rows in the form the iteration uses, computed once per solve from
    :func:`split_rows`: ``(A_g, G, Q_g, factors, Mg)`` with ``A_g`` one ``(k, m, n, n)`` stack
    per group of :func:`psd_groups`, ``Q_g`` one ``(k, m, q)`` stack per group of
    :func:`soc_groups`, per PSD group with ``low_rank = r`` the rank-one factors ``(U (k, m, n),
    sgn (k, m), W (k, r, m), A_dense (k, r, n, n))`` of :func:`rank_one_factors` (``()``
    otherwise), and the real constraint matrix ``Mg`` ``(m, N)`` with its columns in grouped order
    (:func:`_flat`), or ``None`` where that is the order of ``layout`` (the usual case: same-size
    blocks and cones adjacent), so that ``M`` itself serves (:func:`_grouped_matrix`): the constraint
    map and its adjoint are then one real matrix-vector product each (cheaper than one complex
    product per group, and no per-iteration relayout of the rows). These arrays are carried in the
    solver's loop state: no second copy of ``M`` where the order is already right."""
    Ag = _grouped(A, psd_groups(layout))
    Qg = _grouped(Q, soc_groups(layout))
    factors = ()
    if low_rank is not None:
        r = int(low_rank)
        fs = []
        for Aj in Ag:
            U, sgn, W = jax.vmap(lambda a: rank_one_factors(a, r))(Aj)
            Ad = jnp.einsum("jrm,jmab->jrab", W.astype(Aj.dtype), Aj)  # the r dense rows
            fs.append((U, sgn, W, Ad))
        factors = tuple(fs)
    Mg = None
    if not _layout_order(layout):
        Mg = _flat(tuple(jnp.moveaxis(a, 1, 0) for a in Ag), G, tuple(jnp.moveaxis(q, 1, 0) for q in Qg))
    return Ag, G, Qg, factors, Mg


def _layout_order(layout) -> bool:
    """Whether the grouped order of :func:`_flat` is the order of ``layout`` (static)."""
    psd = [j for _, idx in psd_groups(layout) for j in idx]
    soc = [k for _, idx in soc_groups(layout) for k in idx]
    return psd == sorted(psd) and soc == sorted(soc)


def _grouped_matrix(rows, M):
    """The constraint matrix with its columns in grouped order: ``M`` itself or ``rows[4]``."""
    return M if rows[4] is None else rows[4]


def _flat(X, s, u):
    """Grouped parts (block stacks ``(..., k, n, n)``, slack ``(..., p)``, cone stacks ``(..., k, q)``)
    -> one real vector ``(..., N)`` in grouped order: per PSD group ``[Re X_1, Im X_1, Re X_2, ...]``
    (real blocks without the imaginary part), the slack, then the cone groups. The real dot product
    of two such vectors is the trace inner product (as for :func:`~jaxisac.kernels.sdp.pack`)."""
    parts = []
    for Xg in X:
        lead = Xg.shape[:-2]
        if jnp.iscomplexobj(Xg):
            Xg = jnp.stack([Xg.real, Xg.imag], axis=-3)
        parts.append(Xg.reshape(lead[:-1] + (-1,)))
    parts.append(s)
    parts += [ug.reshape(ug.shape[:-2] + (-1,)) for ug in u]
    return jnp.concatenate(parts, axis=-1)


def _unflat(v, rows):
    """Inverse of :func:`_flat` for a single vector, with the group shapes of ``rows``."""
    Ag, G, Qg = rows[:3]
    X, start = [], 0
    for A in Ag:
        k, n = A.shape[0], A.shape[-1]
        cplx = jnp.iscomplexobj(A)
        seg = jax.lax.slice_in_dim(v, start, start + k * n * n * (2 if cplx else 1))
        start += seg.shape[0]
        if cplx:
            seg = seg.reshape(k, 2, n, n)
            X.append(jax.lax.complex(seg[:, 0], seg[:, 1]))
        else:
            X.append(seg.reshape(k, n, n))
    s = jax.lax.slice_in_dim(v, start, start + G.shape[1])
    start += G.shape[1]
    u = []
    for Q in Qg:
        k, q = Q.shape[0], Q.shape[-1]
        u.append(jax.lax.slice_in_dim(v, start, start + k * q).reshape(k, q))
        start += k * q
    return tuple(X), s, tuple(u)


def cone_parts(v: jax.Array, layout):
    """``(blocks, s, socs)`` of a single vector ``v`` (``N,``)."""
    X, s = unpack(v, layout)
    return X, s, unpack_soc(v, layout)


def _ct(X):
    return jnp.conj(jnp.swapaxes(X, -1, -2))


def _herm(X):
    return 0.5 * (X + _ct(X))


def _eigvals_lapack(T):
    """Eigenvalues (ascending) by LAPACK ``?syevd``/``?heevd`` with ``jobz = 'N'`` (CPU)."""
    dt = T.dtype
    name = _lapack.prepare_lapack_call(("he" if jnp.iscomplexobj(T) else "sy") + "evd_ffi", np.dtype(dt))
    out = (jax.ShapeDtypeStruct(T.shape, dt), jax.ShapeDtypeStruct(T.shape[:-1], jnp.finfo(dt).dtype),
           jax.ShapeDtypeStruct(T.shape[:-2], jnp.int32))
    call = jax.ffi.ffi_call(name, out, input_output_aliases={0: 0}, vmap_method="broadcast_all")
    _, w, info = call(T, mode=np.uint8(ord("N")), uplo=np.uint8(ord("L")))
    return jnp.where((info == 0)[..., None], w, jnp.nan)


_LAPACK_WORKS: dict = {}


def _lapack_works(dtype) -> bool:
    """Whether the LAPACK call of :func:`_eigvals_lapack` works in this jaxlib for ``dtype``.

    The targets and their attributes are jaxlib internals (checked with jaxlib 0.10): a jaxlib that
    renamed or changed them must fall back to ``jnp.linalg.eigvalsh``, not fail. Probed once per
    dtype, eagerly on a 2 x 2 matrix against the known eigenvalues."""
    key = np.dtype(dtype).name
    if key not in _LAPACK_WORKS:
        ok = False
        if _lapack is not None and hasattr(_lapack, "prepare_lapack_call"):
            try:
                with jax.ensure_compile_time_eval():
                    # on the CPU whatever the default device (the computation follows its input)
                    T = jax.device_put(np.array([[2.0, 1.0], [1.0, 2.0]], dtype), jax.devices("cpu")[0])
                    w = np.asarray(jax.jit(_eigvals_lapack)(T))
                ok = bool(np.allclose(w, [1.0, 3.0], rtol=1e-5))
            except Exception:  # noqa: BLE001 - any failure means: use the portable path
                ok = False
        _LAPACK_WORKS[key] = ok
    return _LAPACK_WORKS[key]


def eigvalsh(T: jax.Array) -> jax.Array:
    """Eigenvalues (ascending) of a stack of Hermitian matrices ``(..., n, n)`` (lower triangle
    used). On CPU without eigenvectors (LAPACK ``jobz = 'N'``: 2-3x cheaper than
    ``jnp.linalg.eigvalsh``, which always computes them); ``jnp.linalg.eigvalsh`` elsewhere, and
    wherever jaxlib's LAPACK target is not usable (:func:`_lapack_works`). NaN where LAPACK fails."""
    if T.shape[-1] == 0 or not _lapack_works(T.dtype):
        return jnp.linalg.eigvalsh(T, symmetrize_input=False)
    return jax.lax.platform_dependent(T, cpu=_eigvals_lapack,
                                      default=lambda t: jnp.linalg.eigvalsh(t, symmetrize_input=False))


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
def _psd_steps(Li, dX, embed: bool):
    """Largest ``a`` with ``X + a dX`` PSD (``inf`` when ``dX`` is PSD) for a stack ``(k, n, n)`` of
    blocks of one size and kind, given ``Li = L^{-1}`` with ``X = L L^H``: ``-1 / lambda_min(Li dX
    Li^H)`` (one eigenvalue call for the whole stack)."""
    T = _herm(Li @ dX @ _ct(Li))
    lmin = eigvalsh(_real_embedding(T) if embed else T)[..., 0]
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


def _max_steps(Li, embeds, primal, dual):
    """Largest steps to the cone boundary of the primal and of the dual point. ``Li``: per PSD group
    the stacked inverse Cholesky factors of ``[X; Z]``; ``primal``/``dual``: ``((blocks, s, cones),
    (dblocks, ds, dcones))`` with blocks and cones grouped. One eigenvalue call per PSD group for the
    primal and dual blocks together."""
    dt = primal[0][1].dtype
    ap = jnp.asarray(jnp.inf, dt)
    ad = jnp.asarray(jnp.inf, dt)
    for Lg, e, dXg, dZg in zip(Li, embeds, primal[1][0], dual[1][0]):
        k = dXg.shape[0]
        a = _psd_steps(Lg, jnp.concatenate([dXg, dZg]), e)
        ap = jnp.minimum(ap, jnp.min(a[:k]))
        ad = jnp.minimum(ad, jnp.min(a[k:]))
    ap = jnp.minimum(ap, _orthant_step(primal[0][1], primal[1][1]))
    ad = jnp.minimum(ad, _orthant_step(dual[0][1], dual[1][1]))
    for ug, dug, wg, dwg in zip(primal[0][2], primal[1][2], dual[0][2], dual[1][2]):
        ap = jnp.minimum(ap, jnp.min(jax.vmap(_soc_step)(ug, dug)))
        ad = jnp.minimum(ad, jnp.min(jax.vmap(_soc_step)(wg, dwg)))
    return ap, ad


# ---- Schur complement of a group of PSD blocks ---------------------------------------------------
def _schur_dense_group(Ag, Xg, Zig):
    """``sum_j [Re tr(A_j[i] X_j A_j[k] Z_j^{-1})]_ik`` over a stack of blocks, dense:
    ``O(m n^3 + m^2 n^2)`` per block."""
    P = jnp.einsum("jab,jkbc,jcd->jkad", Xg, Ag, Zig)  # X A_k Z^{-1}
    return jnp.einsum("jiab,jkba->ik", Ag, P).real


def _schur_dense(Aj, Xj, Zi):
    """One block's ``[Re tr(A[i] X A[k] Z^{-1})]_ik``, dense (:func:`_schur_dense_group`)."""
    return _schur_dense_group(Aj[None], Xj[None], Zi[None])


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
    """One block's Schur complement from its rank-one factors (:func:`_schur_rank_one_group`),
    factors computed here."""
    factors = prepare_rows((Aj,), jnp.zeros((Aj.shape[0], 0), jnp.real(Xj).dtype), (),
                           (((Aj.shape[-1], jnp.iscomplexobj(Aj)),), 0), k)[3]
    return _schur_rank_one_group(factors[0], Aj[None], Xj[None], Zi[None])


def _schur_rank_one_group(factors, Ag, Xg, Zig, rows_dot=None):
    """The group's Schur complement with rows ``sgn_i a_i a_i^H`` (:func:`rank_one_factors`, from
    :func:`prepare_rows`): ``S_ik = sgn_i sgn_k Re((a_i^H X a_k)(a_k^H Z^{-1} a_i))``, and the ``r``
    remaining rows and columns exactly (``Re tr(A[d] X A[i] Z^{-1})`` for every ``i``). Rows that
    are not of rank one beyond those ``r`` make it an approximation: the directions are then
    inexact, but residuals and the stopping rule always use the exact constraint map, so that
    costs iterations, not accuracy. ``rows_dot(P)``: ``[Re tr(A_j[i] P_j[d])]_jdi`` for ``P``
    ``(k, r, n, n)`` (:func:`_group_rows_dot`; by default from ``Ag``)."""
    U, sgn, W, Ad = factors
    Uc = jnp.conj(U)
    Ut = jnp.swapaxes(U, -1, -2)
    F = Uc @ Xg @ Ut  # a_i^H X a_k
    Gm = Uc @ Zig @ Ut  # a_i^H Z^{-1} a_k; (a_k^H Z^{-1} a_i) = conj(Gm[i, k])
    S = jnp.sum(jnp.real(F * jnp.conj(Gm)) * (sgn[:, :, None] * sgn[:, None, :]), axis=0)  # zero on dense rows
    if W.shape[1]:
        Qd = jnp.einsum("jab,jrbc,jcd->jrad", Zig, Ad, Xg)  # Z^{-1} A_d X: S_di = Re tr(A_i Z^{-1} A_d X)
        R = jnp.einsum("jiab,jrba->jri", Ag, Qd).real if rows_dot is None else rows_dot(Qd)  # (k, r, m)
        Wt = jnp.swapaxes(W, -1, -2)
        # scatter R into rows and columns d (the d x d entries once): W^T R + R^T W - W^T (R W^T) W
        S = S + jnp.sum(Wt @ R + jnp.swapaxes(R, -1, -2) @ W - Wt @ (R @ Wt) @ W, axis=0)
    return S


def _group_rows_dot(rows, Mg, g: int, P):
    """``[Re tr(A_j[i] P_j[d])]_jdi`` ``(k, r, m)`` for the blocks ``j`` of PSD group ``g`` and
    ``P`` ``(k, r, n, n)``, as one real product with ``Mg`` (:func:`_grouped_matrix`): ``P``
    is placed in group ``g``'s columns of zero vectors (no per-iteration relayout of ``A_g``; the rows
    are Hermitian, so ``Re tr(A P) = <A, P>``)."""
    Ag, G, Qg = rows[:3]
    k, r = P.shape[:2]
    lead = (k, r)
    X = tuple(jnp.zeros(lead + A.shape[:1] + A.shape[2:], A.dtype) for A in Ag)
    X = X[:g] + (jnp.eye(k, dtype=P.dtype)[:, None, :, None, None] * P[:, :, None],) + X[g + 1:]
    u = tuple(jnp.zeros(lead + (Q.shape[0], Q.shape[2]), Q.dtype) for Q in Qg)
    V = _flat(X, jnp.zeros(lead + G.shape[1:], G.dtype), u)
    return V @ Mg.T


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


def _apply(rows, Mg, X, s, u):
    """``M x`` from the grouped parts of ``x`` (``X`` block stacks, slack ``s``, cone stacks ``u``);
    ``Mg``: :func:`_grouped_matrix`."""
    return Mg @ _flat(X, s, u)


def _adjoint(rows, Mg, y):
    """``M^T y`` in grouped parts: block stacks ``sum_i y_i A_j[i]``, ``G^T y`` and ``Q_k^T y``."""
    return _unflat(y @ Mg, rows)


def _mv(W, v):
    """``W_j @ v_j`` for stacks ``(k, q, q)`` and ``(k, q)``."""
    return jnp.einsum("jab,jb->ja", W, v)


def residual_vectors(M, b, c, x, z, y):
    """The primal and dual residuals ``(b - M x, c - M^T y - z)``."""
    return b - M @ x, c - M.T @ y - z


def ipm_iteration(M, b, c, x, z, y, layout, step_fraction, embed_above: int = 16, reg: float = 0.0,
                  low_rank: int | None = None, rows=None, resid=None):
    """One predictor-corrector iteration from the interior point ``(x, z, y)``; returns the new
    ``(x, z, y)`` and the primal and dual step lengths taken. ``low_rank`` (static): ``None`` forms
    the Schur complement densely; ``k`` treats the rows of every PSD block as rank one except the
    ``k`` farthest from it (:func:`_schur_rank_one`). ``rows``: ``prepare_rows(*split_rows(M, layout),
    layout, low_rank)`` when the caller keeps it between iterations; ``resid``: likewise the residuals
    ``(b - M x, c - M^T y - z)`` of the input point (:func:`residual_vectors`)."""
    if rows is None:
        rows = prepare_rows(*split_rows(M, layout), layout, low_rank)
    Ag, G, Qg, factors = rows[:4]
    Mg = _grouped_matrix(rows, M)
    pg, qg = psd_groups(layout), soc_groups(layout)
    nblk, ncone = len(layout[0]), len(soc_sizes(layout))
    rdt = b.dtype
    Xb, s, ub = cone_parts(x, layout)
    Zb, zs, wb = cone_parts(z, layout)
    X, Z, u, w = _grouped(Xb, pg), _grouped(Zb, pg), _grouped(ub, qg), _grouped(wb, qg)
    embeds = tuple(bool(cp) and n > embed_above for (n, cp), _ in pg)
    nu = sum(n for n, _ in layout[0]) + s.shape[0] + len(ub)
    rp, rdv = residual_vectors(M, b, c, x, z, y) if resid is None else resid
    Rdb, rds, rdqb = cone_parts(rdv, layout)
    Rd, rdq = _grouped(Rdb, pg), _grouped(rdqb, qg)
    mu = jnp.dot(x, z) / nu

    # factorisations (shared by the Schur complement, both directions and all four step lengths):
    # the stacked [X; Z] of each PSD group by one Cholesky and one triangular inverse
    Li, Zinv = [], []
    for Xg, Zg in zip(X, Z):
        k, n = Xg.shape[0], Xg.shape[-1]
        L = jnp.linalg.cholesky(_herm(jnp.concatenate([Xg, Zg])))
        Lig = jax.scipy.linalg.solve_triangular(L, jnp.broadcast_to(jnp.eye(n, dtype=L.dtype), L.shape), lower=True)
        Li.append(Lig)
        Zinv.append(_ct(Lig[k:]) @ Lig[k:])
    d = s / zs
    S = (G * d) @ G.T
    for g, (A, Xg, Zi) in enumerate(zip(Ag, X, Zinv)):
        if low_rank is None:
            S = S + _schur_dense_group(A, Xg, Zi)
        else:
            S = S + _schur_rank_one_group(factors[g], A, Xg, Zi, lambda P, g=g: _group_rows_dot(rows, Mg, g, P))
    nts = [jax.vmap(nt_scaling)(ug, wg) for ug, wg in zip(u, w)]
    WW = [Wi @ Wi for _, Wi, _ in nts]  # W^{-2}
    for Q, (_, Wi, _) in zip(Qg, nts):
        QW = Q @ Wi
        S = S + jnp.einsum("jia,jka->ik", QW, QW)
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

    def direction(K, ks, kq, refine=True):
        """Solve the Newton system for the targets ``dX = K - X dZ Z^{-1}``, ``ds = ks - d dz``,
        ``du = kq - W^{-2} dw``."""
        rhs = rp - _apply(
            rows, Mg,
            tuple(Kg - Xg @ Rg @ Zi for Kg, Xg, Rg, Zi in zip(K, X, Rd, Zinv)),
            ks - d * rds,
            tuple(kk - _mv(Wg, rk) for kk, Wg, rk in zip(kq, WW, rdq)),
        )

        def back(dy):
            aZ, az, aw = _adjoint(rows, Mg, dy)
            dZ = tuple(Rg - a for Rg, a in zip(Rd, aZ))
            dz = rds - az
            dw = tuple(rk - a for rk, a in zip(rdq, aw))
            dX = tuple(_herm(Kg - Xg @ dZg @ Zi) for Kg, Xg, dZg, Zi in zip(K, X, dZ, Zinv))
            ds = ks - d * dz
            du = tuple(kk - _mv(Wg, dwk) for kk, Wg, dwk in zip(kq, WW, dw))
            return dX, ds, du, dy, dZ, dz, dw

        dy = jax.scipy.linalg.cho_solve(cf, rhs)
        if not refine:
            return back(dy)
        dX, ds, du, *_ = back(dy)
        # one step of iterative refinement on the primal equation M dx = rp: near the optimum the
        # Schur complement is ill-conditioned and the unrefined direction drifts off M x = b
        dy = dy + jax.scipy.linalg.cho_solve(cf, rp - _apply(rows, Mg, dX, ds, du))
        return back(dy)

    def targets(sigma_mu, cX, cs, cq):
        """Targets of the linearised complementarity ``X Z = sigma mu I`` (minus the second-order
        terms ``cX``, ``cs``, ``cq`` of the corrector)."""
        K = tuple(sigma_mu * Zi - Xg - cg @ Zi for Zi, Xg, cg in zip(Zinv, X, cX))
        ks = (sigma_mu - s * zs - cs) / zs
        kq = []
        for (_, Wi, lam), ck in zip(nts, cq):
            e = jnp.zeros_like(lam).at[:, 0].set(1.0)
            r = jax.vmap(_jsolve)(lam, sigma_mu * e - jax.vmap(_jprod)(lam, lam) - ck)
            kq.append(_mv(Wi, r))
        return K, ks, tuple(kq)

    zero_X = tuple(jnp.zeros_like(Xg) for Xg in X)
    zero_q = tuple(jnp.zeros_like(ug) for ug in u)
    # predictor (affine scaling)
    # unrefined in float64: it only sets the centring parameter and the corrector's second-order terms
    # (in float32, where the Schur complement is coarse, the unrefined predictor moved stalled solves)
    dXa, dsa, dua, _, dZa, dza, dwa = direction(*targets(0.0, zero_X, jnp.zeros_like(s), zero_q),
                                                refine=jnp.dtype(rdt) == jnp.float32)
    ap, ad = _max_steps(Li, embeds, ((X, s, u), (dXa, dsa, dua)), ((Z, zs, w), (dZa, dza, dwa)))
    ap, ad = jnp.minimum(1.0, ap), jnp.minimum(1.0, ad)
    mu_aff = (
        sum(jnp.sum(jnp.real(jnp.conj(Xg + ap * a) * (Zg + ad * bz))) for Xg, a, Zg, bz in zip(X, dXa, Z, dZa))
        + jnp.dot(s + ap * dsa, zs + ad * dza)
        + sum(jnp.sum((ug + ap * a) * (wg + ad * bw)) for ug, a, wg, bw in zip(u, dua, w, dwa))
    ) / nu
    sigma = jnp.clip((mu_aff / mu) ** 3, 0.0, 1.0)
    # corrector: centring plus the second-order terms of the predictor
    cX = tuple(a @ bz for a, bz in zip(dXa, dZa))
    cq = tuple(jax.vmap(_jprod)(_mv(W, a), _mv(Wi, bw)) for (W, Wi, _), a, bw in zip(nts, dua, dwa))
    dX, ds, du, dy, dZ, dz, dw = direction(*targets(sigma * mu, cX, dsa * dza, cq))
    ap, ad = _max_steps(Li, embeds, ((X, s, u), (dX, ds, du)), ((Z, zs, w), (dZ, dz, dw)))
    ap, ad = jnp.minimum(1.0, step_fraction * ap), jnp.minimum(1.0, step_fraction * ad)
    x_new = x + ap * pack(_ungrouped(dX, pg, nblk), ds, layout, _ungrouped(du, qg, ncone))
    z_new = z + ad * pack(_ungrouped(dZ, pg, nblk), dz, layout, _ungrouped(dw, qg, ncone))
    return x_new.astype(rdt), z_new.astype(rdt), (y + ad * dy).astype(rdt), ap, ad
