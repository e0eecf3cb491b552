"""Point-target CRB beamforming (Remark 2 of seed 001; spec §3.6), on the library's one SDP solver.

For a point target at angle theta with response A = b(theta) a(theta)^H (b: N_r receive, a: N_t
transmit steering) and Adot = dA/dtheta, the CRB of theta for a sensing covariance R is::

    CRB(theta) = crb_scale * tr(A^H A R) / (tr(Adot^H Adot R) tr(A^H A R) - |tr(Adot^H A R)|^2)

(crb_scale = sigma_R^2 / (2 |alpha|^2 L)). Minimising it under the SINR and power constraints of the
extended-target problem is the SDP (Liu et al., TSP 2022)::

    maximise t  s.t.  [[tr(D1 R) - t, tr(D2 R)], [tr(D2 R)^*, tr(D3 R)]] >= 0,
                      (1 + 1/Gamma_k) h_k^H W_k h_k - h_k^H R h_k >= sigma^2,  tr R <= P_T,
                      R = sum_k W_k + W_s,  W_k, W_s >= 0,

with D1 = Adot^H Adot, D2 = Adot^H A, D3 = A^H A, and CRB* = crb_scale / t*.

Low-dimensional structure (spec §3.6, the paper's "(K+2) x K"): D1, D2, D3 act only on
span{a, adot}, the SINRs only on span{h_k}; power outside S = span{h_1..h_K, a, adot} is wasted, so
an optimum has W_k = B X_k B^H with B an orthonormal basis of S (d = dim S <= K + 2). The SDP is
solved in those d x d blocks (``reduced=True``, the default) or in the full N_t x N_t blocks
(``reduced=False``, for the comparison of spec target T21). The beamformers are recovered exactly
(rank one, as in Theorem 3): w_k = B X_k h~_k / sqrt(h~_k^H X_k h~_k), W_aux = (R - W W^H)^{1/2};
the SINRs, R and so the CRB are unchanged.

The paper gives no R-BAL for this case (a BAL would need the prox of the 2x2-LMI objective; spec
§3.6): the reduced SDP runs on :class:`jaxisac.core.sdp.ADMMSDP`, batched by ``vmap`` like every
other solver. The LMI is scaled by the congruence diag(||D1||^-1/2, ||D3||^-1/2) before solving (the spec
scaled by 1/||A^H A||_2 for Clarabel); ``t`` is reported unscaled.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core.complex import ct
from ..core.sdp import SDP, ADMMSDP, solve_sdp
from ..core.solution import Solution
from ..core.validation import check_array, is_concrete
from ..scenarios.arrays import ula_steering

__all__ = ["PointTargetCRB", "PointTargetBeamformers", "point_target_sdp", "solve_point_target", "point_crb"]


class PointTargetCRB(eqx.Module):
    """Minimise the CRB of a point target's angle s.t. SINR_k >= Gamma_k and total power <= P_T.

    Args:
        channels: (K, N_t) complex; row k is h_k (SINR numerator |h_k^H w_k|^2), N_t > K.
        sinr_targets: (K,) or scalar linear SINR targets Gamma_k > 0.
        power: scalar P_T > 0; noise_var: scalar sigma_C^2 > 0 (same power unit).
        angle: target angle theta in radians.
        n_rx: number of receive antennas N_r (static).
        crb_scale: sigma_R^2 / (2 |alpha|^2 L) (default 1: the CRB is reported in units of it).
        spacing: ULA element spacing in wavelengths (transmit and receive; default 0.5); both arrays
            are centred ULAs, a_n = exp(j 2 pi spacing n sin theta), n = -(N-1)/2 .. (N-1)/2.
    """

    channels: jax.Array
    sinr_targets: jax.Array
    power: jax.Array
    noise_var: jax.Array
    angle: jax.Array
    crb_scale: jax.Array
    n_rx: int = eqx.field(static=True)
    spacing: float = eqx.field(static=True)

    def __init__(self, channels, sinr_targets, power, noise_var, angle, n_rx: int, crb_scale=1.0, spacing=0.5):
        ch = check_array(channels, "channels", ndim=2, kind="complex")
        k, n_t = ch.shape
        if n_t <= k:
            raise ValueError(f"channels: expected shape (K, N_t) with N_t > K, got {ch.shape}")
        if int(n_rx) < 1:
            raise ValueError(f"n_rx: expected a positive number of receive antennas, got {n_rx}")
        if not float(spacing) > 0:
            raise ValueError(f"spacing: expected a positive element spacing, got {spacing}")
        rdt = jnp.real(ch).dtype
        g = check_array(sinr_targets, "sinr_targets", kind="real")
        g = jnp.broadcast_to(g, (k,)) if g.ndim == 0 else g
        if g.shape != (k,):
            raise ValueError(f"sinr_targets: expected shape ({k},) or a scalar, got {g.shape}")
        p = check_array(power, "power", ndim=0, kind="real")
        s2 = check_array(noise_var, "noise_var", ndim=0, kind="real")
        th = check_array(angle, "angle", ndim=0, kind="real")
        sc = check_array(crb_scale, "crb_scale", ndim=0, kind="real")
        for arr, name in ((g, "sinr_targets"), (p, "power"), (s2, "noise_var"), (sc, "crb_scale")):
            if is_concrete(arr) and not bool(np.all(np.asarray(arr) > 0)):
                raise ValueError(f"{name}: expected positive values, got {np.asarray(arr)}")
        self.channels = ch
        self.sinr_targets = g.astype(rdt)
        self.power = p.astype(rdt)
        self.noise_var = s2.astype(rdt)
        self.angle = th.astype(rdt)
        self.crb_scale = sc.astype(rdt)
        self.n_rx = int(n_rx)
        self.spacing = float(spacing)

    @property
    def n_t(self) -> int:
        return self.channels.shape[-1]

    @property
    def k(self) -> int:
        return self.channels.shape[-2]

    def response(self, angle=None):
        """``A(theta) = b a^H`` (N_r, N_t) at ``angle`` (default: the problem's)."""
        th = self.angle if angle is None else angle
        cdt = self.channels.dtype
        a = ula_steering(self.n_t, th, spacing=self.spacing, dtype=cdt)
        b = ula_steering(self.n_rx, th, spacing=self.spacing, dtype=cdt)
        return jnp.outer(b, jnp.conj(a))

    def trace_matrices(self):
        """``(D1, D2, D3) = (Adot^H Adot, Adot^H A, A^H A)``, each (N_t, N_t)."""
        A = self.response()
        Adot = jax.jacfwd(lambda t: self.response(t), holomorphic=False)(self.angle)
        return ct(Adot) @ Adot, ct(Adot) @ A, ct(A) @ A


def point_crb(R, problem: PointTargetCRB) -> jax.Array:
    """CRB(theta) of a transmit covariance ``R`` (N_t, N_t) (``crb_scale`` times the bound)."""
    D1, D2, D3 = problem.trace_matrices()
    tr = lambda D: jnp.trace(D @ R)  # noqa: E731
    a, c = jnp.real(tr(D1)), jnp.real(tr(D3))
    return problem.crb_scale * c / (a * c - jnp.abs(tr(D2)) ** 2)


def _basis(problem: PointTargetCRB, reduced: bool):
    """Orthonormal basis B (N_t, d) of span{h_k, a, adot} (d = K + 2), or I when not reduced."""
    n_t = problem.n_t
    if not reduced:
        return jnp.eye(n_t, dtype=problem.channels.dtype)
    a = ula_steering(n_t, problem.angle, spacing=problem.spacing, dtype=problem.channels.dtype)
    adot = jax.jacfwd(lambda t: ula_steering(n_t, t, spacing=problem.spacing, dtype=problem.channels.dtype))(problem.angle)
    M = jnp.concatenate([problem.channels.T, a[:, None], adot[:, None]], axis=1)
    B, _ = jnp.linalg.qr(M)
    return B


def point_target_sdp(problem: PointTargetCRB, reduced: bool = True):
    """The point-target SDP in the standard form of :class:`jaxisac.core.sdp.SDP`.

    Blocks: K user covariances X_k and the sensing covariance X_s (d x d in the basis ``B``), and the
    2 x 2 LMI block M. Slacks: s_k (SINR surplus), s_P (unused power) and t (minimise -t; t >= 0 at
    any feasible point by Cauchy-Schwarz). Returns ``(sdp, B, scale)``: t* = scale * t*_sdp.
    """
    B = _basis(problem, reduced)
    d = B.shape[1]
    k = problem.k
    cdt = problem.channels.dtype
    rdt = problem.power.dtype
    D1, D2, D3 = (ct(B) @ D @ B for D in problem.trace_matrices())
    # congruence diag(s1, s3) M diag(s1, s3) keeps the LMI: rows scaled so that both diagonal
    # trace matrices have unit norm (t is then in units of 1/s1^2 = ||D1||)
    scale = jnp.linalg.norm(D1, ord=2)
    s3 = jnp.linalg.norm(D3, ord=2)
    D1, D2, D3 = D1 / scale, D2 / jnp.sqrt(scale * s3), D3 / s3
    Ht = ct(B) @ problem.channels.T  # (d, K), column k = h~_k
    Q = jnp.einsum("ik,jk->kij", Ht, jnp.conj(Ht))  # (K, d, d)
    inv_g = (1 / problem.sinr_targets).astype(cdt)
    eye = jnp.eye(d, dtype=cdt)
    zero_d = jnp.zeros((d, d), cdt)
    # rows: K SINR rows, 1 power row, 4 LMI rows (M11, Re M12, Im M12, M22)
    lmi_x = jnp.stack([-D1, -ct(D2), -(1j * ct(D2)), -D3])  # coefficient of every X block
    blocks_A = []
    for j in range(k + 1):  # user blocks 0..K-1, sensing block K
        sinr_rows = -Q + (jnp.where(jnp.arange(k) == j, 1, 0).astype(cdt)[:, None, None] * (Q * (1 + inv_g[:, None, None])))
        blocks_A.append(jnp.concatenate([sinr_rows, eye[None], lmi_x], axis=0))
    E = lambda i, j: jnp.zeros((2, 2), cdt).at[i, j].set(1)  # noqa: E731
    zero2 = jnp.zeros((2, 2), cdt)
    A_M = jnp.stack([zero2] * (k + 1) + [E(0, 0), E(1, 0), 1j * E(0, 1), E(1, 1)])
    blocks_A.append(A_M)
    m = k + 5
    G = jnp.zeros((m, k + 2), rdt)
    G = G.at[jnp.arange(k), jnp.arange(k)].set(-1.0)  # SINR surplus
    G = G.at[k, k].set(1.0)  # unused power
    G = G.at[k + 1, k + 1].set(1.0)  # + t in the M11 row
    b = jnp.concatenate([jnp.broadcast_to(problem.noise_var, (k,)), problem.power[None], jnp.zeros((4,), rdt)])
    c = jnp.zeros((k + 2,), rdt).at[k + 1].set(-1.0)
    C = tuple([zero_d] * (k + 1) + [zero2])
    return SDP(C, tuple(blocks_A), b.astype(rdt), c, G), B, scale


class PointTargetBeamformers(eqx.Module):
    """Solution value of :func:`solve_point_target`.

    Attributes:
        W: (N_t, K) user beamformers; W_aux: (N_t, N_t) sensing precoder (R = W W^H + W_aux W_aux^H).
        R: (N_t, N_t) transmit covariance; t: optimal t (Fisher-information Schur complement).
        basis: (N_t, d) the basis B of the subspace the SDP was solved in.
    """

    W: jax.Array
    W_aux: jax.Array
    R: jax.Array
    t: jax.Array
    basis: jax.Array


_DEFAULT_SDP = ADMMSDP(tol=1e-9, max_steps=200_000)


def solve_point_target(problem: PointTargetCRB, solver: ADMMSDP = _DEFAULT_SDP, *, reduced: bool = True,
                       max_steps: int | None = None) -> Solution:
    """Solve the point-target problem on the JAX SDP solver; ``vmap`` batches it.

    Returns a :class:`jaxisac.Solution` with ``value`` a :class:`PointTargetBeamformers`,
    ``objective`` = CRB* = crb_scale / t*, ``result`` the SDP's status (``INFEASIBLE`` when the SINR
    targets cannot be met within P_T), ``stats`` the SDP's plus ``sdp_objective``.
    """
    sdp, B, scale = point_target_sdp(problem, reduced)
    sol = solve_sdp(sdp, solver, max_steps=max_steps)
    X = sol.value.X
    k = problem.k
    Ht = ct(B) @ problem.channels.T
    Rt = sum(X[: k + 1])
    q = jnp.real(jnp.einsum("ik,kij,jk->k", jnp.conj(Ht), jnp.stack(X[:k]), Ht))
    xs = jnp.einsum("kij,jk->ik", jnp.stack(X[:k]), Ht) / jnp.sqrt(jnp.maximum(q, jnp.finfo(q.dtype).tiny))[None, :]
    W = B @ xs
    S = 0.5 * (Rt - xs @ ct(xs))
    S = 0.5 * (S + ct(S))
    lam, V = jnp.linalg.eigh(S)
    Waux = B @ ((V * jnp.sqrt(jnp.maximum(lam, 0)).astype(V.dtype)[None, :]) @ ct(V)) @ ct(B)
    R = B @ Rt @ ct(B)
    t = scale * sol.value.s[k + 1]
    stats = dict(sol.stats)
    stats["sdp_objective"] = sol.objective
    crb_val = problem.crb_scale / t
    return Solution(value=PointTargetBeamformers(W, Waux, R, t, B), objective=crb_val, result=sol.result, stats=stats)
