"""Gradient matrix of the robust waveform system (seed 002): the worst-case channel (implicit, in
X, H̄ and θ), the PAPC joint step (envelope through ``RiemannianCG``), the TPC closed form and the
``MinMax`` value (envelope / Danskin at the returned waveform).
Methods 1-3 and ``Nominal`` document no differentiation of their waveforms (non-unique minimisers)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import robust as rb
from jaxisac.core import RiemannianCG

from .helpers import check_gradients

K, N, L = 2, 3, 4
_rng = np.random.default_rng(0)


def _c(*shape):
    return jnp.asarray(_rng.standard_normal(shape) + 1j * _rng.standard_normal(shape))


HB, S, X, DH, W, X0, DX = _c(K, N), _c(K, L), _c(N, L), _c(K, N), _c(K, N), _c(N, L), _c(N, L)


@pytest.mark.parametrize("method", ["trs", pytest.param("paper", marks=pytest.mark.slow)])
def test_worst_case_channel_implicit(method):
    """A non-envelope summary Re<W, H*> of the worst case, in (theta, H̄ direction, X direction)."""

    def f(x):
        H = rb.worst_case_channel(X + x[2] * DX, S, HB + x[1] * DH, x[0], method=method, tol=1e-14, max_steps=2000)
        return jnp.real(jnp.sum(jnp.conj(W) * H))

    rtol = 1e-6 if method == "trs" else 1e-4
    check_gradients(f"robust.worst_case_channel[{method}] [implicit]", f, [0.3, 0.0, 0.0], [0.5, 0.1, -0.1], rtol=rtol)


@pytest.mark.slow
def test_papc_waveform_envelope():
    """``papc_waveform(...).objective`` (RiemannianCG envelope adjoint) in (H̄ direction, rho)."""

    solver = RiemannianCG(max_steps=2000, gtol=1e-11, init_step=1.0, armijo=0.01)  # the default stops at gtol 1e-6

    def f(x):
        return rb.papc_waveform(HB + x[0] * DH, S, X0, 1.0, x[1], solver=solver).objective

    check_gradients("robust.papc_waveform [envelope]", f, [0.0, 0.5], [0.1, 0.6], rtol=1e-5, rel_step=1e-5,
                    vmap_rtol=1e-7)  # batched rounding moves the stopping point by ~gtol


@pytest.mark.slow
def test_tpc_waveform_autodiff():
    def f(x):
        Xt = rb.tpc_waveform(HB + x[0] * DH, S, X0, 1.0, 0.5)
        return jnp.real(jnp.sum(jnp.conj(X0) * Xt))

    check_gradients("robust.tpc_waveform [autodiff]", f, [0.0], [0.1], modes=("rev", "fwd"), rtol=1e-5)


def _minmax_value(x):
    prob = rb.SensingCentricProblem(HB + x[0] * DH, S, jnp.eye(N, dtype=HB.dtype), x[1])
    return jaxisac.solve(prob, rb.MinMax(), throw=False).objective


@pytest.mark.slow
def test_minmax_envelope():
    check_gradients("robust.MinMax [envelope]", _minmax_value, [0.0, 0.2], [0.1, 0.3], rtol=1e-5, rel_step=1e-5,
                    vmap_rtol=1e-7)
