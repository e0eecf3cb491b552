"""Generic Riemannian ascent / CG: optimality against closed forms, monotonicity, manifold,
vmap == loop, float32 ~ float64, gradients (envelope and unrolled) against finite differences."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac.core.manifolds import AbstractManifold, BlockUnitary, ComplexCircle, UnitaryGroup
from jaxisac.core.riemannian import AbstractManifoldProblem, RiemannianAscent, RiemannianCG


class Procrustes(AbstractManifoldProblem):
    """max_X ||A X B||_F^2 over U(n) (sign=+1) or min (sign=-1, maximise the negative).

    von Neumann: the maximum is sum_i s_i(A)^2 s_i(B)^2, the minimum pairs them in reverse order.
    """

    A: jax.Array
    B: jax.Array
    manifold: AbstractManifold
    sign: float = 1.0

    def objective(self, X):
        return self.sign * jnp.sum(jnp.abs(self.A @ X[0] @ self.B) ** 2)

    def initial_point(self):
        return self.manifold.identity(self.A.dtype)


def _cn(key, shape):
    kr, ki = jax.random.split(key)
    return jax.random.normal(kr, shape) + 1j * jax.random.normal(ki, shape)


def _bounds(A, B):
    sa = np.linalg.svd(np.asarray(A), compute_uv=False)
    sb = np.linalg.svd(np.asarray(B), compute_uv=False)
    return float(np.sum(sa**2 * sb**2)), float(np.sum(sa**2 * sb[::-1] ** 2))


A0 = _cn(jax.random.key(0), (4, 4))
B0 = _cn(jax.random.key(1), (4, 4))


@pytest.mark.parametrize("retraction", ["exp", "cayley", "qr"])
def test_cg_and_ascent_reach_von_neumann_bounds(retraction):
    hi, lo = _bounds(A0, B0)
    man = BlockUnitary(1, 4, retraction)
    solvers = [RiemannianCG(gtol=1e-9, trace=True, max_steps=400)]
    if retraction == "exp":
        solvers.append(RiemannianAscent(gtol=1e-9, trace=True, max_steps=400))
    for solver in solvers:
        for sign, target in [(1.0, hi), (-1.0, lo)]:
            sol = jaxisac.solve(Procrustes(A=A0, B=B0, manifold=man, sign=sign), solver)
            np.testing.assert_allclose(sign * float(sol.objective), target, rtol=1e-9)
            n = int(sol.stats["steps"])
            tr = np.asarray(sol.stats["trace"])[: n + 1]
            assert np.all(np.diff(tr) >= 0)  # monotone: rejected steps keep the point
            assert np.mean(np.diff(tr) > 0) > 0.8  # and nearly every step is a strict increase
            assert np.all(np.isnan(np.asarray(sol.stats["trace"])[n + 1 :]))
            assert float(sol.stats["distance_to_manifold"]) < 1e-10
            assert float(sol.stats["grad_norm"]) <= 1e-9 * float(sol.stats["grad_norm0"]) or bool(sol.stats["stalled"])


def test_cg_needs_fewer_iterations_than_ascent_and_warm_start():
    prob = Procrustes(A=A0, B=B0, manifold=BlockUnitary(1, 4))
    cg = jaxisac.solve(prob, RiemannianCG(gtol=1e-9))
    sd = jaxisac.solve(prob, RiemannianAscent(gtol=1e-9))
    assert int(cg.stats["steps"]) < int(sd.stats["steps"])
    # a warm start at the optimum stops at once
    again = jaxisac.solve(prob, RiemannianCG(gtol=1e-6), init=cg.value)
    assert int(again.stats["steps"]) <= 1
    np.testing.assert_allclose(again.objective, cg.objective, rtol=1e-12)


class CirclePower(AbstractManifoldProblem):
    A: jax.Array
    manifold: AbstractManifold

    def objective(self, x):
        return jnp.sum(jnp.abs(self.A @ x) ** 2)

    def initial_point(self):
        return jnp.ones(self.A.shape[1], self.A.dtype)


def test_circle_rank_one_optimum_and_vmap_equals_loop():
    # rank-one A = a b^H: the maximum over the circle is |a|^2 (sum |b_i|)^2 (phase alignment)
    keys = jax.random.split(jax.random.key(2), 4)
    a = jax.vmap(lambda k: _cn(k, (3, 1)))(keys)
    b = jax.vmap(lambda k: _cn(jax.random.fold_in(k, 1), (6, 1)))(keys)
    As = a @ jnp.conj(jnp.swapaxes(b, -1, -2))
    solver = RiemannianCG(gtol=1e-10)
    batched = jax.vmap(lambda A: jaxisac.solve(CirclePower(A=A, manifold=ComplexCircle(6)), solver, throw=False))(As)
    target = np.sum(np.abs(np.asarray(a)) ** 2, axis=(1, 2)) * np.sum(np.abs(np.asarray(b)), axis=(1, 2)) ** 2
    np.testing.assert_allclose(batched.objective, target, rtol=1e-10)
    for i in range(4):
        one = jaxisac.solve(CirclePower(A=As[i], manifold=ComplexCircle(6)), solver, throw=False)
        assert int(one.stats["steps"]) == int(batched.stats["steps"][i])
        np.testing.assert_allclose(one.value, batched.value[i], atol=1e-13)


def test_float32_close_to_float64():
    hi, _ = _bounds(A0, B0)
    man = BlockUnitary(1, 4)
    p32 = Procrustes(A=A0.astype(jnp.complex64), B=B0.astype(jnp.complex64), manifold=man)
    sol = jaxisac.solve(p32, RiemannianCG(gtol=1e-4))
    assert sol.value.dtype == jnp.complex64 and sol.objective.dtype == jnp.float32
    np.testing.assert_allclose(float(sol.objective), hi, rtol=50 * np.finfo(np.float32).eps)
    assert float(sol.stats["distance_to_manifold"]) < 1e-5


def test_envelope_gradient_of_the_optimal_value():
    man = BlockUnitary(1, 4)
    solver = RiemannianCG(gtol=1e-11)

    def opt(t):
        return jaxisac.solve(Procrustes(A=A0 * t, B=B0, manifold=man), solver).objective

    g = jax.grad(opt)(1.3)
    h = 1e-4
    fd = (opt(1.3 + h) - opt(1.3 - h)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-7)
    np.testing.assert_allclose(g, 2 * 1.3 * _bounds(A0, B0)[0], rtol=1e-8)  # value is t^2 * bound


def test_unrolled_gradient_matches_finite_differences():
    man = BlockUnitary(1, 3, "cayley")
    A, B = A0[:3, :3], B0[:3, :3]
    C = _cn(jax.random.key(6), (3, 3))
    solver = RiemannianAscent(adjoint="unrolled", max_steps=3, gtol=0.0)

    def value(t):  # (the iterates are invariant to scaling A, so perturb its direction)
        sol = jaxisac.solve(Procrustes(A=A + t * C, B=B, manifold=man), solver, unroll=True, throw=False)
        return jnp.real(jnp.sum(sol.value * jnp.conj(_cn(jax.random.key(5), (1, 3, 3)))))

    g = jax.grad(value)(0.5)
    h = 1e-6
    fd = (value(0.5 + h) - value(0.5 - h)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-5)
    assert abs(float(g)) > 1e-6  # a genuine (non-zero) dependence


def test_bad_arguments():
    with pytest.raises(ValueError, match="adjoint"):
        RiemannianCG(adjoint="implicit")
    with pytest.raises(ValueError, match="beta"):
        RiemannianCG(beta="HS")
    with pytest.raises(ValueError, match="armijo"):
        RiemannianAscent(armijo=1.5)
    with pytest.raises(ValueError, match="gtol"):
        RiemannianAscent(gtol=-1.0)
    with pytest.raises(ValueError, match="problem"):
        jaxisac.solve(eqx.Module(), RiemannianCG())
