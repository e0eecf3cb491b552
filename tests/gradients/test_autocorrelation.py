"""Gradient matrix of IRS autocorrelation estimation (seed 004) on a tiny drop (N = 5, T = 12, b = 2):
``ALRA`` and ``RobustALRA`` unrolled (``eig="eigh"``), with respect to the measured powers and, for
robust ALRA, its penalty ``rho``; ``TM`` / ``RobustTM`` objectives (envelope) and ``LRA`` unrolled
(``adjoint="unrolled"``, with respect to the data and the ADMM penalty)."""

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


# --- TM / RobustTM (envelope) and LRA (unrolled) ------------------------------------------------------
# TM's optimal value is differentiable in p where the dual optimum is unique. At exact rank-one
# recovery (noiseless data of this drop) it is not: the value has a kink along measurement
# perturbations that leave the rank-one set (measured: one-sided slopes 0.58 and -0.40). The envelope
# rows therefore use the measurements of a rank-two PSD matrix (TM returns a rank-two estimate,
# strictly complementary, T = 12 <= 25 - 9: a unique dual), and the exact rank-one data only along a
# perturbation of the channel itself.
from jaxisac.core.sdp import ADMMSDP  # noqa: E402

_W2 = np.random.default_rng(1).standard_normal((5, 2)) + 1j * np.random.default_rng(2).standard_normal((5, 2))
H2 = jnp.asarray(_W2 @ _W2.conj().T / 10)
P2 = jnp.real(jnp.einsum("ti,ij,tj->t", jnp.conj(V), H2, V))
_TIGHT = ADMMSDP(tol=1e-11, max_steps=5000)


def test_tm_envelope_measurements():
    solver = ac.TM(sdp=_TIGHT)

    def f(x):  # x = [t (direction of the measurements), p0]
        return jaxisac.solve(ac.PowerMeasurements(V, P2 + x[0] * DIR, x[1]), solver, throw=False).objective

    check_gradients("autocorrelation.TM [envelope; p and p0]", f, [0.0, 1.0], [0.02, 1.3], rtol=1e-5, rel_step=1e-5)


def test_tm_envelope_channel_at_exact_recovery():
    solver = ac.TM(sdp=_TIGHT)
    h = jnp.asarray(_D.hbar) / np.sqrt(_S)
    d = jnp.asarray(np.random.default_rng(3).standard_normal(h.shape) + 1j * np.random.default_rng(4).standard_normal(h.shape))

    def f(x):  # measurements of the rank-one channel h + x d (exact recovery: tr H_hat = ||h + x d||^2)
        hx = h + x[0] * d
        return jaxisac.solve(ac.PowerMeasurements(V, jnp.abs(V @ jnp.conj(hx)) ** 2), solver, throw=False).objective

    check_gradients("autocorrelation.TM [envelope; channel, exact recovery]", f, [0.0], [0.01], rtol=1e-5, rel_step=1e-5)


def test_robust_tm_envelope_bounds_and_penalty():
    base = ac.RobustTM(sdp=_TIGHT)

    def f(x):  # x = [t (shift of the interval bounds), rho]
        solver = eqx.tree_at(lambda s: s.rho, base, x[1])
        meas = ac.RobustMeasurements(V, 0.95 * P2 + 0.01 * x[0] * DIR, 1.05 * P2 + 0.01 * x[0] * DIR, sigma2=0.01)
        return jaxisac.solve(meas, solver, throw=False).objective

    check_gradients("autocorrelation.RobustTM [envelope; bounds and rho]", f, [0.0, 1.0], [0.5, 2.0], rtol=1e-5,
                    rel_step=1e-5)


def _unrolled_lra(rho_steps=10):
    # the switches off: no stopping rule (eps = 1), fixed penalty, no certificates, no convergence freeze
    return ac.LRA(eps=1.0, adjoint="unrolled",
                  sdp=ADMMSDP(tol=1e-300, max_steps=rho_steps, adaptive=False, infeas_tol=0.0))


@pytest.mark.slow
def test_lra_unrolled_data_and_penalty():
    base = _unrolled_lra(10)

    def f(x):  # x = [t (direction of the measurements), ADMM penalty rho]; TM + 2 alternations, 100 ADMM its each
        solver = eqx.tree_at(lambda s: s.sdp.rho, base, x[1])
        sol = jaxisac.solve(ac.PowerMeasurements(V, P2 + x[0] * DIR), solver, max_steps=2, unroll=True, throw=False)
        return _err(sol.value) + sol.objective

    check_gradients("autocorrelation.LRA [unrolled; data and ADMM rho]", f, [0.0, 1.0], [0.02, 1.5], rtol=1e-6)


@pytest.mark.slow
def test_lra_unrolled_reverse_mode_one_step():
    """One alternation, 30 ADMM iterations per SDP, reverse mode only (still 26 s: the compile)."""
    solver = _unrolled_lra(3)

    def f(x):
        sol = jaxisac.solve(ac.PowerMeasurements(V, P2 + x[0] * DIR), solver, max_steps=1, unroll=True, throw=False)
        return _err(sol.value)

    check_gradients("autocorrelation.LRA [unrolled, 1 step; data]", f, [0.0], [0.02], modes=("rev",), vmap=False,
                    rtol=1e-6)
