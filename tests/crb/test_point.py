"""Point-target variant (Remark 2; spec §3.6, target T21) on the shared JAX SDP solver."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac.crb as C
from jaxisac.core.sdp import ADMMSDP
from jaxisac.crb.point import PointTargetCRB, point_crb, solve_point_target


def _problem(n_t=6, k=2, n_rx=8, angle=0.3, seed=0, dtype=np.complex128):
    base = C.make_instance(seed, n_t, k, sinr_db=15.0, dtype=dtype)
    return PointTargetCRB(base.channels, base.sinr_targets, base.power, base.noise_var, angle, n_rx), base


SOLVER = ADMMSDP(tol=1e-9, max_steps=100_000)


@pytest.fixture(scope="module")
def solved():
    p, base = _problem(n_t=5, k=2, n_rx=6)
    return p, base, solve_point_target(p, SOLVER), solve_point_target(p, SOLVER, reduced=False)


def test_reduced_equals_full_and_recovery_is_exact(solved):
    p, base, red, full = solved
    assert int(red.result) == 0 and int(full.result) == 0
    assert red.value.basis.shape == (5, 4)  # K + 2
    np.testing.assert_allclose(float(red.value.t), float(full.value.t), rtol=1e-6)
    W, Wa = red.value.W, red.value.W_aux
    R = W @ jnp.conj(W.T) + Wa @ jnp.conj(Wa.T)
    np.testing.assert_allclose(np.asarray(R), np.asarray(red.value.R), atol=1e-8 * float(p.power))
    assert np.all(np.asarray(C.sinr(W, Wa, base)) >= np.asarray(base.sinr_targets) * (1 - 1e-6))
    assert float(C.power(W, Wa)) <= float(p.power) * (1 + 1e-7)
    # the objective is the CRB of the recovered covariance, crb_scale / t
    np.testing.assert_allclose(float(point_crb(R, p)), float(red.objective), rtol=1e-6)


@pytest.mark.oracle
def test_matches_cvxpy_full_sdp(solved):
    from tests.crb import oracles as O

    p, _, red, _ = solved
    t_ref, R_ref, status, _ = O.point_target(p)
    assert status in ("optimal", "optimal_inaccurate")
    np.testing.assert_allclose(float(red.value.t), t_ref, rtol=1e-5)  # oracle-limited (spec T21: 1e-4)
    # and the oracle's covariance is no better than ours in CRB
    assert float(point_crb(jnp.asarray(R_ref), p)) >= float(red.objective) * (1 - 1e-5)


def test_vmap_over_angles_equals_loop(solved):
    p0, _, red, _ = solved
    angles = jnp.asarray([0.3, -0.7])  # the first is the fixture's instance
    batch = jax.vmap(lambda a: PointTargetCRB(p0.channels, p0.sinr_targets, p0.power, p0.noise_var, a, 6))(angles)
    bt = jax.jit(jax.vmap(lambda q: solve_point_target(q, SOLVER).value.t))(batch)
    np.testing.assert_allclose(float(bt[0]), float(red.value.t), rtol=1e-10)
    assert float(bt[1]) != pytest.approx(float(bt[0]), rel=1e-3)  # a different instance, solved too


@pytest.mark.slow
def test_float32_close_to_float64(solved):
    t64 = float(solved[2].value.t)
    p32, _ = _problem(n_t=5, k=2, n_rx=6, dtype=np.complex64)
    s32 = solve_point_target(p32, ADMMSDP(tol=1e-4, max_steps=20_000))
    assert s32.value.t.dtype == jnp.float32
    np.testing.assert_allclose(float(s32.value.t), t64, rtol=2e-3)


@pytest.mark.slow
def test_infeasible_targets_are_reported():
    p, base = _problem(n_t=5, k=2, n_rx=6)
    q = PointTargetCRB(base.channels, 1e6, base.power, base.noise_var, 0.3, 6)
    sol = solve_point_target(q, ADMMSDP(tol=1e-8, max_steps=50_000))
    assert int(sol.result) != 0


def test_bad_input_names_the_argument():
    _, base = _problem()
    with pytest.raises(ValueError, match="n_rx"):
        PointTargetCRB(base.channels, base.sinr_targets, base.power, base.noise_var, 0.3, 0)
    with pytest.raises(ValueError, match="angle"):
        PointTargetCRB(base.channels, base.sinr_targets, base.power, base.noise_var, jnp.ones(2), 4)
    with pytest.raises(ValueError, match="noise_var"):
        PointTargetCRB(base.channels, base.sinr_targets, base.power, -1.0, 0.3, 4)


@pytest.mark.slow
def test_spec_98_regression():
    # spec §9.8: N_t = 16, N_r = 20, K = 4, seed 0, Gamma = 15 dB, theta = 0.3 rad; t* with the trace
    # matrices scaled by 1/||A^H A||_2: 23981.366 (full) and 23981.682 ((K+2)-dim), both Clarabel
    # "optimal_inaccurate" (1.3e-5 apart)
    p, _ = _problem(n_t=16, k=4, n_rx=20)
    sol = solve_point_target(p)
    t = float(sol.value.t) / float(jnp.linalg.norm(p.trace_matrices()[2], ord=2))
    assert abs(t - 23981.52) / 23981.52 <= 2e-5
