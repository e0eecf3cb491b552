"""The batched SDP solver: oracle (CVXPY + Clarabel), known optima, vmap, float32, bad input, infeasibility."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac.core import Status
from jaxisac.core.sdp import ADMMSDP, SDP, SDPValue, optimal_value, solve_sdp

TIGHT = ADMMSDP(tol=1e-9, max_steps=3000)


def random_feasible(rng, ns=(4, 3), m=8, p=2, complex_blocks=(True, False)):
    """A random SDP with a strictly feasible primal (X0 PD, s0 > 0) and dual (Z0 PD, z0 > 0)."""
    As, Cs, b = [], [], np.zeros(m)
    y0 = rng.standard_normal(m)
    for n, cplx in zip(ns, complex_blocks):
        def draw(*shape):
            return rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if cplx else 0.0)
        A = draw(m, n, n)
        A = 0.5 * (A + np.conj(np.swapaxes(A, -1, -2)))
        B, R = draw(n, n), draw(n, n)
        X0, Z0 = B @ B.conj().T, R @ R.conj().T / n
        Cs.append(np.einsum("i,ikl->kl", y0, A) + Z0)
        As.append(A)
        b += np.real(np.einsum("ikl,kl->i", A.conj(), X0))
    G = rng.standard_normal((m, p))
    b += G @ rng.random(p)
    c = G.T @ y0 + rng.random(p)
    return Cs, As, b, c, G


def as_sdp(data, cdt=jnp.complex128, rdt=jnp.float64):
    Cs, As, b, c, G = data
    cast = lambda x: jnp.asarray(x, cdt if np.iscomplexobj(x) else rdt)  # noqa: E731
    return SDP(C=tuple(map(cast, Cs)), A=tuple(map(cast, As)), b=cast(b), c=cast(c), G=cast(G))


def stack(sdps):
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *sdps)


def check_kkt(sdp, sol, atol):
    """Primal feasibility, PSD-ness, s >= 0 and the dual slack, all in the original data."""
    X, s, y = sol.value.X, np.asarray(sol.value.s), np.asarray(sol.value.y)
    Ax = sum(np.real(np.einsum("ikl,kl->i", np.conj(np.asarray(A)), np.asarray(Xj))) for A, Xj in zip(sdp.A, X))
    Ax = Ax + np.asarray(sdp.G) @ s
    b = np.asarray(sdp.b)
    assert np.linalg.norm(Ax - b) <= atol * (1 + np.linalg.norm(b))
    for Xj, Zj in zip(X, sol.value.Z):
        for W in (np.asarray(Xj), np.asarray(Zj)):
            assert np.allclose(W, W.conj().T)
            assert np.linalg.eigvalsh(W).min() >= -atol * max(1.0, np.abs(W).max())
    assert s.min() >= -atol
    # dual slack Z = C - A^* y and complementarity
    for C, A, Zj, Xj in zip(sdp.C, sdp.A, sol.value.Z, X):
        Aherm = 0.5 * (np.asarray(A) + np.conj(np.swapaxes(np.asarray(A), -1, -2)))
        Zref = np.asarray(C) - np.einsum("i,ikl->kl", y, Aherm)
        assert np.linalg.norm(Zref - np.asarray(Zj)) <= 10 * atol * (1 + np.linalg.norm(np.asarray(C)))
    gap = abs(float(sol.objective) - float(sol.stats["dual_objective"]))
    assert gap <= 10 * atol * (1 + abs(float(sol.objective)))


def cvxpy_value(data):
    cp = pytest.importorskip("cvxpy")
    Cs, As, b, c, G = data
    Xs = [
        cp.Variable(C.shape, hermitian=True) if np.iscomplexobj(C) else cp.Variable(C.shape, symmetric=True)
        for C in Cs
    ]
    s = cp.Variable(len(c))
    cons = [X >> 0 for X in Xs] + [s >= 0]
    for i in range(len(b)):
        cons.append(sum(cp.real(cp.trace(A[i].conj().T @ X)) for A, X in zip(As, Xs)) + G[i] @ s == b[i])
    obj = sum(cp.real(cp.trace(C.conj().T @ X)) for C, X in zip(Cs, Xs)) + c @ s
    prob = cp.Problem(cp.Minimize(obj), cons)
    prob.solve(solver="CLARABEL")
    # CVXPY lifts Hermitian variables to real 2n x 2n blocks; Clarabel then often reports
    # "optimal_inaccurate" while agreeing with itself at tighter settings and with SCS (eps 1e-10) to 1e-7.
    assert prob.status in ("optimal", "optimal_inaccurate")
    return prob.value


@pytest.fixture(scope="module")
def instances():
    rng = np.random.default_rng(0)
    return [random_feasible(rng) for _ in range(4)]


@pytest.fixture(scope="module")
def batched64(instances):
    sdps = stack([as_sdp(d) for d in instances])
    return sdps, jax.vmap(lambda p: solve_sdp(p, TIGHT))(sdps)


@pytest.mark.oracle
def test_against_cvxpy_clarabel(instances, batched64):
    sdps, sol = batched64
    assert np.all(np.asarray(sol.result) == Status.SUCCESS)
    for i, data in enumerate(instances):
        ref = cvxpy_value(data)
        assert float(sol.objective[i]) == pytest.approx(ref, rel=1e-5, abs=1e-6)
        one = jax.tree_util.tree_map(lambda x: x[i], sol)
        check_kkt(jax.tree_util.tree_map(lambda x: x[i], sdps), one, atol=1e-7)


def test_vmap_equals_loop(instances, batched64):
    sdps, sol = batched64
    for i, data in enumerate(instances[:2]):
        one = solve_sdp(as_sdp(data), TIGHT)
        assert int(one.stats["steps"]) == int(sol.stats["steps"][i])
        np.testing.assert_allclose(float(one.objective), float(sol.objective[i]), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(one.value.X[0]), np.asarray(sol.value.X[0][i]), atol=1e-10)


def test_float32_close_to_float64(instances, batched64):
    _, sol64 = batched64
    sdps32 = stack([as_sdp(d, jnp.complex64, jnp.float32) for d in instances])
    sol32 = jax.vmap(lambda p: solve_sdp(p, ADMMSDP(tol=1e-5, max_steps=2000)))(sdps32)
    assert sol32.objective.dtype == jnp.float32 and sol32.value.X[0].dtype == jnp.complex64
    assert np.all(np.asarray(sol32.result) == Status.SUCCESS)
    np.testing.assert_allclose(np.asarray(sol32.objective), np.asarray(sol64.objective), rtol=1e-3)


def test_trace_constrained_min_is_smallest_eigenvalue():
    rng = np.random.default_rng(1)
    n = 6
    B = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    C = 0.5 * (B + B.conj().T)
    sdp = SDP(C=(jnp.asarray(C),), A=(jnp.eye(n, dtype=jnp.complex128)[None],), b=jnp.ones(1))
    sol = solve_sdp(sdp, TIGHT)
    w, U = np.linalg.eigh(C)
    assert int(sol.result) == Status.SUCCESS
    assert float(sol.objective) == pytest.approx(w[0], abs=1e-7)
    # the minimiser is the projector on the bottom eigenvector; y = lambda_min
    np.testing.assert_allclose(np.asarray(sol.value.X[0]), np.outer(U[:, 0], U[:, 0].conj()), atol=1e-6)
    assert float(sol.value.y[0]) == pytest.approx(w[0], abs=1e-7)
    # the real 2n x 2n embedding used for larger complex blocks gives the same answer
    embedded = solve_sdp(sdp, ADMMSDP(tol=1e-9, max_steps=3000, embed_above=0))
    assert int(embedded.result) == Status.SUCCESS
    np.testing.assert_allclose(np.asarray(embedded.value.X[0]), np.asarray(sol.value.X[0]), atol=1e-6)
    # envelope-theorem gradient of the optimal value: d lambda_min / dC = u u^H
    g = jax.grad(lambda Cm: optimal_value(SDP(C=(Cm,), A=sdp.A, b=sdp.b), TIGHT))(jnp.asarray(C))
    np.testing.assert_allclose(np.conj(np.asarray(g)), np.outer(U[:, 0], U[:, 0].conj()), atol=1e-6)


def test_phaselift_recovers_rank_one():
    rng = np.random.default_rng(2)
    n, m = 8, 40  # m < n^2: the equalities alone do not determine X
    x0 = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    a = (rng.standard_normal((m, n)) + 1j * rng.standard_normal((m, n))) / np.sqrt(2)
    A = np.einsum("ik,il->ikl", a, a.conj())  # Re<a a^H, X> = a^H X a
    b = np.abs(a.conj() @ x0) ** 2
    sdp = SDP(C=(jnp.eye(n, dtype=jnp.complex128),), A=(jnp.asarray(A),), b=jnp.asarray(b))
    sol = solve_sdp(sdp, TIGHT)
    assert int(sol.result) == Status.SUCCESS
    X = np.asarray(sol.value.X[0])
    truth = np.outer(x0, x0.conj())
    assert np.linalg.norm(X - truth) <= 1e-5 * np.linalg.norm(truth)
    assert float(sol.objective) == pytest.approx(np.linalg.norm(x0) ** 2, rel=1e-7)


def test_warm_start_from_solution_stops_at_once(instances):
    sdp = as_sdp(instances[0])
    sol = solve_sdp(sdp, TIGHT)
    again = solve_sdp(sdp, TIGHT, init=sol.value)
    assert int(again.result) == Status.SUCCESS and int(again.stats["steps"]) == 0
    assert float(again.objective) == pytest.approx(float(sol.objective), rel=1e-10)


def test_optimal_value_gradient_in_b_matches_finite_differences(instances):
    sdp = as_sdp(instances[1])
    f = lambda b: optimal_value(SDP(C=sdp.C, A=sdp.A, b=b, c=sdp.c, G=sdp.G), TIGHT)  # noqa: E731
    g = np.asarray(jax.grad(f)(sdp.b))
    sol = solve_sdp(sdp, TIGHT)
    np.testing.assert_allclose(g, np.asarray(sol.value.y))  # dp*/db = y
    e = np.zeros(sdp.b.shape[0])
    e[0] = 1e-4
    fd = (float(f(sdp.b + e)) - float(f(sdp.b - e))) / 2e-4
    assert g[0] == pytest.approx(fd, rel=1e-4, abs=1e-6)


def test_anderson_acceleration_same_solution_fewer_iterations(instances, batched64):
    # Anderson-accelerated ADMM ends at the same primal-dual solution (KKT checked in the original
    # data; the plain solver is certified against CVXPY above) in fewer ADMM iterations.
    sdps, plain = batched64
    sol = jax.vmap(lambda p: solve_sdp(p, ADMMSDP(tol=1e-9, max_steps=3000, anderson=10)))(sdps)
    assert np.all(np.asarray(sol.result) == Status.SUCCESS)
    np.testing.assert_allclose(np.asarray(sol.objective), np.asarray(plain.objective), rtol=1e-7, atol=1e-8)
    for i in range(len(instances)):
        one = jax.tree_util.tree_map(lambda x: x[i], sol)
        check_kkt(jax.tree_util.tree_map(lambda x: x[i], sdps), one, atol=1e-7)
    n_aa, n_plain = np.asarray(sol.stats["iterations"]), np.asarray(plain.stats["iterations"])
    assert n_aa.sum() <= 0.7 * n_plain.sum(), (n_aa, n_plain)
    # infeasibility certificates still fire
    n = 3
    infeasible = SDP(C=(jnp.eye(n),), A=(jnp.eye(n)[None],), b=-jnp.ones(1))
    bad = solve_sdp(infeasible, ADMMSDP(max_steps=500, anderson=10))
    assert int(bad.result) == Status.INFEASIBLE and int(bad.stats["certificate"]) == 1
    with pytest.raises(ValueError, match="anderson"):
        ADMMSDP(anderson=-1)


def test_infeasible_and_unbounded_instances_report_status_without_nan():
    n = 3
    eye = jnp.eye(n)[None]
    cases = {
        # tr X = -1 with X PSD: primal infeasible
        "primal": SDP(C=(jnp.eye(n),), A=(eye,), b=-jnp.ones(1)),
        # inconsistent equalities: tr X = 1 and tr X = 2
        "inconsistent": SDP(C=(jnp.eye(n),), A=(jnp.concatenate([eye, eye]),), b=jnp.array([1.0, 2.0])),
        # min -tr X s.t. X_00 = 1: unbounded (dual infeasible)
        "unbounded": SDP(C=(-jnp.eye(n),), A=(jnp.zeros((1, n, n)).at[0, 0, 0].set(1.0),), b=jnp.ones(1)),
    }
    for name, sdp in cases.items():
        sol = solve_sdp(sdp, ADMMSDP(max_steps=500))
        assert int(sol.result) == Status.INFEASIBLE, name
        assert int(sol.stats["certificate"]) == (2 if name == "unbounded" else 1), name
        assert all(np.all(np.isfinite(np.asarray(leaf))) for leaf in jax.tree_util.tree_leaves(sol.value)), name
    # a feasible sibling is not flagged
    ok = solve_sdp(SDP(C=(jnp.eye(n),), A=(eye,), b=jnp.ones(1)), ADMMSDP())
    assert int(ok.result) == Status.SUCCESS and float(ok.objective) == pytest.approx(1.0, rel=1e-5)


def test_bad_inputs_name_the_argument():
    n, m = 3, 2
    C, A, b = jnp.eye(n), jnp.zeros((m, n, n)), jnp.ones(m)
    with pytest.raises(ValueError, match=r"C\[0\]"):
        SDP(C=(jnp.arange(9.0).reshape(3, 3),), A=(A,), b=b)  # not Hermitian
    with pytest.raises(ValueError, match=r"A\[0\]"):
        SDP(C=(C,), A=(jnp.zeros((m + 1, n, n)),), b=b)
    with pytest.raises(ValueError, match="A:"):
        SDP(C=(C, C), A=(A,), b=b)
    with pytest.raises(ValueError, match="b"):
        SDP(C=(C,), A=(A,), b=jnp.array([1.0, jnp.nan]))
    with pytest.raises(ValueError, match="b"):
        SDP(C=(C,), A=(A,), b=jnp.ones(m) * 1j)
    with pytest.raises(ValueError, match="G"):
        SDP(C=(C,), A=(A,), b=b, c=jnp.ones(2), G=jnp.ones((m, 3)))
    with pytest.raises(ValueError, match="c"):
        SDP(C=(C,), A=(A,), b=b, c=jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="alpha"):
        ADMMSDP(alpha=2.0)
    with pytest.raises(ValueError, match="sdp"):
        solve_sdp("not an sdp")


def _soc_ls_instance(rng, n, m, cplx):
    """min Re<C, X> + rho ||A(X) - b||^2  s.t. tr X = 1, X PSD, in SOC epigraph form."""
    from jaxisac.core.sdp import soc_square_epigraph

    def draw(*shape):
        return rng.standard_normal(shape) + (1j * rng.standard_normal(shape) if cplx else 0.0)

    A = draw(m, n, n)
    A = 0.5 * (A + np.conj(np.swapaxes(A, -1, -2)))
    C = draw(n, n)
    C = 0.5 * (C + C.conj().T)
    bvec = rng.standard_normal(m)
    rho = 0.7
    # rows 0..m-1: Re<A_i, X> - d_i = b_i; row m: tr X = 1; row m+1: a - b = 1
    rows = np.concatenate([A, np.eye(n)[None], np.zeros((1, n, n))]).astype(A.dtype)
    rhs = np.concatenate([bvec, [1.0, 1.0]])
    dco = np.concatenate([-np.eye(m), np.zeros((2, m))])
    Q, q = soc_square_epigraph(dco, m + 1, m + 2, weight=rho)
    dt = jnp.complex128 if cplx else jnp.float64
    sdp = SDP(C=(jnp.asarray(C, dt),), A=(jnp.asarray(rows, dt),), b=jnp.asarray(rhs), Q=(Q,), q=(q,))
    return sdp, (A, C, bvec, rho)


def _cvx_soc_ls(A, C, bvec, rho):
    cp = pytest.importorskip("cvxpy")
    n = C.shape[0]
    cplx = np.iscomplexobj(C)
    X = cp.Variable((n, n), hermitian=True) if cplx else cp.Variable((n, n), symmetric=True)
    re = cp.real if cplx else (lambda e: e)  # noqa: E731
    AX = cp.hstack([re(cp.trace(Ai.conj().T @ X)) for Ai in A])
    obj = re(cp.trace(C.conj().T @ X)) + rho * cp.sum_squares(AX - bvec)
    prob = cp.Problem(cp.Minimize(obj), [X >> 0, re(cp.trace(X)) == 1])
    prob.solve(solver="CLARABEL")
    assert prob.status in ("optimal", "optimal_inaccurate")
    return prob.value, X.value


@pytest.mark.oracle
@pytest.mark.parametrize("cplx", [True, pytest.param(False, marks=pytest.mark.slow)])
def test_second_order_cone_block_matches_cvxpy(cplx):
    rng = np.random.default_rng(7 + cplx)
    sdps, refs = zip(*[_soc_ls_instance(rng, 4, 5, cplx) for _ in range(3)])
    batch = stack(sdps)
    sol = jax.vmap(lambda p: solve_sdp(p, TIGHT))(batch)
    assert np.all(np.asarray(sol.result) == Status.SUCCESS)
    for i, (sdp, ref) in enumerate(zip(sdps, refs)):
        val, Xref = _cvx_soc_ls(*ref)
        assert float(sol.objective[i]) == pytest.approx(val, rel=1e-5, abs=1e-6)
        np.testing.assert_allclose(np.asarray(sol.value.X[0][i]), Xref, atol=1e-4)
        u = np.asarray(sol.value.u[0][i])
        w = np.asarray(sol.value.w[0][i])
        # primal and dual cone membership; the epigraph is tight: a + b = ||d||^2
        assert u[0] >= np.linalg.norm(u[1:]) - 1e-8 and w[0] >= np.linalg.norm(w[1:]) - 1e-8
        assert u[0] + u[1] == pytest.approx(np.sum(u[2:] ** 2), rel=1e-5, abs=1e-7)
        np.testing.assert_allclose(w, np.asarray(sdp.q[0]) - np.asarray(sdp.Q[0]).T @ np.asarray(sol.value.y[i]),
                                   atol=1e-6)
    # vmap equals a loop
    one = solve_sdp(sdps[0], TIGHT)
    np.testing.assert_allclose(float(one.objective), float(sol.objective[0]), rtol=1e-12)


@pytest.mark.slow
def test_second_order_cone_warm_start_and_envelope_gradient():
    sdps = [_soc_ls_instance(np.random.default_rng(9), 4, 5, False)[0]]
    one = solve_sdp(sdps[0], TIGHT)
    again = solve_sdp(sdps[0], TIGHT, init=one.value)
    assert int(again.stats["steps"]) == 0
    f = lambda rho: optimal_value(SDP(C=sdps[0].C, A=sdps[0].A, b=sdps[0].b, Q=sdps[0].Q,  # noqa: E731
                                      q=(jnp.zeros(7).at[:2].set(rho),)), TIGHT)
    u = np.asarray(one.value.u[0])
    assert float(jax.grad(f)(0.7)) == pytest.approx(u[0] + u[1], rel=1e-6)


def test_second_order_cone_projection_and_bad_inputs():
    from jaxisac.kernels import sdp as k

    rng = np.random.default_rng(3)
    for _ in range(20):
        u = rng.standard_normal(5)
        pu = np.asarray(k.project_soc(jnp.asarray(u)))
        assert pu[0] >= np.linalg.norm(pu[1:]) - 1e-12
        # optimality of the projection: <u - Pu, c - Pu> <= 0 for cone points c
        for _ in range(5):
            c = rng.standard_normal(5)
            c[0] = np.linalg.norm(c[1:]) + abs(c[0])
            assert np.dot(u - pu, c - pu) <= 1e-10
    n, m = 3, 2
    C, A, b = jnp.eye(n), jnp.zeros((m, n, n)), jnp.ones(m)
    with pytest.raises(ValueError, match=r"Q\[0\]"):
        SDP(C=(C,), A=(A,), b=b, Q=(jnp.ones((m + 1, 3)),))
    with pytest.raises(ValueError, match=r"q\[0\]"):
        SDP(C=(C,), A=(A,), b=b, Q=(jnp.ones((m, 3)),), q=(jnp.ones(2),))
    with pytest.raises(ValueError, match="q:"):
        SDP(C=(C,), A=(A,), b=b, Q=(jnp.ones((m, 3)),), q=())
