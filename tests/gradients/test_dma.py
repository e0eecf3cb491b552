"""Gradient matrix of DMA hybrid beamforming (seed 000) on a tiny model (N = 2 waveguides x 3
elements): ``p2_value`` (envelope theorem through ``core.sdp.optimal_value``) with respect to the
power budget and the load conductance R0. ``DMAAO`` documents no differentiation (ADMM in a while
loop); the direct method's unrolled map is documented as non-smooth."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

from jaxisac import dma

from .helpers import check_gradients

pytestmark = pytest.mark.slow


def test_p2_value_envelope():
    pb = dma.make_problem(dma.make_model(N=2, L_mu=3, dtype=jnp.complex128))

    def f(x):  # x = [p_max, R0]
        prob = eqx.tree_at(lambda p: p.model.R0, pb.with_(p_max=x[0]), x[1])
        return dma.p2_value(prob, pb.y0)

    # the SDP runs to the default tolerance (1e-6 relative): agreement ~1e-5
    check_gradients("dma.p2_value [envelope; p_max and R0]", f, [1.0, 2.0], [1.2, 1.5], rtol=1e-4, rel_step=1e-3)
