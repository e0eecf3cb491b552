"""Worst-case channel: TRS vs Prop. 5 vs an S-lemma SDP oracle, hard case, implicit gradients,
vmap == loop, float32 (spec targets 2, 3)."""

import cvxpy as cp
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac import robust as rb
from jaxisac.core import Status, ascent_grad
from jaxisac.kernels import robust as kr

from .helpers import paper_scenario, small_instance

THETAS = (0.01, 0.05, 0.127, 0.2, 1.0)


@pytest.fixture(scope="module")
def paper():
    sc = paper_scenario(0)
    Xbar = rb.sensing_centric_waveform(sc.H_nominal, sc.S, sc.R)
    return sc, Xbar


def test_trs_equals_prop5_active_and_monotone(paper):
    sc, X = paper
    trs = jax.jit(jax.vmap(lambda t: rb.worst_case(X, sc.S, sc.H_nominal, t)))(jnp.array(THETAS))
    pap = jax.jit(jax.vmap(lambda t: rb.worst_case(X, sc.S, sc.H_nominal, t, method="paper")))(jnp.array(THETAS))
    assert np.all(np.asarray(trs.status) == Status.SUCCESS) and np.all(np.asarray(pap.status) == Status.SUCCESS)
    np.testing.assert_allclose(pap.H, trs.H, atol=1e-8)
    np.testing.assert_allclose(pap.value, trs.value, rtol=1e-10)
    radii = np.linalg.norm(np.asarray(trs.H) - np.asarray(sc.H_nominal), axis=(1, 2))
    np.testing.assert_allclose(radii, THETAS, rtol=1e-10)
    assert int(jnp.max(pap.steps)) <= 30
    # Prop. 5 objective trace is non-decreasing
    for t in (0.05, 1.0):
        _, k, conv, trace = kr.worst_case_prop5(X, sc.S, sc.H_nominal, t)
        tr = np.asarray(trace)[: int(k) + 1]
        assert bool(conv) and np.all(np.diff(tr) >= -1e-10 * tr[-1])
    # the worst case beats random points of the sphere
    rng = np.random.default_rng(0)
    D = rng.standard_normal((500,) + sc.H_nominal.shape) + 1j * rng.standard_normal((500,) + sc.H_nominal.shape)
    D *= 0.127 / np.linalg.norm(D, axis=(1, 2), keepdims=True)
    vals = np.sum(np.abs((np.asarray(sc.H_nominal) + D) @ np.asarray(X) - np.asarray(sc.S)) ** 2, axis=(1, 2))
    assert vals.max() <= float(trs.value[2])


def _real_form(X, S, Hbar):
    """C, s of the real form (41): ||H X - S||^2 = ||C h - s||^2, h = [Re vec H; Im vec H] (column-major)."""
    X, S, Hbar = map(np.asarray, (X, S, Hbar))
    K, N = Hbar.shape
    Xi = np.kron(X.T, np.eye(K))  # vec(H X) = (X^T kron I_K) vec H
    C = np.block([[Xi.real, -Xi.imag], [Xi.imag, Xi.real]])
    vs = S.reshape(-1, order="F")
    s = np.concatenate([vs.real, vs.imag])
    vh = Hbar.reshape(-1, order="F")
    return C, s, np.concatenate([vh.real, vh.imag])


def test_prop6_y_step_is_degenerate():
    _, Hb, S, R = small_instance(5)
    X = rb.sensing_centric_waveform(Hb, S, R)
    C, s, hbar = _real_form(X, S, Hb)
    CtC = C.T @ C
    M = np.linalg.cholesky(CtC).T  # upper, M^T M = C^T C
    Minv_T = np.linalg.inv(M.T)
    h = hbar + 0.05 * np.random.default_rng(0).standard_normal(hbar.shape)
    for _ in range(5):
        g = CtC @ h - C.T @ s
        gamma = np.sqrt(np.sum((C @ h - s) ** 2) + s @ C @ np.linalg.solve(CtC, C.T @ s) - s @ s)
        v = Minv_T @ g
        y = np.linalg.solve(M, gamma * v / np.linalg.norm(v) + Minv_T @ (C.T @ s))
        assert np.linalg.norm(y - h) / np.linalg.norm(h) <= 1e-12
        gy = CtC @ y - C.T @ s
        h = hbar + 0.05 * gy / np.linalg.norm(gy)  # Prop. 7


