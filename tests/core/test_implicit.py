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


def test_implicit_solution_may_close_over_traced_data_under_jit():
    # x solves x^3 + s x - b = 0 where s is closed over (a tracer under jit and under grad).
    def make(s):
        def solve_fn(b):
            x = jax.lax.fori_loop(0, 60, lambda _, x: x - (x**3 + s * x - b) / (3 * x**2 + s), jnp.ones_like(b))
            return jax.lax.stop_gradient(x)

        return implicit_solution(solve_fn, lambda x, b: x**3 + s * x - b)

    def x_of(b, s):
        return make(s)(b)

    b, s = jnp.asarray(2.0), jnp.asarray(1.5)
    x = x_of(b, s)
    np.testing.assert_allclose(x**3 + s * x, b, rtol=1e-12)
    dx_db, dx_ds = jax.jit(jax.grad(x_of, argnums=(0, 1)))(b, s)
    np.testing.assert_allclose(dx_db, 1 / (3 * x**2 + s), rtol=1e-10)
    np.testing.assert_allclose(dx_ds, -x / (3 * x**2 + s), rtol=1e-10)  # through the closed-over s
    _, t = jax.jit(lambda s: jax.jvp(lambda ss: x_of(b, ss), (s,), (jnp.ones_like(s),)))(s)
    np.testing.assert_allclose(t, dx_ds, rtol=1e-10)
