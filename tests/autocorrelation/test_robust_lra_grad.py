"""RobustLRA unrolled (``adjoint="unrolled"``): derivatives of the truncated map "robust TM, then K
(G, gamma)-steps, every SDP a fixed count of ADMM iterations" against central finite differences of
re-solves in float64, under ``jit``; forward mode equal to reverse mode; ``vmap`` equal to a loop.

A tiny drop (N = 4, T = 10, complex patterns, rank-two truth) with interval data ``0.9 p .. 1.1 p``:
the slabs are wide enough that robust LRA moves away from robust TM, so every step contributes.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import autocorrelation as ac
from jaxisac.core.sdp import ADMMSDP

from ..gradients.helpers import check_gradients

N, T = 4, 10
_RNG = np.random.default_rng(0)
V = jnp.asarray(np.exp(2j * np.pi * _RNG.random((T, N))))
_W = _RNG.standard_normal((N, 2)) + 1j * _RNG.standard_normal((N, 2))
H2 = jnp.asarray(_W @ _W.conj().T / N)
P = jnp.real(jnp.einsum("ti,ij,tj->t", jnp.conj(V), H2, V))
DIR = jnp.asarray(_RNG.standard_normal(T))
SIGMA2 = 0.01


def _smooth(checks, **kw):
    # the switches off: no stopping rule, no acceptance test, fixed ADMM penalty, no certificates,
    # no convergence freeze (tol below anything the budget reaches)
    sdp = ADMMSDP(tol=1e-300, max_steps=checks, adaptive=False, infeas_tol=0.0)
    return ac.RobustLRA(eps=1.0, monotone=False, adjoint="unrolled", sdp=sdp, **kw)


def _meas(t):
    shift = 0.05 * t * DIR
    return ac.RobustMeasurements(V, 0.9 * P + shift, 1.1 * P + shift, sigma2=SIGMA2)


def _loss(sol):
    return jnp.sum(jnp.abs(sol.value - H2) ** 2) + sol.objective


def test_unrolled_reverse_mode_matches_fd_of_resolves():
    """Default suite (compile-bound, ~10 s idle): warm-started from a fixed H0 (no robust TM: init then
    runs only best_trace), 1 step of 30 ADMM iterations, reverse mode under jit."""
    solver = _smooth(3)
    H0 = H2 + 0.1 * jnp.eye(N)

    def f(x):  # x = [t], the interval bounds shifted along DIR
        return _loss(jaxisac.solve(_meas(x[0]), solver, init=H0, max_steps=1, unroll=True, throw=False))

    errs = check_gradients("autocorrelation.RobustLRA [unrolled, 1 step; bounds]", f, [0.0], [0.3],
                           modes=("rev",), vmap=False, rtol=1e-6, rel_step=1e-4)
    assert errs["rev"] < 1e-6


@pytest.mark.slow
def test_unrolled_bounds_and_penalty_fwd_rev_vmap():
    """Robust TM + 2 steps, 100 ADMM iterations per SDP: w.r.t. the bounds and the penalty ``rho``;
    reverse and forward mode against FD, forward = reverse, vmap over two instances = one at a time."""
    base = _smooth(10)

    def f(x):  # x = [t (bounds shifted along DIR), rho]
        solver = eqx.tree_at(lambda s: s.rho, base, x[1])
        return _loss(jaxisac.solve(_meas(x[0]), solver, max_steps=2, unroll=True, throw=False))

    errs = check_gradients("autocorrelation.RobustLRA [unrolled; bounds and rho]", f, [0.0, 1.0], [0.3, 2.0],
                           rtol=1e-6, rel_step=1e-4)
    # rho enters robust TM only: its derivative is small but must be resolved, not lost in the tolerance
    g = errs["grad"]
    assert abs(g[1]) > 1e-5 * abs(g[0])


@pytest.mark.slow
def test_unrolled_admm_penalty_and_noise():
    """W.r.t. the ADMM penalty ``sdp.rho`` and the noise power ``sigma2`` (the unit of the SDPs)."""
    base = _smooth(10)

    def f(x):  # x = [ADMM rho, sigma2]
        solver = eqx.tree_at(lambda s: s.sdp.rho, base, x[0])
        meas = ac.RobustMeasurements(V, 0.9 * P, 1.1 * P, sigma2=x[1])
        return _loss(jaxisac.solve(meas, solver, max_steps=2, unroll=True, throw=False))

    check_gradients("autocorrelation.RobustLRA [unrolled; ADMM rho and sigma2]", f, [1.0, SIGMA2], [1.5, 0.02],
                    rtol=1e-6, steps=[1e-4, 1e-6])


def test_unrolled_path_equals_while_loop_path():
    """With a convergence tolerance the scan freezes converged SDPs: the unrolled solve then returns
    what the default while-loop solve returns (same algorithm, another loop)."""
    sdp = ADMMSDP(tol=1e-8, max_steps=400, adaptive=False)
    meas = _meas(0.0)
    loop = jaxisac.solve(meas, ac.RobustLRA(eps=1.0, max_steps=2, sdp=sdp), throw=False)
    scan = jaxisac.solve(meas, ac.RobustLRA(eps=1.0, sdp=sdp, adjoint="unrolled"), max_steps=2, unroll=True,
                         throw=False)
    assert int(scan.stats["steps"]) == int(loop.stats["steps"]) == 2
    np.testing.assert_allclose(np.asarray(scan.value), np.asarray(loop.value), rtol=1e-10,
                               atol=1e-10 * float(jnp.max(jnp.abs(loop.value))))
    np.testing.assert_allclose(np.asarray(scan.stats["delta"]), np.asarray(loop.stats["delta"]), rtol=1e-8,
                               atol=1e-12)


def test_switches_validated():
    with pytest.raises(ValueError, match="adjoint"):
        ac.RobustLRA(adjoint="implicit")
    with pytest.raises(ValueError, match="monotone"):
        ac.RobustLRA(monotone="no")
