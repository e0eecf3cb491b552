"""Physics model (spec §1.2-1.6, targets T1-T3, T15), geometry gradients, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac import dma
from jaxisac.dma import physics

from .conftest import s0_model, small_model


def test_T1_model_identities_and_regression_numbers():
    m = s0_model()
    k, kx = physics.wavenumbers(10e9, 0.73 * physics.C0 / 10e9)
    np.testing.assert_allclose(float(m.k), 209.5845, atol=1e-4)
    np.testing.assert_allclose(float(kx), 152.7048, atol=1e-4)
    Ytt, Yst, Yss = np.asarray(m.Y_tt), np.asarray(m.Y_st), np.asarray(m.Y_ss)
    np.testing.assert_allclose(Ytt, np.diag(np.diag(Ytt)))
    np.testing.assert_allclose(Ytt.real, 0.0)
    np.testing.assert_allclose(Ytt[0, 0].imag, 6.33000, atol=1e-5)
    assert np.all(Yst.real == 0)
    nz = Yst[Yst != 0]
    assert nz.size == 32  # one feed per element (block structure)
    np.testing.assert_allclose([nz.imag.min(), nz.imag.max()], [-30.28, 33.99], atol=5e-3)
    np.testing.assert_array_equal(Yss, Yss.T)
    w = np.linalg.eigvalsh(Yss.real)
    np.testing.assert_allclose([w.min(), w.max()], [8.148, 22.077], atol=1e-3)
    kwe = float(m.k) * 2 * np.pi * 10e9 * physics.EPS0 / (3 * np.pi)
    np.testing.assert_allclose(np.diag(Yss).real, kwe, rtol=1e-12)
    np.testing.assert_allclose(kwe, 12.3713, atol=1e-4)
    np.testing.assert_allclose(np.diag(np.asarray(m.Y_rr)).real, 6.18567, atol=1e-5)
    for y, norm in ((0.0, 0.0585), (dma.Y0_CST, 0.0458)):
        Z = np.asarray(m.loads(jnp.full(32, y)))
        np.testing.assert_allclose(np.linalg.norm(np.linalg.inv(Z), 2), norm, atol=1e-4)
        assert 4 <= np.linalg.cond(Z) <= 6.1


def test_T2_energy_identity():
    m = s0_model()
    key = jax.random.key(0)
    for i in range(3):
        k1, k2, k3, key = jax.random.split(key, 4)
        y = 10 * jax.random.normal(k1, (m.L,))
        B = jax.random.normal(k2, (m.N, 6)) + 1j * jax.random.normal(k3, (m.N, 6))
        p1 = float(dma.transmit_power(m, y, B))
        p2 = float(dma.transmit_power_ports(m, y, B))
        assert p1 > 0
        np.testing.assert_allclose(p1, p2, rtol=1e-12)
        BB = B @ jnp.conj(B).T
        assert abs(float(jnp.real(jnp.trace(m.Y_tt @ BB)))) <= 1e-12 * float(jnp.real(jnp.trace(BB)))


def test_T3_lorentzian_limit():
    m = s0_model().without_coupling()
    ys = jnp.linspace(-200.0, 200.0, 41)
    d = jnp.diagonal(m.Y_ss)
    g = m.R0 + jnp.real(d)
    q = 1.0 / (m.R0 + d[None, :] + 1j * ys[:, None])
    np.testing.assert_allclose(np.abs(q - 1 / (2 * g)), np.broadcast_to(1 / (2 * g), q.shape), rtol=1e-10)
    np.testing.assert_allclose(float(1 / (2 * g[0])), 0.034791, atol=1e-6)
    # without coupling, the effective beamformer is diagonal: F = diag(q) Y_st
    y = jnp.full((m.L,), dma.Y0_CST)
    F = jnp.linalg.solve(m.loads(y), m.Y_st)
    np.testing.assert_allclose(F, (1 / (m.R0 + d + 1j * y))[:, None] * m.Y_st, rtol=1e-12)


def test_los_channel_uses_user_z():
    """W8 with the reference code's Delta z bug fixed: sin^2 uses the user's z coordinate."""
    users = jnp.array([[3.0, 25.0, 1.5]])
    el = jnp.array([[0.01, 0.005, 10.02]])
    Y = physics.los_channel(users, el, 10e9)
    d = np.asarray(users[0] - el[0])
    D = np.linalg.norm(d)
    lam = physics.C0 / 10e9
    s2 = 1 - (d[2] / D) ** 2
    pl = (lam / (4 * np.pi * D)) ** 2 * 1.5 * s2 * 3 * s2
    np.testing.assert_allclose(complex(Y[0, 0]), np.sqrt(pl) * np.exp(-1j * 2 * np.pi / lam * D), rtol=1e-10)


def test_rayleigh_correlation_and_channel():
    m = small_model()
    S = np.asarray(physics.dipole_correlation(m.positions, m.k))
    np.testing.assert_allclose(np.diag(S), 1.0)
    np.testing.assert_allclose(S, S.T, atol=1e-14)
    assert np.linalg.eigvalsh(S).min() > -1e-8
    mr = dma.make_model(**dict(N=4, L_mu=4), channel="rayleigh", key=jax.random.key(1))
    assert mr.Y_rs.shape == (2, 16) and bool(jnp.all(jnp.isfinite(mr.Y_rs)))
    # the channel is a coloured Gaussian: it differs from the LoS one and from another key
    mr2 = dma.make_model(**dict(N=4, L_mu=4), channel="rayleigh", key=jax.random.key(2))
    assert float(jnp.max(jnp.abs(mr.Y_rs - mr2.Y_rs))) > 0


def test_geometry_gradients_are_finite_and_match_fd():
    """Double-where Green's functions: gradients w.r.t. positions are finite (R = 0 on the
    diagonal) and equal central differences."""

    def f(users, shift):
        m = dma.make_model(users, N=2, L_mu=4, site=(0.0, 0.0, 10.0 + shift))
        y = jnp.full((m.L,), dma.Y0_CST)
        B = jnp.ones((m.N, 4), m.Y_st.dtype)
        return dma.sinr(m, y, B, 1e-12)[0] + 1e-3 * dma.transmit_power(m, y, B)

    users = jnp.array(dma.S0_USERS)
    gu, gs = jax.grad(f, argnums=(0, 1))(users, 0.0)
    assert bool(jnp.all(jnp.isfinite(gu))) and bool(jnp.isfinite(gs))
    h = 1e-6
    fd = (f(users.at[0, 0].add(h), 0.0) - f(users.at[0, 0].add(-h), 0.0)) / (2 * h)
    np.testing.assert_allclose(float(gu[0, 0]), float(fd), rtol=1e-4)
    fds = (f(users, h) - f(users, -h)) / (2 * h)
    np.testing.assert_allclose(float(gs), float(fds), rtol=1e-4)
    # element coupling itself (Y_ss) is differentiable in element positions, NaN-free at R = 0
    def g(pos):
        Ga = physics.green_free_space(pos[:, None], pos[None, :], k=200.0, eye=jnp.eye(pos.shape[0], dtype=bool))
        return jnp.sum(jnp.abs(Ga) ** 2)

    pos = s0_model().positions[:6]
    gp = jax.grad(g)(pos)
    assert bool(jnp.all(jnp.isfinite(gp)))


def test_resonance_guard():
    lam = physics.C0 / 10e9
    _, kx = physics.wavenumbers(10e9, 0.73 * lam)
    d_el = 7 * np.pi / (float(kx) * 9)  # k_x S = 7 pi with S = 9 d_el (L_mu = 8)
    with pytest.raises(ValueError, match="resonance"):
        dma.make_model(element_spacing=d_el)
    assert float(physics.resonance_margin(10e9, 0.73 * lam, 9 * lam / 2)) > 1e-2


def test_T15_steering_convention():
    """Omega = a* a^T (A1). The literal a a^H pattern equals the correct one at the mirrored
    direction (-az, -el), and the two differ on the asymmetric S0 target set."""
    m = s0_model()
    key1, key2 = jax.random.split(jax.random.key(3))
    B = jax.random.normal(key1, (4, 6)) + 1j * jax.random.normal(key2, (4, 6))
    y = jnp.full((m.L,), dma.Y0_CST)
    dirs = dma.directions_from_degrees(np.array(dma.S0_TARGETS_DEG))
    U = dma.excitations(m, y, B)
    a = dma.steering(m, dirs)
    literal = jnp.sum(jnp.abs(jnp.conj(a) @ U) ** 2, axis=1)
    mirrored = dma.beampattern(m, y, B, -dirs)
    np.testing.assert_allclose(literal, mirrored, rtol=1e-10)
    correct = dma.beampattern(m, y, B, dirs)
    assert float(jnp.max(jnp.abs(correct - literal) / correct)) > 1e-2


def test_los_user_channel_is_steering_like():
    """Far field: a LoS user's y_RS row is ~ a(u_m)^T (justifies a^T in (2)-(3), spec §1.5)."""
    users = jnp.array([[0.0, 2000.0, 10.0]])  # far, broadside at the site height
    m = dma.make_model(users)
    a = dma.steering(m, jnp.zeros((1, 2)))[0]
    row = m.y_RS[0]
    corr = jnp.abs(jnp.vdot(jnp.conj(a), row)) / (jnp.linalg.norm(a) * jnp.linalg.norm(row))
    assert float(corr) > 0.999


