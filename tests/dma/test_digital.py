"""Digital step P2 (spec §2.2): T7 (SDR tightness / rank-one recovery), T8 (JAX vs CVXPY),
T16 digital-only regression, vmap == loop, float32 ~ float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac import dma
from jaxisac.dma.digital import digital_step, evaluate
from jaxisac.kernels import dma as K

from .conftest import s0_model, small_model, small_problem
from .oracles import p2_cvxpy

_digital = jax.jit(lambda p, y: digital_step(p, y))


def _rows(pb, y):
    return K.effective_rows(pb.model.loads(y), pb.model.Y_st, pb.observers, pb.model.W)


@pytest.mark.oracle
def test_T7_liu_rank_one_recovery_is_exact():
    pb = small_problem(gamma=3.0)
    y = pb.y0 + 2.0 * jnp.cos(jnp.arange(16.0))
    H, AP = _rows(pb, y)
    val, X, status = p2_cvxpy(H, AP, pb.D, 2, 3.0, 1.0)
    assert status.startswith("optimal")
    Xu = jnp.asarray(np.stack(X[:2]))
    B = K.rank_one_recovery(Xu, jnp.asarray(X[2]), H[pb.D:])
    ev = evaluate(pb, y, B)
    np.testing.assert_allclose(float(ev["value"]), val, rtol=1e-6)
    # R - sum b b^H is PSD (Cauchy-Schwarz) and the total covariance is unchanged
    R = sum(X)
    bu = np.asarray(B[:, :2])
    Rs = R - bu @ bu.conj().T
    assert np.linalg.eigvalsh(Rs).min() >= -1e-8 * np.linalg.norm(R, 2)
    np.testing.assert_allclose(np.asarray(B @ jnp.conj(B).T), R, atol=1e-7 * np.linalg.norm(R, 2))
    # SINRs of the recovered B equal those of the covariances
    Hu = np.asarray(H[pb.D:])
    for m in range(2):
        sig = (Hu[m] @ X[m] @ Hu[m].conj()).real
        tot = (Hu[m] @ R @ Hu[m].conj()).real
        np.testing.assert_allclose(float(ev["sinr"][m]), sig / (tot - sig + 1), rtol=1e-6)


@pytest.mark.oracle
@pytest.mark.parametrize("kind", ["avg", "bounds", "maxmin"])
def test_T8_digital_step_matches_cvxpy(kind):
    kw = {"avg": {}, "bounds": dict(beta_lo=0.05, beta_hi=0.25), "maxmin": dict(objective="maxmin")}[kind]
    pb = small_problem(**kw)
    y = pb.y0
    H, AP = _rows(pb, y)
    val, _, status = p2_cvxpy(H, AP, pb.D, 2, 2.0, 1.0, beta_lo=np.full(3, 0.05) if kind == "bounds" else None,
                              beta_hi=0.25 if kind == "bounds" else None, maxmin=kind == "maxmin")
    assert status.startswith("optimal")
    B, ok, sol = jax.jit(lambda p, y: digital_step(p, y))(pb, y)
    assert bool(ok)
    ev = evaluate(pb, y, B)
    np.testing.assert_allclose(float(ev["value"]), val, rtol=1e-3)
    assert float(ev["violation"]) <= 1e-4


def test_T16_digital_only_regression_s0():
    pb = dma.make_problem(s0_model())
    B, ok, _ = _digital(pb, pb.y0)
    ev = evaluate(pb, pb.y0, B)
    assert bool(ok)
    np.testing.assert_allclose(float(ev["value"]), 0.3448, atol=1e-3)
    np.testing.assert_allclose(np.asarray(ev["P"]), [0.307, 0.176, 0.551], atol=1e-3)
    np.testing.assert_allclose(np.asarray(ev["sinr"]), 2.0, rtol=1e-4)  # active
    np.testing.assert_allclose(float(ev["pt"]), 1.0, rtol=1e-4)  # active
    assert float(ev["violation"]) <= 0


def test_digital_vmap_equals_loop_and_float32():
    probs = [small_problem(gamma=g) for g in (1.0, 2.0, 4.0)]
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *probs)
    f = jax.jit(jax.vmap(lambda p: digital_step(p, p.y0)[0]))
    Bb = f(stacked)
    for i, p in enumerate(probs):
        Bi, _, _ = _digital(p, p.y0)
        # user columns equal; the sensing square root is unique only up to a unitary: compare B B^H
        np.testing.assert_allclose(np.asarray(Bb[i][:, :2]), np.asarray(Bi[:, :2]), rtol=1e-8, atol=1e-10)
        BB = lambda X: np.asarray(X @ jnp.conj(X).T)  # noqa: E731
        np.testing.assert_allclose(BB(Bb[i]), BB(Bi), atol=1e-8 * np.abs(BB(Bi)).max())
    # complex64 / float32 run close to the float64 one (dtype-scaled tolerance)
    p32 = dma.make_problem(small_model("complex64"))
    B32, ok32, _ = jax.jit(lambda p, y: digital_step(p, y))(p32, p32.y0)
    assert B32.dtype == jnp.complex64 and bool(ok32)
    v32 = float(evaluate(p32, p32.y0, B32)["value"])
    v64 = float(evaluate(probs[1], probs[1].y0, _digital(probs[1], probs[1].y0)[0])["value"])
    np.testing.assert_allclose(v32, v64, rtol=2e-3)


def test_infeasible_digital_step_is_reported():
    """Gamma = 10 dB at y0 on S0 needs 1.19 > P_max (spec §9): the SDP reports failure, no NaN."""
    pb = dma.make_problem(s0_model(), gamma=10.0)
    B, ok, sol = _digital(pb, pb.y0)
    assert not bool(ok)
    assert bool(jnp.all(jnp.isfinite(B)))


def test_p2_value_envelope_gradients_match_fd():
    """d P2*/d(P_max, Gamma) by the envelope theorem on the shared SDP solver vs central differences."""
    pb = small_problem()
    f = jax.jit(lambda pm, g: dma.p2_value(pb.with_(p_max=pm, gamma=g), pb.y0))
    gam = jnp.full(2, 2.0)
    gp, gg = jax.jit(jax.grad(lambda pm, g: dma.p2_value(pb.with_(p_max=pm, gamma=g), pb.y0), argnums=(0, 1)))(1.0, gam)
    h = 1e-3
    np.testing.assert_allclose(float(gp), float((f(1.0 + h, gam) - f(1.0 - h, gam)) / (2 * h)), rtol=1e-4)
    e = jnp.array([h, 0.0])
    np.testing.assert_allclose(float(gg[0]), float((f(1.0, gam + e) - f(1.0, gam - e)) / (2 * h)), rtol=1e-3)
    assert float(gp) > 0 and float(gg[0]) < 0  # more power helps, harder SINR targets hurt (T14 locally)


def test_direct_method_polished_is_feasible_and_beats_digital_only():
    from jaxisac.dma.direct import direct_solve, polish

    pb = small_problem()
    B0, ok, _ = _digital(pb, pb.y0)
    y, B, v, viol = jax.jit(lambda p, y0, b0: direct_solve(p, y0, b0, outer=10, inner=40))(pb, pb.y0, B0)
    Bp, vp, okp = jax.jit(polish)(pb, y)
    ev = evaluate(pb, y, Bp)
    assert bool(okp) and float(ev["violation"]) <= 1e-4
    assert float(vp) > float(evaluate(pb, pb.y0, B0)["value"])


def test_scale_to_max_power_repair():
    """The AO's exact repair: the largest feasible scaling puts P_t at P_max (objective grows with
    the scale) and reports whether the SINRs still hold."""
    from jaxisac.dma.digital import scale_to_max_power

    k1, k2 = jax.random.split(jax.random.key(3))
    for gamma, expect_ok in ((1e-3, True), (1e6, False)):
        pb = small_problem(gamma=gamma)
        shape = (pb.model.N, pb.K)
        B = 50.0 * (jax.random.normal(k1, shape) + 1j * jax.random.normal(k2, shape)).astype(pb.model.Y_ss.dtype)
        Bs, ok = scale_to_max_power(pb, pb.y0, B)
        assert bool(ok) is expect_ok
        if expect_ok:
            ev = evaluate(pb, pb.y0, Bs)
            np.testing.assert_allclose(float(ev["pt"]), float(pb.p_max), rtol=1e-8)
            assert np.all(np.asarray(ev["sinr"]) >= gamma)
            assert float(ev["value"]) > 0
        else:
            np.testing.assert_array_equal(np.asarray(Bs), np.asarray(B))
