"""Neumann coefficients of the analog step (spec §2.4): T4 (exact gradients), T5 (corrected closed
forms vs the compact form; the printed forms differ), T6 (O(||z||^2) model error)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac import dma
from jaxisac.dma.analog import coefficients

from .conftest import small_problem


@pytest.fixture(scope="module")
def point():
    pb = small_problem()
    k1, k2, k3 = jax.random.split(jax.random.key(11), 3)
    y = pb.y0 + 3.0 * jax.random.normal(k1, (pb.model.L,))
    B = 0.3 * (jax.random.normal(k2, (4, 6)) + 1j * jax.random.normal(k3, (4, 6)))
    return pb, y, B, jax.jit(coefficients)(pb, y, B)


def _exact(pb, y, B):
    U = jnp.linalg.solve(pb.model.loads(y), pb.model.Y_st @ B)
    f = pb.observers @ U
    D, M = pb.D, pb.model.M
    P = jnp.sum(jnp.abs(f[:D]) ** 2, axis=1)
    g = jnp.abs(f[D:]) ** 2
    S = jnp.diagonal(g[:, :M])
    I = jnp.sum(g, axis=1) - S
    pt = 0.5 * jnp.real(jnp.sum(jnp.conj(U) * (pb.model.W @ U)))
    return P, S, I, pt


def test_T4_first_order_coefficients_are_exact_gradients(point):
    pb, y, B, c = point
    J = jax.jit(jax.jacfwd(lambda yy: _exact(pb, yy, B)))(y)
    np.testing.assert_allclose(c["g"], J[0], rtol=1e-9, atol=1e-12 * float(jnp.max(jnp.abs(J[0]))))
    np.testing.assert_allclose(c["slin"], J[1], rtol=1e-9, atol=1e-12 * float(jnp.max(jnp.abs(J[1]))))
    np.testing.assert_allclose(c["plin"], J[3], rtol=1e-9, atol=1e-12 * float(jnp.max(jnp.abs(J[3]))))
    # interference gradient from the linearised field: 2 Im(G f^H) over the other columns
    ig = 2 * jnp.imag(jnp.einsum("mlk,mk->ml", c["Gi"], jnp.conj(c["fi"])))
    np.testing.assert_allclose(ig, J[2], rtol=1e-9, atol=1e-12 * float(jnp.max(jnp.abs(J[2]))))
    # and against central finite differences of the exact model (rel 1e-6)
    h = 1e-5
    e = jnp.zeros_like(y).at[3].set(h)
    fd = (_exact(pb, y + e, B)[0] - _exact(pb, y - e, B)[0]) / (2 * h)
    np.testing.assert_allclose(c["g"][:, 3], fd, rtol=1e-6)


def test_T5_corrected_closed_forms_match_compact_form(point):
    pb, y, B, c = point
    Yh = np.linalg.inv(np.asarray(pb.model.loads(y)))
    Yst, Bn = np.asarray(pb.model.Y_st), np.asarray(B)
    V = Yst @ Bn @ Bn.conj().T @ Yst.conj().T
    H = lambda X: X.conj().T  # noqa: E731
    D, M = pb.D, pb.model.M
    for d in range(D):
        a = np.asarray(pb.A[d])
        Om = np.outer(a.conj(), a)  # Omega = a* a^T (A1)
        e = np.trace(Yh @ V @ H(Yh) @ Om).real
        W = 1j * H(Yh) @ Om @ Yh @ V @ H(Yh)
        Q = (Yh @ V @ H(Yh)) * (Yh.T @ Om.T @ Yh.conj())
        np.testing.assert_allclose(e, c["e"][d], rtol=1e-10)
        np.testing.assert_allclose(2 * np.real(np.diag(W)), c["g"][d], rtol=1e-10, atol=1e-12 * np.abs(c["g"][d]).max())
        GG = np.asarray(c["Gd"][d] @ c["Gd"][d].conj().T)
        np.testing.assert_allclose(Q, GG, rtol=1e-10, atol=1e-12 * np.abs(GG).max())
        # the literal printed (29)/(31) (no ^H) do not agree
        e_lit = np.trace(Yh @ V @ Yh @ Om).real
        W_lit = 1j * Yh @ Om @ Yh @ V @ Yh
        assert abs(e_lit - e) > 1e-3 * abs(e)
        assert np.max(np.abs(2 * np.real(np.diag(W_lit)) - c["g"][d])) > 1e-3 * np.abs(c["g"][d]).max()
    gam = np.asarray(pb.gamma)
    for m in range(M):
        o = np.asarray(pb.O[m])
        Psi = np.outer(o.conj(), o)
        bm = Bn[:, m]
        E = Yst @ (Bn @ Bn.conj().T - (1 + 1 / gam[m]) * np.outer(bm, bm.conj())) @ Yst.conj().T
        l = np.trace(Yh @ E @ H(Yh) @ Psi).real
        S = 1j * H(Yh) @ Psi @ Yh @ E @ H(Yh)
        I0 = np.sum(np.abs(c["fi"][m]) ** 2)
        np.testing.assert_allclose(l, I0 - c["S0"][m] / gam[m], rtol=1e-10)
        ig = 2 * np.imag(np.asarray(c["Gi"][m]) @ np.conj(np.asarray(c["fi"][m])))
        np.testing.assert_allclose(2 * np.real(np.diag(S)), ig - np.asarray(c["slin"][m]) / gam[m], rtol=1e-9,
                                   atol=1e-11 * np.abs(ig).max())
        S_lit = 1j * Yh @ Psi @ Yh @ E @ Yh
        assert np.max(np.abs(2 * np.real(np.diag(S_lit)) - 2 * np.real(np.diag(S)))) > 1e-3 * np.abs(np.diag(S)).max()
    # power: J = j Yh Y_st B B^H Y_st^T Yh, (28d) z j + j^H z^T = Re(diag J)^T z ... = 2 (P_t(z) - P_t(0))
    J = 1j * Yh @ Yst @ Bn @ Bn.conj().T @ Yst.T @ Yh
    np.testing.assert_allclose(0.5 * np.real(np.diag(J)), c["plin"], rtol=1e-10, atol=1e-12 * np.abs(c["plin"]).max())
    # P_T = 2 (P_max - P_t(0)) with P_t(0) = 1/2 Re tr((Y_tt - Y_st^T Yh Y_st) B B^H)
    pt0 = 0.5 * np.trace((np.asarray(pb.model.Y_tt) - Yst.T @ Yh @ Yst) @ Bn @ Bn.conj().T).real
    np.testing.assert_allclose(pt0, c["pt0"], rtol=1e-12)


def test_T6_neumann_error_is_second_order(point):
    pb, y, B, c = point
    direction = jnp.sign(jnp.sin(jnp.arange(pb.model.L) * 1.7))
    radius = 1.0 / c["ynorm"]
    errs = []
    for s in (1e-1, 1e-2, 1e-3):
        z = s * radius * direction
        P = _exact(pb, y + z, B)[0]
        lin = c["e"] + c["g"] @ z
        errs.append(float(jnp.max(jnp.abs(P - lin) / P)))
    r1, r2 = errs[0] / errs[1], errs[1] / errs[2]
    assert 50 < r1 < 200 and 50 < r2 < 200, errs


def test_reused_load_solve_equals_fresh_solves(point):
    # the AO factorises Z(y) once per attempt (kernels.dma.solve_loads) and reuses it for the
    # linearisation, P2's rows, the exact evaluation and both rescalings: same values as the
    # functions' own solves (round-off only), and ||Z^{-1}||_2 against NumPy's SVD
    from jaxisac.dma.digital import _currents
    from jaxisac.kernels import dma as kd

    pb, y, B, c = point
    F, C, ynorm = kd.solve_loads(pb.model.loads(y), pb.model.Y_st, pb.observers)
    np.testing.assert_allclose(float(ynorm), 1.0 / np.linalg.svd(np.asarray(pb.model.loads(y)), compute_uv=False)[-1],
                               rtol=1e-12)
    c2 = coefficients(pb, y, B, loads=(F, C, ynorm))
    for key in ("e", "g", "S0", "slin", "pt0", "plin", "fi", "Gi"):
        np.testing.assert_allclose(c2[key], c[key], rtol=1e-10, atol=1e-13 * float(jnp.max(jnp.abs(c[key]))))
    np.testing.assert_allclose(_currents(pb, y, B, F), _currents(pb, y, B), rtol=1e-11, atol=1e-14)
    ev, ev2 = dma.evaluate(pb, y, B), dma.evaluate(pb, y, B, F=F)
    for key in ("P", "sinr", "pt", "value"):
        np.testing.assert_allclose(ev2[key], ev[key], rtol=1e-11)
    from jaxisac.dma.digital import scale_to_max_power

    for fn in (scale_to_max_power, dma.scale_to_min_power):
        (B1, ok1), (B2, ok2) = fn(pb, y, B), fn(pb, y, B, F=F)
        assert bool(ok1) == bool(ok2)
        np.testing.assert_allclose(B2, B1, rtol=1e-11, atol=1e-14)
    H, AP = kd.effective_rows(pb.model.loads(y), pb.model.Y_st, pb.observers, pb.model.W)
    H2, AP2 = kd.effective_rows_from(F, pb.observers, pb.model.W)
    np.testing.assert_allclose(H2, H, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(AP2, AP, rtol=1e-11, atol=1e-14)
