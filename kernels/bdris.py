"""Hot loops of the BD-RIS system (seed 003) as pure functions: arrays in, arrays out.

Scattering matrices are stacks of unitary blocks ``theta: (G, L, L)``; the backward channel is
``H_B: (N_R, N_S)`` and the forward channel ``H_F: (N_S, N_T)`` with ``N_S = G L`` and contiguous groups.
The ``N_S x N_S`` block-diagonal matrix is never formed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "split_backward",
    "split_forward",
    "cascade",
    "power_gain_gradient_blocks",
    "power_mm_parallel",
    "power_mm_sequential",
    "waterfill_levels",
    "polar_small",
    "nuclear_norm_small",
    "cascade_fast",
    "pinch",
    "nuclear_value_and_egrad",
    "nuclear_value_and_lie",
]


def _ct(a):
    return jnp.conj(jnp.swapaxes(a, -1, -2))


def split_backward(H_B: jax.Array, n_groups: int) -> jax.Array:
    """``(N_R, G L) -> (G, N_R, L)``: column blocks ``H_B,g``."""
    n_r, n_s = H_B.shape
    return jnp.transpose(H_B.reshape(n_r, n_groups, n_s // n_groups), (1, 0, 2))


def split_forward(H_F: jax.Array, n_groups: int) -> jax.Array:
    """``(G L, N_T) -> (G, L, N_T)``: row blocks ``H_F,g``."""
    n_s, n_t = H_F.shape
    return H_F.reshape(n_groups, n_s // n_groups, n_t)


def cascade(theta: jax.Array, H_D: jax.Array, H_B: jax.Array, H_F: jax.Array) -> jax.Array:
    """``H = H_D + sum_g H_B,g Theta_g H_F,g`` for ``theta: (G, L, L)``."""
    G, L, _ = theta.shape
    hb = H_B.reshape(H_B.shape[0], G, L)
    hf = H_F.reshape(G, L, H_F.shape[1])
    return H_D + jnp.einsum("rgl,glm,gmt->rt", hb, theta, hf)


def power_gain_gradient_blocks(theta, H_D, H_B, H_F) -> jax.Array:
    """``M_g = H_B,g^H H H_F,g^H`` (G, L, L): half the Euclidean gradient of ``||H||_F^2`` (spec (xv))."""
    G = theta.shape[0]
    H = cascade(theta, H_D, H_B, H_F)
    hb = split_backward(H_B, G)
    hf = split_forward(H_F, G)
    return _ct(hb) @ H[None] @ _ct(hf)


def _polar(m):
    u, _, vh = jnp.linalg.svd(m, full_matrices=False)
    return u @ vh


def power_mm_parallel(theta, H_D, H_B, H_F) -> jax.Array:
    """One parallel Prop-5 step: every block ``Theta_g <- polar(M_g)`` at the same ``Theta``."""
    return _polar(power_gain_gradient_blocks(theta, H_D, H_B, H_F))


def power_mm_sequential(theta, H_D, H_B, H_F) -> jax.Array:
    """One sweep of the sequential Prop-5 iteration (40)-(41): blocks updated in turn, ``H`` kept current."""
    G = theta.shape[0]
    hb = split_backward(H_B, G)
    hf = split_forward(H_F, G)

    def body(g, carry):
        th, H = carry
        m = _ct(hb[g]) @ H @ _ct(hf[g])
        new = _polar(m)
        H = H + hb[g] @ (new - th[g]) @ hf[g]
        return th.at[g].set(new), H

    th, _ = jax.lax.fori_loop(0, G, body, (theta, cascade(theta, H_D, H_B, H_F)))
    return th


def waterfill_levels(gains: jax.Array, power: jax.Array) -> jax.Array:
    """Water-filling powers ``p_n = (mu - 1/g_n)_+`` with ``sum p_n = power`` (exact, by sorting).

    ``gains``: ``(N,)`` non-negative; zero gains get zero power. Differentiable almost everywhere
    (double-``where`` guards at zero gains).
    """
    order = jnp.argsort(-gains)
    g = gains[order]
    pos = g > 0
    inv = jnp.where(pos, 1.0 / jnp.where(pos, g, 1.0), 0.0)
    k = jnp.arange(1, g.shape[0] + 1, dtype=g.dtype)
    mu = (power + jnp.cumsum(inv)) / k
    valid = (mu > inv) & pos
    # the valid set is a prefix; its last member fixes the water level
    kstar = jnp.max(jnp.where(valid, jnp.arange(g.shape[0]), -1))
    level = jnp.where(kstar >= 0, mu[jnp.maximum(kstar, 0)], 0.0)
    p_sorted = jnp.where(pos, jnp.maximum(level - inv, 0.0), 0.0)
    return jnp.zeros_like(p_sorted).at[order].set(p_sorted)


# ------------------------------------------------------------------ LAPACK-free small polar factor
def _jacobi_sweeps(dtype) -> int:
    # one-sided Jacobi converges quadratically; on 4x4 complex matrices 5 cyclic sweeps reach the
    # float64 round-off floor (float32: 4; one more of each for margin), checked against LAPACK in tests/bdris/test_fast.py
    return 6 if jnp.finfo(dtype).bits > 32 else 5


def polar_small(H: jax.Array, sweeps: int | None = None) -> tuple[jax.Array, jax.Array]:
    """Singular values (unsorted) and unitary polar factor ``Q = U V^H`` of a small ``(m, n)`` matrix.

    One-sided (Hestenes) Jacobi on the columns of ``H`` (of ``H^H`` when ``m < n``), unrolled over
    a fixed number of cyclic sweeps: only elementwise operations, which XLA fuses and vectorises over
    batch axes (no LAPACK call per matrix, the same rounding batched or not). A zero singular value
    contributes nothing to ``Q`` (``Q`` is then a partial isometry; LAPACK's ``U V^H`` would add an
    arbitrary pair of null vectors). Meant for ``min(m, n) <= 8``.

    Returns ``(s, Q)``: ``s`` ``(min(m, n),)`` real, ``Q`` ``(m, n)``.
    """
    m, n = H.shape[-2:]
    if m < n:
        s, q = polar_small(_ct(H), sweeps)
        return s, _ct(q)
    rdt = jnp.finfo(H.dtype).dtype
    sweeps = _jacobi_sweeps(rdt) if sweeps is None else int(sweeps)
    cols = [H[..., :, j] for j in range(n)]
    eye = jnp.eye(n, dtype=H.dtype)
    vcols = [jnp.broadcast_to(eye[:, j], H.shape[:-2] + (n,)) for j in range(n)]
    tiny = jnp.finfo(rdt).tiny

    def dot(a, b):  # explicit left-to-right sums (no reduce op: same rounding under vmap)
        out = jnp.conj(a[..., 0]) * b[..., 0]
        for i in range(1, a.shape[-1]):
            out = out + jnp.conj(a[..., i]) * b[..., i]
        return out

    def sq(a):
        out = jnp.real(a[..., 0]) ** 2 + jnp.imag(a[..., 0]) ** 2
        for i in range(1, a.shape[-1]):
            out = out + jnp.real(a[..., i]) ** 2 + jnp.imag(a[..., i]) ** 2
        return out

    for _ in range(sweeps):
        for p in range(n - 1):
            for q in range(p + 1, n):
                a, b = cols[p], cols[q]
                alpha, beta, gam = sq(a), sq(b), dot(a, b)
                ag = jnp.abs(gam)
                safe = ag > tiny * jnp.maximum(alpha, beta) + tiny
                ag_s = jnp.where(safe, ag, 1.0)
                zeta = (beta - alpha) / (2 * ag_s)
                t = jnp.where(zeta >= 0, 1.0, -1.0) / (jnp.abs(zeta) + jnp.sqrt(1.0 + zeta * zeta))
                t = jnp.where(safe, t, 0.0)
                c = 1.0 / jnp.sqrt(1.0 + t * t)
                s = c * t
                e = jnp.where(safe, jnp.conj(gam) / ag_s, 1.0).astype(H.dtype)  # exp(-j phi)
                c_, s_ = c[..., None].astype(H.dtype), s[..., None].astype(H.dtype)
                e_ = e[..., None]
                cols[p], cols[q] = c_ * a - s_ * (e_ * b), s_ * a + c_ * (e_ * b)
                va, vb = vcols[p], vcols[q]
                vcols[p], vcols[q] = c_ * va - s_ * (e_ * vb), s_ * va + c_ * (e_ * vb)
    sig = [jnp.sqrt(sq(a)) for a in cols]
    # Q = sum_j (a_j / s_j) v_j^H, zero singular values left out
    Q = None
    for a, v, sj in zip(cols, vcols, sig):
        inv = jnp.where(sj > 0, 1.0 / jnp.where(sj > 0, sj, 1.0), 0.0)
        term = (a * inv[..., None].astype(H.dtype))[..., :, None] * jnp.conj(v)[..., None, :]
        Q = term if Q is None else Q + term
    return jnp.stack(sig, -1), Q


@jax.custom_jvp
def nuclear_norm_small(H: jax.Array) -> jax.Array:
    """``sum_n sigma_n(H)`` by :func:`polar_small` (LAPACK-free; derivative ``Re tr(Q^H dH)``)."""
    s, _ = polar_small(H)
    out = s[..., 0]
    for i in range(1, s.shape[-1]):
        out = out + s[..., i]
    return out


@nuclear_norm_small.defjvp
def _nuclear_norm_small_jvp(primals, tangents):
    (H,), (dH,) = primals, tangents
    s, Q = polar_small(H)
    val = s[..., 0]
    for i in range(1, s.shape[-1]):
        val = val + s[..., i]
    prod = jnp.real(jnp.conj(Q) * dH)
    return val, jnp.sum(prod, axis=(-2, -1))


def _bmm(a: jax.Array, b: jax.Array) -> jax.Array:
    """Batched product of small blocks as unrolled multiply-and-adds (XLA CPU runs a batched ``dot``
    of tiny matrices as one small GEMM per matrix; these fuse and vectorise over the batch)."""
    out = a[..., :, 0, None] * b[..., None, 0, :]
    for i in range(1, a.shape[-1]):
        out = out + a[..., :, i, None] * b[..., None, i, :]
    return out


def cascade_fast(theta: jax.Array, H_D: jax.Array, H_B: jax.Array, H_F: jax.Array) -> jax.Array:
    """:func:`cascade` as one block-batched product and one ``(N_R, N_S) x (N_S, N_T)`` GEMM."""
    G, L, _ = theta.shape
    t = _bmm(theta, split_forward(H_F, G))  # (G, L, N_T)
    return H_D + H_B @ t.reshape(G * L, -1)


def _back(mid: jax.Array, H_B: jax.Array, n_groups: int) -> jax.Array:
    """``H_B,g^H mid`` for every group ``(G, L, N_T)``: one GEMM."""
    return (_ct(H_B) @ mid).reshape(n_groups, H_B.shape[1] // n_groups, -1)


def pinch(mid: jax.Array, H_B: jax.Array, H_F: jax.Array, n_groups: int) -> jax.Array:
    """``H_B,g^H mid H_F,g^H`` for every group ``(G, L, L)`` (the Euclidean gradient's blocks)."""
    return _bmm(_back(mid, H_B, n_groups), _ct(split_forward(H_F, n_groups)))


def _nuclear_parts(theta, H_D, H_B, H_F, jacobi: bool):
    """``(||H||_*, Q, t)``: ``Q`` the polar factor of ``H`` (unrolled Jacobi :func:`polar_small`, or
    ``U V^H`` from a LAPACK SVD) and ``t_g = Theta_g H_F,g`` ``(G, L, N_T)``, the cascade's blocks."""
    G = theta.shape[0]
    # a sum of products, not _bmm nor a batched dot: a reduction is materialised once (the unrolled
    # _bmm is fused, and recomputed, into every consumer) and vectorises over the blocks (XLA CPU runs
    # a batched dot as one small GEMM per block: a tenth of an L-BFGS iteration at N_S = 64, L = 4)
    t = jnp.sum(theta[..., :, :, None] * split_forward(H_F, G)[..., None, :, :], axis=-2)
    H = H_D + H_B @ t.reshape(-1, t.shape[-1])
    if jacobi:
        s, Q = polar_small(H)
        val = s[..., 0]
        for i in range(1, s.shape[-1]):
            val = val + s[..., i]
    else:
        u, s, vh = jnp.linalg.svd(H, full_matrices=False)
        val, Q = jnp.sum(s), u @ vh
    return val, Q, t


def nuclear_value_and_egrad(theta, H_D, H_B, H_F, *, jacobi: bool = True):
    """``(||H||_*, nabla_E)`` at ``theta`` without autodiff: ``nabla_E,g = H_B,g^H Q H_F,g^H`` (formula
    (26), as the ``custom_jvp`` of :func:`jaxisac.bdris.nuclear_norm`), ``Q`` the polar factor of
    ``H = H_D + H_B Theta H_F`` (``jacobi``: LAPACK-free :func:`polar_small`; else one LAPACK SVD)."""
    val, Q, _ = _nuclear_parts(theta, H_D, H_B, H_F, jacobi)
    return val, pinch(Q, H_B, H_F, theta.shape[0])


def nuclear_value_and_lie(theta, H_D, H_B, H_F, *, jacobi: bool = True):
    """``(||H||_*, nabla_E,g Theta_g^H)`` ``(G, L, L)``: the Euclidean gradient times ``Theta^H``, whose
    skew-Hermitian part is the right-trivialised Riemannian gradient, as ``H_B,g^H Q (Theta_g H_F,g)^H``
    with the cascade's ``Theta_g H_F,g`` (one small product fewer than ``nabla_E`` then ``Theta^H``)."""
    val, Q, t = _nuclear_parts(theta, H_D, H_B, H_F, jacobi)
    b = _back(Q, H_B, theta.shape[0])
    # a reduction, materialised once: the fused _bmm was recomputed for both entries (i, j) and (j, i)
    # of the skew-Hermitian part taken next (a tenth of an L-BFGS iteration at N_S = 64, L = 4)
    return val, jnp.sum(b[..., :, None, :] * jnp.conj(t)[..., None, :, :], axis=-1)
