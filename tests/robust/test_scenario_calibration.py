"""Scenario generator and the 95 %-coverage calibration (spec targets 10, 11)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac import robust as rb
from jaxisac.core import Status

from .helpers import small_instance


def test_scenario_generator_matches_the_paper_setup():
    sc = rb.make_scenario(jax.random.key(0), dtype=jnp.complex128)
    assert sc.H_ref.shape == (4, 16) and sc.S.shape == (4, 30) and sc.X_s.shape == (16, 30)
    np.testing.assert_allclose(jnp.abs(sc.S) ** 2, 2.5, rtol=1e-12)  # QPSK x sqrt(P_T)
    np.testing.assert_allclose(float(sc.noise_var), 0.25, rtol=1e-12)  # SNR 10 dB
    np.testing.assert_allclose(sc.X_s @ sc.X_s.conj().T / 30, sc.R, atol=1e-12)
    np.testing.assert_allclose(float(jnp.real(jnp.trace(sc.R))), 2.5, rtol=1e-10)
    # perturbations (53): uniform has E|d|^2 = 2/3, Gaussian CN(0, 1) has 1
    for dist, var in (("uniform", 2 / 3), ("gaussian", 1.0)):
        H = sc.true_channels(jax.random.key(1), 4000, dist=dist)
        d = np.asarray(H - sc.H_ref) / 0.05
        assert abs(np.mean(np.abs(d) ** 2) - var) < 0.03 * var
        if dist == "uniform":
            assert np.max(np.abs(d.real)) <= 1 and np.max(np.abs(d.imag)) <= 1
    # keys first, reproducible bit for bit
    np.testing.assert_array_equal(rb.make_scenario(jax.random.key(0), dtype=jnp.complex128).H_nominal, sc.H_nominal)
    with pytest.raises(ValueError, match="dist"):
        rb.perturb_channel(jax.random.key(0), sc.H_ref, 0.05, dist="laplace")
    with pytest.raises(ValueError, match="K <= N <= L"):
        rb.make_scenario(jax.random.key(0), n_users=20)


def test_calibration_finds_the_smallest_covering_theta_and_nominal_is_optimistic():
    Href, Hb, S, R = small_instance(21, K=2, N=4, L=6)
    H0 = rb.perturb_channel(jax.random.key(3), Href, 0.05, shape=(400,))
    p = rb.SensingCentricProblem(Hb, S, R, 0.0, noise_var=0.25)
    cal = jax.jit(lambda p, H: rb.calibrate_theta(p, H, theta_max=0.4, tol=1e-4))(p, H0)
    assert int(cal.status) == Status.SUCCESS
    frac = jax.jit(lambda t: rb.coverage_fraction(p, H0, theta=t))
    assert float(frac(cal.theta)) >= 0.95
    assert float(frac(cal.theta - 2e-4)) < 0.95
    assert float(frac(0.0)) < 0.5  # nominal line above most true AASRs (target 11)
    # theta_95 within a small factor of eps (target 10)
    assert 0.5 * 0.05 <= float(cal.theta) <= 4 * 0.05
    with pytest.raises(ValueError, match="coverage"):
        rb.calibrate_theta(p, H0, theta_max=0.4, coverage=1.5)
