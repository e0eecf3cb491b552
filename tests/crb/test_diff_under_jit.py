"""The differentiable optimum composes with an outer jit (regression: custom_jvp closing over a tracer)."""

import jax
import numpy as np
import pytest

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


@pytest.mark.slow  # ~60 s: two compilations of the implicit KKT derivative
def test_implicit_beam_derivative_under_nested_jit_equals_eager():
    p = crb.make_instance(0, 16, 4, sinr_db=20.0)

    def cov(power):
        s = crb.optimal_solution(crb.ExtendedTargetCRB(p.channels, p.sinr_targets, power, p.noise_var))
        return s.W @ s.W.conj().T

    one = jax.numpy.ones_like(p.power)
    _, t_eager = jax.jvp(cov, (p.power,), (one,))
    _, t_jit = jax.jit(lambda q: jax.jvp(jax.jit(cov), (q,), (one,)))(p.power)
    np.testing.assert_allclose(t_jit, t_eager, rtol=1e-8, atol=1e-12)
    assert np.all(np.isfinite(np.asarray(t_jit)))
