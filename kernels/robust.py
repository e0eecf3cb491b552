"""Hot loops of seed 002 (robust ISAC waveform design) as pure functions: arrays in, arrays out.

Shapes (one instance; batch with ``jax.vmap``): channel ``H (K, N)`` (row k is user k's ``h_k^T``),
waveform ``X (N, L)``, symbols ``S (K, L)``, covariance ``R (N, N)`` with lower Cholesky factor
``F`` (``R = F F^H``), ``K <= N <= L``. Complex64 or complex128 throughout; real scalars follow the
complex dtype's precision.

Nothing here validates input; :mod:`jaxisac.robust` does that and wraps these kernels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxisac.core.complex import ct
from jaxisac.core.roots import bracketed_root

__all__ = [
    "sphere_secular",
    "sc_closed_form",
    "f_value",
    "worst_case_trs",
    "worst_case_prop5",
    "remedy_exact",
    "remedy_prop8",
    "method2_waveform",
    "remedy_semi_unitary",
    "tpc_quadratic",
    "tpc_lowrank",
    "quadratic_sphere_terms",
]


def _rdtype(x):
    return jnp.finfo(x.dtype).dtype


def _semi_identity(n: int, m: int, dtype) -> jax.Array:
    return jnp.eye(n, m, dtype=dtype)


def _qr(A):
    """Thin QR ``A = Q R`` (``A (N, K)``, small ``K``) by modified Gram-Schmidt applied twice.

    Written as column operations on ``(N,)`` vectors, so a batch (``vmap``) runs as a few fused
    elementwise loops instead of one pair of LAPACK calls (``geqrf`` + ``orgqr``) per instance, which
    dominated the small-rank kernels at batch 1000 on CPU. Twice-applied Gram-Schmidt gives ``Q``
    orthonormal to round-off (Giraud et al., "twice is enough"); ``R = Q^H A`` is upper triangular
    with a real non-negative diagonal (LAPACK's ``R`` differs by column phases, which every caller
    here is invariant to). A zero column gives a zero column of ``Q`` (callers only use ``Q R``
    and ``range(Q)`` through products with ``R``)."""
    K = A.shape[-1]
    rd = _rdtype(A)
    tiny = jnp.finfo(rd).tiny
    cols = []
    for j in range(K):
        v = A[:, j]
        for _ in range(2):
            for q in cols:
                v = v - jnp.sum(jnp.conj(q) * v) * q
        n = jnp.sqrt(jnp.sum(jnp.abs(v) ** 2))
        cols.append(v * (1.0 / jnp.maximum(n, tiny)).astype(A.dtype))
    Q = jnp.stack(cols, axis=-1)
    return Q, _ctdot(Q, A)


def _sdot(a, b):
    """``a @ b`` as a broadcast product and a sum over the contracted axis (one fused loop).

    For the products of these kernels whose contracted or row dimension is small (K, or a K x K
    factor), XLA's batched CPU ``dot`` costs 2-3x the fused elementwise form at batch 1000 (its
    per-matrix call overhead dominates); equal to ``a @ b`` to round-off (summation order)."""
    return jnp.sum(a[..., :, :, None] * b[..., None, :, :], axis=-2)


def _ctdot(a, b):
    """``a^H @ b`` (``a (n, k)``, ``b (n, m)`` -> ``(k, m)``) as :func:`_sdot`, without forming ``a^H``."""
    return jnp.sum(jnp.conj(a)[..., :, :, None] * b[..., :, None, :], axis=-3)


# --------------------------------------------------------------------------------------------
# The spherical secular equation shared by the worst case (TRS) and TPC
# --------------------------------------------------------------------------------------------


def sphere_secular(gaps: jax.Array, w: jax.Array, r: jax.Array, max_steps: int = 100, hard_floor=None):
    """Solve ``sum_i w_i / (mu + gaps_i)^2 = r^2`` for ``mu >= 0`` (gaps >= 0, w >= 0, r > 0).

    This is the multiplier equation of ``min/max of a quadratic on a sphere`` written in the
    eigenbasis, with ``mu`` the multiplier shifted to the extreme eigenvalue (``gaps_i`` the
    distances to it). The left-hand side decreases in ``mu``; the root lies in
    ``[sqrt(w_0) / r, sqrt(sum w) / r]`` where ``w_0`` is the weight of the extreme eigenvalues
    (``gaps == 0``). Solved by :func:`jaxisac.core.roots.bracketed_root` (Newton on
    ``1/||.|| - 1/r``, nearly linear).

    Hard case: ``w_0 = 0`` and ``sum_{gaps > 0} w_i / gaps_i^2 <= r^2``: then ``mu = 0`` and the
    remaining norm ``tau2 = r^2 - sum w_i / gaps_i^2`` must go along the extreme eigenvector(s).
    ``w_0`` counts as zero below ``hard_floor`` (default ``eps * sum(w)``, the round-off of a weight
    computed by projection onto an eigenvector; callers that know ``w_0`` more accurately pass less).

    Returns:
        ``(mu, tau2, hard, status)``: ``mu`` (real scalar), ``tau2 >= 0`` (zero unless hard case),
        ``hard`` (bool), ``status`` (int32 root-finder status; SUCCESS in the hard case).
    """
    dt = gaps.dtype
    tiny = jnp.finfo(dt).tiny
    eps = jnp.finfo(dt).eps
    wtot = jnp.sum(w)
    top = gaps <= 0
    w0 = jnp.sum(jnp.where(top, w, 0.0))
    safe_g = jnp.where(top, 1.0, gaps)
    g_excl = jnp.sum(jnp.where(top, 0.0, w / safe_g**2))
    # (near-)hard case: the extreme component is negligible and the rest cannot reach the radius. The
    # callers put the remaining norm along the (tiny) extreme component's own direction when it is
    # non-zero, so the solution is continuous across the threshold.
    floor = eps * jnp.maximum(wtot, tiny) if hard_floor is None else hard_floor
    hard = (w0 <= floor) & (g_excl <= r**2)

    def phi(mu, a):  # the data go in as ``args`` so the root is implicitly differentiable in them
        g, ww, rr = a
        d = mu + g
        d = jnp.where(d > 0, d, 1.0)
        n2 = jnp.sum(jnp.where(ww > 0, ww / d**2, 0.0))
        return jax.lax.rsqrt(jnp.maximum(n2, tiny)) - 1.0 / rr

    lo = jax.lax.stop_gradient(jnp.sqrt(w0) / r)
    hi = jax.lax.stop_gradient(jnp.sqrt(wtot) / r * (1 + 8 * eps) + tiny)
    res = bracketed_root(phi, lo, hi, (gaps, w, r), rtol=4 * eps, tol=0.0, max_steps=max_steps)
    mu = jnp.where(hard, 0.0, res.root)
    tau2 = jnp.where(hard, jnp.maximum(r**2 - g_excl, 0.0), 0.0)
    status = jnp.where(hard, jnp.zeros_like(res.status), res.status)
    return mu, tau2, hard, status


# --------------------------------------------------------------------------------------------
# Sensing-centric closed form and value function
# --------------------------------------------------------------------------------------------


def sc_closed_form(H: jax.Array, S: jax.Array, F: jax.Array) -> jax.Array:
    """Closed form (29): ``X = sqrt(L) F A`` with ``A`` a maximiser of ``Re <F^H H^H S, A>``, ``A A^H = I``.

    For ``H`` with fewer rows than columns (``K < N``, the rank-deficient case of the paper) the
    minimiser is not unique (spec §2.1); we return the deterministic one whose completion is closest to
    ``I_{N x L}`` (:func:`remedy_semi_unitary` with ``Abar = I``), computed without any N x N or N x L
    factorisation (two thin QRs and two K x K ``eigh``). For a
    full-rank stacked ``H`` (``(M, N)``, ``M >= N``, Method 2) it is ``sqrt(L) F U I_{N x L} V^H`` with
    ``U S V^H = svd(F^H H^H S)``. Every metric is invariant to the completion (invariance lemma).
    """
    N = F.shape[0]
    L = S.shape[-1]
    sqL = jnp.sqrt(jnp.asarray(L, _rdtype(S)))
    if H.shape[0] < N:
        return sqL * (F @ remedy_semi_unitary(H, S, F))
    G = ct(F) @ ct(H) @ S
    U, _, Vh = jnp.linalg.svd(G, full_matrices=True)
    return sqL * (F @ (U @ Vh[:N, :]))


def _nuclear_norm_kk(H, S, R):
    """``||F^H H^H S||_*`` through a K x K eigenproblem (differentiable for distinct positive eigs).

    ``G^H G = S^H (H R H^H) S`` has the same non-zero eigenvalues as ``C^H T C`` with
    ``T = H R H^H`` and ``C C^H = S S^H`` (Cholesky, K x K).
    """
    T = H @ R @ ct(H)
    C = jnp.linalg.cholesky(S @ ct(S))
    M = ct(C) @ T @ C
    M = 0.5 * (M + ct(M))
    lam = jnp.linalg.eigvalsh(M)
    return jnp.sum(jnp.sqrt(jnp.maximum(lam, 0.0)))


def f_value(H: jax.Array, S: jax.Array, R: jax.Array) -> jax.Array:
    """``f(H) = min_{X X^H = L R} ||H X - S||^2 = L tr(H R H^H) + ||S||^2 - 2 sqrt(L) ||F^H H^H S||_*``.

    Differentiable in ``H`` (and ``R``, ``S``) through a K x K Hermitian eigenproblem; never through
    the rank-deficient N x L SVD.
    """
    L = S.shape[-1]
    sqL = jnp.sqrt(jnp.asarray(L, _rdtype(S)))
    quad = L * jnp.real(jnp.trace(H @ R @ ct(H)))
    return quad + jnp.sum(jnp.abs(S) ** 2) - 2 * sqL * _nuclear_norm_kk(H, S, R)


# --------------------------------------------------------------------------------------------
# Worst-case channel for a fixed waveform
# --------------------------------------------------------------------------------------------


def worst_case_trs(
    X: jax.Array, S: jax.Array, Hbar: jax.Array, theta: jax.Array, max_steps: int = 100, eig=None
):
    """Exact maximiser of ``||H X - S||_F^2`` over ``||H - Hbar||_F <= theta`` (trust-region subproblem).

    ``E = Hbar X - S``, ``B = E X^H``, ``Q = X X^H = V diag(q) V^H``. Optimality: ``D (lam I - Q) = B``,
    ``lam >= q_max``, ``||D||_F = theta`` (``theta > 0``). Solved in the eigenbasis by
    :func:`sphere_secular`; the hard case (``B v_max = 0``) puts the remaining norm on ``e_1 v_max^H``.

    ``eig``: optional ``(q (N,), V (N, N))``, the ascending eigendecomposition of ``X X^H`` when the
    caller already has it (sensing-centric waveforms have ``X X^H = L R``: one ``eigh(R)`` serves a
    whole batch sharing ``R``); default ``eigh(X X^H)``.

    Returns:
        ``(H_star, lam, status)``; ``theta <= 0`` gives ``Hbar`` and ``lam = q_max``.
    """
    rd = _rdtype(X)
    theta = jnp.asarray(theta, rd)
    E = Hbar @ X - S
    B = E @ ct(X)
    q, V = jnp.linalg.eigh(X @ ct(X)) if eig is None else eig
    qmax = q[-1]
    BV = B @ V  # (K, N)
    w = jnp.sum(jnp.abs(BV) ** 2, axis=0)
    gaps = jnp.maximum(qmax - q, 0.0).at[-1].set(0.0)
    pos = theta > 0
    th = jnp.where(pos, theta, 1.0)
    mu, tau2, hard, status = sphere_secular(gaps, w, th, max_steps)
    d = mu + gaps
    coef = jnp.where(w > 0, 1.0 / jnp.where(d > 0, d, 1.0), 0.0)
    coef = jnp.where(hard & (gaps <= 0), 0.0, coef)
    DV = BV * coef[None, :].astype(BV.dtype)
    K = Hbar.shape[0]
    e1 = jnp.zeros((K,), X.dtype).at[0].set(1.0)
    b0 = BV[:, -1]
    nb0 = jnp.linalg.norm(b0)
    u = jnp.where(nb0 > 0, b0 / jnp.where(nb0 > 0, nb0, 1.0).astype(X.dtype), e1)
    DV = DV.at[:, -1].add(jnp.where(hard, jnp.sqrt(tau2), 0.0).astype(X.dtype) * u)
    D = DV @ ct(V)
    H = Hbar + jnp.where(pos, 1.0, 0.0).astype(X.dtype) * D
    lam = qmax + jnp.where(pos, mu, 0.0)
    return H, lam, jnp.where(pos, status, jnp.zeros_like(status))


def worst_case_prop5(
    X: jax.Array, S: jax.Array, Hbar: jax.Array, theta: jax.Array, tol: float = 1e-12, max_steps: int = 100
):
    """The paper's Prop. 5 in matrix form (y-step degenerate, spec §3.1), deterministic init ``H_0 = Hbar``.

    ``H_k = Hbar + theta G_k / ||G_k||_F`` with ``G_k = (H_{k-1} X - S) X^H``; stops when
    ``||H_k - H_{k-1}||_F <= tol max(1, ||H_k||_F)`` or after ``max_steps``.

    Returns:
        ``(H, steps, converged, trace)``: ``trace[k] = ||H_k X - S||^2`` for ``k < steps`` (NaN after).
    """
    rd = _rdtype(X)
    theta = jnp.asarray(theta, rd)

    def p(H):
        return jnp.sum(jnp.abs(H @ X - S) ** 2)

    def step(H):
        G = (H @ X - S) @ ct(X)
        n = jnp.sqrt(jnp.sum(jnp.abs(G) ** 2))
        n = jnp.where(n > 0, n, 1.0)
        return Hbar + (theta / n).astype(X.dtype) * G

    trace0 = jnp.full((max_steps + 1,), jnp.nan, rd).at[0].set(p(Hbar))

    def cond(c):
        H, Hp, k, trace = c
        diff = jnp.sqrt(jnp.sum(jnp.abs(H - Hp) ** 2))
        small = diff <= tol * jnp.maximum(1.0, jnp.sqrt(jnp.sum(jnp.abs(H) ** 2)))
        return (k < max_steps) & ((k == 0) | ~small)

    def body(c):
        H, _, k, trace = c
        Hn = step(H)
        return Hn, H, k + 1, trace.at[k + 1].set(p(Hn))

    H, Hp, k, trace = jax.lax.while_loop(cond, body, (Hbar, Hbar, jnp.asarray(0, jnp.int32), trace0))
    diff = jnp.sqrt(jnp.sum(jnp.abs(H - Hp) ** 2))
    conv = diff <= tol * jnp.maximum(1.0, jnp.sqrt(jnp.sum(jnp.abs(H) ** 2)))
    H = jnp.where(theta > 0, H, Hbar)
    return H, k, conv | (theta <= 0), trace


# --------------------------------------------------------------------------------------------
# Method 1 (remedy) and Method 2
# --------------------------------------------------------------------------------------------


def _top_singular_subspaces(Hs, S, F):
    """``U_K (N, K)`` and ``V_K (L, K)`` of the rank-K matrix ``G = F^H Hs^H S`` without its N x L SVD:
    thin QR ``F^H Hs^H = Q1 R1`` and the SVD ``R1 S = P diag(s) W^H`` (from the K x K Gram eigh) give
    ``U_K = Q1 P``, ``V_K = W``.

    The Gram ``(R1 S)(R1 S)^H = R1 (S S^H) R1^H`` is formed from the K x K ``S S^H`` (shared by a
    batch with common symbols: computed once under ``vmap``), and ``V_K = S^H (R1^H P diag(1/s))``,
    so the only products with the L axis are ``S^H`` times a K x K matrix."""
    Q1, R1 = _qr(ct(F) @ ct(Hs))
    # K x K Gram eigh instead of the K x L SVD (4-5x cheaper batched on CPU): Z Z^H = P diag(s^2) P^H
    # with Z = R1 S, W = Z^H P diag(1/s); the order of the pairs is irrelevant to every use
    CS = S @ ct(S)
    C = _sdot(_sdot(R1, CS), ct(R1))
    s2, P = jnp.linalg.eigh(0.5 * (C + ct(C)))
    sinv = jax.lax.rsqrt(jnp.maximum(s2, jnp.finfo(s2.dtype).tiny)).astype(S.dtype)
    return _sdot(Q1, P), _ctdot(S, _sdot(ct(R1), P) * sinv[None, :])


def remedy_exact(Hs: jax.Array, S: jax.Array, F: jax.Array, Abar: jax.Array) -> jax.Array:
    """Exact alpha -> infinity remedy (39): the minimiser at ``Hs`` whose ``A`` is closest to ``Abar``.

    ``G* = F^H Hs^H S = [U_K U_perp] diag(sigma, 0) [V_K V_perp]^H`` (rank K, static),
    ``W = polar(U_perp^H Abar V_perp)``, ``A* = U_K V_K^H + U_perp W V_perp^H``. Returns ``A* (N, L)``.

    Computed without any N x L SVD: ``U_K, V_K`` from a thin QR and a K x L SVD, and
    ``U_perp W V_perp^H`` as the polar factor of ``M = (I - U_K U_K^H) Abar (I - V_K V_K^H)`` (rank
    ``N - K``) through one N x N ``eigh`` of ``M M^H``: ``E_r diag(lam_r^{-1/2}) E_r^H M`` over its
    ``N - K`` leading eigenpairs.
    """
    K, N = Hs.shape
    UK, VK = _top_singular_subspaces(Hs, S, F)
    M = Abar - UK @ (ct(UK) @ Abar)
    M = M - (M @ VK) @ ct(VK)
    lam, E = jnp.linalg.eigh(M @ ct(M))
    lam_r, E_r = lam[K:], E[:, K:]
    tiny = jnp.finfo(lam.dtype).tiny
    scale = jax.lax.rsqrt(jnp.maximum(lam_r, tiny)).astype(M.dtype)
    W = (E_r * scale[None, :]) @ (ct(E_r) @ M)
    return UK @ ct(VK) + W


def remedy_semi_unitary(Hs: jax.Array, S: jax.Array, F: jax.Array, Abar: jax.Array | None = None) -> jax.Array:
    """:func:`remedy_exact` for a target with orthonormal rows (``Abar Abar^H = I``; ``None``: ``I_{N x L}``).

    Same ``A* = U_K V_K^H + polar(M)``, ``M = P_U Abar P_V`` (``P_U = I - U_K U_K^H``,
    ``P_V = I - V_K V_K^H``), but the polar factor comes from K x K problems only: with orthonormal rows,
    ``M M^H = P_U - Y Y^H``, ``Y = P_U Abar V_K`` (N x K). With the K x K Gram
    ``Y^H Y = E diag(g) E^H`` (``0 <= g <= 1``),
    ``polar(M) = (M M^H)^{+1/2} M = M + Y E diag(h(g)) E^H Y^H M``, ``h(g) = ((1 - g)^{-1/2} - 1) / g
    = 1 / (s (1 + s))``, ``s = sqrt(1 - g)`` (no cancellation, ``h(0) = 1/2``; equal to the thin-QR form
    ``Y = Q2 R2``, ``(I - R2 R2^H)^{-1/2} - I`` on ``range(Q2)``, without the QR). Collecting terms
    (``Y^H M = Y^H Abar - Y^H Y V_K^H``),
    ``A* = Abar + U_K (V_K^H - U_K^H Abar) + Y [Hh Y^H Abar - (I + Hh Y^H Y) V_K^H]`` with
    ``Hh = E diag(h) E^H``: the only products with the L axis are ``[U_K Y]^H Abar``, ``Abar V_K`` and one
    ``(N x 2K) (2K x L)``. On batched CPU this replaces the N x N ``eigh`` of :func:`remedy_exact` (the
    cost of the nominal design and of Method 1's remedy) by K x K problems. Returns ``A* (N, L)``.
    """
    K, N = Hs.shape
    L = S.shape[-1]
    UK, VK = _top_singular_subspaces(Hs, S, F)
    VKh = ct(VK)
    if Abar is None:  # I_{N x L}: the products with it are slices
        AV = VK[:N, :]
    else:
        AV = _sdot(Abar, VK)
    Y = AV - _sdot(UK, _ctdot(UK, AV))  # P_U Abar V_K
    Gam = _ctdot(Y, Y)
    g, E = jnp.linalg.eigh(0.5 * (Gam + ct(Gam)))
    sq = jnp.sqrt(jnp.clip(1.0 - g, jnp.finfo(g.dtype).tiny, None))
    h = (1.0 / (sq * (1.0 + sq))).astype(Y.dtype)
    Hh = _sdot(E * h[None, :], ct(E))
    UY = jnp.concatenate([UK, Y], axis=1)  # (N, 2K)
    if Abar is None:
        UYA = jnp.concatenate([ct(UY), jnp.zeros((2 * K, L - N), UY.dtype)], axis=1)
    else:
        UYA = _ctdot(UY, Abar)  # (2K, L)
    UA, YA = UYA[:K], UYA[K:]
    IK = jnp.eye(K, dtype=Y.dtype)
    coef = jnp.concatenate([VKh - UA, _sdot(Hh, YA) - _sdot(IK + _sdot(Hh, Gam), VKh)], axis=0)
    base = _semi_identity(N, L, S.dtype) if Abar is None else Abar
    return base + _sdot(UY, coef)


def _procrustes(M):
    """``argmax_{U U^H = I} Re tr(U^H M)`` for square ``M``: ``U = P Q^H`` from ``svd(M)``."""
    P, _, Qh = jnp.linalg.svd(M, full_matrices=True)
    return P @ Qh


def remedy_prop8(
    Hs: jax.Array, S: jax.Array, F: jax.Array, Abar: jax.Array, alpha: float = 1e4, tol: float = 1e-6,
    max_steps: int = 5000, projection: str = "svals",
):
    """Prop. 8 (paper's block-coordinate remedy) for (39), with Remark 6's Sigma-projection options.

    ``projection="svals"``: Sigma <- singular values of ``U^H G* V`` (code default);
    ``"diag"``: the Euclidean projection (real non-negative part of the diagonal).

    Returns ``(A*, steps, objective_trace)`` with the objective
    ``alpha ||U Sigma V^H - G*||^2 + ||U I V^H - Abar||^2`` after each round (NaN after ``steps``).
    """
    N, L = Abar.shape
    dt = Abar.dtype
    rd = _rdtype(Abar)
    I = _semi_identity(N, L, dt)
    G = ct(F) @ ct(Hs) @ S
    U, s, Vh = jnp.linalg.svd(G, full_matrices=True)
    V = ct(Vh)
    Sig = jnp.zeros((N, L), dt).at[jnp.arange(N), jnp.arange(N)].set(s.astype(dt))
    sa = jnp.sqrt(jnp.asarray(alpha, rd)).astype(dt)

    def obj(U, Sig, V):
        return alpha * jnp.sum(jnp.abs(U @ Sig @ ct(V) - G) ** 2) + jnp.sum(jnp.abs(U @ I @ ct(V) - Abar) ** 2)

    def round_(U, Sig, V):
        # (a) U-step: min ||U A1 - B1||, A1 = [I V^H, sqrt(a) Sig V^H], B1 = [Abar, sqrt(a) G]
        M1 = Abar @ ct(I @ ct(V)) + alpha * G @ ct(Sig @ ct(V))
        Un = _procrustes(M1)
        # (b) V-step: min ||V A2 - B2||, A2 = [I^H U^H, sqrt(a) Sig^H U^H], B2 = [Abar^H, sqrt(a) G^H]
        M2 = ct(Abar) @ ct(ct(I) @ ct(Un)) + alpha * ct(G) @ ct(ct(Sig) @ ct(Un))
        Vn = _procrustes(M2)
        Z = ct(Un) @ G @ Vn
        if projection == "svals":
            sv = jnp.linalg.svd(Z, compute_uv=False)
            Sn = jnp.zeros((N, L), dt).at[jnp.arange(N), jnp.arange(N)].set(sv.astype(dt))
        else:
            dg = jnp.maximum(jnp.real(jnp.diagonal(Z)), 0.0)
            Sn = jnp.zeros((N, L), dt).at[jnp.arange(N), jnp.arange(N)].set(dg.astype(dt))
        return Un, Sn, Vn

    del sa
    trace0 = jnp.full((max_steps + 1,), jnp.nan, rd).at[0].set(obj(U, Sig, V))

    def cond(c):
        U, Sig, V, k, nconv, trace = c
        return (k < max_steps) & (nconv < 2)

    def body(c):
        U, Sig, V, k, _, trace = c
        Un, Sn, Vn = round_(U, Sig, V)
        ch = jnp.stack([
            jnp.linalg.norm(Un - U), jnp.linalg.norm(Sn - Sig), jnp.linalg.norm(Vn - V)
        ])
        nconv = jnp.sum(ch < tol).astype(jnp.int32)
        return Un, Sn, Vn, k + 1, nconv, trace.at[k + 1].set(obj(Un, Sn, Vn))

    U, Sig, V, k, _, trace = jax.lax.while_loop(
        cond, body, (U, Sig, V, jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32), trace0)
    )
    return U @ I @ ct(V), k, trace


def method2_waveform(Hs: jax.Array, S: jax.Array, F: jax.Array, Xbar: jax.Array, alpha) -> jax.Array:
    """Prop. 9: ``X* = sqrt(L) F U I V^H`` with ``U S V^H = svd(F^H (alpha Hs^H S + Xbar))`` (thin SVD:
    ``U I V^H = U Vh`` with ``Vh (N, L)``; ``(F U) Vh`` costs less than ``F (U Vh)``).

    The N x L SVD stays: ``G`` has condition number ~``alpha`` (1e6 on the paper's scenario), so its
    polar factor cannot come from a Gram ``eigh``; a deflated route (subspace iteration on the rank-K
    ``alpha`` part + two block Grams) was as accurate but no faster on batched CPU.
    """
    N, L = Xbar.shape
    rd = _rdtype(Xbar)
    G = ct(F) @ (jnp.asarray(alpha, rd).astype(Xbar.dtype) * _ctdot(Hs, S) + Xbar)
    U, _, Vh = jnp.linalg.svd(G, full_matrices=False)
    return jnp.sqrt(jnp.asarray(L, rd)) * ((F @ U) @ Vh)


# --------------------------------------------------------------------------------------------
# Joint design: TPC closed form + 1-D root
# --------------------------------------------------------------------------------------------


def quadratic_sphere_terms(H, S, X0, rho):
    """``Q = rho H^H H + (1 - rho) I``, ``G = rho H^H S + (1 - rho) X0``: the joint cost is
    ``rho ||H X - S||^2 + (1 - rho) ||X - X0||^2 = tr(X^H Q X) - 2 Re tr(G^H X) + const``."""
    N = X0.shape[0]
    rd = _rdtype(X0)
    rho = jnp.asarray(rho, rd)
    Q = rho * (ct(H) @ H) + (1 - rho) * jnp.eye(N, dtype=X0.dtype)
    G = rho * (ct(H) @ S) + (1 - rho) * X0
    return Q, G


def tpc_lowrank(H: jax.Array, c1, c2, SG: jax.Array, G0: jax.Array, power: jax.Array, max_steps: int = 100):
    """:func:`tpc_quadratic` for ``Q = c1 H^H H + c2 I`` and ``G = H^H SG + G0`` (``H (K, N)``,
    ``c1 >= 0``, ``SG (K, L)``, ``G0 (N, L)``): the form of every TPC step of the joint design
    (nominal: ``c1 = rho``, ``c2 = 1 - rho``, ``SG = rho S``, ``G0 = (1 - rho) X0``; Method 3's (52)
    after dividing by ``alpha + 1``).

    For ``K < N`` the eigendecomposition of ``Q`` is that of the K x K Gram of ``H``: the thin QR
    ``H^H = Q1 R1`` and ``R1 R1^H = P diag(s^2) P^H`` give ``Q = U diag(c2 + c1 s^2) U^H + c2 P_perp``
    with ``U = Q1 P``; the (N - K)-fold eigenvalue ``c2 = q_min`` enters the secular equation as one
    term of weight ``||P_perp G||^2``, and ``P_perp G = P_perp G0`` exactly (the ``H^H SG`` part lies in
    ``range(U)``, ``U^H H^H = P^H R1``), so no cancellation against the large ``H^H SG`` term. This
    replaces the N x N ``eigh`` by a thin QR and a K x K ``eigh``. The hard case puts the remaining
    norm along ``P_perp G`` (or, when that is zero, along a unit vector of the complement times
    ``e_1^T``). ``K >= N``: :func:`tpc_quadratic` on the formed ``Q``, ``G``.

    Returns ``(X, lam, status)`` as :func:`tpc_quadratic`.
    """
    K, N = H.shape
    rd = _rdtype(G0)
    dt = G0.dtype
    c1 = jnp.asarray(c1, rd)
    c2 = jnp.asarray(c2, rd)
    if K >= N:
        Q = c1.astype(dt) * (ct(H) @ H) + c2.astype(dt) * jnp.eye(N, dtype=dt)
        return tpc_quadratic(Q, ct(H) @ SG + G0, power, max_steps)
    Q1, R1 = _qr(ct(H))
    C = _sdot(R1, ct(R1))
    s2, P = jnp.linalg.eigh(0.5 * (C + ct(C)))
    U = _sdot(Q1, P)  # (N, K)
    UG0 = _ctdot(U, G0)
    UG = _sdot(_sdot(ct(P), R1), SG) + UG0  # U^H G
    Gp = G0 - _sdot(U, UG0)  # P_perp G
    wp = jnp.sum(jnp.abs(Gp) ** 2)
    w = jnp.concatenate([wp[None], jnp.sum(jnp.abs(UG) ** 2, axis=1)])
    gaps = jnp.concatenate([jnp.zeros((1,), rd), c1 * jnp.maximum(s2, 0.0)])
    r = jnp.sqrt(jnp.asarray(power, rd))
    # w[0] comes from G0 without cancellation against H^H SG: zero only up to the round-off of G0
    floor = jnp.finfo(rd).eps * jnp.maximum(jnp.sum(jnp.abs(G0) ** 2), jnp.finfo(rd).tiny)
    mu, tau2, hard, status = sphere_secular(gaps, w, r, max_steps, hard_floor=floor)
    d = mu + gaps
    coef = jnp.where(w > 0, 1.0 / jnp.where(d > 0, d, 1.0), 0.0)
    coef = jnp.where(hard & (gaps <= 0), 0.0, coef).astype(dt)
    X = coef[0] * Gp + _sdot(U, coef[1:, None] * UG)
    # hard case: the remaining norm goes into the q_min eigenspace (the complement of range(H^H))
    L = G0.shape[1]
    j = jnp.argmin(jnp.sum(jnp.abs(U) ** 2, axis=1))  # e_j has the largest complement component
    ej = (jnp.arange(N) == j).astype(dt)  # one-hot, not a gather/scatter (cheaper batched)
    v = ej - _sdot(U, jnp.sum(jnp.conj(U) * ej[:, None], axis=0)[:, None])[:, 0]
    v = v / jnp.maximum(jnp.linalg.norm(v), jnp.finfo(rd).tiny).astype(dt)
    fallback = v[:, None] * (jnp.arange(L) == 0).astype(dt)[None, :]
    nG = jnp.sqrt(wp)
    direction = jnp.where(nG > 0, Gp / jnp.where(nG > 0, nG, 1.0).astype(dt), fallback)
    X = X + jnp.where(hard, jnp.sqrt(tau2), 0.0).astype(dt) * direction
    return X, mu - c2, status


def tpc_quadratic(Q: jax.Array, G: jax.Array, power: jax.Array, max_steps: int = 100):
    """Global minimiser of ``tr(X^H Q X) - 2 Re tr(G^H X)`` on the sphere ``||X||_F^2 = power``.

    ``X(lam) = (Q + lam I)^{-1} G`` with ``lam >= -q_min`` and ``||X(lam)||^2 = power`` (a TRS with
    an equality; strong duality makes it global). In the eigenbasis ``Q = V diag(q) V^H`` the
    multiplier solves :func:`sphere_secular` with ``gaps = q - q_min``; the hard case puts the
    remaining norm on ``v_min e_1^T``.

    Returns ``(X, lam, status)``.
    """
    rd = _rdtype(G)
    q, V = jnp.linalg.eigh(Q)
    qmin = q[0]
    VG = ct(V) @ G  # (N, L)
    w = jnp.sum(jnp.abs(VG) ** 2, axis=1)
    gaps = jnp.maximum(q - qmin, 0.0).at[0].set(0.0)
    r = jnp.sqrt(jnp.asarray(power, rd))
    mu, tau2, hard, status = sphere_secular(gaps, w, r, max_steps)
    d = mu + gaps
    coef = jnp.where(w > 0, 1.0 / jnp.where(d > 0, d, 1.0), 0.0)
    coef = jnp.where(hard & (gaps <= 0), 0.0, coef)
    Y = VG * coef[:, None].astype(G.dtype)
    L = G.shape[1]
    e1 = jnp.zeros((L,), G.dtype).at[0].set(1.0)
    g0 = VG[0, :]
    ng0 = jnp.linalg.norm(g0)
    u = jnp.where(ng0 > 0, g0 / jnp.where(ng0 > 0, ng0, 1.0).astype(G.dtype), e1)
    Y = Y.at[0, :].add(jnp.where(hard, jnp.sqrt(tau2), 0.0).astype(G.dtype) * u)
    return V @ Y, mu - qmin, status

