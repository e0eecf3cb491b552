"""Closed-form scattering matrices of the paper (spec §4.10). All return blocks ``(1, N_S, N_S)``
(fully connected) unless stated; singular vectors are non-unique, so compare objectives, not Theta.

* :func:`theta_power_max` ``V_B U_F^H`` (20a) = capacity-optimal (23) when ``H_D = 0``;
* :func:`theta_power_min` ``V_B J U_F^H`` (20b);
* :func:`theta_permutation` ``V_B P U_F^H`` (15a/b) for a permutation ``P``;
* :func:`theta_dof_max` / :func:`theta_dof_min` (App. A (ii)/(iii)); rank decisions: NumPy, not jittable;
* :func:`theta_siso` (5), group-connected SISO optimum for any ``L``;
* :func:`theta_procrustes` OP-left / OP-right (43)-(44).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxisac.core import check_array
from jaxisac.kernels import bdris as kb

from .model import check_group_size

__all__ = [
    "theta_power_max",
    "theta_power_min",
    "theta_permutation",
    "theta_dof_max",
    "theta_dof_min",
    "theta_siso",
    "theta_procrustes",
    "numerical_rank",
]


def _ct(a):
    return jnp.conj(jnp.swapaxes(a, -1, -2))


def _svd_bases(H_backward, H_forward):
    H_B = check_array(H_backward, "H_backward", ndim=2, kind="complex")
    H_F = check_array(H_forward, "H_forward", ndim=2, kind="complex")
    if H_F.shape[0] != H_B.shape[1]:
        raise ValueError(f"H_forward: expected {H_B.shape[1]} rows (N_S of H_backward), got shape {H_F.shape}")
    _, _, vbh = jnp.linalg.svd(H_B, full_matrices=True)  # V_B = vbh^H (N_S x N_S)
    uf, _, _ = jnp.linalg.svd(H_F, full_matrices=True)  # U_F (N_S x N_S)
    return _ct(vbh), uf


def theta_permutation(H_backward: Any, H_forward: Any, perm: Any) -> jax.Array:
    """``V_B P U_F^H`` with ``P[perm[i], i] = 1`` pairing ``sigma_perm[i](H_B)`` with ``sigma_i(H_F)``."""
    vb, uf = _svd_bases(H_backward, H_forward)
    n = vb.shape[0]
    P = jnp.zeros((n, n), vb.dtype).at[jnp.asarray(perm), jnp.arange(n)].set(1.0)
    return (vb @ P @ _ct(uf))[None]


def theta_power_max(H_backward: Any, H_forward: Any) -> jax.Array:
    """``Theta_P-max = V_B U_F^H`` (20a): attains the power bound (19) and capacity (22) if ``H_D = 0``."""
    vb, uf = _svd_bases(H_backward, H_forward)
    return (vb @ _ct(uf))[None]


def theta_power_min(H_backward: Any, H_forward: Any) -> jax.Array:
    """``Theta_P-min = V_B J U_F^H`` (20b), ``J`` the exchange matrix (reverse pairing)."""
    vb, uf = _svd_bases(H_backward, H_forward)
    return (vb[:, ::-1] @ _ct(uf))[None]


def numerical_rank(A: Any, tol: float) -> int:
    """Rank with an ABSOLUTE tolerance (spec A6): number of singular values ``> tol``."""
    s = np.linalg.svd(np.asarray(A), compute_uv=False)
    return int(np.sum(s > tol))


def _complete(Q_cols: np.ndarray, n: int) -> np.ndarray:
    """Full-QR unitary whose first columns span ``Q_cols`` (``n x n``)."""
    if Q_cols.shape[1] == 0:
        return np.eye(n, dtype=complex)
    q, _ = np.linalg.qr(Q_cols, mode="complete")
    return q


def _null_bases(H_B, H_F, tol):
    H_B, H_F = np.asarray(H_B), np.asarray(H_F)
    n = H_B.shape[1]
    scale = np.linalg.norm(H_B, 2) * np.linalg.norm(H_F, 2)
    tol = tol * max(scale, np.finfo(float).tiny) if tol is not None else 1e-9 * max(scale, np.finfo(float).tiny)
    _, sb, vbh = np.linalg.svd(H_B)
    uf, sf, _ = np.linalg.svd(H_F)
    rb = int(np.sum(sb > tol / max(np.linalg.norm(H_F, 2), 1e-300)))
    rf = int(np.sum(sf > tol / max(np.linalg.norm(H_B, 2), 1e-300)))
    VB = vbh.conj().T
    return VB[:, :rb], VB[:, rb:], uf[:, :rf], uf[:, rf:], rb, rf, n


def theta_dof_max(H_backward: Any, H_forward: Any, *, tol: float | None = None) -> np.ndarray:
    """App. A (ii): ``Theta = Q_B,2 Q_F,2^H`` attains rank ``min(r_B, r_F)`` (with ``H_D = 0``).

    ``Q_B,2`` / ``Q_F,2``: full-QR unitaries of the null-space bases ``V_B,2`` of ``H_B`` and ``U_F,2``
    (left null space of ``H_F``). Ranks use the absolute tolerance ``tol * ||H_B|| ||H_F||`` (default
    ``1e-9``). NumPy (rank decisions are not traceable); returns ``(1, N_S, N_S)`` complex128.
    """
    _, VB2, _, UF2, _, _, n = _null_bases(H_backward, H_forward, tol)
    return (_complete(VB2, n) @ _complete(UF2, n).conj().T)[None]


def theta_dof_min(H_backward: Any, H_forward: Any, *, tol: float | None = None) -> np.ndarray:
    """App. A (iii): ``Theta = Q_B,1 Q_F,2^H`` attains rank ``max(r_B + r_F - N_S, 0)``."""
    VB1, _, _, UF2, _, _, n = _null_bases(H_backward, H_forward, tol)
    return (_complete(VB1, n) @ _complete(UF2, n).conj().T)[None]


def theta_siso(h_direct: Any, h_backward: Any, h_forward: Any, group_size: int) -> jax.Array:
    """SISO power-gain optimum (5) for groups of size ``L``: ``|h| = |h_D| + sum_g ||h_B,g|| ||h_F,g||``.

    Args:
        h_direct: scalar (may be 0).
        h_backward: ``(N_S,)`` (the row ``h_B^H`` of ``H_B``).
        h_forward: ``(N_S,)`` (the column of ``H_F``).
        group_size: ``L``.

    Returns:
        blocks ``(G, L, L)``: unitary ``Theta_g`` mapping ``u_g = h_F,g/||h_F,g||`` to
        ``e^{j arg h_D} v_g`` with ``v_g = conj(h_B,g)/||h_B,g||`` (``W_g U_g^H`` for unitaries whose
        first columns are those vectors, spec (5)).
    """
    hb = check_array(h_backward, "h_backward", ndim=1, kind="complex")
    hf = check_array(h_forward, "h_forward", shape=(hb.shape[0],), kind="complex")
    hd = jnp.asarray(h_direct, hb.dtype)
    G = check_group_size(hb.shape[0], group_size)
    L = int(group_size)
    a = jnp.conj(hb).reshape(G, L)  # want Theta_g u = phase * a / |a| with u = hf/|hf|
    b = hf.reshape(G, L)
    ph = jnp.where(jnp.abs(hd) > 0, hd / jnp.where(jnp.abs(hd) > 0, jnp.abs(hd), 1.0), 1.0)
    # unitary mapping unit vector u to unit vector w: W Uᴴ with full unitaries whose first columns are w, u
    w = ph * a / jnp.linalg.norm(a, axis=1, keepdims=True)
    u = b / jnp.linalg.norm(b, axis=1, keepdims=True)

    def full(x):  # unitary with first column x (QR of [x, e_1 .. e_{L-1}], phase of column 0 fixed)
        if L == 1:
            return x[:, None]
        q, r = jnp.linalg.qr(jnp.concatenate([x[:, None], jnp.eye(L, dtype=x.dtype)[:, : L - 1]], axis=1))
        d = r[0, 0] / jnp.abs(r[0, 0])
        return q * jnp.where(jnp.arange(L) == 0, d, 1.0)[None, :]

    Wf = jax.vmap(full)(w)
    Uf = jax.vmap(full)(u)
    return Wf @ _ct(Uf)


def theta_procrustes(H_direct: Any, H_backward: Any, H_forward: Any, side: str = "left") -> jax.Array:
    """Orthogonal-Procrustes shortcuts (43)-(44) for fully connected BD-RIS with a direct link.

    ``side="left"``: ``Theta = U V^H`` from the SVD of ``pinv(H_B) H_D H_F^H``; ``"right"``: of
    ``H_B^H H_D pinv(H_F)``. Returns ``(1, N_S, N_S)``.
    """
    H_B = check_array(H_backward, "H_backward", ndim=2, kind="complex")
    H_F = check_array(H_forward, "H_forward", ndim=2, kind="complex")
    H_D = check_array(H_direct, "H_direct", shape=(H_B.shape[0], H_F.shape[1]), kind="complex")
    if side == "left":
        M = jnp.linalg.pinv(H_B) @ H_D @ _ct(H_F)
    elif side == "right":
        M = _ct(H_B) @ H_D @ jnp.linalg.pinv(H_F)
    else:
        raise ValueError(f"side: expected 'left' or 'right', got {side!r}")
    u, _, vh = jnp.linalg.svd(M)
    return (u @ vh)[None]
