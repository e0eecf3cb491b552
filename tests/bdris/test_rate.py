"""Rate, water-filling and the alternating optimisation (spec §4.8; T8, T13, T15, T16, T23)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import bdris

R1 = bdris.spec_instance(0)
R0 = bdris.spec_instance(1, direct=False)
AO = bdris.RateAO(inner=bdris.RiemannianCG(gtol=1e-10, max_steps=1000))
AO_DIRECT = bdris.RateAO(init_mode="direct", inner=bdris.RiemannianCG(gtol=1e-10, max_steps=1000))


def test_waterfill_satisfies_the_kkt_conditions():
    rng = np.random.default_rng(0)
    wf = jax.jit(jax.vmap(bdris.waterfill, in_axes=(0, None)))
    gains = np.concatenate([rng.exponential(size=(200, 5)) ** 3, np.zeros((200, 1))], axis=1)
    for P in (0.01, 1.0, 100.0):
        p = np.asarray(wf(jnp.asarray(gains), P))
        np.testing.assert_allclose(p.sum(axis=1), P, rtol=1e-12)
        assert np.all(p >= 0) and np.all(p[:, -1] == 0)  # zero gains get no power
        inv = 1 / np.maximum(gains[:, :5], 1e-300)
        level = np.max(np.where(p[:, :5] > 0, p[:, :5] + inv, -np.inf), axis=1)
        on = p[:, :5] > 0
        # active modes share one water level; inactive modes lie above it
        np.testing.assert_allclose(np.where(on, p[:, :5] + inv, level[:, None]), np.broadcast_to(level[:, None], on.shape), rtol=1e-10)
        assert np.all(np.where(~on, inv >= level[:, None] * (1 - 1e-12), True))


def test_rate_and_capacity_match_numpy():
    H_D, H_B, H_F, eta, P = R1
    H = H_D + H_B @ H_F
    Q = bdris.waterfilling_covariance(H, P, eta)
    np.testing.assert_allclose(np.trace(np.asarray(Q)).real, P, rtol=1e-12)
    r = float(bdris.rate(H, Q, eta))
    ref = np.linalg.slogdet(np.eye(4) + H @ np.asarray(Q) @ H.conj().T / eta)[1]
    np.testing.assert_allclose(r, ref, rtol=1e-12)
    np.testing.assert_allclose(float(bdris.capacity(H, P, eta)), r, rtol=1e-12)
    np.testing.assert_allclose(float(bdris.capacity(H_D, P, eta)), 22.586948, rtol=1e-7)  # spec §10.1
    np.testing.assert_allclose(float(bdris.to_bits(r)), r / np.log(2))
    # any other covariance with the same power has a lower rate
    rng = np.random.default_rng(1)
    for _ in range(5):
        A = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
        Q2 = P * A @ A.conj().T / np.trace(A @ A.conj().T).real
        assert float(bdris.rate(H, Q2, eta)) <= r


def test_T15_T16_ao_regression_fully_connected_and_the_trap():
    H_D, H_B, H_F, eta, P = R1
    sol = jaxisac.solve(bdris.RateMaximisation(H_D, H_B, H_F, power=P, noise=eta, group_size=16), AO)
    np.testing.assert_allclose(float(sol.objective), 25.0536893981, rtol=1e-9)
    H_D0, H_B0, H_F0, _, _ = R0
    prob0 = bdris.RateMaximisation(None, H_B0, H_F0, power=P, noise=eta, group_size=16)
    good = jaxisac.solve(prob0, AO)
    np.testing.assert_allclose(float(good.objective), float(bdris.capacity_fully_connected(H_B0, H_F0, P, eta)), rtol=1e-9)
    np.testing.assert_allclose(float(good.objective), 10.1963145757, rtol=1e-9)
    # the authors' initialisation (Q_0 from the direct channel / H(I)) stalls with one stream off
    trap = jaxisac.solve(prob0, AO_DIRECT)
    np.testing.assert_allclose(float(trap.objective), 9.9492026916, rtol=1e-6)
    assert int(trap.stats["streams"]) == 3 and int(good.stats["streams"]) == 4


def test_T13_ao_bd_ris_beats_d_ris_and_decoupled():
    H_D, H_B, H_F, eta, P = R1
    rates = {}
    for L, target in ((1, 24.0853615843), (4, 24.7193002942)):
        sol = jaxisac.solve(bdris.RateMaximisation(H_D, H_B, H_F, power=P, noise=eta, group_size=L), AO)
        np.testing.assert_allclose(float(sol.objective), target, rtol=1e-9)
        rates[L] = float(sol.objective)
        assert float(bdris.unitarity_error(sol.value["theta"])) < 1e-10
    assert rates[4] > rates[1]
    dec, _ = bdris.decoupled_rate(H_D, H_B, H_F, power=P, noise=eta, group_size=16)
    np.testing.assert_allclose(float(dec), 24.9721522211, rtol=1e-8)  # spec §10.3, decoupled L = 16


@pytest.mark.slow
def test_T23_ao_float32_close_to_float64_batched():
    # (slow: two AO compilations; float32 of the shaping solver is in the default run, test_shaping.py)
    keys = jax.random.split(jax.random.key(5), 2)
    chans = jax.vmap(lambda k: bdris.make_channels(k, 2, 8, 2))(keys)
    eta, P = 10 ** (-7.5), 100.0
    solver = bdris.RateAO(rtol=1e-7, inner=bdris.RiemannianCG(gtol=1e-6, max_steps=200))

    def run(c, dtype):
        c = jax.tree_util.tree_map(lambda a: a.astype(dtype), c)
        # normalise by sqrt(noise) (spec §8): the rate is unchanged
        prob = bdris.RateMaximisation(
            c.H_direct / float(np.sqrt(eta)), c.H_backward / float(np.sqrt(eta)), c.H_forward, power=P, noise=1.0, group_size=4
        )
        return jaxisac.solve(prob, solver, throw=False)

    s64 = jax.vmap(lambda c: run(c, jnp.complex128))(chans)
    s32 = jax.vmap(lambda c: run(c, jnp.complex64))(chans)
    assert s32.objective.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(s32.objective), np.asarray(s64.objective), rtol=1e-5)
    assert float(jnp.max(jax.vmap(bdris.unitarity_error)(s32.value["theta"]))) < 1e-5


def test_rate_validation():
    H_D, H_B, H_F, eta, P = R1
    with pytest.raises(ValueError, match="power"):
        bdris.RateMaximisation(H_D, H_B, H_F, power=-1.0, noise=eta, group_size=4)
    with pytest.raises(ValueError, match="noise"):
        bdris.RateMaximisation(H_D, H_B, H_F, power=P, noise=0.0, group_size=4)
    with pytest.raises(ValueError, match="init_mode"):
        bdris.RateAO(init_mode="random")
    with pytest.raises(ValueError, match="Q"):
        bdris.rate(H_D, np.eye(3), eta)
    with pytest.raises(ValueError, match="gains"):
        bdris.waterfill(np.ones((2, 2)), 1.0)
