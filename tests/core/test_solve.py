"""The solve loop: vmap equals a loop, statuses, throw, unrolled differentiation."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac.core import AbstractSolver, Solution, SolveError, Status


class SqrtProblem(eqx.Module):
    """Find x = sqrt(a) by Newton's method; a < 0 is reported infeasible."""

    a: jax.Array


class NewtonSqrt(AbstractSolver):
    tol: float = 1e-10
    max_steps: int = 100

    def init(self, problem, init):
        x0 = jnp.maximum(problem.a, 1.0) if init is None else jnp.asarray(init, problem.a.dtype)
        return x0

    def step(self, problem, x):
        return 0.5 * (x + problem.a / x)

    def terminate(self, problem, x):
        infeasible = problem.a < 0
        converged = jnp.abs(x * x - problem.a) <= self.tol * jnp.maximum(problem.a, 1.0)
        status = jnp.where(infeasible, Status.INFEASIBLE(), Status.SUCCESS())
        return infeasible | converged, status

    def postprocess(self, problem, x, result, stats):
        return Solution(value=x, objective=jnp.abs(x * x - problem.a), result=result, stats=stats)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_vmap_equals_loop_with_different_iteration_counts(dtype):
    a = jnp.array([1.0, 2.0, 1e6, 3e-3, 7.0, 1e12], dtype)
    solver = NewtonSqrt(tol=1e-6 if dtype == jnp.float32 else 1e-12)
    batched = jax.vmap(lambda p: jaxisac.solve(p, solver, throw=False))(SqrtProblem(a))
    steps = np.asarray(batched.stats["steps"])
    assert len(set(steps.tolist())) >= 3, steps  # genuinely different per-instance counts
    for i in range(a.shape[0]):
        one = jaxisac.solve(SqrtProblem(a[i]), solver, throw=False)
        assert int(one.stats["steps"]) == int(steps[i])
        assert float(one.value) == float(batched.value[i])  # bit-identical, not just close
        assert int(one.result) == int(batched.result[i])
    np.testing.assert_allclose(batched.value, np.sqrt(np.asarray(a, np.float64)), rtol=1e-5 if dtype == jnp.float32 else 1e-10)


def test_statuses_per_instance_and_throw():
    a = jnp.array([4.0, -1.0, 9.0])
    sol = jax.vmap(lambda p: jaxisac.solve(p, NewtonSqrt(), throw=False))(SqrtProblem(a))
    assert sol.result.tolist() == [Status.SUCCESS, Status.INFEASIBLE, Status.SUCCESS]
    assert int(sol.stats["steps"][1]) == 0  # certified before any step
    assert "infeasible: 1" in sol.summary()
    with pytest.raises(SolveError, match="infeasible"):
        jaxisac.solve(SqrtProblem(jnp.asarray(-1.0)), NewtonSqrt())
    # max steps
    sol = jaxisac.solve(SqrtProblem(jnp.asarray(1e12)), NewtonSqrt(), max_steps=3, throw=False)
    assert int(sol.result) == Status.MAX_STEPS and int(sol.stats["steps"]) == 3
    with pytest.raises(SolveError, match="max_steps"):
        jaxisac.solve(SqrtProblem(jnp.asarray(1e12)), NewtonSqrt(), max_steps=3)


def test_nonfinite_is_reported_and_last_finite_iterate_kept():
    # a = 0 with init 0: 0/0 -> NaN on the first step
    sol = jaxisac.solve(SqrtProblem(jnp.asarray(0.0)), NewtonSqrt(tol=-1.0), init=0.0, throw=False)
    assert int(sol.result) == Status.NONFINITE
    assert np.isfinite(float(sol.value))


def test_throw_inside_jit_raises_runtime_error():
    f = jax.jit(lambda a: jaxisac.solve(SqrtProblem(a), NewtonSqrt()).value)
    assert float(f(jnp.asarray(4.0))) == pytest.approx(2.0)
    with pytest.raises(Exception, match="did not succeed"):
        jax.block_until_ready(f(jnp.asarray(-4.0)))


def test_unrolled_loop_is_reverse_differentiable_and_matches_while():
    def value(a, unroll):
        return jaxisac.solve(SqrtProblem(a), NewtonSqrt(max_steps=40), unroll=unroll, throw=False).value

    a = jnp.asarray(3.0)
    np.testing.assert_allclose(value(a, True), value(a, False), rtol=1e-14)
    g = jax.grad(lambda a: value(a, True))(a)
    np.testing.assert_allclose(g, 0.5 / np.sqrt(3.0), rtol=1e-8)


def test_bad_arguments():
    with pytest.raises(ValueError, match="solver"):
        jaxisac.solve(SqrtProblem(jnp.asarray(1.0)), object())
    with pytest.raises(ValueError, match="max_steps"):
        jaxisac.solve(SqrtProblem(jnp.asarray(1.0)), NewtonSqrt(), max_steps=-1)


def test_zero_steps_runs_no_loop_and_returns_the_init_state():
    # closed-form solvers (max_steps = 0) must not be wrapped in a loop: a loop carries every stat,
    # so XLA could not drop the ones the caller ignores
    a = jnp.array([4.0, 9.0, -1.0])
    f = jax.vmap(lambda p: jaxisac.solve(p, NewtonSqrt(), max_steps=0, throw=False))
    sol = f(SqrtProblem(a))
    np.testing.assert_array_equal(sol.value, np.maximum(np.asarray(a), 1.0))
    assert sol.stats["steps"].tolist() == [0, 0, 0]
    assert sol.result.tolist() == [Status.MAX_STEPS, Status.MAX_STEPS, Status.INFEASIBLE]
    assert "while" not in str(jax.make_jaxpr(f)(SqrtProblem(a)))
    assert "while" in str(jax.make_jaxpr(jax.vmap(lambda p: jaxisac.solve(p, NewtonSqrt(), throw=False)))(SqrtProblem(a)))
