"""Analog step P4-MM (spec §2.5): T9 (JAX vs CVXPY), z = 0 feasible at a feasible point."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac.core import Status
from jaxisac.core.sdp_ipm import IPMSDP
from jaxisac.dma.analog import P4MMConfig, analog_step, coefficients
from jaxisac.dma.digital import digital_step

from .conftest import small_problem
from .oracles import p4mm_cvxpy


@pytest.mark.oracle
@pytest.mark.parametrize("kind", ["avg", "maxmin_bounds"])
def test_T9_p4mm_matches_cvxpy_and_zero_is_feasible(kind):
    kw = {"avg": {}, "maxmin_bounds": dict(objective="maxmin", beta_lo=0.02, beta_hi=0.4)}[kind]
    pb = small_problem(**kw)
    B, ok, _ = jax.jit(lambda p, y: digital_step(p, y))(pb, pb.y0)
    assert bool(ok)
    c = jax.jit(coefficients)(pb, pb.y0, B)
    # z = 0 is feasible for P4-MM at the (feasible) digital solution: the minorants are tight
    I0 = jnp.sum(jnp.abs(c["fi"]) ** 2, axis=1)
    assert bool(jnp.all(I0 + 1 - c["S0"] / pb.gamma <= 1e-4 * (1 + c["S0"] / pb.gamma)))
    assert float(c["pt0"]) <= float(pb.p_max) * (1 + 1e-6)
    kappa = 0.5
    # the epigraph form converges more slowly in the first-order ALM: more inner iterations
    cfg = P4MMConfig() if kind == "avg" else P4MMConfig(outer=30, inner=150)
    z, info = jax.jit(lambda p, y, B: analog_step(p, y, B, kappa, cfg))(pb, pb.y0, B)
    r = kappa / float(c["ynorm"])
    cn = {k: np.asarray(v) for k, v in c.items()}
    zc, vc, status = p4mm_cvxpy(cn, np.asarray(pb.gamma), 1.0, np.asarray(pb.beta_lo), float(pb.beta_hi), r,
                                maxmin=pb.objective == "maxmin", has_upper=pb.has_upper, has_lower=pb.has_lower)
    assert status == "optimal"
    np.testing.assert_allclose(float(info[0]), vc, rtol=1e-3)
    assert float(info[1]) <= 1e-4  # scaled constraint violation of P4-MM at the JAX solution
    assert float(jnp.max(jnp.abs(z))) <= r * (1 + 1e-12)


@pytest.mark.oracle
@pytest.mark.parametrize("kind", ["avg", "maxmin_bounds"])
def test_p4mm_conic_form_on_the_interior_point_solver_matches_cvxpy(kind):
    """P4-MM in the shared SDP format (orthant + one second-order cone per convex quadratic) solved
    by IPMSDP equals CVXPY + Clarabel to solver accuracy, also with max-min, both bounds and in
    float32; the step is feasible for P4-MM."""
    kw = {"avg": {}, "maxmin_bounds": dict(objective="maxmin", beta_lo=0.02, beta_hi=0.4)}[kind]
    pb = small_problem(**kw)
    B, ok, _ = jax.jit(lambda p, y: digital_step(p, y))(pb, pb.y0)
    c = jax.jit(coefficients)(pb, pb.y0, B)
    kappa = 0.5
    step = jax.jit(lambda p, y, B: analog_step(p, y, B, kappa, solver=IPMSDP()))
    z, info = step(pb, pb.y0, B)
    r = kappa / float(c["ynorm"])
    cn = {k: np.asarray(v) for k, v in c.items()}
    zc, vc, status = p4mm_cvxpy(cn, np.asarray(pb.gamma), 1.0, np.asarray(pb.beta_lo), float(pb.beta_hi), r,
                                maxmin=pb.objective == "maxmin", has_upper=pb.has_upper, has_lower=pb.has_lower)
    assert status == "optimal" and int(info[1]) == int(Status.SUCCESS)
    np.testing.assert_allclose(float(info[0]), vc, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(z), zc, atol=1e-4 * r)  # flat directions: z to ~sqrt(tol)
    zj = np.asarray(z)
    assert np.max(np.abs(zj)) <= r * (1 + 1e-9)
    # the SINR minorants hold at z (convex quadratics evaluated directly)
    for m in range(cn["S0"].shape[0]):
        v = cn["fi"][m] - 1j * (zj @ cn["Gi"][m])
        assert np.sum(np.abs(v) ** 2) + 1 <= (cn["S0"][m] + cn["slin"][m] @ zj) / float(np.broadcast_to(np.asarray(pb.gamma), cn["S0"].shape)[m]) * (1 + 1e-7)
    # complex64 / float32 data: the same step to float32 accuracy
    p32 = jax.tree_util.tree_map(lambda a: a.astype(jnp.complex64 if jnp.iscomplexobj(a) else jnp.float32)
                                 if eqx.is_inexact_array(a) else a, pb)
    z32, info32 = step(p32, p32.y0, B.astype(jnp.complex64))
    np.testing.assert_allclose(float(info32[0]), vc, rtol=5e-3)
