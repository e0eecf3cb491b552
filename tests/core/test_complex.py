import jax
import jax.numpy as jnp
import numpy as np

from jaxisac.core import ascent_grad, complex_view, hermitian_part, real_inner, real_view, value_and_ascent_grad


def _fd_ascent(f, z, h=1e-6):
    """Finite-difference ascent direction: df/dx + i df/dy, perturbing real and imaginary parts."""
    z = np.asarray(z)
    g = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[idx] = 1.0
        dx = (f(z + h * e) - f(z - h * e)) / (2 * h)
        dy = (f(z + 1j * h * e) - f(z - 1j * h * e)) / (2 * h)
        g[idx] = dx + 1j * dy
    return g


def test_ascent_grad_matches_finite_differences_nonholomorphic():
    key = jax.random.key(0)
    A = jax.random.normal(key, (4, 3), dtype=jnp.complex128)
    b = jax.random.normal(jax.random.key(1), (4,), dtype=jnp.complex128)

    def f(z):  # real, non-holomorphic: |Az - b|^2 + Re(z0^2) + |z|^4
        return jnp.sum(jnp.abs(A @ z - b) ** 2) + jnp.real(z[0] ** 2) + jnp.sum(jnp.abs(z) ** 2) ** 2

    z = jax.random.normal(jax.random.key(2), (3,), dtype=jnp.complex128)
    g = ascent_grad(f)(z)
    np.testing.assert_allclose(g, _fd_ascent(lambda x: float(f(jnp.asarray(x))), z), rtol=1e-6, atol=1e-7)
    # and it is the conjugate of jax.grad
    np.testing.assert_allclose(g, jnp.conj(jax.grad(f)(z)))


def test_ascent_direction_increases_function():
    f = lambda z: -jnp.sum(jnp.abs(z - (1 + 2j)) ** 2)
    z = jnp.zeros(3, jnp.complex128)
    v, g = value_and_ascent_grad(f)(z)
    assert float(f(z + 1e-3 * g)) > float(v)
    # directional derivative = Re<g, dz>
    dz = jnp.array([1 - 1j, 0.5j, 2.0])
    fd = (f(z + 1e-7 * dz) - f(z - 1e-7 * dz)) / 2e-7
    np.testing.assert_allclose(real_inner(g, dz), fd, rtol=1e-6)


def test_ascent_grad_pytree_and_real_leaves():
    def f(p):
        return jnp.sum(jnp.abs(p["w"]) ** 2) * p["s"] ** 2

    p = {"w": jnp.array([1 + 1j, 2 - 1j]), "s": jnp.asarray(3.0)}
    g = ascent_grad(f)(p)
    np.testing.assert_allclose(g["w"], 2 * p["w"] * 9.0)
    np.testing.assert_allclose(g["s"], 2 * 3.0 * 7.0)


def test_hermitian_part_and_views():
    A = jax.random.normal(jax.random.key(3), (2, 3, 3), dtype=jnp.complex128)
    H = hermitian_part(A)
    np.testing.assert_allclose(H, jnp.conj(jnp.swapaxes(H, -1, -2)))
    z = A[0]
    np.testing.assert_array_equal(complex_view(real_view(z)), z)
