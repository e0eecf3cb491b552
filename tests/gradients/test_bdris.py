"""Gradient matrix of BD-RIS channel shaping (seed 003) on a tiny instance (N_R = N_T = 2, N_S = 4,
groups of L = 2): ``RiemannianCG`` / ``RiemannianAscent`` (envelope, the default adjoint; unrolled,
incl. the step size ``init_step``), ``PowerGainMM`` (envelope) and ``RateAO`` (envelope, including
the power budget)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import bdris

from .helpers import check_gradients

_rng = np.random.default_rng(1)


def _c(*shape):
    return jnp.asarray((_rng.standard_normal(shape) + 1j * _rng.standard_normal(shape)) / np.sqrt(2))


HD, HB, HF, DD, DF = _c(2, 2), _c(2, 4), _c(4, 2), _c(2, 2), _c(4, 2)


def _shaping(x, **kw):
    """x = [t_direct, t_forward]: H_D + t_d DD, H_F + t_f DF."""
    return bdris.ChannelShaping(HD + x[0] * DD, HB, HF + x[1] * DF, group_size=2, **kw)


@pytest.mark.parametrize("solver", [
    pytest.param(bdris.RiemannianCG(gtol=1e-11, max_steps=500), id="RiemannianCG"),
    pytest.param(bdris.RiemannianAscent(gtol=1e-11, max_steps=3000), id="RiemannianAscent", marks=pytest.mark.slow),
])
def test_shaping_envelope(solver):
    f = lambda x: jaxisac.solve(_shaping(x), solver, throw=False).objective  # noqa: E731
    check_gradients(f"bdris.{type(solver).__name__} [envelope]", f, [0.0, 0.0], [0.2, -0.1], rtol=1e-6)


@pytest.mark.slow
def test_power_gain_mm_envelope():
    # MM converges linearly: run it to a relative increase of 1e-15 so that the stopped point is
    # stationary; the small component still carries ~2e-6 relative error (3e-8 of the largest)
    f = lambda x: jaxisac.solve(_shaping(x), bdris.PowerGainMM(rtol=1e-15, max_steps=3000), throw=False).objective  # noqa: E731
    check_gradients("bdris.PowerGainMM [envelope]", f, [0.0, 0.0], [0.2, -0.1], rtol=1e-5)


@pytest.mark.slow
def test_shaping_unrolled_data_and_step_size():
    base = bdris.RiemannianAscent(adjoint="unrolled", max_steps=4, gtol=0.0)

    def f(x):  # x = [t_direct, t_forward, init_step]
        solver = eqx.tree_at(lambda s: s.init_step, base, x[2])
        return jaxisac.solve(_shaping(x[:2], retraction="cayley"), solver, unroll=True, throw=False).objective

    check_gradients("bdris.RiemannianAscent [unrolled; data and init_step]", f, [0.0, 0.0, 0.3], [0.1, 0.1, 0.25],
                    modes=("rev",), rtol=1e-6)


def _rate(x):
    p = bdris.RateMaximisation(HD + x[0] * DD, HB, HF, power=x[1], noise=1.0, group_size=2)
    return jaxisac.solve(p, bdris.RateAO(), throw=False).objective


@pytest.mark.slow
def test_rate_ao_envelope_channels():
    f = lambda x: _rate(jnp.stack([x[0], 2.0]))  # noqa: E731
    check_gradients("bdris.RateAO [envelope; channels]", f, [0.0], [0.1], rtol=1e-5)


@pytest.mark.slow
def test_rate_ao_envelope_power():
    f = lambda x: _rate(jnp.stack([0.0, x[0]]))  # noqa: E731
    check_gradients("bdris.RateAO [envelope; power]", f, [2.0], [2.5], modes=("rev",), rtol=1e-4, vmap=False)
