"""Analog step P4-MM (spec §2.5): T9 (JAX vs CVXPY), z = 0 feasible at a feasible point."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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
