"""Manifolds: points stay on the manifold, tangent projections, retractions, transport, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac.core import ascent_grad, real_inner
from jaxisac.core.manifolds import BlockUnitary, ComplexCircle, UnitaryGroup, haar_unitary, polar_factor, skew

RETRACTIONS = ["exp", "expm", "cayley", "qr", "polar"]


def _cn(key, shape, dtype=jnp.complex128):
    kr, ki = jax.random.split(key)
    return (jax.random.normal(kr, shape) + 1j * jax.random.normal(ki, shape)).astype(dtype)


def _walk(man, x, n):
    """n retraction steps of length 0.1 along random tangent directions (one compiled loop)."""

    def body(i, y):
        d = man.proj(y, _cn(jax.random.fold_in(jax.random.key(10), i), x.shape, x.dtype))
        return man.retract(y, (0.1 / man.norm(y, d)).astype(jnp.real(d).dtype) * d)

    return jax.jit(lambda y: jax.lax.fori_loop(0, n, body, y))(x)


def _manifolds(retraction="exp"):
    """Every code path once: blocks of size > 1 for each retraction, size-1 blocks per formula."""
    mans = [BlockUnitary(3, 2, retraction=retraction)]
    if retraction == "exp":
        mans += [ComplexCircle(5), UnitaryGroup(4), BlockUnitary(4, 1)]
    if retraction in ("cayley", "qr"):
        mans += [BlockUnitary(4, 1, retraction=retraction)]
    if retraction == "qr":
        mans += [ComplexCircle(5, retraction="normalize")]
    return mans


@pytest.mark.parametrize("retraction", RETRACTIONS)
def test_points_tangents_and_retractions_stay_on_manifold(retraction):
    key = jax.random.key(0)
    for man in _manifolds(retraction):
        x = man.random_point(key)
        assert float(man.distance_to_manifold(x)) < 1e-13
        v = man.proj(x, _cn(jax.random.key(1), x.shape))
        # projection is idempotent and the result is tangent
        np.testing.assert_allclose(man.proj(x, v), v, atol=1e-13)
        if isinstance(man, ComplexCircle):
            assert float(jnp.max(jnp.abs(jnp.real(jnp.conj(x) * v)))) < 1e-13
        else:
            om = v @ jnp.conj(jnp.swapaxes(x, -1, -2))
            np.testing.assert_allclose(om, -jnp.conj(jnp.swapaxes(om, -1, -2)), atol=1e-13)
        # 200 steps of size 0.1 (unit direction) keep the point on the manifold to 1e-12
        y = _walk(man, x, 200)
        assert float(man.distance_to_manifold(y)) < 1e-12, (type(man).__name__, retraction)
        # the curve starts at x with velocity v (first order), for every retraction
        c = man.curve(x, v)
        np.testing.assert_allclose(c(0.0), x, atol=1e-14)
        h = 1e-6
        np.testing.assert_allclose((c(h) - c(-h)) / (2 * h), v, atol=1e-7)


def test_exponential_retractions_agree_and_orders_of_accuracy():
    man_exp = UnitaryGroup(6, "exp")
    x = man_exp.random_point(jax.random.key(3))
    v = man_exp.proj(x, _cn(jax.random.key(4), (6, 6)))
    v = v / jnp.linalg.norm(jnp.linalg.eigvalsh(1j * skew(v @ jnp.conj(x.T))), jnp.inf)  # ||Omega||_2 = 1
    geo = man_exp.curve(x, v)
    np.testing.assert_allclose(UnitaryGroup(6, "expm").curve(x, v)(0.3), geo(0.3), atol=1e-13)
    # the eigh exponential is exactly the group exponential: exp(2t) = exp(t)^2 on the generator
    om = skew(v @ jnp.conj(x.T))
    e1 = geo(0.2) @ jnp.conj(x.T)
    np.testing.assert_allclose(e1 @ e1, geo(0.4) @ jnp.conj(x.T), atol=1e-13)
    np.testing.assert_allclose(jax.scipy.linalg.expm(0.2 * om), e1, atol=1e-13)
    # Cayley deviates O(t^3), QR O(t^2) from the geodesic: halving t divides the error by ~8 / ~4
    for r, order in [("cayley", 3), ("qr", 2), ("polar", 2)]:
        c = UnitaryGroup(6, r).curve(x, v)
        e = [float(jnp.linalg.norm(c(t) - geo(t))) for t in (0.02, 0.01)]
        ratio = e[0] / e[1]
        assert 2 ** order * 0.7 < ratio < 2 ** order * 1.5 or (r == "polar" and ratio > 2 ** order * 0.7), (r, e)


def test_riemannian_gradient_gives_the_directional_derivative():
    A = _cn(jax.random.key(5), (3, 8))
    B = _cn(jax.random.key(6), (8, 2))

    def f(X):  # a real function of a block-unitary point
        T = jax.scipy.linalg.block_diag(*[X[g] for g in range(X.shape[0])])
        return jnp.sum(jnp.abs(A @ T @ B) ** 2) + jnp.real(jnp.trace(A @ T @ T @ A.conj().T))

    for man in [BlockUnitary(2, 4), BlockUnitary(8, 1), BlockUnitary(1, 8)]:
        x = man.random_point(jax.random.key(7))
        g = man.egrad_to_rgrad(x, ascent_grad(f)(x))
        v = man.proj(x, _cn(jax.random.key(8), x.shape))
        c = man.curve(x, v)
        h = 1e-5
        fd = (f(c(h)) - f(c(-h))) / (2 * h)
        np.testing.assert_allclose(man.inner(x, g, v), fd, rtol=1e-8)
        # G~ (the spec's Lie-algebra gradient) is twice the right-trivialised Riemannian gradient
        np.testing.assert_allclose(man.lie_gradient(x, ascent_grad(f)(x)), 2 * man.generator(x, g), atol=1e-12)

    circ = ComplexCircle(8)
    z = circ.random_point(jax.random.key(9))
    fz = lambda z: jnp.sum(jnp.abs(A @ z) ** 2)
    g = circ.egrad_to_rgrad(z, ascent_grad(fz)(z))
    # on the torus: the phase derivative d f / d phi_n equals Im(conj(z_n) g_n) (spec 4.2)
    dphi = jax.grad(lambda p: fz(z * jnp.exp(1j * p)))(jnp.zeros(8))
    np.testing.assert_allclose(jnp.imag(jnp.conj(z) * g), dphi, rtol=1e-10)


def test_transport_is_tangent_and_isometric_on_unitary_groups():
    man = BlockUnitary(3, 3)
    x = man.random_point(jax.random.key(11))
    y = man.random_point(jax.random.key(12))
    u = man.proj(x, _cn(jax.random.key(13), x.shape))
    w = man.proj(x, _cn(jax.random.key(14), x.shape))
    tu, tw = man.transport(x, y, u), man.transport(x, y, w)
    np.testing.assert_allclose(man.proj(y, tu), tu, atol=1e-13)
    np.testing.assert_allclose(man.inner(y, tu, tw), man.inner(x, u, w), rtol=1e-12)
    circ = ComplexCircle(4)
    a, b = circ.random_point(jax.random.key(1)), circ.random_point(jax.random.key(2))
    t = circ.transport(a, b, circ.proj(a, _cn(jax.random.key(3), (4,))))
    assert float(jnp.max(jnp.abs(jnp.real(jnp.conj(b) * t)))) < 1e-14


def test_unitary_coordinates_are_transport_free_isometric_and_invert():
    """Packed real Lie-algebra coordinates: the dot product is the metric, right translation leaves
    them unchanged, from_coords inverts coords, curve_coords follows curve."""
    for man in (BlockUnitary(3, 4, "cayley"), UnitaryGroup(5, "exp")):
        x = man.random_point(jax.random.key(21))
        y = man.random_point(jax.random.key(22))
        u = man.proj(x, _cn(jax.random.key(23), x.shape))
        w = man.proj(x, _cn(jax.random.key(24), x.shape))
        cu, cw = man.coords(x, u), man.coords(x, w)
        assert cu.dtype == jnp.float64 and cu.shape == x.shape
        np.testing.assert_allclose(float(jnp.sum(cu * cw)), float(man.inner(x, u, w)), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(man.from_coords(x, cu)), np.asarray(u), atol=1e-13)
        np.testing.assert_allclose(np.asarray(man.coords(y, man.transport(x, y, u))), np.asarray(cu), atol=1e-13)
        # an ambient (Euclidean) vector maps to the coordinates of its tangent part
        g = _cn(jax.random.key(25), x.shape)
        np.testing.assert_allclose(np.asarray(man.coords(x, g)), np.asarray(man.coords(x, man.proj(x, g))), atol=1e-13)
        np.testing.assert_allclose(np.asarray(man.curve_coords(x, cu)(0.3)), np.asarray(man.curve(x, u)(0.3)), atol=1e-13)


def test_closest_point_and_haar():
    m = _cn(jax.random.key(20), (5, 5))
    p = polar_factor(m)
    man = UnitaryGroup(5)
    assert float(man.distance_to_manifold(p)) < 1e-13
    # the polar factor is the nearest unitary: no random unitary is closer
    others = haar_unitary(jax.random.key(21), (200, 5, 5))
    assert float(jnp.linalg.norm(m - p)) <= float(jnp.min(jnp.linalg.norm(m - others, axis=(-2, -1))))
    # Haar: E[|tr U|^2] = 1 (sample mean of 2000 draws within 4 standard errors)
    u = haar_unitary(jax.random.key(22), (2000, 3, 3))
    tr2 = np.abs(np.trace(np.asarray(u), axis1=1, axis2=2)) ** 2
    assert abs(tr2.mean() - 1.0) < 4 * tr2.std() / np.sqrt(2000)
    c = ComplexCircle(3).closest_point(jnp.array([2.0 + 0j, 0.0, -1j]))
    np.testing.assert_allclose(jnp.abs(c), 1.0)


def test_complex64_drift_and_vmap():
    man = BlockUnitary(3, 2)
    x = man.random_point(jax.random.key(30), jnp.complex64)
    assert x.dtype == jnp.complex64
    y = _walk(man, x, 200)
    assert y.dtype == jnp.complex64
    assert float(man.distance_to_manifold(y)) < 1e-4
    # batched curve equals a loop
    xs = jax.vmap(lambda k: man.random_point(k))(jax.random.split(jax.random.key(31), 3))
    vs = jax.vmap(man.proj)(xs, _cn(jax.random.key(32), xs.shape))
    batched = jax.vmap(lambda a, b: man.curve(a, b)(0.7))(xs, vs)
    for i in range(3):
        np.testing.assert_allclose(batched[i], man.curve(xs[i], vs[i])(0.7), atol=1e-13)


def test_bad_arguments():
    with pytest.raises(ValueError, match="retraction"):
        UnitaryGroup(3, retraction="eig")
    with pytest.raises(ValueError, match="block_size"):
        BlockUnitary(2, 0)
    with pytest.raises(ValueError, match="n"):
        ComplexCircle(0)
    with pytest.raises(ValueError, match="retraction"):
        ComplexCircle(2, retraction="qr")


def test_cayley_small_block_elimination_matches_lapack_solve():
    # the Cayley retraction of blocks <= 8 uses an unrolled elimination without pivoting (LAPACK-free);
    # it must equal the pivoted LAPACK solve, also for long steps (large skew-Hermitian parts)
    from jaxisac.core.manifolds.unitary import _cayley_solve

    solve = jax.jit(_cayley_solve)
    for n in (2, 4):
        om = skew(_cn(jax.random.key(n), (5, n, n)))
        eye = jnp.eye(n, dtype=om.dtype)
        t = jnp.asarray([0.1, 10.0, 1e4])[:, None, None, None]  # short to very long steps at once
        m, b = eye - 0.5 * t * om, eye + 0.5 * t * om
        got = solve(m, b)
        np.testing.assert_allclose(got, jnp.linalg.solve(m, b), atol=1e-11 * 1e4)
        np.testing.assert_allclose(got[0], jnp.linalg.solve(m[0], b[0]), atol=1e-14)
        assert float(jnp.max(jnp.abs(jnp.conj(jnp.swapaxes(got, -1, -2)) @ got - eye))) < 1e-10


def test_small_block_fused_products_match_dense_products_and_vmap():
    """The unrolled multiply-and-add product used for float64 blocks <= 8 equals ``@`` to round-off
    (float32 uses ``@`` itself), in every manifold method that uses it, and under vmap equals a loop."""
    from jaxisac.core.manifolds.unitary import _mm

    for n in (2, 4, 8):
        a, b = _cn(jax.random.key(n), (5, n, n)), _cn(jax.random.key(n + 100), (5, n, n))
        np.testing.assert_allclose(np.asarray(_mm(a, b)), np.asarray(a @ b), rtol=0, atol=1e-13 * n)
        a32, b32 = a.astype(jnp.complex64), b.astype(jnp.complex64)  # float32: the BLAS product
        np.testing.assert_allclose(np.asarray(_mm(a32, b32)), np.asarray(a32 @ b32), rtol=0, atol=0)
    man = BlockUnitary(6, 4, retraction="cayley")
    x = man.random_point(jax.random.key(3))
    g = _cn(jax.random.key(4), x.shape)
    xh = jnp.conj(jnp.swapaxes(x, -1, -2))
    om = skew(g @ xh)
    y = man.retract(x, 0.3 * man.proj(x, g))
    np.testing.assert_allclose(np.asarray(man.proj(x, g)), np.asarray(om @ x), atol=1e-13)
    np.testing.assert_allclose(np.asarray(man.transport(x, y, g)), np.asarray(om @ y), atol=1e-13)
    # Cayley as 2 (I - A)^{-1} X - X equals (I - A)^{-1} (I + A) X by LAPACK
    eye = jnp.eye(4, dtype=x.dtype)
    ref = jnp.linalg.solve(eye - 0.15 * om, (eye + 0.15 * om) @ x)
    np.testing.assert_allclose(np.asarray(y), np.asarray(ref), atol=1e-13)
    xs = jax.vmap(man.random_point)(jax.random.split(jax.random.key(5), 3))
    gs = _cn(jax.random.key(6), xs.shape)
    batched = jax.vmap(lambda x, g: man.retract(x, 0.5 * man.proj(x, g)))(xs, gs)
    looped = jnp.stack([man.retract(xs[i], 0.5 * man.proj(xs[i], gs[i])) for i in range(3)])
    np.testing.assert_allclose(np.asarray(batched), np.asarray(looped), atol=1e-14)


def test_large_block_cayley_lu_solve_matches_lapack_solve_and_product_form():
    """Blocks > 8: the Cayley retraction is ``2 (I - A)^{-1} X - X`` through LAPACK's LU with the row
    permutation rebuilt from the pivots by unrolled swaps; it must equal ``jnp.linalg.solve`` on
    general (pivoting) matrices, batched and under vmap, in both precisions, and the product form
    ``(I - A)^{-1} (I + A) X`` of the Cayley transform."""
    from jaxisac.core.manifolds.unitary import _lu_solve

    for n in (9, 16):
        a, b = _cn(jax.random.key(n), (3, 4, n, n)), _cn(jax.random.key(n + 1), (3, 4, n, n))
        a = a.at[..., 0, 0].set(0.0)  # a zero leading pivot: the LU must swap rows
        ref = jnp.linalg.solve(a, b)
        np.testing.assert_allclose(np.asarray(_lu_solve(a, b)), np.asarray(ref), atol=1e-11)
        np.testing.assert_allclose(np.asarray(jax.jit(jax.vmap(_lu_solve))(a, b)), np.asarray(ref), atol=1e-11)
        a32, b32 = a.astype(jnp.complex64), b.astype(jnp.complex64)
        got32 = _lu_solve(a32, b32)
        assert got32.dtype == jnp.complex64
        np.testing.assert_allclose(np.asarray(got32), np.asarray(ref), atol=2e-3)
    man = BlockUnitary(2, 16, retraction="cayley")
    x = man.random_point(jax.random.key(7))
    g = _cn(jax.random.key(8), x.shape)
    om = skew(g @ jnp.conj(jnp.swapaxes(x, -1, -2)))
    y = man.retract(x, 2.0 * man.proj(x, g))
    eye = jnp.eye(16, dtype=x.dtype)
    ref = jnp.linalg.solve(eye - om, (eye + om) @ x)
    np.testing.assert_allclose(np.asarray(y), np.asarray(ref), atol=1e-12)
    assert float(man.distance_to_manifold(y)) < 1e-12