def _sdp_oracle(X, S, Hbar, theta):
    C, s, hbar = _real_form(X, S, Hbar)
    # maximise ||C(hbar + d) - s||^2 s.t. ||d|| <= theta: S-lemma SDP (tight)
    e = C @ hbar - s
    A, b, c = C.T @ C, C.T @ e, e @ e
    n = A.shape[0]
    Mq = np.block([[A, b[:, None]], [b[None, :], np.array([[c]])]])
    Z = cp.Variable((n + 1, n + 1), symmetric=True)
    cons = [Z >> 0, Z[n, n] == 1, cp.trace(Z[:n, :n]) <= theta**2]
    prob = cp.Problem(cp.Maximize(cp.trace(Mq @ Z)), cons)
    prob.solve(solver=cp.CLARABEL)
    return prob.value


@pytest.mark.oracle
def test_trs_matches_s_lemma_sdp_including_hard_case():
    _, Hb, S, R = small_instance(6, K=2, N=3, L=4)
    X = rb.sensing_centric_waveform(Hb, S, R)
    for theta in (0.05, 0.5):
        wc = rb.worst_case(X, S, Hb, theta)
        np.testing.assert_allclose(float(wc.value), _sdp_oracle(X, S, Hb, theta), rtol=1e-6)
    # hard case: E X^H v_max = 0 with B != 0
    Xn = np.asarray(X)
    q, V = np.linalg.eigh(Xn @ Xn.conj().T)
    u = Xn.conj().T @ V[:, -1]
    E0 = np.random.default_rng(1).standard_normal(S.shape) + 1j * np.random.default_rng(2).standard_normal(S.shape)
    E = 0.01 * (E0 - np.outer(E0 @ u, u.conj()) / (u.conj() @ u))
    S_h = jnp.asarray(np.asarray(Hb) @ Xn - E)
    B = E @ Xn.conj().T
    assert np.linalg.norm(B @ V[:, -1]) < 1e-12 and np.linalg.norm(B) > 1e-3
    for theta in (1e-3, 0.5):
        wc = rb.worst_case(X, S_h, Hb, theta)
        assert int(wc.status) == Status.SUCCESS
        np.testing.assert_allclose(np.linalg.norm(np.asarray(wc.H - Hb)), theta, rtol=1e-9)
        # the SDP's accuracy is absolute (~1e-8 of the data scale): small values need an atol
        np.testing.assert_allclose(float(wc.value), _sdp_oracle(X, S_h, Hb, theta), rtol=1e-6, atol=2e-7)
    # B = 0 exactly (X is zero-forcing for Hbar): value = theta^2 lambda_max(X X^H)
    wc = rb.worst_case(X, jnp.asarray(np.asarray(Hb) @ Xn), Hb, 0.3)
    np.testing.assert_allclose(float(wc.value), 0.09 * q[-1], rtol=1e-10)


def test_theta_zero_and_budget():
    _, Hb, S, R = small_instance(7)
    X = rb.sensing_centric_waveform(Hb, S, R)
    wc = rb.worst_case(X, S, Hb, 0.0)
    np.testing.assert_array_equal(wc.H, Hb)
    assert int(wc.status) == Status.SUCCESS
    a = rb.worst_case_channel(X, S, Hb, 0.4, budget=0.5)
    b = rb.worst_case_channel(X, S, Hb, 0.2)
    np.testing.assert_allclose(a, b, atol=1e-14)


