"""Symmetric (reciprocal) BD-RIS rate design (spec §3.3, Fig. 8 rate half; T21 for the power gain).

``symmetric_power_max`` (Takagi-modified Prop 5 keeping the factor ``Q``) and the rate AO over
``Theta_g = Q_g Q_g^T`` (``RateMaximisation(..., symmetric=True)`` + ``RateAO`` warm-started from it):
feasibility (symmetric and unitary), the nesting D-RIS (L = 1) subset of symmetric subset of
asymmetric, and monotone iterations.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import bdris

_HD, _HB, _HF, _ETA, _P = bdris.spec_instance(0)  # R1 (spec §10.1): 4x16x4 with the direct link
_S = np.sqrt(_ETA)
R1 = (_HD / _S, _HB / _S, _HF)  # noise-normalised (spec §8): rates unchanged, noise = 1
AO = bdris.RateAO(rtol=1e-10, inner=bdris.RiemannianCG(gtol=1e-9, max_steps=500))


def _qqt(q):
    return np.asarray(q @ jnp.swapaxes(q, -1, -2))


def _nd_channels(seed, n_ris=16):
    c = bdris.make_channels(jax.random.key(seed), 2, n_ris, 2, direct=False)
    return None, c.H_backward, c.H_forward


def test_symmetric_power_max_is_feasible_monotone_and_below_asymmetric():
    H_D, H_B, H_F = _nd_channels(7)
    for L in (1, 16):
        q = bdris.symmetric_power_max(H_D, H_B, H_F, group_size=L)
        th = _qqt(q)
        assert q.shape == (16 // L, L, L)
        assert float(bdris.symmetry_error(th)) <= 1e-10
        assert float(bdris.unitarity_error(th)) <= 1e-10
        p = float(bdris.power_gain(bdris.channel(th, H_D, H_B, H_F)))
        # same iterates as PowerGainMM(variant="takagi") from I (which returns Theta, not Q)
        tak = jaxisac.solve(bdris.ChannelShaping(H_D, H_B, H_F, group_size=L), bdris.PowerGainMM(rtol=1e-10, max_steps=200, variant="takagi"), throw=False)
        np.testing.assert_allclose(p, float(tak.objective), rtol=1e-9)
        asym = jaxisac.solve(bdris.ChannelShaping(H_D, H_B, H_F, group_size=L), bdris.PowerGainMM(rtol=1e-10, max_steps=2000), throw=False)
        if L == 1:  # D-RIS is symmetric: both iterations are the same MM
            np.testing.assert_allclose(p, float(asym.objective), rtol=1e-9)
        else:
            assert p <= float(asym.objective) * (1 + 1e-10)
    # minorise-maximise: the power never decreases along the iterations (one step at a time)
    q, powers = None, []
    for _ in range(6):
        q = bdris.symmetric_power_max(H_D, H_B, H_F, group_size=4, init=q, max_steps=1)
        powers.append(float(bdris.power_gain(bdris.channel(_qqt(q), H_D, H_B, H_F))))
    assert all(b >= a * (1 - 1e-13) for a, b in zip(powers, powers[1:]))
    assert powers[-1] > powers[0]


def test_symmetric_power_max_vmap_equals_loop_and_warm_start():
    chans = [_nd_channels(s, 8) for s in (1, 2, 3)]
    HB = jnp.stack([c[1] for c in chans])
    HF = jnp.stack([c[2] for c in chans])
    batched = jax.vmap(lambda b, f: bdris.symmetric_power_max(None, b, f, group_size=4))(HB, HF)
    for i, (_, b, f) in enumerate(chans):
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(bdris.symmetric_power_max(None, b, f, group_size=4)), atol=1e-12)
    # warm start at the fixed point: the loop stops at once without moving
    q = batched[0]
    q2 = bdris.symmetric_power_max(None, HB[0], HF[0], group_size=4, init=q)
    p = [float(bdris.power_gain(bdris.channel(_qqt(x), None, HB[0], HF[0]))) for x in (q, q2)]
    assert p[1] >= p[0] * (1 - 1e-13)


def test_symmetric_power_max_validates_inputs():
    H_D, H_B, H_F = _nd_channels(7)
    with pytest.raises(ValueError, match="group_size"):
        bdris.symmetric_power_max(H_D, H_B, H_F, group_size=3)
    with pytest.raises(ValueError, match="H_forward"):
        bdris.symmetric_power_max(H_D, H_B, H_F[:8], group_size=4)
    with pytest.raises(ValueError, match="init"):
        bdris.symmetric_power_max(H_D, H_B, H_F, group_size=4, init=jnp.eye(4, dtype=complex))
    with pytest.raises(ValueError, match="max_steps"):
        bdris.symmetric_power_max(H_D, H_B, H_F, group_size=4, max_steps=-1)
    with pytest.raises(ValueError, match="rtol"):
        bdris.symmetric_power_max(H_D, H_B, H_F, group_size=4, rtol=-1.0)


def test_symmetric_rate_ao_r1_feasible_nested_and_monotone():
    H_D, H_B, H_F = R1
    L = 4
    prob = bdris.RateMaximisation(H_D, H_B, H_F, power=_P, noise=1.0, group_size=L, symmetric=True)
    q0 = bdris.symmetric_power_max(H_D, H_B, H_F, group_size=L)
    step = jax.jit(AO.step)
    s = AO.init(prob, q0)
    rates = [float(s.rate)]
    for _ in range(40):
        s = step(prob, s)
        rates.append(float(s.rate))
        if abs(rates[-1] - rates[-2]) <= 1e-10 * abs(rates[-2]):
            break
    # AO: RCG on log det over Q at fixed covariance, then water-filling: never decreases
    assert all(b >= a - 1e-12 * abs(a) for a, b in zip(rates, rates[1:]))
    assert rates[-1] > rates[0]
    th = _qqt(s.x)
    assert float(bdris.symmetry_error(th)) <= 1e-10
    assert float(bdris.unitarity_error(th)) <= 1e-10
    # the reported rate is that of the symmetric Theta with the water-filling covariance
    H = bdris.channel(th, H_D, H_B, H_F)
    np.testing.assert_allclose(rates[-1], float(bdris.capacity(H, _P, 1.0)), rtol=1e-10)
    # nesting: D-RIS (L = 1, symmetric) <= symmetric L = 4 <= asymmetric L = 4 (spec §10.3 values)
    r_d, r_asym = 24.0853615843, 24.7193002942
    assert rates[-1] >= r_d - 1e-8
    assert rates[-1] <= r_asym + 1e-8
    assert rates[-1] < r_asym - 1e-3  # reciprocity costs something at L = 4 (measured: ~0.1 nats)


@pytest.mark.slow
def test_symmetric_rate_between_d_ris_and_asymmetric_over_draws():
    keys = jax.random.split(jax.random.key(1000), 6)
    s = float(np.sqrt(10 ** (-7.5)))
    ao = bdris.RateAO(rtol=1e-8, inner=bdris.RiemannianCG(gtol=1e-8, max_steps=500))
    for k in keys:
        c = bdris.make_channels(k, 4, 16, 4)
        H_D, H_B, H_F = c.H_direct / s, c.H_backward / s, c.H_forward
        r_d = float(jaxisac.solve(bdris.RateMaximisation(H_D, H_B, H_F, power=100.0, noise=1.0, group_size=1), ao).objective)
        for L in (4, 16):
            r_a = float(jaxisac.solve(bdris.RateMaximisation(H_D, H_B, H_F, power=100.0, noise=1.0, group_size=L), ao).objective)
            prob = bdris.RateMaximisation(H_D, H_B, H_F, power=100.0, noise=1.0, group_size=L, symmetric=True)
            sol = jaxisac.solve(prob, ao, init=bdris.symmetric_power_max(H_D, H_B, H_F, group_size=L))
            r_s = float(sol.objective)
            th = prob.theta(sol.value["theta"])
            assert float(bdris.unitarity_error(th)) <= 1e-10 and float(bdris.symmetry_error(th)) <= 1e-10
            assert r_d - 1e-6 <= r_s <= r_a + 1e-6, (L, r_d, r_s, r_a)
