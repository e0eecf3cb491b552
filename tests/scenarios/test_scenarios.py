import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac.scenarios import (
    beampattern,
    deg2rad,
    path_loss,
    rayleigh,
    rician,
    ris_cascade,
    scattering_channel,
    ula_steering,
    upa_steering,
)


def test_ula_steering_identities():
    ang = deg2rad(jnp.array([-60.0, 0.0, 17.0, 45.0]))
    a = ula_steering(8, ang)
    assert a.shape == (4, 8)
    np.testing.assert_allclose(jnp.abs(a), 1.0, rtol=1e-12)
    np.testing.assert_allclose(a[1], jnp.ones(8))  # broadside
    # centre-referenced: conjugate symmetric, a[::-1] = conj(a)
    np.testing.assert_allclose(a[:, ::-1], jnp.conj(a), atol=1e-12)
    # edge-referenced differs by a common phase only
    e = ula_steering(8, ang, reference="edge")
    np.testing.assert_allclose(e[:, 0], 1.0)
    ratio = e / a
    np.testing.assert_allclose(ratio, ratio[:, :1] * jnp.ones((1, 8)), atol=1e-12)
    # half-wavelength: theta and pi - theta alias; sin(theta) = 1 gives alternating signs (edge ref)
    np.testing.assert_allclose(ula_steering(4, jnp.pi / 2, reference="edge"), [1, -1, 1, -1], atol=1e-12)
    assert ula_steering(3, 0.1, dtype=jnp.complex64).dtype == jnp.complex64


def test_upa_reduces_to_ula_along_axis():
    el = jnp.array([0.3, 0.7])
    a = upa_steering(4, 1, jnp.zeros(2), el)
    np.testing.assert_allclose(a, ula_steering(4, el), atol=1e-12)
    assert upa_steering(3, 5, 0.2, 0.4).shape == (15,)


def test_beampattern_peaks_at_beam_direction():
    grid = deg2rad(jnp.linspace(-90, 90, 361))
    A = ula_steering(16, grid)
    w = ula_steering(16, deg2rad(30.0))
    P = beampattern(jnp.outer(w, jnp.conj(w)), A)
    assert float(grid[jnp.argmax(P)]) == pytest.approx(float(deg2rad(30.0)), abs=1e-9)
    np.testing.assert_allclose(jnp.max(P), 16.0**2, rtol=1e-10)
    with pytest.raises(ValueError, match="covariance"):
        beampattern(jnp.eye(3), A)


def test_rayleigh_statistics_and_determinism():
    h = rayleigh(jax.random.key(0), (10_000,), variance=2.0)
    assert abs(float(jnp.mean(jnp.abs(h) ** 2)) / 2.0 - 1.0) < 0.03
    assert abs(float(jnp.mean(jnp.real(h) ** 2)) - 1.0) < 0.05  # circular: half in each part
    assert abs(complex(jnp.mean(h))) < 0.05
    np.testing.assert_array_equal(h, rayleigh(jax.random.key(0), (10_000,), variance=2.0))
    assert rayleigh(jax.random.key(0), (2,), dtype=jnp.complex64).dtype == jnp.complex64
    with pytest.raises(ValueError, match="variance"):
        rayleigh(jax.random.key(0), (2,), variance=-1.0)


def test_rician_mean_and_power():
    los = ula_steering(4, 0.3)
    keys = jax.random.split(jax.random.key(1), 5000)
    h = jax.vmap(lambda k: rician(k, los, 3.0))(keys)
    np.testing.assert_allclose(jnp.mean(h, 0), np.sqrt(3 / 4) * los, atol=0.03)
    assert abs(float(jnp.mean(jnp.abs(h) ** 2)) - 1.0) < 0.03


def test_scattering_channel_statistics():
    keys = jax.random.split(jax.random.key(2), 400)
    H = jax.vmap(lambda k: scattering_channel(k, 4, 16))(keys)
    assert H.shape == (400, 4, 16)
    # unit mean power per entry (sum of P unit-power paths / sqrt(P))
    assert abs(float(jnp.mean(jnp.abs(H) ** 2)) - 1.0) < 0.05
    with pytest.raises(ValueError, match="min_paths"):
        scattering_channel(jax.random.key(0), 2, 4, min_paths=10, max_paths=5)


def test_path_loss_and_ris_cascade():
    np.testing.assert_allclose(path_loss(1.0, 2.0), 1e-3)
    np.testing.assert_allclose(path_loss(10.0, 2.0), 1e-5)
    with pytest.raises(ValueError, match="distance"):
        path_loss(-1.0, 2.0)
    keys = jax.random.split(jax.random.key(3), 2000)
    c = jax.vmap(lambda k: ris_cascade(k, 4, 8, 2, d_bs_ris=20.0))(keys)
    assert c.direct.shape == (2000, 2, 4) and c.bs_ris.shape == (2000, 8, 4) and c.ris_user.shape == (2000, 2, 8)
    gain = float(jnp.mean(jnp.abs(c.bs_ris) ** 2))
    assert abs(gain / float(path_loss(20.0, 2.2)) - 1.0) < 0.05
    one = ris_cascade(jax.random.key(4), 4, 8, 2)
    v = jnp.exp(1j * jnp.arange(8.0))
    np.testing.assert_allclose(one.effective(v), one.direct + one.ris_user @ jnp.diag(v) @ one.bs_ris, rtol=1e-12)