def test_validation_errors():
    m = small_model()
    with pytest.raises(ValueError, match="N"):
        dma.make_model(N=0)
    with pytest.raises(ValueError, match="channel"):
        dma.make_model(channel="nlos")
    with pytest.raises(ValueError, match="key"):
        dma.make_model(channel="rayleigh")
    with pytest.raises(ValueError, match="users"):
        dma.make_model(users=[[1.0, 2.0]])
    with pytest.raises(ValueError, match="R0"):
        dma.make_model(R0=-1.0)
    with pytest.raises(ValueError, match="B"):
        dma.transmit_power(m, jnp.zeros(m.L), jnp.ones((3, 6)))
    with pytest.raises(ValueError, match="y"):
        dma.transmit_power(m, jnp.zeros(5), jnp.ones((4, 6)))
    with pytest.raises(ValueError, match="noise_var"):
        dma.sinr(m, jnp.zeros(m.L), jnp.ones((4, 6)), -1.0)
    with pytest.raises(ValueError, match="directions"):
        dma.beampattern(m, jnp.zeros(m.L), jnp.ones((4, 6)), jnp.zeros((3, 3)))
    with pytest.raises(ValueError, match="y"):
        dma.transmit_power(m, jnp.full(m.L, jnp.nan), jnp.ones((4, 6)))
    with pytest.raises(ValueError, match="gamma"):
        dma.make_problem(m, gamma=-1.0)
    with pytest.raises(ValueError, match="p_max"):
        dma.make_problem(m, p_max=0.0)
    with pytest.raises(ValueError, match="objective"):
        dma.make_problem(m, objective="sum")
    with pytest.raises(ValueError, match="beta_lo"):
        dma.make_problem(m, beta_lo=2.0, beta_hi=1.0)
    with pytest.raises(ValueError, match="model"):
        dma.make_problem("model")


def test_vmap_model_builder_over_drops():
    keys = jax.random.split(jax.random.key(0), 3)
    users = jax.vmap(lambda k: dma.random_users(k, 2))(keys)
    batched = jax.vmap(lambda u: dma.make_model(u, N=2, L_mu=4))(users)
    for i in range(3):
        one = dma.make_model(users[i], N=2, L_mu=4)
        np.testing.assert_allclose(batched.Y_rs[i], one.Y_rs, rtol=1e-12)
    assert batched.Y_ss.shape == (3, 8, 8)


def test_complex64_model_close_to_complex128():
    m64 = dma.make_model(dtype=jnp.complex64)
    m128 = s0_model()
    assert m64.Y_ss.dtype == jnp.complex64 and m64.R0.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(m64.Y_ss), np.asarray(m128.Y_ss), rtol=2e-7, atol=1e-5)
    y = jnp.full((32,), dma.Y0_CST)
    B = jnp.ones((4, 6))
    p32 = float(dma.transmit_power(m64, y.astype(jnp.float32), B.astype(jnp.complex64)))
    np.testing.assert_allclose(p32, float(dma.transmit_power(m128, y, B)), rtol=1e-4)
