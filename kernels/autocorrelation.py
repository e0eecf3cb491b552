"""Hot loops of the IRS channel-autocorrelation estimators (seed 004): pure array functions.

Notation (spec ``seed-004-lra.md`` §2.4, §8): ``V`` is ``(T, N)`` with rows ``v_t^T`` (complex for
b >= 2, real +-1 for b = 1); the measurement operator is ``A(H)_t = p0 v_t^H H v_t`` and its adjoint
``A*(y) = p0 sum_t y_t v_t v_t^H``; the Gram matrix is ``K = A A*`` with ``K_st = p0^2 |v_s^H v_t|^2``.

The ALRA iterate is never stored as an ``N x N`` matrix inside the loop: it is represented as
``H = X diag(mu) X^H + A*(gamma)`` (``X``: ``(N, r)`` orthonormal, ``mu``: ``(r,)``, ``gamma``:
``(T,)``), so that a product ``H Z`` costs ``O(T N)`` per column and ``||H - M||_F^2 = gamma^T K gamma``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "forward",
    "adjoint",
    "gram",
    "gram_inverse",
    "pattern_powers",
    "h_matmat",
    "h_dense",
    "top_eig",
    "top_eig_krylov",
    "alternation_update",
    "alternation_update_gram",
    "forward_products",
    "back_products",
    "align_discrete",
    "phase_indices",
    "csm_indices",
]


def _conj(x):
    return jnp.conj(x) if jnp.iscomplexobj(x) else x


def forward(V, H, p0):
    """``A(H)``: ``(T,)`` real powers ``p0 v_t^H H v_t`` for ``V`` ``(T, N)``, ``H`` ``(N, N)``."""
    return p0 * jnp.real(jnp.einsum("ti,ij,tj->t", _conj(V), H, V))


def adjoint(V, y, p0):
    """``A*(y) = p0 V^T diag(y) conj(V)``: ``(N, N)`` Hermitian (real symmetric for real ``V``)."""
    return p0 * (V.T * y.astype(V.dtype)) @ _conj(V)


def gram(V, p0):
    """Gram matrix ``K = A A*`` ``(T, T)``, real: ``p0^2 |conj(V) V^T|^2``."""
    G = _conj(V) @ V.T
    return (p0 ** 2) * jnp.real(G * jnp.conj(G))


def gram_inverse(K, reg=0.0, method="pinv"):
    """``(reg I + K)^+`` ``(T, T)``.

    ``method="pinv"`` (default): eigenvalue pseudo-inverse with cutoff ``T eps lambda_max`` (safe when
    the patterns are linearly dependent, e.g. ``T`` above the identifiability dimension, spec §2.4);
    ``"cholesky"``: Cholesky inverse (faster; needs ``K`` well conditioned).
    """
    T = K.shape[-1]
    A = K + reg * jnp.eye(T, dtype=K.dtype)
    if method == "pinv":
        w, Q = jnp.linalg.eigh(A)
        cut = T * jnp.finfo(K.dtype).eps * jnp.max(jnp.abs(w))
        winv = jnp.where(w > cut, 1.0 / jnp.where(w > cut, w, 1.0), 0.0)
        return (Q * winv) @ Q.T
    eps = jnp.finfo(K.dtype).eps
    jitter = 10.0 * eps * jnp.max(jnp.diag(A))
    c = jax.scipy.linalg.cho_factor(A + jitter * jnp.eye(T, dtype=K.dtype), lower=True)
    return jax.scipy.linalg.cho_solve(c, jnp.eye(T, dtype=K.dtype))


def pattern_powers(V, X, p0):
    """``U_tk = p0 |v_t^H x_k|^2`` ``(T, r)`` = ``A(x_k x_k^H)``."""
    Z = _conj(V) @ X
    return p0 * jnp.real(Z * jnp.conj(Z))


def forward_products(V, Z):
    """``conj(V) Z`` ``(T, m)`` for ``Z`` ``(N, m)`` (complex products in real arithmetic: XLA's CPU
    complex matmul is several times slower than four real ones)."""
    if not jnp.iscomplexobj(V):
        return V @ Z.astype(V.dtype)
    Z = Z.astype(V.dtype)
    Vr, Vi = jnp.real(V), jnp.imag(V)
    Zr, Zi = jnp.real(Z), jnp.imag(Z)
    return jax.lax.complex(Vr @ Zr + Vi @ Zi, Vr @ Zi - Vi @ Zr)


def back_products(V, Y):
    """``V^T Y`` ``(N, m)`` for ``Y`` ``(T, m)`` (real arithmetic for complex ``V``)."""
    if not jnp.iscomplexobj(V):
        return V.T @ Y.astype(V.dtype)
    Y = Y.astype(V.dtype)
    Vr, Vi = jnp.real(V), jnp.imag(V)
    Yr, Yi = jnp.real(Y), jnp.imag(Y)
    return jax.lax.complex(Vr.T @ Yr - Vi.T @ Yi, Vr.T @ Yi + Vi.T @ Yr)


def _meas_matmat(V, gamma, Z, p0, VZ=None):
    """``A*(gamma) Z = p0 V^T (gamma * (conj(V) Z))``; ``VZ``: ``conj(V) Z`` if already known."""
    VZ = forward_products(V, Z) if VZ is None else VZ
    return p0 * back_products(V, gamma[:, None].astype(VZ.dtype) * VZ)


def h_matmat(X, mu, gamma, V, p0, Z, VZ=None):
    """``H Z`` for ``H = X diag(mu) X^H + A*(gamma)``; ``Z`` ``(N, m)``. Cost ``O((T + r) N m)``.

    ``VZ``: ``conj(V) Z`` when the caller already has it (saves one of the two passes over ``V``).
    """
    low = X @ (mu[:, None].astype(X.dtype) * (_conj(X).T @ Z))
    return low + _meas_matmat(V, gamma, Z, p0, VZ).astype(low.dtype)


def h_dense(X, mu, gamma, V, p0):
    """The iterate ``X diag(mu) X^H + A*(gamma)`` as an ``(N, N)`` matrix."""
    M = (X * mu.astype(X.dtype)) @ _conj(X).T
    H = M + adjoint(V, gamma, p0)
    return 0.5 * (H + _conj(H).T)


# ---------------------------------------------------------------------------------------------
# top eigenpairs


def _top_eig_jvp(r, primals, tangents):
    # Degenerate-safe first-order perturbation of the top-r eigenpairs: only the pairs (k, j) with
    # k in the top r enter, and 1/(lam_k - lam_j) is replaced by 0 where the gap vanishes (the
    # corresponding component is gauge / ill-defined; downstream quantities are gauge-invariant).
    (H,) = primals
    (dH,) = tangents
    w, Q = jnp.linalg.eigh(H)
    w = w[::-1]
    Q = Q[:, ::-1]
    dH = 0.5 * (dH + _conj(dH).T)
    P = _conj(Q).T @ dH @ Q[:, :r]  # (N, r): Q^H dH q_k
    dlam = jnp.real(jnp.diagonal(P[:r, :]))
    gap = w[None, :r] - w[:, None]  # (N, r): lam_k - lam_j
    scale = jnp.max(jnp.abs(w)) + jnp.finfo(w.dtype).tiny
    tiny = 1e3 * jnp.finfo(w.dtype).eps * scale
    safe = jnp.abs(gap) > tiny
    F = jnp.where(safe, 1.0 / jnp.where(safe, gap, 1.0), 0.0)
    dX = Q @ (F.astype(P.dtype) * P)
    return (w[:r], Q[:, :r]), (dlam, dX)


def top_eig(H, r):
    """Algebraically largest ``r`` eigenpairs of Hermitian ``H`` (descending), via ``eigh``.

    Differentiable with a degenerate-safe JVP (gaps below round-off contribute nothing).
    """
    return _top_eig_dense_r(H, r)


def _make_top(r):
    @jax.custom_jvp
    def f(H):
        w, Q = jnp.linalg.eigh(H)
        return w[::-1][:r], Q[:, ::-1][:, :r]

    @f.defjvp
    def f_jvp(primals, tangents):
        return _top_eig_jvp(r, primals, tangents)

    return f


_TOP = {1: _make_top(1), 2: _make_top(2)}


def _top_eig_dense_r(H, r):
    if r not in _TOP:
        _TOP[r] = _make_top(r)
    return _TOP[r](H)


def _orthonormal_block(W):
    if W.shape[1] == 1:
        nrm = jnp.linalg.norm(W)
        ok = nrm > jnp.finfo(nrm.dtype).tiny
        return jnp.where(ok, W / jnp.where(ok, nrm, 1.0), jnp.zeros_like(W))
    Q, _ = jnp.linalg.qr(W)
    return Q


def top_eig_krylov(matmat, X0, n_blocks, HX0=None):
    """Top-``r`` eigenpairs of a Hermitian operator by block Krylov + Rayleigh-Ritz.

    The subspace ``span{X0, H X0, ..., H^(n_blocks-1) X0}`` is orthonormalised block by block
    (classical Gram-Schmidt, twice); the products ``H Q_j`` computed on the way give the projected
    matrix, so one iteration costs ``n_blocks`` products with ``r`` columns.

    Args:
        matmat: ``Z (N, m) -> H Z``.
        X0: ``(N, r)`` warm start (e.g. the previous iterate's eigenvectors).
        n_blocks: number of Krylov blocks (subspace dimension ``n_blocks * r``), static.
        HX0: ``H X0`` if the caller has it; ``X0`` must then be orthonormal (e.g. Ritz vectors)
            and is used as the first block as it is.

    Returns:
        ``(lam (r,), X (N, r))`` with ``lam`` descending (Ritz values), ``X`` orthonormal to
        working precision.
    """
    r = X0.shape[1]
    blocks = [_orthonormal_block(X0) if HX0 is None else X0]
    products = []
    B = blocks[0]
    for j in range(n_blocks):
        HQ = matmat(blocks[-1]) if (j > 0 or HX0 is None) else HX0.astype(X0.dtype)
        products.append(HQ)
        if j == n_blocks - 1:
            break
        W = HQ
        for _ in range(2):  # classical Gram-Schmidt, twice
            W = W - B @ (_conj(B).T @ W)
        blocks.append(_orthonormal_block(W))
        B = jnp.concatenate(blocks, axis=1)
    HB = jnp.concatenate(products, axis=1)
    Tm = _conj(B).T @ HB
    Tm = 0.5 * (Tm + _conj(Tm).T)
    w, S = jnp.linalg.eigh(Tm)
    lam = w[::-1][:r]
    # Re-orthonormalised, so that the next call can take X as its first block unchanged (HX0):
    # otherwise round-off in ||x|| drifts from call to call (visible in float32).
    X = _orthonormal_block(B @ S[:, ::-1][:, :r])
    return lam, X


# ---------------------------------------------------------------------------------------------
# one ALRA / robust-ALRA update in Gram form


def _gram_solve(G, rhs):
    """``G^+ rhs`` for the small symmetric ``(r, r)`` Gram matrix of the mu-update (a guarded
    division when r = 1)."""
    if G.shape[0] == 1:
        den = G[0, 0]
        ok = jnp.abs(den) > jnp.finfo(den.dtype).tiny
        return jnp.where(ok, rhs / jnp.where(ok, den, 1.0), 0.0)
    return jnp.linalg.pinv(G, hermitian=True) @ rhs


def alternation_update(V, p0, K, W, y, X, mu_rule="exact"):
    """Closed-form (H, mu) update of ALRA (W = K^{-1}) or robust ALRA (W = (I/rho + K)^{-1}).

    Given the top-r eigenvectors ``X`` ``(N, r)`` of the current iterate, returns ``(mu (r,),
    gamma (T,), U (T, r))`` of the new iterate ``H = X diag(mu) X^H + A*(gamma)``:
    ``mu = (U^T W U)^+ U^T W y`` (exact joint minimiser) or, ``mu_rule="paper"``, the printed
    (53a)/(56a) ``(U^T W K W U)^+ U^T W K W y``; ``gamma = W (y - U mu)``.
    """
    U = pattern_powers(V, X, p0)
    WU = W @ U
    if mu_rule == "paper":
        KWU = K @ WU
        G = WU.T @ KWU
        rhs = KWU.T @ (W @ y)
    else:
        G = U.T @ WU
        rhs = WU.T @ y
    mu = _gram_solve(G, rhs)
    gamma = W @ (y - U @ mu)
    return mu, gamma, U


def alternation_update_gram(VX, W, alpha, p0, inv_rho=0.0, mu_rule="exact"):
    """:func:`alternation_update` from ``VX = conj(V) X`` ``(T, r)`` and ``alpha = W y``, without ``K``.

    Uses ``K W = I - W / rho`` (robust ALRA, ``inv_rho = 1/rho``; ALRA: ``inv_rho = 0``, ``W = K^+``),
    so the printed (53a)/(56a) ``mu`` needs no product with ``K`` either, and ``W y = alpha`` is
    precomputed: one ``(T, T)`` product per iteration (``W U``). Returns ``(mu, gamma, U)``.
    """
    U = p0 * jnp.real(VX * jnp.conj(VX))
    WU = W @ U
    if mu_rule == "paper":
        KWU = U - inv_rho * WU
        G = WU.T @ KWU
        rhs = KWU.T @ alpha
    else:
        G = U.T @ WU
        rhs = U.T @ alpha
    mu = _gram_solve(G, rhs)
    gamma = alpha - WU @ mu
    return mu, gamma, U


# ---------------------------------------------------------------------------------------------
# discrete-phase alignment (exact; spec §4.3) and codebook indices


def align_discrete(c, n_phases):
    """Exact ``argmax_v |sum_n c_n v_n|`` over ``v_n in {exp(j 2 pi k / K)}``, ``K = n_phases``.

    Sweeps the ``N K`` arcs between the breakpoints ``arg c_n + (k + 1/2) 2pi/K`` of the output
    phase; on each arc every element's best phase is fixed. ``O(N^2 K)`` work, static shapes.

    Args:
        c: ``(N,)`` complex.
        n_phases: ``K >= 2`` (static int).

    Returns:
        ``(N,)`` complex unit-modulus ``v`` (the global phase is that of the best arc).
    """
    rd = jnp.finfo(jnp.result_type(c.dtype, jnp.complex64)).dtype
    dth = 2.0 * jnp.pi / n_phases
    ang = jnp.angle(c).astype(rd)
    bp = jnp.mod(ang[:, None] + (jnp.arange(n_phases, dtype=rd) + 0.5) * dth, 2.0 * jnp.pi).reshape(-1)
    bp = jnp.sort(bp)
    nxt = jnp.concatenate([bp[1:], bp[:1] + 2.0 * jnp.pi])
    mids = 0.5 * (bp + nxt)  # (N K,)
    k = jnp.round((mids[:, None] - ang[None, :]) / dth)
    k = jnp.mod(k, n_phases)
    cand = jnp.exp(1j * k * dth).astype(jnp.result_type(c.dtype, jnp.complex64))  # (NK, N)
    s = cand @ c.astype(cand.dtype)
    best = jnp.argmax(jnp.abs(s))
    return cand[best]


def phase_indices(V, n_phases):
    """Codebook indices ``k in {0..K-1}`` with ``V = exp(j 2 pi k / K)`` (``(T, N)`` int32)."""
    dth = 2.0 * jnp.pi / n_phases
    ang = jnp.angle(V) if jnp.iscomplexobj(V) else jnp.where(V < 0, jnp.pi, 0.0)
    return jnp.mod(jnp.round(ang / dth), n_phases).astype(jnp.int32)


def csm_indices(V, q, n_phases):
    """Conditional sample mean (Ren et al.): per element, the phase with the largest mean power.

    ``V`` ``(T, N)`` training patterns (last column the direct path, ignored), ``q`` ``(T,)``.
    Returns ``(N - 1,)`` int32 phase indices; phases never observed are skipped (mean = -inf).
    """
    k = phase_indices(V[:, :-1], n_phases)  # (T, N-1)
    onehot = (k[..., None] == jnp.arange(n_phases)).astype(q.dtype)  # (T, N-1, K)
    sums = jnp.einsum("t,tnk->nk", q, onehot)
    counts = jnp.sum(onehot, axis=0)
    means = jnp.where(counts > 0, sums / jnp.maximum(counts, 1.0), -jnp.inf)
    return jnp.argmax(means, axis=-1).astype(jnp.int32)
