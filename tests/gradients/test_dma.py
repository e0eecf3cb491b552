"""Gradient matrix of DMA hybrid beamforming (seed 000) on a tiny model (N = 2 waveguides x 3
elements): ``p2_value`` (envelope theorem through ``core.sdp.optimal_value``) with respect to the
power budget and the load conductance R0; ``DMAAO``'s objective (envelope: the same derivative at
the AO's final loads) against full AO re-solves. The direct method's unrolled derivatives are tested
in tests/dma/test_direct.py."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import dma
from jaxisac.core import Status
from jaxisac.core.sdp import ADMMSDP

from .helpers import check_gradients

pytestmark = pytest.mark.slow


def test_p2_value_envelope():
    pb = dma.make_problem(dma.make_model(N=2, L_mu=3, dtype=jnp.complex128))

    def f(x):  # x = [p_max, R0]
        prob = eqx.tree_at(lambda p: p.model.R0, pb.with_(p_max=x[0]), x[1])
        return dma.p2_value(prob, pb.y0)

    # the SDP runs to the default tolerance (1e-6 relative): agreement ~1e-5
    check_gradients("dma.p2_value [envelope; p_max and R0]", f, [1.0, 2.0], [1.2, 1.5], rtol=1e-4, rel_step=1e-3)


def test_ao_objective_envelope():
    """``DMAAO``'s objective (envelope: d P2(y*) / d data at the AO's final loads y*) against central
    differences of full AO re-solves, with respect to P_max, R0 and Gamma.

    The AO's loads are only locally stable: on this drop the objective is flat along some loads (one
    load moves by ~1.7 S between re-solves at data 1e-3 apart), and the AO's own stationarity is about
    3e-5 relative (cold vs warm-started end values). So the re-solves are warm-started from a
    converged AO point (they then follow that local optimum) with the AO run tight (rtol 1e-12,
    kappa_min 1e-9), and the steps are 1e-2: measured agreement 1.5e-3 of the largest derivative
    (9e-3 with steps 1e-3, where the AO's stationarity error dominates). The wiring itself is checked
    tightly: the derivative equals ``jax.grad(dma.p2_value)`` at the AO's loads.
    """
    pb = dma.make_problem(dma.make_model(N=2, L_mu=3, dtype=jnp.complex128))
    solver = dma.DMAAO(max_iters=200, max_steps=2000, rtol=1e-12, patience=10, kappa_min=1e-9, sdp_steps=50,
                       envelope_steps=300)

    def prob(x):  # x = [p_max, R0, Gamma]
        return eqx.tree_at(lambda p: p.model.R0, pb.with_(p_max=x[0], gamma=x[2] * jnp.ones_like(pb.gamma)), x[1])

    x0 = jnp.array([1.0, 2.0, 2.0])
    cold = jax.jit(lambda x: jaxisac.solve(prob(x), solver, throw=False))(x0)
    assert int(cold.result) == int(Status.SUCCESS)
    init = {"y": cold.value["y"], "B": cold.value["B"]}

    def f(x):
        return jaxisac.solve(prob(x), solver, init=init, throw=False).objective

    errs = check_gradients("dma.DMAAO [envelope; p_max, R0, Gamma; full AO re-solves]", f, x0, x0 + jnp.array([0.1, -0.3, 0.5]),
                           steps=1e-2, rtol=1e-2, atol=5e-3, vmap_rtol=1e-8)
    warm = jax.jit(lambda x: jaxisac.solve(prob(x), solver, init=init, throw=False))(x0)
    g_p2 = jax.jit(jax.grad(lambda x: dma.p2_value(prob(x), warm.value["y"], solver=ADMMSDP(tol=1e-9, max_steps=5000,
                                                                                               alpha=1.6, adaptive=False))))(x0)
    np.testing.assert_allclose(errs["grad"], np.asarray(g_p2), rtol=1e-5, atol=1e-6 * np.max(np.abs(g_p2)))