def test_implicit_gradients_match_finite_differences():
    _, Hb, S, R = small_instance(8, K=2, N=3, L=4)
    X = rb.sensing_centric_waveform(Hb, S, R) + 0.1
    theta = 0.3
    # d value / d theta = 2 lam theta (envelope), and through H* by implicit differentiation
    val = lambda t: rb.worst_case_value(X, S, Hb, t)
    wc = rb.worst_case(X, S, Hb, theta)
    g_t = float(jax.grad(val)(jnp.asarray(theta)))
    np.testing.assert_allclose(g_t, 2 * float(wc.multiplier) * theta, rtol=1e-8)
    h = 1e-6
    np.testing.assert_allclose(g_t, (float(val(theta + h)) - float(val(theta - h))) / (2 * h), rtol=1e-6)
    # a non-envelope function of H*: its gradient needs dH*/dX, dH*/dHbar
    rng = np.random.default_rng(3)
    W = jnp.asarray(rng.standard_normal(Hb.shape) + 1j * rng.standard_normal(Hb.shape))
    loss = lambda X, Hb: jnp.real(jnp.sum(jnp.conj(W) * rb.worst_case_channel(X, S, Hb, theta))) + jnp.sum(
        jnp.abs(rb.worst_case_channel(X, S, Hb, theta)) ** 4
    )
    gX, gH = ascent_grad(loss, argnums=(0, 1))(X, Hb)
    for (arg, g) in ((0, gX), (1, gH)):
        base = (X, Hb)
        d = rng.standard_normal(base[arg].shape) + 1j * rng.standard_normal(base[arg].shape)
        plus = list(base); plus[arg] = base[arg] + h * d
        minus = list(base); minus[arg] = base[arg] - h * d
        fd = (float(loss(*plus)) - float(loss(*minus))) / (2 * h)
        np.testing.assert_allclose(float(jnp.sum(jnp.real(jnp.conj(g) * d))), fd, rtol=1e-5)
    # forward mode agrees with reverse mode
    dX = jnp.asarray(rng.standard_normal(X.shape) + 0j)
    _, t = jax.jvp(lambda X: loss(X, Hb), (X,), (dX,))
    np.testing.assert_allclose(float(t), float(jnp.sum(jnp.real(jnp.conj(gX) * dX))), rtol=1e-8)


def test_vmap_over_theta_and_draws_equals_loop_and_float32():
    Href, Hb, S, R = small_instance(9)
    X = rb.sensing_centric_waveform(Hb, S, R)
    Hbs = rb.perturb_channel(jax.random.key(1), Href, 0.05, shape=(3,))
    thetas = jnp.array([0.0, 0.05, 0.3])
    f = jax.jit(lambda H, t: rb.worst_case(X, S, H, t))
    batched = jax.jit(jax.vmap(jax.vmap(lambda H, t: rb.worst_case(X, S, H, t), (None, 0)), (0, None)))(Hbs, thetas)
    for i in range(3):
        for j in range(3):
            one = f(Hbs[i], thetas[j])
            np.testing.assert_allclose(batched.H[i, j], one.H, rtol=1e-13, atol=1e-14)
            np.testing.assert_allclose(batched.value[i, j], one.value, rtol=1e-13)
    c64 = lambda a: jnp.asarray(a, jnp.complex64)
    w32 = jax.vmap(lambda t: rb.worst_case(c64(X), c64(S), c64(Hb), t))(thetas.astype(jnp.float32))
    w64 = jax.vmap(lambda t: rb.worst_case(X, S, Hb, t))(thetas)
    assert w32.H.dtype == jnp.complex64 and np.all(np.asarray(w32.status) == Status.SUCCESS)
    tol = 200 * np.finfo(np.float32).eps
    np.testing.assert_allclose(w32.value, w64.value, rtol=tol)
    np.testing.assert_allclose(w32.H, w64.H, atol=tol * float(jnp.linalg.norm(Hb)))
