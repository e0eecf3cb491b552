"""DMA hot loops as pure functions (arrays in, arrays out): Neumann linearisation, P4-MM, rank-one
recovery. Used by ``jaxisac.dma``; see the spec ``seed-000-dma.md`` §2.2, §2.4, §2.5.

Notation: ``Z = R0 I + Y_ss + j diag(y)`` (L, L) complex symmetric; ``Y_st`` (L, N); ``B`` (N, K);
observer rows ``Obs`` (P, L) (steering rows ``a_d^T`` then noise-normalised user rows ``y_RS,m/sigma``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["linearise", "linearise_from", "solve_loads", "effective_rows", "effective_rows_from", "p4mm_data", "p4mm_solve", "rank_one_recovery", "psd_sqrt"]


def solve_loads(Z, Y_st, Obs):
    """``F = Z^{-1} Y_st`` (L, N), ``C = Obs Z^{-1}`` (P, L) (by symmetry of Z) and ``||Z^{-1}||_2``
    at one load matrix ``Z``: one LU factorisation for both (the AO reuses them for every quantity
    at these loads: the linearisation, P2's rows, the exact evaluation and the rescalings)."""
    N = Y_st.shape[1]
    X = jnp.linalg.solve(Z, jnp.concatenate([Y_st, Obs.T], axis=1))
    smin = jnp.linalg.svd(Z, compute_uv=False)[-1]
    return X[:, :N], X[:, N:].T, 1.0 / smin


def linearise_from(F, C, B, Y_st, W, ynorm):
    """:func:`linearise` from :func:`solve_loads`' ``(F, C, ynorm)``."""
    U = F @ B
    H = C @ Y_st
    f = H @ B
    G = C[:, :, None] * U[None, :, :]
    Wc = W.astype(F.dtype)
    AP = 0.5 * jnp.conj(F).T @ Wc @ F
    AP = 0.5 * (AP + jnp.conj(AP).T)
    pt0 = 0.5 * jnp.real(jnp.sum(jnp.conj(U) * (Wc @ U)))
    jvec = 1j * jnp.sum(U * (F @ jnp.conj(B)), axis=1)
    plin = 0.5 * jnp.real(jvec)
    return {"F": F, "C": C, "H": H, "f": f, "G": G, "U": U, "pt0": pt0, "plin": plin, "ynorm": ynorm, "AP": AP}


def linearise(Z, Y_st, B, Obs, W):
    """Compact linearised-field form (spec §2.4) at ``z = 0`` with one LU factorisation.

    Returns a dict with
      ``F = Z^{-1} Y_st`` (L, N); ``C = Obs Z^{-1}`` (P, L) (by symmetry of Z); ``H = C Y_st`` (P, N)
      (effective observer rows); ``f = H B`` (P, K); ``G[p] = diag(C[p]) F B`` (P, L, K);
      ``pt0`` the exact transmit power; ``plin`` (L,) its gradient ``1/2 Re(jvec)`` in y;
      ``ynorm = ||Z^{-1}||_2``; ``AP = 1/2 F^H W F`` (N, N), the PSD power form of B.
    Then for real z: ``Obs (Z + j diag z)^{-1} Y_st B ~= f - j z^T G`` (first-order Neumann).
    """
    F, C, ynorm = solve_loads(Z, Y_st, Obs)
    return linearise_from(F, C, B, Y_st, W, ynorm)


def effective_rows(Z, Y_st, Obs, W):
    """Effective observer rows ``H = Obs Z^{-1} Y_st`` (P, N) and the PSD power form
    ``AP = 1/2 F^H W F`` (N, N), ``F = Z^{-1} Y_st`` (one LU solve)."""
    return effective_rows_from(jnp.linalg.solve(Z, Y_st), Obs, W)


def effective_rows_from(F, Obs, W):
    """:func:`effective_rows` from ``F = Z^{-1} Y_st``."""
    H = Obs @ F
    Wc = W.astype(F.dtype)
    AP = 0.5 * jnp.conj(F).T @ Wc @ F
    return H, 0.5 * (AP + jnp.conj(AP).T)


def p4mm_data(f, G, pt0, plin, D, M):
    """Coefficients of P4-MM from the linearised field (spec §2.5).

    Returns ``e`` (D,), ``g`` (D, L) (beampattern value and gradient), the quadratic pieces for the
    beampattern upper bounds ``(fd, Gd)``, and for each user ``S0`` (M,), ``slin`` (M, L) (signal
    value and gradient), ``fi`` (M, K), ``Gi`` (M, L, K) (interference field with the own column
    zeroed), plus ``pt0`` and ``plin``.
    """
    fd, Gd = f[:D], G[:D]
    e = jnp.sum(jnp.abs(fd) ** 2, axis=-1)
    g = 2.0 * jnp.imag(jnp.einsum("dlk,dk->dl", Gd, jnp.conj(fd)))
    fu, Gu = f[D:], G[D:]
    idx = jnp.arange(M)
    fmm = fu[idx, idx]
    Gmm = Gu[idx, :, idx]  # (M, L)
    S0 = jnp.abs(fmm) ** 2
    slin = 2.0 * jnp.imag(jnp.conj(fmm)[:, None] * Gmm)
    mask = 1.0 - jax.nn.one_hot(idx, f.shape[1], dtype=e.dtype)
    fi = fu * mask
    Gi = Gu * mask[:, None, :]
    return dict(e=e, g=g, fd=fd, Gd=Gd, S0=S0, slin=slin, fi=fi, Gi=Gi, pt0=pt0, plin=plin)


def _quad(fv, Gv, z):
    """||f - j z^T G||^2 for f (..., K), G (..., L, K)."""
    v = fv - 1j * jnp.einsum("l,...lk->...k", z.astype(Gv.dtype), Gv)
    return jnp.sum(jnp.abs(v) ** 2, axis=-1)


def p4mm_solve(data, gamma, p_max, beta_lo, beta_hi, radius, *, maxmin: bool, has_upper: bool,
               has_lower: bool, outer: int = 30, inner: int = 40, rho0: float = 1.0, rho_growth: float = 1.5,
               phase1=False, p_cap=None, init=None, return_state=False):
    """Solve P4-MM (spec §2.5) by an augmented Lagrangian with accelerated projected-gradient inner
    steps (FISTA with backtracking and restart) in the scaled variable ``x = z / radius`` in [-1, 1]^L.

    Avg objective: maximise mean_d (e_d + g_d^T z). Max-min: maximise t s.t. e_d + g_d^T z >= t.
    Constraints: lower beampattern bounds (linear minorant), upper bounds (convex quadratic),
    SINR (convex: interference quadratic + 1 <= signal minorant / Gamma), power (linear), box.

    ``phase1`` (traced bool): minimise the linearised transmit power instead, with the power row
    relaxed to ``p_cap`` (Phase I of spec §3.3).

    Returns ``(z, info)`` with ``info = (model objective, max scaled violation)``. Fixed iteration
    counts (``outer * inner``), so it vmaps and unrolls. ``init``: a warm start ``(v, lam, rho)`` (the
    scaled variable, the multipliers of the scaled constraints and the penalty of a previous solve of
    the same shapes, e.g. the previous AO attempt); ``return_state=True`` appends that triple to the
    result. Every constraint is divided by a natural scale
    (beampatterns by the mean current beampattern, SINR rows by ``1 + S_m/Gamma_m``, power by P_max).
    """
    e, g = data["e"], data["g"]
    rdt = e.dtype
    L = g.shape[1]
    sP = jnp.maximum(jnp.mean(e), jnp.finfo(rdt).tiny)
    sS = 1.0 + data["S0"] / gamma
    r = radius
    cap = jnp.where(phase1, p_max if p_cap is None else p_cap, p_max)

    def z_of(v):
        return r * v[:L]

    def cons(v):
        z = z_of(v)
        P_lin = e + g @ z
        parts = []
        if has_lower:
            parts.append((beta_lo - P_lin) / sP)
        if maxmin:
            parts.append((sP * v[L] - P_lin) / sP)
        if has_upper:
            parts.append((_quad(data["fd"], data["Gd"], z) - beta_hi) / sP)
        I = _quad(data["fi"], data["Gi"], z)
        S = data["S0"] + data["slin"] @ z
        parts.append((I + 1.0 - S / gamma) / sS)
        parts.append(((data["pt0"] + data["plin"] @ z - cap) / p_max)[None])
        return jnp.concatenate(parts)

    def obj(v):  # to minimise
        main = -v[L] if maxmin else -jnp.mean(e + g @ z_of(v)) / sP
        power = (data["pt0"] + data["plin"] @ z_of(v)) / p_max
        return jnp.where(phase1, power, main)

    nvar = L + 1
    tmax = jnp.max(e + jnp.sum(jnp.abs(g), axis=1) * r) / sP + 1.0

    def proj(v):
        x = jnp.clip(v[:L], -1.0, 1.0)
        t = jnp.clip(v[L], 0.0, tmax) if maxmin else jnp.zeros((), rdt)
        return jnp.concatenate([x, t[None]])

    nc = cons(jnp.zeros((nvar,), rdt)).shape[0]

    def al(v, lam, rho):
        c = cons(v)
        return obj(v) + 0.5 * rho * jnp.sum(jnp.maximum(0.0, c + lam / rho) ** 2) - 0.5 * jnp.sum(lam**2) / rho

    al_vg = jax.value_and_grad(al)

    def inner_loop(v, lam, rho, step):
        def body(_, carry):
            x, xm, tk, s = carry
            yk = x + ((tk - 1.0) / (tk + 2.0)) * (x - xm)
            yk = proj(yk)
            fy, gy = al_vg(yk, lam, rho)
            cand = proj(yk - s * gy)
            d = cand - yk
            fc = al(cand, lam, rho)
            ok = fc <= fy + jnp.dot(gy, d) + 0.5 / s * jnp.dot(d, d) + 1e-12 * jnp.abs(fy)
            fx = al(x, lam, rho)
            restart = ok & (fc > fx)
            x_new = jnp.where(ok, jnp.where(restart, x, cand), x)
            xm_new = jnp.where(ok, jnp.where(restart, x, x), xm)
            tk_new = jnp.where(ok & ~restart, tk + 1.0, 0.0)
            s_new = jnp.where(ok, s * 1.1, s * 0.5)
            return x_new, xm_new, tk_new, s_new

        x, _, _, step = jax.lax.fori_loop(0, inner, body, (v, v, jnp.zeros((), rdt), step))
        return x, step

    def outer_body(_, carry):
        v, lam, rho, step = carry
        v, step = inner_loop(v, lam, rho, step)
        c = cons(v)
        lam = jnp.maximum(0.0, lam + rho * c)
        return v, lam, jnp.minimum(rho * rho_growth, 1e6), step

    if init is None:
        v0 = jnp.zeros((nvar,), rdt)
        if maxmin:
            v0 = v0.at[L].set(jnp.min(e) / sP)
        lam0 = jnp.zeros((nc,), rdt)
        rho_init = jnp.asarray(rho0, rdt)
    else:
        v0, lam0, rho_init = (jnp.asarray(a, rdt) for a in init)
        if maxmin:  # the epigraph variable of the new linearisation
            v0 = v0.at[L].set(jnp.min(e + g @ z_of(proj(v0))) / sP)
        v0 = proj(v0)
    v, lam, rho, step = jax.lax.fori_loop(
        0, outer, outer_body, (v0, lam0, rho_init, 1.0 / rho_init)
    )
    z = z_of(v)
    model_obj = jnp.where(maxmin, jnp.min(e + g @ z), jnp.mean(e + g @ z))
    if return_state:
        return z, (model_obj, jnp.max(cons(v))), (v, lam, rho)
    return z, (model_obj, jnp.max(cons(v)))


def psd_sqrt(R):
    """Eigen square root ``R^{1/2}`` (n, n) of a Hermitian matrix, negative eigenvalues clipped."""
    w, V = jnp.linalg.eigh(0.5 * (R + jnp.conj(R).T))
    return V * jnp.sqrt(jnp.clip(w, 0.0))[None, :]


def rank_one_recovery(Xu, Xs, Hu):
    """Liu et al. rank-one recovery (spec §2.2).

    Args:
        Xu: (M, N, N) user covariances R_m; Xs: (N, N) merged sensing covariance; Hu: (M, N) rows h_m.
    Returns:
        B (N, M + N): ``b_m = R_m h_m^H / sqrt(h_m R_m h_m^H)`` and ``B_s = (R - sum b b^H)^{1/2}``.
    """
    Rh = jnp.einsum("mij,mj->mi", Xu, jnp.conj(Hu))  # R_m h_m^H
    q = jnp.real(jnp.einsum("mi,mi->m", Hu, Rh))
    tiny = jnp.finfo(q.dtype).tiny
    bu = Rh / jnp.sqrt(jnp.maximum(q, tiny))[:, None]
    R = jnp.sum(Xu, axis=0) + Xs
    Rs = R - jnp.einsum("mi,mj->ij", bu, jnp.conj(bu))
    return jnp.concatenate([bu.T, psd_sqrt(Rs)], axis=1)
