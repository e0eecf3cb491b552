"""Gradient matrix of IRS autocorrelation estimation (seed 004) on a tiny drop (N = 5, T = 12, b = 2):
``ALRA`` and ``RobustALRA`` unrolled (``eig="eigh"``), with respect to the measured powers and, for
robust ALRA, its penalty ``rho``. ``LRA`` / ``TM`` (SDPs) document no differentiation."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import autocorrelation as ac

from .helpers import check_gradients

_D = ac.paper_drop(11, 12, 2, nx=2, nz=2)
_S = float(np.mean(_D.p))
V = jnp.asarray(_D.V)
P = jnp.asarray(_D.p / _S)
HBAR = ac.true_autocorrelation(_D.hbar, 2) / _S
DIR = jnp.asarray(np.random.default_rng(0).standard_normal(P.shape))


def _err(H):
    return jnp.sum(jnp.abs(H - HBAR) ** 2)


@pytest.mark.slow
def test_alra_unrolled():
    solver = ac.ALRA(eig="eigh")

    def f(x):
        return _err(jaxisac.solve(ac.PowerMeasurements(V, P + x[0] * DIR), solver, max_steps=5, unroll=True, throw=False).value)

    check_gradients("autocorrelation.ALRA [unrolled]", f, [0.0], [0.05], rtol=1e-6)


@pytest.mark.slow
def test_robust_alra_unrolled_data_and_penalty():
    base = ac.RobustALRA(eig="eigh")

    def f(x):  # x = [t (direction of the measurements), rho]
        solver = eqx.tree_at(lambda s: s.rho, base, x[1])
        meas = ac.RobustMeasurements(V, P + x[0] * DIR, sigma2=0.0)
        return _err(jaxisac.solve(meas, solver, max_steps=5, unroll=True, throw=False).value)

    check_gradients("autocorrelation.RobustALRA [unrolled; data and rho]", f, [0.0, 1.0], [0.05, 2.0], rtol=1e-6)
