"""Gradient matrix of the shared machinery: ``bracketed_root`` (implicit), ``implicit_solution``
(the generic mechanism), ``sdp.optimal_value`` (envelope), ``ADMMSDP`` (unrolled, incl. its penalty),
``RiemannianAscent`` / ``RiemannianCG`` (envelope; unrolled incl. the step size ``init_step``)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac.core import ADMMSDP, SDP, bracketed_root, implicit_solution, optimal_value
from jaxisac.core.manifolds import BlockUnitary
from jaxisac.core.riemannian import AbstractManifoldProblem, RiemannianAscent, RiemannianCG

from .helpers import check_gradients


# -- bracketed_root: implicit function theorem (forward and reverse) ------------------------------
def _cubic(x, a):
    return x**3 + a[0] * x - a[1]


def test_bracketed_root_implicit():
    def f(a):
        return bracketed_root(_cubic, 0.0, 10.0, (a[0], a[1])).root

    errs = check_gradients("core.bracketed_root [implicit]", f, [1.0, 5.0], [2.0, 3.0], rtol=1e-7)
    # and the closed form of the implicit function theorem: dr/da = (-r, 1) / (3 r^2 + a0)
    r, g = errs["value"], errs["grad"]
    np.testing.assert_allclose(g, np.array([-r, 1.0]) / (3 * r**2 + 1.0), rtol=1e-10)
    assert errs["rev"] < 1e-7


# -- implicit_solution: a small nonlinear complex system, solved by fixed-point iterations --------
def _residual(z, p):
    a, b = p
    return z + 0.3 * jnp.tanh(jnp.real(z)) * (1 + 0.5j) - a * b  # holomorphic in neither z nor p


def _solve_fp(p):
    a, b = p
    return jax.lax.fori_loop(0, 200, lambda _, z: a * b - 0.3 * jnp.tanh(jnp.real(z)) * (1 + 0.5j), jnp.zeros_like(a * b))


def test_implicit_solution_generic():
    def f(x):
        a = jnp.array([1.0 + 0.5j, -0.3 + 0.2j]) * x[0]
        z = implicit_solution(_solve_fp, _residual)((a, x[1]))
        return jnp.sum(jnp.abs(z) ** 2) + jnp.real(z[0])

    check_gradients("core.implicit_solution [implicit]", f, [1.0, 0.8], [0.7, 1.2], rtol=1e-7)


# -- optimal_value of an SDP: envelope theorem ----------------------------------------------------
_rng = np.random.default_rng(0)
_Z = _rng.standard_normal((3, 3))
_C0 = jnp.asarray(_Z @ _Z.T / 3 + np.eye(3))
_A0 = _rng.standard_normal((2, 3, 3))
_A0 = jnp.asarray(_A0 + np.swapaxes(_A0, 1, 2)).at[0].set(jnp.eye(3))
_DC = jnp.asarray(np.diag([1.0, -0.5, 0.2]))
_B0 = jnp.array([1.0, 0.3])
_DB = jnp.array([0.2, -0.5])


def _sdp(x):
    return SDP(C=(_C0 + x[1] * _DC,), A=(_A0,), b=_B0 + x[0] * _DB)


@pytest.mark.slow
def test_sdp_optimal_value_envelope():
    solver = ADMMSDP(tol=1e-10, max_steps=5000)
    f = lambda x: optimal_value(_sdp(x), solver)  # noqa: E731
    check_gradients("core.sdp.optimal_value [envelope]", f, [0.0, 0.0], [0.3, -0.2], rtol=2e-5, rel_step=1e-5)


# -- ADMMSDP unrolled: data and the penalty rho (a hyper-parameter) -------------------------------
@pytest.mark.slow
def test_admm_sdp_unrolled_data_and_penalty():
    base = ADMMSDP(adaptive=False, check_every=1)

    def f(x):  # x = [t (direction of b), rho]
        solver = eqx.tree_at(lambda s: s.rho, base, x[1])
        return jaxisac.solve(_sdp(jnp.stack([x[0], 0.0])), solver, max_steps=20, unroll=True, throw=False).objective

    errs = check_gradients("core.ADMMSDP [unrolled; b and rho]", f, [0.0, 1.0], [0.2, 2.0], rtol=1e-5)
    assert errs["rev"] < 1e-5


# -- Riemannian solvers ---------------------------------------------------------------------------
class _Procrustes(AbstractManifoldProblem):
    A: jax.Array
    B: jax.Array
    manifold: BlockUnitary

    def objective(self, X):
        return jnp.sum(jnp.abs(self.A @ X[0] @ self.B) ** 2)

    def initial_point(self):
        return self.manifold.identity(self.A.dtype)


def _cn(seed, shape):
    r = np.random.default_rng(seed)
    return jnp.asarray(r.standard_normal(shape) + 1j * r.standard_normal(shape))


_PA, _PB, _PD = _cn(1, (3, 3)), _cn(2, (3, 3)), _cn(3, (3, 3))


@pytest.mark.parametrize("cls", [pytest.param(c, marks=pytest.mark.slow) for c in (RiemannianCG, RiemannianAscent)])
def test_riemannian_envelope(cls):
    solver = cls(gtol=1e-11, max_steps=3000)
    man = BlockUnitary(1, 3)

    def f(x):
        return jaxisac.solve(_Procrustes(A=_PA + x[0] * _PD, B=_PB, manifold=man), solver, throw=False).objective

    check_gradients(f"core.{cls.__name__} [envelope]", f, [0.0], [0.3], rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("cls", [RiemannianAscent, RiemannianCG])
def test_riemannian_unrolled_data_and_step_size(cls):
    # Reverse mode only (the line search's checkpointed while loop is a custom_vjp: jvp raises).
    # ``init_step`` is the traceable hyper-parameter; ``armijo`` and ``rtol`` are read with float()
    # (concrete only), and the Armijo constant only decides accept/reject: zero derivative anyway.
    base = cls(adjoint="unrolled", max_steps=4, gtol=0.0)
    man = BlockUnitary(1, 3, "cayley")

    def f(x):  # x = [t (direction of A), init_step]
        solver = eqx.tree_at(lambda s: s.init_step, base, x[1])
        return jaxisac.solve(_Procrustes(A=_PA + x[0] * _PD, B=_PB, manifold=man), solver, unroll=True, throw=False).objective

    g = check_gradients(f"core.{cls.__name__} [unrolled; data and init_step]", f, [0.0, 0.3], [0.1, 0.25],
                        modes=("rev",), rtol=1e-6)["grad"]
    assert abs(float(g[1])) > 1e-6  # the step size genuinely matters after 4 iterations
