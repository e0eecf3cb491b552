"""The differentiable optimum composes with an outer jit (regression: custom_jvp closing over a tracer)."""

import jax
import numpy as np

from jaxisac import crb


def test_grad_of_optimal_crb_under_jit_equals_eager():
    p = crb.make_instance(0, 16, 4, sinr_db=20.0)
    data = (p.channels, p.sinr_targets, p.power, p.noise_var)
    f = lambda d: crb.optimal_crb(crb.ExtendedTargetCRB(*d))
    g_jit = jax.jit(jax.grad(jax.jit(f)))(data)
    g_eager = jax.grad(f)(data)
    for a, b in zip(g_jit, g_eager):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert float(g_jit[2]) < 0  # more power never increases the optimal CRB
