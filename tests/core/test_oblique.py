"""Complex oblique manifold: projection is orthogonal, retraction lands on the manifold."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac.core.complex import real_inner
from jaxisac.core.manifolds.oblique import ComplexOblique


@pytest.mark.parametrize("axis", ["rows", "cols"])
def test_oblique_projection_and_retraction(axis):
    M = ComplexOblique((4, 6), radius=2.5, axis=axis)
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    x = M.random_point(k1, jnp.complex128)
    assert float(M.distance_to_manifold(x)) < 1e-12
    z = jax.random.normal(k2, (4, 6), jnp.complex128)
    w = jax.random.normal(k3, (4, 6), jnp.complex128)
    pz = M.proj(x, z)
    # tangent: d/dt ||rows of x + t pz||^2 = 2 Re <x_row, pz_row> = 0
    ax = -1 if axis == "rows" else -2
    np.testing.assert_allclose(jnp.sum(jnp.real(jnp.conj(x) * pz), axis=ax), 0.0, atol=1e-12)
    # idempotent and self-adjoint in the real inner product (orthogonal projection)
    np.testing.assert_allclose(M.proj(x, pz), pz, atol=1e-12)
    np.testing.assert_allclose(real_inner(M.proj(x, z), w), real_inner(z, M.proj(x, w)), rtol=1e-12)
    # a purely imaginary rotation of x is tangent (the complex diag(Z X^H) projection would remove it)
    iv = 1j * x
    np.testing.assert_allclose(M.proj(x, iv), iv, atol=1e-12)
    y = M.retract(x, 0.3 * pz)
    assert float(M.distance_to_manifold(y)) < 1e-12
    # retraction is first-order: R_x(t v) = x + t v + O(t^2)
    t = 1e-4
    np.testing.assert_allclose((M.retract(x, t * pz) - x) / t, pz, atol=1e-3)
    assert float(M.distance_to_manifold(M.transport(x, y, pz) * 0 + y)) < 1e-12


def test_oblique_validation_and_float32():
    with pytest.raises(ValueError, match="radius"):
        ComplexOblique((2, 3), radius=-1.0)
    with pytest.raises(ValueError, match="axis"):
        ComplexOblique((2, 3), axis="diag")
    M = ComplexOblique((3, 5), radius=1.5)
    x = M.random_point(jax.random.key(1), jnp.complex64)
    assert x.dtype == jnp.complex64 and float(M.distance_to_manifold(x)) < 1e-5
    z = M.normalize(jnp.zeros((3, 5), jnp.complex64))
    assert float(M.distance_to_manifold(z)) < 1e-5
