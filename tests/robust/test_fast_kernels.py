"""The factorisation-light kernels (issue 5 speed work) against the general paths they replace.

* ``remedy_semi_unitary`` (K x K problems only) == ``remedy_exact`` (N x N eigh) for targets with
  orthonormal rows;
* ``tpc_lowrank`` (thin QR + K x K eigh) == ``tpc_quadratic`` (N x N eigh of the formed Q);
* ``worst_case_trs`` with the shared eigendecomposition of ``L R`` == with ``eigh(X X^H)``.

float64 to round-off (1e-10, or the conditioning limit stated), float32 close to float64.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac import robust as rb
from jaxisac.core import Status
from jaxisac.kernels import robust as kr

from .helpers import paper_scenario, random_semi_unitary, small_instance


@pytest.fixture(scope="module")
def paper():
    sc = paper_scenario(0)
    F = jnp.linalg.cholesky(sc.R)
    Hbs = rb.perturb_channel(jax.random.key(7), sc.H_ref, 0.05, shape=(4,))
    return sc, F, Hbs


_remedy_fast = jax.jit(jax.vmap(kr.remedy_semi_unitary, (0, None, None, 0)))
_remedy_ref = jax.jit(jax.vmap(kr.remedy_exact, (0, None, None, 0)))


def _c64(*a):
    return [x.astype(jnp.complex64) for x in a]


def test_remedy_semi_unitary_equals_remedy_exact(paper):
    sc, F, Hbs = paper
    N, L = 16, 30
    Abars = jnp.asarray(random_semi_unitary(np.random.default_rng(0), N, L, 4))
    A_fast = _remedy_fast(Hbs, sc.S, F, Abars)
    A_ref = _remedy_ref(Hbs, sc.S, F, Abars)
    np.testing.assert_allclose(A_fast, A_ref, atol=1e-10)
    np.testing.assert_allclose(A_fast @ jnp.conj(jnp.swapaxes(A_fast, 1, 2)), np.broadcast_to(np.eye(N), (4, N, N)),
                               atol=1e-12)
    # Abar = None means I_{N x L} (the nominal design), the default of sc_closed_form
    I = jnp.broadcast_to(jnp.eye(N, L, dtype=sc.S.dtype), (4, N, L))
    A0 = jax.jit(jax.vmap(kr.remedy_semi_unitary, (0, None, None)))(Hbs, sc.S, F)
    np.testing.assert_allclose(A0, _remedy_ref(Hbs, sc.S, F, I), atol=1e-10)
    # float32 close to float64
    A32 = _remedy_fast(*_c64(Hbs, sc.S, F, Abars))
    assert A32.dtype == jnp.complex64
    np.testing.assert_allclose(A32, A_fast, atol=2e-4)
    # a small instance with another shape (K = 2, N = 4, L = 6)
    _, Hb, S, R = small_instance(3)
    Fs = jnp.linalg.cholesky(R)
    Ab = jnp.asarray(random_semi_unitary(np.random.default_rng(1), 4, 6, 1)[0])
    np.testing.assert_allclose(jax.jit(kr.remedy_semi_unitary)(Hb, S, Fs, Ab), jax.jit(kr.remedy_exact)(Hb, S, Fs, Ab),
                               atol=1e-10)


def _tpc_cost(X, Q, G):
    return float(jnp.real(jnp.sum(jnp.conj(X) * (Q @ X))) - 2 * jnp.real(jnp.sum(jnp.conj(G) * X)))


_tpc_fast = jax.jit(kr.tpc_lowrank)
_tpc_ref = jax.jit(kr.tpc_quadratic)


@pytest.mark.parametrize("rho", [0.001, 0.25, 0.999])
def test_tpc_lowrank_equals_full_eigh_path(paper, rho):
    sc, _, Hbs = paper
    P = 30 * 2.5
    for H in (Hbs[0], Hbs[3]):
        X, lam, st = _tpc_fast(H, rho, 1 - rho, rho * sc.S, (1 - rho) * sc.X_s, P)
        Q, G = kr.quadratic_sphere_terms(H, sc.S, sc.X_s, rho)
        Xr, lamr, str_ = _tpc_ref(Q, G, P)
        assert int(st) == int(str_) == Status.SUCCESS
        np.testing.assert_allclose(X, Xr, atol=1e-10 * np.sqrt(P))
        np.testing.assert_allclose(lam, lamr, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(float(jnp.sum(jnp.abs(X) ** 2)), P, rtol=1e-12)
        # float32 close to float64 (the low-rank route keeps P_perp G free of cancellation)
        X32, _, st32 = _tpc_fast(*_c64(H), np.float32(rho), np.float32(1 - rho), *_c64(rho * sc.S, (1 - rho) * sc.X_s),
                                 np.float32(P))
        assert X32.dtype == jnp.complex64 and int(st32) == Status.SUCCESS
        np.testing.assert_allclose(X32, X, atol=1e-4 * np.sqrt(P))


def test_tpc_lowrank_hard_case_and_square_channel():
    # hard case: G has no component in the q_min eigenspace (the complement of range(H^H)) and the
    # rest cannot reach the sphere: the remaining norm goes into the complement; same cost as the eigh path
    H = jnp.asarray([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], jnp.complex128)
    SG = 0.01 * jnp.ones((2, 4), jnp.complex128)
    G0 = jnp.zeros((3, 4), jnp.complex128)
    c1, c2 = 0.5, 0.5
    X, lam, st = _tpc_fast(H, c1, c2, SG, G0, 10.0)
    Q = c1 * H.conj().T @ H + c2 * jnp.eye(3)
    G = H.conj().T @ SG + G0
    Xr, lamr, _ = _tpc_ref(Q, G, 10.0)
    assert int(st) == Status.SUCCESS
    np.testing.assert_allclose(float(jnp.sum(jnp.abs(X) ** 2)), 10.0, rtol=1e-12)
    np.testing.assert_allclose(float(lam), float(lamr), atol=1e-12)
    np.testing.assert_allclose(_tpc_cost(X, Q, G), _tpc_cost(Xr, Q, G), rtol=1e-12)
    np.testing.assert_allclose(X[:2], Xr[:2], atol=1e-12)  # the range part is unique
    # K = N: falls back to the eigh of the formed Q
    _, Hb, S, _ = small_instance(1, K=3, N=3, L=5)
    X0 = jnp.ones((3, 5), jnp.complex128)
    Xs, _, _ = _tpc_fast(Hb, 0.3, 0.7, 0.3 * S, 0.7 * X0, 5.0)
    Qs, Gs = jax.jit(kr.quadratic_sphere_terms)(Hb, S, X0, 0.3)
    np.testing.assert_allclose(Xs, _tpc_ref(Qs, Gs, 5.0)[0], atol=1e-12)


def test_worst_case_with_shared_eigendecomposition(paper):
    sc, F, Hbs = paper
    q, V = jnp.linalg.eigh(F @ F.conj().T)
    f = jax.jit(jax.vmap(lambda H, t: kr.worst_case_trs(kr.sc_closed_form(H, sc.S, F), sc.S, H, t)))
    g = jax.jit(jax.vmap(lambda H, t: kr.worst_case_trs(kr.sc_closed_form(H, sc.S, F), sc.S, H, t, eig=(30 * q, V))))
    th = jnp.array([0.0, 0.05, 0.127, 0.2])
    H1, lam1, st1 = f(Hbs, th)
    H2, lam2, st2 = g(Hbs, th)
    assert np.all(np.asarray(st2) == Status.SUCCESS)
    np.testing.assert_allclose(H2, H1, atol=1e-12)
    np.testing.assert_allclose(lam2, lam1, rtol=1e-11)


def test_gram_schmidt_qr_equals_lapack_up_to_column_phases():
    # the kernels' thin QR (twice-applied Gram-Schmidt, no LAPACK call) against jnp.linalg.qr
    rng = np.random.default_rng(5)
    A = jnp.asarray(rng.standard_normal((6, 16, 4)) + 1j * rng.standard_normal((6, 16, 4)))
    A = A.at[0, :, 3].set(A[0, :, 1] + 1e-6 * A[1, :, 3])  # nearly dependent columns
    Q, R = jax.jit(jax.vmap(kr._qr))(A)
    Ql, Rl = jnp.linalg.qr(A)
    eye = np.broadcast_to(np.eye(4), (6, 4, 4))
    np.testing.assert_allclose(jnp.conj(jnp.swapaxes(Q, 1, 2)) @ Q, eye, atol=1e-14)
    np.testing.assert_allclose(Q @ R, A, atol=1e-13)
    np.testing.assert_allclose(np.tril(np.asarray(R), -1), 0.0, atol=1e-13)
    # the same factorisation as LAPACK's: R = D R_lapack, Q = Q_lapack D^H with D a diagonal of phases
    d = np.diagonal(np.asarray(R), axis1=1, axis2=2) / np.diagonal(np.asarray(Rl), axis1=1, axis2=2)
    np.testing.assert_allclose(np.abs(d), 1.0, atol=1e-9)
    np.testing.assert_allclose(R, d[:, :, None] * np.asarray(Rl), atol=1e-12)
    np.testing.assert_allclose(Q, np.asarray(Ql) * np.conj(d)[:, None, :], atol=1e-9)
    # float32 close to float64
    Q32, R32 = jax.jit(jax.vmap(kr._qr))(A.astype(jnp.complex64))
    assert Q32.dtype == jnp.complex64
    np.testing.assert_allclose(Q32[1:], Q[1:], atol=1e-5)
    np.testing.assert_allclose(R32, R, atol=1e-5 * float(jnp.max(jnp.abs(R))))


def test_fused_small_products_equal_matmul():
    rng = np.random.default_rng(6)
    c = lambda *s: jnp.asarray(rng.standard_normal(s) + 1j * rng.standard_normal(s))
    U, V, M, F = c(5, 16, 4), c(5, 4, 30), c(5, 16, 30), c(16, 16)
    np.testing.assert_allclose(jax.vmap(kr._sdot)(U, V), U @ V, atol=1e-12)
    np.testing.assert_allclose(jax.vmap(kr._ctdot)(U, M), jnp.conj(jnp.swapaxes(U, 1, 2)) @ M, atol=1e-12)
    np.testing.assert_allclose(jax.vmap(lambda m: kr._sdot(F, m))(M), F @ M, atol=1e-12)  # shared operand
