"""Measurement model, generator, quantiser, noise statistics, identifiability (spec T1, T7, T8, A1)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac import autocorrelation as ac


def test_cascade_convention_matches_signal_model():
    # A1: |v^H hbar| = |h_r^H diag(u) g + conj(h_d)| with v = [u; 1], hbar = [h_r * conj(g); h_d]
    rng = np.random.default_rng(0)
    n = 6
    g, hr = (rng.standard_normal((2, n)) + 1j * rng.standard_normal((2, n)))
    hd = 0.3 - 0.7j
    u = np.exp(1j * rng.uniform(0, 2 * np.pi, n))
    hbar = np.asarray(ac.cascade(g, hr, hd))
    v = np.concatenate([u, [1.0]])
    lhs = abs(np.vdot(v, hbar))
    rhs = abs(np.conj(hr) @ np.diag(u) @ g + np.conj(hd))
    assert lhs == pytest.approx(rhs, rel=1e-12)
    # the printed (conjugated) channel does not satisfy it for complex u
    printed = np.conj(hbar)
    assert abs(abs(np.vdot(v, printed)) - rhs) > 1e-3


def test_paper_generator_reproduces_spec_instance_R17():
    # spec §10.2: sum |hbar_n|^2 = 7.3502e-12, p_1 = 1.535603e-12 (b = 2), 7.562675e-12 (b = 1)
    d2 = ac.paper_drop(2024, 40, 2, nx=4, nz=4)
    d1 = ac.paper_drop(2024, 80, 1, nx=4, nz=4)
    assert np.sum(np.abs(d2.hbar) ** 2) == pytest.approx(7.3502e-12, rel=1e-4)
    assert d2.p[0] == pytest.approx(1.535603e-12, rel=1e-6)
    assert d1.p[0] == pytest.approx(7.562675e-12, rel=1e-6)
    assert np.isrealobj(d1.V) and set(np.unique(d1.V)) == {-1.0, 1.0}
    np.testing.assert_array_equal(d2.V[:, -1], 1.0)
    p = np.asarray(ac.received_power(d2.V, d2.hbar))
    np.testing.assert_allclose(p, d2.p, rtol=1e-12)


def test_jax_generator_shapes_and_vmap():
    keys = jax.random.split(jax.random.key(0), 3)
    drops = jax.vmap(lambda k: ac.make_drop(k, 20, 1, sigma2=1e-12, n_samples=8))(keys)
    assert drops.hbar.shape == (3, 65) and drops.V.shape == (3, 20, 65) and drops.V.dtype == jnp.float64
    np.testing.assert_array_equal(np.abs(drops.V), 1.0)
    # power levels of spec §5.1: random-pattern powers ~1e-11 W at N = 65; noise at -90 dBm is small
    assert 1e-12 < float(jnp.mean(drops.p)) < 1e-9
    rel = np.abs(np.asarray(drops.q - drops.p - 1e-12)) / np.asarray(drops.p)
    assert 0 < np.median(rel) < 0.2


@pytest.mark.parametrize("n,b,dim", [(3, 1, 4), (4, 1, 7), (3, 2, 7), (4, 2, 13), (4, 3, 13)])
def test_lemma1_span_dimension(n, b, dim):
    # T1: rank of {M(V_t)} over 4 N^2 random patterns = D_N^(b) = rank of the Gram matrix K
    V = ac.training_patterns(jax.random.key(n * 10 + b), 4 * n * n, n, b)
    K = np.asarray(ac.gram_matrix(V))
    assert np.linalg.matrix_rank(K, tol=1e-8 * np.max(K)) == dim


def test_noise_model_moments():
    # T7: E[Zbar] = sigma2, Var Zbar = (sigma2^2 + 2 p sigma2) / N0 (4e4 samples, 3 %)
    hbar = jnp.array([0.8 + 0.1j, -0.2 + 0.4j, 0.5j])
    V = jnp.ones((1, 3), jnp.complex128)
    p = float(ac.received_power(V, hbar)[0])
    sigma2 = 0.7 * p
    for n0 in (1, 8):
        keys = jax.random.split(jax.random.key(n0), 40000)
        sample = jax.jit(jax.vmap(lambda k: ac.measure_power(k, V, hbar, sigma2=sigma2, n_samples=n0)))
        q = sample(keys)[:, 0]
        z = np.asarray(q) - p
        assert np.mean(z) / sigma2 == pytest.approx(1.0, abs=0.03)
        assert np.var(z) / ((sigma2**2 + 2 * p * sigma2) / n0) == pytest.approx(1.0, abs=0.03)


def test_rsrp_quantiser():
    # T8: zeta <= q <= xi; level formula; 1 dB steps on the R17-like power range
    q = ac.dbm_to_watt(jnp.array([-44.0 - 1e-9, -44.5, -60.2, -92.99, -155.9, -170.0, -30.0]))
    lvl, lo, hi = ac.quantize_rsrp(q, 1.0)
    assert lvl.tolist() == [0, 0, 16, 48, 111, 111, 0]
    inside = np.asarray((q >= ac.dbm_to_watt(-156.0)) & (q <= ac.dbm_to_watt(-44.0)))
    assert np.all((np.asarray(lo) <= np.asarray(q))[inside]) and np.all((np.asarray(q) <= np.asarray(hi))[inside])
    np.testing.assert_allclose(10 * np.log10(np.asarray(hi / lo)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(hi[2], 10 ** (-7.4 - 16 / 10), rtol=1e-12)
    # coarse gaps: fewer distinct levels
    d = ac.paper_drop(0, 300, 1)
    for gap, expect_max in ((1.0, 40), (8.0, 8)):
        lv, lo, hi = ac.quantize_rsrp(jnp.asarray(d.p), gap)
        assert 1 < len(np.unique(np.asarray(lv))) <= expect_max
        assert np.all(np.asarray(lo) <= d.p) and np.all(d.p <= np.asarray(hi))


def test_validation_errors_name_the_argument():
    V = ac.training_patterns(jax.random.key(0), 5, 4, 2)
    with pytest.raises(ValueError, match="bits"):
        ac.training_patterns(jax.random.key(0), 5, 4, 0)
    with pytest.raises(ValueError, match="V"):
        ac.PowerMeasurements(2 * V, jnp.ones(5))
    with pytest.raises(ValueError, match="p"):
        ac.PowerMeasurements(V, jnp.ones(4))
    with pytest.raises(ValueError, match="p"):
        ac.PowerMeasurements(V, -jnp.ones(5))
    with pytest.raises(ValueError, match="p0"):
        ac.PowerMeasurements(V, jnp.ones(5), p0=-1.0)
    with pytest.raises(ValueError, match="sigma2"):
        ac.measure_power(jax.random.key(0), V, jnp.ones(4, complex), sigma2=-1.0)
    with pytest.raises(ValueError, match="upper"):
        ac.RobustMeasurements(V, jnp.ones(5), 0.5 * jnp.ones(5))
    with pytest.raises(ValueError, match="hbar"):
        ac.measure_power(jax.random.key(0), V, jnp.ones(3, complex))
    with pytest.raises(ValueError, match="gap_db"):
        ac.quantize_rsrp(jnp.ones(3), 0.0)
    with pytest.raises(ValueError, match="R_hat"):
        ac.design_reflection(jnp.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="rule"):
        ac.ALRA(rule="nope")
    with pytest.raises(ValueError, match="mu_rule"):
        ac.RobustALRA(mu_rule="nope")
    with pytest.raises(ValueError, match="problem"):
        import jaxisac

        jaxisac.solve(ac.PowerMeasurements(V, jnp.ones(5)), ac.RobustALRA())
