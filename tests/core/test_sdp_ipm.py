"""The interior-point algorithm of the SDP solver: CVXPY + Clarabel oracle, agreement with the ADMM,
second-order cones, infeasibility, vmap, float32, envelope gradients, NT scaling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac.core import Status
from jaxisac.core.sdp import SDP, optimal_value, solve_sdp
from jaxisac.core.sdp_ipm import IPMSDP
from jaxisac.kernels import sdp_ipm as k

from .test_sdp import _cvx_soc_ls, _soc_ls_instance, as_sdp, check_kkt, cvxpy_value, random_feasible, stack

IPM = IPMSDP()


@pytest.fixture(scope="module")
def instances():
    rng = np.random.default_rng(10)
    return [random_feasible(rng, ns=(4, 3, 2), m=9, p=3, complex_blocks=(True, False, True)) for _ in range(4)]


@pytest.fixture(scope="module")
def batched(instances):
    sdps = stack([as_sdp(d) for d in instances])
    return sdps, jax.vmap(lambda p: solve_sdp(p, IPM))(sdps)


@pytest.mark.oracle
def test_ipm_matches_cvxpy_and_satisfies_kkt_in_few_iterations(instances, batched):
    sdps, sol = batched
    assert np.all(np.asarray(sol.result) == Status.SUCCESS)
    assert int(np.max(np.asarray(sol.stats["iterations"]))) <= 30
    for i, data in enumerate(instances):
        assert float(sol.objective[i]) == pytest.approx(cvxpy_value(data), rel=1e-6, abs=1e-7)
        one = jax.tree_util.tree_map(lambda x: x[i], sol)
        check_kkt(jax.tree_util.tree_map(lambda x: x[i], sdps), one, atol=1e-8)


def test_vmap_equals_loop_and_float32(instances, batched):
    sdps, sol = batched
    one = solve_sdp(as_sdp(instances[1]), IPM)
    assert int(one.stats["steps"]) == int(sol.stats["steps"][1])
    np.testing.assert_allclose(float(one.objective), float(sol.objective[1]), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(one.value.X[0]), np.asarray(sol.value.X[0][1]), atol=1e-10)
    sdps32 = stack([as_sdp(d, jnp.complex64, jnp.float32) for d in instances])
    sol32 = jax.vmap(lambda p: solve_sdp(p, IPM))(sdps32)
    assert sol32.objective.dtype == jnp.float32
    assert np.all(np.asarray(sol32.result) == Status.SUCCESS)
    np.testing.assert_allclose(np.asarray(sol32.objective), np.asarray(sol.objective), rtol=1e-3)


def test_rank_one_solutions_and_embedding():
    # degenerate optima (rank one, not strictly complementary in general): lambda_min and PhaseLift
    rng = np.random.default_rng(1)
    n = 6
    B = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    C = 0.5 * (B + B.conj().T)
    sdp = SDP(C=(jnp.asarray(C),), A=(jnp.eye(n, dtype=jnp.complex128)[None],), b=jnp.ones(1))
    w, U = np.linalg.eigh(C)
    for solver in (IPM, IPMSDP(embed_above=0)):
        sol = solve_sdp(sdp, solver)
        assert int(sol.result) == Status.SUCCESS
        assert float(sol.objective) == pytest.approx(w[0], abs=1e-8)
        np.testing.assert_allclose(np.asarray(sol.value.X[0]), np.outer(U[:, 0], U[:, 0].conj()), atol=1e-5)
    n, m = 8, 40
    x0 = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    a = (rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))) / np.sqrt(2)
    A = np.einsum("ik,il->ikl", a, a.conj())
    sdp = SDP(C=(jnp.eye(n, dtype=jnp.complex128),), A=(jnp.asarray(A),), b=jnp.asarray(np.abs(a.conj() @ x0) ** 2))
    sol = solve_sdp(sdp, IPM)
    truth = np.outer(x0, x0.conj())
    assert int(sol.result) == Status.SUCCESS
    assert np.linalg.norm(np.asarray(sol.value.X[0]) - truth) <= 1e-5 * np.linalg.norm(truth)


@pytest.mark.oracle
def test_second_order_cones_match_cvxpy():
    rng = np.random.default_rng(8)
    sdps, refs = zip(*[_soc_ls_instance(rng, 4, 5, True) for _ in range(3)])
    sol = jax.vmap(lambda p: solve_sdp(p, IPM))(stack(sdps))
    assert np.all(np.asarray(sol.result) == Status.SUCCESS)
    for i, ref in enumerate(refs):
        val, Xref = _cvx_soc_ls(*ref)
        assert float(sol.objective[i]) == pytest.approx(val, rel=1e-6, abs=1e-7)
        np.testing.assert_allclose(np.asarray(sol.value.X[0][i]), Xref, atol=1e-4)  # as the ADMM test: X is flat
        u = np.asarray(sol.value.u[0][i])
        assert u[0] + u[1] == pytest.approx(np.sum(u[2:] ** 2), rel=1e-6, abs=1e-8)


def test_nt_scaling_maps_both_points_to_the_same_scaled_point():
    rng = np.random.default_rng(4)
    for _ in range(10):
        x, z = rng.standard_normal(5), rng.standard_normal(5)
        x[0] = np.linalg.norm(x[1:]) + rng.random()
        z[0] = np.linalg.norm(z[1:]) + rng.random()
        W, Winv, lam = (np.asarray(a) for a in k.nt_scaling(jnp.asarray(x), jnp.asarray(z)))
        np.testing.assert_allclose(W @ x, lam, atol=1e-12)
        np.testing.assert_allclose(Winv @ z, lam, atol=1e-12)
        np.testing.assert_allclose(W @ Winv, np.eye(5), atol=1e-12)
        assert lam[0] > np.linalg.norm(lam[1:])


def test_infeasible_unbounded_and_envelope_gradient(instances):
    n = 3
    eye = jnp.eye(n)[None]
    cases = {
        "primal": SDP(C=(jnp.eye(n),), A=(eye,), b=-jnp.ones(1)),
        "unbounded": SDP(C=(-jnp.eye(n),), A=(jnp.zeros((1, n, n)).at[0, 0, 0].set(1.0),), b=jnp.ones(1)),
    }
    for name, sdp in cases.items():
        sol = solve_sdp(sdp, IPM)
        assert int(sol.result) == Status.INFEASIBLE, name
        assert int(sol.stats["certificate"]) == (2 if name == "unbounded" else 1), name
        assert all(np.all(np.isfinite(np.asarray(leaf))) for leaf in jax.tree_util.tree_leaves(sol.value)), name
    ok = solve_sdp(SDP(C=(jnp.eye(n),), A=(eye,), b=jnp.ones(1)), IPM)
    assert int(ok.result) == Status.SUCCESS and float(ok.objective) == pytest.approx(1.0, rel=1e-8)
    # envelope derivative of the optimal value (shared with the ADMM): dp*/db = y, against differences
    sdp = as_sdp(instances[2])
    f = lambda b: optimal_value(SDP(C=sdp.C, A=sdp.A, b=b, c=sdp.c, G=sdp.G), IPM)  # noqa: E731
    g = np.asarray(jax.grad(f)(sdp.b))
    e = np.zeros(sdp.b.shape[0])
    e[3] = 1e-3
    fd = (float(f(sdp.b + e)) - float(f(sdp.b - e))) / 2e-3
    assert g[3] == pytest.approx(fd, rel=1e-4, abs=1e-6)
    with pytest.raises(ValueError, match="step_fraction"):
        IPMSDP(step_fraction=1.5)


def test_lapack_eigenvalues_match_numpy_in_both_precisions_and_under_vmap():
    rng = np.random.default_rng(3)
    for cplx in (False, True):
        B = rng.standard_normal((5, 7, 7)) + (1j * rng.standard_normal((5, 7, 7)) if cplx else 0.0)
        H = B + np.conj(np.swapaxes(B, -1, -2))
        ref = np.linalg.eigvalsh(H)
        for dt, tol in ((jnp.complex128 if cplx else jnp.float64, 1e-12), (jnp.complex64 if cplx else jnp.float32, 1e-4)):
            w = np.asarray(k.eigvalsh(jnp.asarray(H, dt)))
            assert w.dtype == (np.float64 if tol < 1e-6 else np.float32)
            np.testing.assert_allclose(w, ref, atol=tol * np.max(np.abs(ref)))
            wv = np.asarray(jax.vmap(k.eigvalsh)(jnp.asarray(H, dt)))
            np.testing.assert_allclose(wv, w, atol=tol * np.max(np.abs(ref)))


@pytest.mark.oracle
def test_stacked_blocks_of_equal_size_match_cvxpy():
    # three complex 3x3 blocks (one stacked group) and a real 2x2 block
    rng = np.random.default_rng(21)
    data = [random_feasible(rng, ns=(3, 2, 3, 3), m=7, p=2, complex_blocks=(True, False, True, True)) for _ in range(2)]
    sdps = stack([as_sdp(d) for d in data])
    assert [g for g, _ in k.psd_groups(sdps.layout)] == [(3, True), (2, False)]
    sol = jax.vmap(lambda p: solve_sdp(p, IPM))(sdps)
    assert np.all(np.asarray(sol.result) == Status.SUCCESS)
    for i, d in enumerate(data):
        assert float(sol.objective[i]) == pytest.approx(cvxpy_value(d), rel=1e-6, abs=1e-7)
        check_kkt(jax.tree_util.tree_map(lambda x: x[i], sdps), jax.tree_util.tree_map(lambda x: x[i], sol), atol=1e-8)


def test_two_cones_of_equal_size_equal_one_cone():
    # rho ||A(X) - b||^2 as one square-norm cone, and split in two halves as two cones of one size
    # (one stacked group): the same optimum
    from jaxisac.core.sdp import soc_square_epigraph

    rng = np.random.default_rng(5)
    n, m = 3, 4
    sdp1, (A, C, bvec, rho) = _soc_ls_instance(rng, n, m, True)
    rows = np.concatenate([A, np.eye(n)[None], np.zeros((2, n, n))]).astype(A.dtype)
    rhs = np.concatenate([bvec, [1.0, 1.0, 1.0]])
    dco = np.concatenate([-np.eye(m), np.zeros((3, m))])
    Q1, q1 = soc_square_epigraph(dco[:, : m // 2], m + 1, m + 3, weight=rho)
    Q2, q2 = soc_square_epigraph(dco[:, m // 2:], m + 2, m + 3, weight=rho)
    sdp2 = SDP(C=(jnp.asarray(C),), A=(jnp.asarray(rows),), b=jnp.asarray(rhs), Q=(Q1, Q2), q=(q1, q2))
    assert k.soc_groups(sdp2.layout) == ((2 + m // 2, (0, 1)),)
    s1, s2 = solve_sdp(sdp1, IPM), solve_sdp(sdp2, IPM)
    assert int(s1.result) == Status.SUCCESS and int(s2.result) == Status.SUCCESS
    assert float(s2.objective) == pytest.approx(float(s1.objective), rel=1e-7, abs=1e-9)
    np.testing.assert_allclose(np.asarray(s2.value.X[0]), np.asarray(s1.value.X[0]), atol=1e-4)  # X is flat here


def test_low_rank_schur_on_stacked_blocks_follows_the_dense_iterates():
    # two complex blocks of one size with rank-one rows (plus the dense trace row): the rank-one Schur
    # complement is exact, so low_rank=1 takes the dense path's iterations and reaches its optimum
    rng = np.random.default_rng(7)
    n, T = 5, 14
    a1 = rng.standard_normal((T, n)) + 1j * rng.standard_normal((T, n))
    a2 = rng.standard_normal((T, n)) + 1j * rng.standard_normal((T, n))
    x1, x2 = rng.standard_normal(n) + 1j * rng.standard_normal(n), rng.standard_normal(n) + 1j * rng.standard_normal(n)
    A1 = np.concatenate([np.einsum("ik,il->ikl", a1, a1.conj()), np.eye(n)[None]])
    A2 = np.concatenate([np.einsum("ik,il->ikl", a2, a2.conj()), np.eye(n)[None]])
    X1, X2 = np.outer(x1, x1.conj()) + 0.1 * np.eye(n), np.outer(x2, x2.conj()) + 0.1 * np.eye(n)  # strictly feasible
    b = np.real(np.einsum("ikl,kl->i", A1.conj(), X1) + np.einsum("ikl,kl->i", A2.conj(), X2))
    eye = jnp.eye(n, dtype=jnp.complex128)
    sdp = SDP(C=(eye, 2.0 * eye), A=(jnp.asarray(A1), jnp.asarray(A2)), b=jnp.asarray(b))
    dense, lr = solve_sdp(sdp, IPMSDP()), solve_sdp(sdp, IPMSDP(low_rank=1))
    assert int(dense.result) == Status.SUCCESS and int(lr.result) == Status.SUCCESS
    assert int(lr.stats["iterations"]) == int(dense.stats["iterations"])
    assert float(lr.objective) == pytest.approx(float(dense.objective), rel=1e-8)


def test_grouped_constraint_products_equal_the_vectorised_map():
    # blocks of two sizes and kinds, not adjacent in the layout, and cones of two sizes: the grouped
    # real matrix of prepare_rows gives M x, M^T y and the rank-one path's Re tr(A_j[i] P_j) exactly
    from jaxisac.kernels.sdp import pack

    rng = np.random.default_rng(3)
    m, layout = 5, (((3, True), (2, False), (3, True)), 2, (3, 4, 3))

    def herm(n, cplx, *lead):
        H = rng.standard_normal(lead + (n, n)) + (1j * rng.standard_normal(lead + (n, n)) if cplx else 0)
        return H + np.conj(np.swapaxes(H, -1, -2))

    def vec(*lead):
        blocks = tuple(jnp.asarray(herm(n, c, *lead)) for n, c in layout[0])
        cones = tuple(jnp.asarray(rng.standard_normal(lead + (q,))) for q in layout[2])
        return pack(blocks, jnp.asarray(rng.standard_normal(lead + (layout[1],))), layout, cones)

    M, x, y = vec(m), vec(), jnp.asarray(rng.standard_normal(m))
    rows = k.prepare_rows(*k.split_rows(M, layout), layout, low_rank=1)
    pg, qg = k.psd_groups(layout), k.soc_groups(layout)
    assert rows[4] is not None  # the groups permute the columns: a grouped copy of M
    ordered = (((3, True), (3, True), (2, False)), 2, (3, 3, 4))  # grouped order = layout order: M serves
    assert k._layout_order(ordered) and not k._layout_order(layout)
    Mg = k._grouped_matrix(rows, M)
    Xb, s, ub = k.cone_parts(x, layout)
    np.testing.assert_allclose(k._apply(rows, Mg, k._grouped(Xb, pg), s, k._grouped(ub, qg)), M @ x, rtol=1e-12)
    Ab, As, Au = k.cone_parts(M.T @ y, layout)
    want = (k._grouped(Ab, pg), As, k._grouped(Au, qg))
    for a, b in zip(jax.tree_util.tree_leaves(k._adjoint(rows, Mg, y)), jax.tree_util.tree_leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for g, A in enumerate(rows[0]):
        shape = A.shape[:1] + (2,) + A.shape[2:]  # (k, r = 2, n, n), not Hermitian
        P = jnp.asarray(rng.standard_normal(shape) + (1j if jnp.iscomplexobj(A) else 0) * rng.standard_normal(shape))
        want = jnp.einsum("jiab,jrba->jri", A, P).real
        np.testing.assert_allclose(k._group_rows_dot(rows, Mg, g, P), want, rtol=1e-11, atol=1e-12)
