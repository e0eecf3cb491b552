"""The bracketed root finder: accuracy, statuses, vmap == loop, float32, implicit gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac.core import Status
from jaxisac.core.roots import bracketed_root


def _cubic(x, c):
    return x**3 - c


@pytest.mark.parametrize("method", ["newton", "secant", "bisect"])
def test_roots_accurate_and_vmap_equals_loop(method):
    cs = jnp.array([0.5, 2.0, 8.0, 27.0, 1e-3])
    run = jax.jit(jax.vmap(lambda c: bracketed_root(_cubic, 0.0, 10.0, c, method=method)))
    res = run(cs)
    np.testing.assert_allclose(res.root, np.cbrt(np.asarray(cs)), rtol=1e-12, atol=1e-14)
    assert np.all(np.asarray(res.status) == int(Status.SUCCESS))
    single = jax.jit(lambda c: bracketed_root(_cubic, 0.0, 10.0, c, method=method))
    for i in range(cs.shape[0]):
        one = single(cs[i])
        assert float(one.root) == float(res.root[i])
        # Bisection stops on the bracket width, whose last ulp may differ between the vmapped and
        # the single compiled loop (XLA fuses the midpoint differently): allow one step there.
        assert abs(int(one.steps) - int(res.steps[i])) <= (1 if method == "bisect" else 0)
    if method == "newton":
        assert int(jnp.max(res.steps)) <= 15
    if method == "bisect":
        assert int(jnp.min(res.steps)) >= 40


def test_newton_is_fast_on_a_secular_equation():
    # The trust-region secular equation with a pole at the left end of the bracket.
    q = jnp.array([3.0, 1.0, 0.5, 0.1])
    w = jnp.array([1e-3, 2.0, 1.0, 0.5])
    theta = 0.3
    phi = lambda lam: 1.0 / jnp.sqrt(jnp.sum(w / (lam - q) ** 2)) - 1.0 / theta
    lo = q[0] + 1e-14
    hi = q[0] + jnp.sqrt(jnp.sum(w)) / theta
    res = bracketed_root(phi, lo, hi)
    assert int(res.status) == Status.SUCCESS
    assert abs(float(jnp.sqrt(jnp.sum(w / (res.root - q) ** 2))) - theta) < 1e-12
    assert int(res.steps) <= 30


def test_no_sign_change_gives_status_not_nan():
    res = bracketed_root(lambda x: x**2 + 1.0, -1.0, 2.0)
    assert int(res.status) == Status.INFEASIBLE
    assert float(res.root) == -1.0  # the endpoint with the smaller |f|
    assert np.isfinite(float(res.fval))
    res = bracketed_root(lambda x: jnp.log(x), -1.0, 2.0)
    assert int(res.status) == Status.NONFINITE and np.isfinite(float(res.root))


def test_max_steps_status_and_root_at_endpoint():
    res = bracketed_root(lambda x: x - 0.3, 0.0, 1.0, method="bisect", max_steps=3)
    assert int(res.status) == Status.MAX_STEPS
    res = bracketed_root(lambda x: x - 1.0, 0.0, 1.0)
    assert int(res.status) == Status.SUCCESS and float(res.root) == 1.0


def test_float32_close_to_float64():
    c = np.array([0.7, 3.0, 20.0])
    r32 = jax.vmap(lambda c: bracketed_root(_cubic, jnp.float32(0), jnp.float32(5), c))(jnp.asarray(c, jnp.float32))
    assert r32.root.dtype == jnp.float32
    assert np.all(np.asarray(r32.status) == int(Status.SUCCESS))
    np.testing.assert_allclose(r32.root, np.cbrt(c), rtol=20 * np.finfo(np.float32).eps)


def test_implicit_gradient_forward_and_reverse_matches_closed_form():
    f = lambda x, p: x**3 + p["a"] * x - p["b"]
    p = {"a": jnp.asarray(0.7), "b": jnp.asarray(2.0)}
    root = lambda p: bracketed_root(f, 0.0, 5.0, p).root
    g = jax.grad(root)(p)
    x = float(root(p))
    denom = 3 * x**2 + 0.7
    np.testing.assert_allclose(g["a"], -x / denom, rtol=1e-10)
    np.testing.assert_allclose(g["b"], 1.0 / denom, rtol=1e-10)
    _, t = jax.jvp(root, (p,), ({"a": jnp.asarray(1.0), "b": jnp.asarray(0.5)},))
    np.testing.assert_allclose(t, -x / denom + 0.5 / denom, rtol=1e-10)
    # finite differences
    h = 1e-6
    fd = (root({"a": p["a"], "b": p["b"] + h}) - root({"a": p["a"], "b": p["b"] - h})) / (2 * h)
    np.testing.assert_allclose(g["b"], fd, rtol=1e-7)
    # vmapped gradients
    gb = jax.vmap(jax.grad(lambda b: bracketed_root(f, 0.0, 5.0, {"a": p["a"], "b": b}).root))(jnp.array([1.0, 2.0]))
    assert np.all(np.isfinite(gb))


def test_supplied_derivative_and_validation():
    res = bracketed_root(lambda x: jnp.cos(x) - x, 0.0, 1.0, fprime=lambda x: -jnp.sin(x) - 1.0)
    np.testing.assert_allclose(res.root, 0.7390851332151607, atol=1e-14)
    with pytest.raises(ValueError, match="method"):
        bracketed_root(lambda x: x, -1.0, 1.0, method="brent")
    with pytest.raises(ValueError, match="lo/hi"):
        bracketed_root(lambda x: x, jnp.zeros(2), 1.0)
