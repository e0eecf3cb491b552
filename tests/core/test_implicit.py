import jax
import jax.numpy as jnp
import numpy as np

from jaxisac.core import implicit_solution, ravel_real


def _solve_linear_complex(params):
    # Fixed-point iteration (not differentiable by itself: stop_gradient) for A x = b.
    A, b = params["A"], params["b"]
    x = jax.lax.fori_loop(0, 2000, lambda _, x: x + 0.2 * (b - A @ x), jnp.zeros_like(b))
    return jax.lax.stop_gradient(x)


def _residual(x, params):
    return params["A"] @ x - params["b"]


def test_ravel_real_roundtrip():
    tree = {"a": jnp.array([1 + 2j, 3 - 1j]), "b": jnp.array([[1.0, 2.0]])}
    flat, unravel = ravel_real(tree)
    assert flat.shape == (6,) and not jnp.iscomplexobj(flat)
    back = unravel(flat)
    np.testing.assert_array_equal(back["a"], tree["a"])
    np.testing.assert_array_equal(back["b"], tree["b"])


def test_implicit_gradient_forward_and_reverse_against_closed_form():
    n = 3
    k1, k2 = jax.random.split(jax.random.key(0))
    M = 0.3 * jax.random.normal(k1, (n, n), dtype=jnp.complex128)
    A = jnp.eye(n) + M
    b = jax.random.normal(k2, (n,), dtype=jnp.complex128)
    sol = implicit_solution(_solve_linear_complex, _residual)
    params = {"A": A, "b": b}
    np.testing.assert_allclose(sol(params), jnp.linalg.solve(A, b), rtol=1e-10)

    loss = lambda p: jnp.sum(jnp.abs(sol(p)) ** 2)
    exact = lambda p: jnp.sum(jnp.abs(jnp.linalg.solve(p["A"], p["b"])) ** 2)
    g = jax.grad(loss)(params)
    g_ref = jax.grad(exact)(params)
    np.testing.assert_allclose(g["A"], g_ref["A"], rtol=1e-8)
    np.testing.assert_allclose(g["b"], g_ref["b"], rtol=1e-8)
    # forward mode
    t = {"A": jnp.zeros_like(A), "b": jnp.ones_like(b)}
    _, d = jax.jvp(loss, (params,), (t,))
    _, d_ref = jax.jvp(exact, (params,), (t,))
    np.testing.assert_allclose(d, d_ref, rtol=1e-8)
    # under vmap
    bs = jnp.stack([b, 2 * b])
    gv = jax.vmap(lambda bb: jax.grad(lambda p: loss(p))({"A": A, "b": bb})["b"])(bs)
    np.testing.assert_allclose(gv[1], jax.grad(exact)({"A": A, "b": 2 * b})["b"], rtol=1e-8)
