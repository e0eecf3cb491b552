"""Gradient matrix of the CRB-ISAC system (seed 001) on a tiny instance (N_t = 4, K = 2, Γ = 20 dB,
the active regime: R-BAL then a certified Newton polish): ``optimal_crb`` (envelope),
``optimal_solution`` (implicit, KKT system), ``RBAL`` and ``BAL`` unrolled (incl. the step size
``tau0``). Each compile of an R-BAL solve costs ~10-20 s on a loaded 2-core CPU, so the rows are
``slow``; the default suite has the same modes at larger sizes in ``tests/crb/test_diff*.py``."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
import jaxisac.crb as C

from .helpers import check_gradients

pytestmark = pytest.mark.slow

BASE = C.make_instance(3, 4, 2, sinr_db=20.0)
_rng = np.random.default_rng(7)
DIR = jnp.asarray(_rng.standard_normal((2, 4)) + 1j * _rng.standard_normal((2, 4)))


def _prob(x):
    """x = [sigma^2, P_T, Gamma_1, t]: channels + t DIR."""
    g = BASE.sinr_targets.at[1].set(x[2])
    return C.ExtendedTargetCRB(BASE.channels + x[3] * DIR, g, x[1], x[0])


X0 = [1.0, 100.0, 100.0, 0.0]
X1 = [1.2, 110.0, 80.0, 0.05]


def test_branch_is_the_smooth_active_one():
    sol = jaxisac.solve(_prob(jnp.asarray(X0)), C.RBAL())
    assert int(sol.stats["branch"]) in (C.Branch.RBAL, C.Branch.NEWTON)
    assert float(jnp.min(sol.stats["mu"])) > 1e-3 * float(jnp.max(sol.stats["mu"]))


def test_optimal_crb_envelope():
    f = lambda x: C.optimal_crb(_prob(x))  # noqa: E731
    check_gradients("crb.optimal_crb [envelope]", f, X0, X1, rtol=1e-6, rel_step=1e-5)


def test_optimal_solution_implicit():
    wts = jnp.asarray(np.linspace(1.0, 2.0, 8).reshape(4, 2))

    def f(x):  # a phase-invariant summary of the beams and one multiplier
        o = C.optimal_solution(_prob(x))
        return jnp.sum(wts * jnp.abs(o.W) ** 2) + 100.0 * o.mu[0]

    check_gradients("crb.optimal_solution [implicit]", f, X0, X1, rtol=1e-5, rel_step=1e-5)


@pytest.mark.parametrize("cls", [C.RBAL, C.BAL])
def test_unrolled_data_and_step_size(cls):
    base = cls(polish=False) if cls is C.RBAL else cls()

    def f(x):  # x = [sigma^2, P_T, Gamma_1, t, tau0]
        solver = eqx.tree_at(lambda s: s.tau0, base, x[4])
        return jaxisac.solve(_prob(x[:4]), solver, max_steps=10, unroll=True, throw=False).objective

    check_gradients(f"crb.{cls.__name__} [unrolled; data and tau0]", f, X0 + [0.1], X1 + [0.12], rtol=1e-5, rel_step=1e-5)
