"""Safeguarded AO (spec §3.2): T10 monotone, T11 feasible, T12 bounds, T17 vmap == loop and
complex64 ~ complex128, Phase I; full-size regressions T13/T16 are marked slow."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import dma
from jaxisac.core import Status
from jaxisac.dma.ao import DMAAO

from .conftest import AO_TEST, ao_single, ao_single_c64, drop_problems, s0_model, small_model, small_problem
from .oracles import p2_cvxpy

TOL = 1e-5


def _check_run(pb, sol, i=None):
    pick = (lambda x: x) if i is None else (lambda x: x[i])
    assert int(pick(sol.result)) == int(Status.SUCCESS)
    iters = int(pick(sol.stats["iters"]))
    trace = np.asarray(pick(sol.stats["trace"]))[: iters + 1]
    # T10: the true objective is non-decreasing
    assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[:-1])), trace
    # T11: exact feasibility at the end
    sinr = np.asarray(pick(sol.stats["sinr"]))
    assert np.all(sinr >= np.asarray(pb.gamma) * (1 - TOL))
    assert float(pick(sol.stats["pt"])) <= float(pb.p_max) * (1 + TOL)
    return trace


def test_T10_T11_T12_avg_monotone_feasible_bounded(ao_batch_results):
    probs, sol = ao_batch_results
    for i, pb in enumerate(probs):
        trace = _check_run(pb, sol, i)
        assert trace[-1] > trace[0] * 1.05  # the analog step helps (DMA-AO >= digital-only at y0)
        bound = float(dma.sensing_only_bound(pb.model, _dirs(), pb.p_max))
        assert np.all(trace <= bound * (1 + 1e-9))
        assert bound <= float(dma.crude_bound(pb.model, pb.p_max))


def _dirs():
    return dma.directions_from_degrees(np.array(dma.S0_TARGETS_DEG))


@pytest.mark.oracle
def test_T12_fd_upper_bound_vs_cvxpy_and_above_ao(ao_batch_results):
    probs, sol = ao_batch_results
    pb = probs[0]
    v, ok, _ = jax.jit(dma.fd_upper_bound)(pb)
    vc, _, status = p2_cvxpy(pb.observers, 0.5 * pb.model.W, pb.D, 2, 2.0, 1.0)
    assert bool(ok) and status.startswith("optimal")
    np.testing.assert_allclose(float(v), vc, rtol=1e-4)
    assert float(sol.objective[0]) <= vc * (1 + 1e-6)
    assert vc <= float(dma.sensing_only_bound(pb.model, _dirs(), pb.p_max)) * (1 + 1e-6)


def test_T17_vmap_equals_loop(ao_batch_results):
    probs, sol = ao_batch_results
    f = ao_single()
    for i, pb in enumerate(probs):
        one = f(pb)
        assert int(one.result) == int(sol.result[i])
        # the acceptance test has a relative margin (round-off-level gains are rejected in both),
        # so batched and sequential runs take the same decisions: spec T17, rel. 1e-3
        t1, tb = np.asarray(one.stats["trace"]), np.asarray(sol.stats["trace"][i])
        np.testing.assert_allclose(t1[:4], tb[:4], rtol=1e-6)
        np.testing.assert_allclose(float(one.objective), float(sol.objective[i]), rtol=1e-3)


def test_phase_one_recovers_infeasible_start():
    """Gamma = 10 dB on the small model is infeasible at y0 (P2 fails); Phase I finds a feasible
    configuration by power minimisation and the AO then proceeds (spec §3.3)."""
    pb = small_problem(gamma=10.0)
    B, ok, _ = jax.jit(lambda p, y: dma.digital_step(p, y))(pb, pb.y0)
    assert not bool(ok)
    sol = ao_single()(pb)
    assert int(sol.stats["phase_one_steps"]) > 0
    _check_run(pb, sol)


def test_T17_complex64_close_to_complex128():
    p64 = small_problem()
    p32 = dma.make_problem(small_model("complex64"))
    s32 = ao_single_c64()(p32)
    s64 = ao_single()(p64)
    assert s32.value["B"].dtype == jnp.complex64
    assert int(s32.result) == int(Status.SUCCESS)
    np.testing.assert_allclose(float(s32.objective), float(s64.objective), rtol=5e-3)


@pytest.mark.slow
def test_warm_start():
    pb = small_problem()
    sol = ao_single()(pb)
    # warm start from the solution: the AO keeps (y, B) feasible and cannot go below it
    warm = jaxisac.solve(pb, AO_TEST, init=sol.value, throw=False)
    assert float(warm.objective) >= float(sol.objective) * (1 - 1e-9)
    with pytest.raises(ValueError, match="solver"):
        jaxisac.solve(pb, "ao")


@pytest.fixture(scope="module")
def s0_ao():
    pb = dma.make_problem(s0_model())
    return pb, jaxisac.solve(pb, DMAAO(), throw=False)


@pytest.mark.slow
def test_T16_ao_s0_monotone_feasible_below_fd_bound(s0_ao):
    pb, sol = s0_ao
    trace = _check_run(pb, sol)
    np.testing.assert_allclose(trace[0], 0.3448, atol=1e-3)  # digital-only start (spec)
    np.testing.assert_allclose(float(dma.fd_upper_bound(pb)[0]), 2.139, atol=1e-3)
    assert 3 * trace[0] < float(sol.objective) <= 2.139


@pytest.mark.slow
def test_T16_exact_subproblems_reproduce_the_spec_run_s0():
    """With exact subproblems (the default: P2 and P4-MM on the interior-point SDP solver, as the
    spec's CVXPY procedure) and the plain recovery (no power repair), the AO follows the spec's
    reference trace (0.682 at it 5, 0.783 at it 10) and ends within the spec's +-5 % of 1.33. With
    the default repair it climbs higher (1.43); the inexact mode (warm ADMM P2) takes another path
    on this non-convex problem and ends at 1.22."""
    pb = dma.make_problem(s0_model())
    sol = jaxisac.solve(pb, DMAAO(repair=False), throw=False)
    trace = _check_run(pb, sol)
    np.testing.assert_allclose(trace[[5, 10]], [0.682, 0.783], rtol=5e-3)
    np.testing.assert_allclose(float(sol.objective), 1.33, rtol=0.05)


@pytest.mark.slow
def test_T10_T13_maxmin_s0():
    pb = dma.make_problem(s0_model(), objective="maxmin")
    sol = jaxisac.solve(pb, DMAAO(max_iters=60), throw=False)
    trace = _check_run(pb, sol)
    P = np.asarray(sol.stats["P"])
    assert trace[-1] > 0.8  # spec: 0.177 -> 0.990 in 40 iterations
    np.testing.assert_allclose(P, P.min(), rtol=1e-2)  # equalised
    # beampattern local maxima within +-6.5 deg of each target azimuth
    az = np.linspace(-90, 90, 721)
    grid = dma.directions_from_degrees(np.stack([az, np.full_like(az, -10.0)], -1))
    pat = np.asarray(dma.beampattern(pb.model, sol.value["y"], sol.value["B"], grid))
    peaks = [az[i] for i in range(1, len(az) - 1) if pat[i] >= pat[i - 1] and pat[i] >= pat[i + 1]]
    for t in (-40.0, 0.0, 35.0):
        assert min(abs(p - t) for p in peaks) <= 6.5


@pytest.mark.gpu
def test_T17_gpu_batch_matches_sequential_cpu(accelerator):
    """>= 64 drops vmapped on the accelerator vs sequential CPU runs (spec T17)."""
    keys = jax.random.split(jax.random.key(17), 64)
    probs = [dma.make_problem(dma.make_model(dma.random_users(k, 2), N=4, L_mu=4)) for k in keys]
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *probs)
    # computations follow their committed inputs: the batch runs on the accelerator, the loop on the CPU
    sol = jax.jit(jax.vmap(lambda p: jaxisac.solve(p, AO_TEST, throw=False)))(jax.device_put(stacked, accelerator))
    assert sol.objective.devices() == {accelerator}
    cpu = jax.devices("cpu")[0]
    f = jax.jit(lambda p: jaxisac.solve(p, AO_TEST, throw=False))
    for i in range(0, 64, 16):
        one = f(jax.device_put(probs[i], cpu))
        np.testing.assert_allclose(np.asarray(sol.stats["trace"][i])[:4], np.asarray(one.stats["trace"])[:4], rtol=1e-6)
        np.testing.assert_allclose(float(sol.objective[i]), float(one.objective), rtol=2e-2)
