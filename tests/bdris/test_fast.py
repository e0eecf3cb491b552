"""Fast BD-RIS path (issue 6): LAPACK-free polar factor / nuclear norm against LAPACK, closed-form
value-and-gradient against autodiff, Riemannian L-BFGS (optimum, monotone, vmap == loop, float32,
the transport fallback on a non-unitary manifold, validation)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import bdris
from jaxisac.core import ascent_grad
from jaxisac.core.manifolds import ComplexCircle
from jaxisac.core.riemannian import AbstractManifoldProblem
from jaxisac.kernels import bdris as kb

R1 = bdris.spec_instance(0)
PMAX_R1_L4 = 4.4089895738e-06  # spec §10.3 (as tests/bdris/test_shaping.py)


def _cn(rng, *shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)


@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (6, 2)])
def test_polar_small_matches_lapack(shape):
    rng = np.random.default_rng(0)
    A = _cn(rng, 64, *shape)
    u, s, vh = np.linalg.svd(A, full_matrices=False)
    cond = np.where(np.arange(64) < 32, 1.0, 1e3)[:, None]  # well and badly conditioned halves
    s = s * cond ** (-np.linspace(0, 1, s.shape[-1]))
    A = (u * s[..., None, :]) @ vh
    for dt, tol in ((np.complex128, 1e-13), (np.complex64, 3e-6)):
        sv, Q = jax.vmap(kb.polar_small)(jnp.asarray(A, dt))
        assert Q.dtype == dt
        np.testing.assert_allclose(np.sort(np.asarray(sv), -1), np.sort(s, -1), rtol=0, atol=tol * float(s.max()))
        err = np.max(np.abs(np.asarray(Q) - u @ vh), axis=(1, 2))
        assert np.all(err <= 10 * tol * cond[:, 0]), err.max()
        # one instance alone rounds exactly as inside the batch (elementwise ops only)
        one = kb.polar_small(jnp.asarray(A[40], dt))
        np.testing.assert_array_equal(np.asarray(one[1]), np.asarray(Q[40]))


def test_polar_small_rank_deficient_and_zero():
    rng = np.random.default_rng(1)
    A = _cn(rng, 4, 2) @ _cn(rng, 2, 4)  # rank 2
    sv, Q = kb.polar_small(jnp.asarray(A))
    s = np.linalg.svd(A, compute_uv=False)
    np.testing.assert_allclose(np.sort(np.asarray(sv))[::-1], s, atol=1e-12)
    # Q contains U_2 V_2^H of the rank-2 part (plus a round-off pair): Re tr(Q^H A) = ||A||_*
    np.testing.assert_allclose(float(jnp.real(jnp.sum(jnp.conj(Q) * A))), s.sum(), rtol=1e-12)
    assert np.all(np.linalg.svd(np.asarray(Q), compute_uv=False) <= 1 + 1e-10)
    sv0, Q0 = kb.polar_small(jnp.zeros((3, 3), complex))
    assert float(jnp.max(jnp.abs(sv0))) == 0.0 and float(jnp.max(jnp.abs(Q0))) == 0.0


def test_closed_form_value_and_gradient_equal_autodiff():
    rng = np.random.default_rng(2)
    H_D, H_B, H_F = _cn(rng, 4, 3), _cn(rng, 4, 16), _cn(rng, 16, 3)
    th = bdris.random_theta(jax.random.key(3), 16, 4)
    for name in ("nuclear", "nuclear_jacobi"):
        prob = bdris.ChannelShaping(H_D, H_B, H_F, group_size=4, objective=name)
        ref = bdris.ChannelShaping(H_D, H_B, H_F, group_size=4, objective="nuclear")
        val, g = prob.value_and_ascent_grad(th)
        np.testing.assert_allclose(float(val), float(ref.objective(th)), rtol=1e-13)
        np.testing.assert_allclose(float(prob.objective(th)), float(val), rtol=1e-13)
        np.testing.assert_allclose(np.asarray(g), np.asarray(ascent_grad(ref.objective)(th)), atol=1e-12)
        np.testing.assert_allclose(np.asarray(ascent_grad(prob.objective)(th)), np.asarray(g), atol=1e-12)
        # the L-BFGS hook (gradient in the manifold's coordinates, built on the cascade's blocks)
        val_c, c = prob.value_and_coords_grad(th)
        np.testing.assert_allclose(float(val_c), float(val), rtol=1e-13)
        np.testing.assert_allclose(np.asarray(c), np.asarray(prob.manifold.coords(th, g)), atol=1e-12)


def test_lbfgs_reaches_the_power_optimum_monotone_and_in_fewer_evaluations_than_cg():
    H_D, H_B, H_F, _, _ = R1
    prob = bdris.ChannelShaping(H_D, H_B, H_F, group_size=4, objective="power", retraction="cayley")
    sol = jaxisac.solve(prob, bdris.RiemannianLBFGS(gtol=1e-10, max_steps=2000, trace=True))
    n = int(sol.stats["steps"])
    tr = np.asarray(sol.stats["trace"])[: n + 1]
    assert np.all(np.diff(tr) >= 0)
    np.testing.assert_allclose(float(sol.objective), PMAX_R1_L4, rtol=1e-9)
    assert float(bdris.unitarity_error(sol.value)) < 1e-10
    assert int(sol.stats["evaluations"]) == n + 1  # one objective-and-gradient evaluation per iteration
    cg = jaxisac.solve(prob, bdris.RiemannianCG(gtol=1e-10, max_steps=2000))
    assert int(sol.stats["evaluations"]) < int(cg.stats["evaluations"])


def _batch(n, n_s=16, key=100):
    return jax.vmap(lambda k: bdris.make_channels(k, 4, n_s, 4))(jax.random.split(jax.random.key(key), n))


def _lbfgs_vmap_loop_refill_float32(obj, refill=True):
    chans = _batch(3)
    solver = bdris.RiemannianLBFGS(gtol=0.0, atol=1e-9, max_steps=1000)

    def one(c, obj=obj, s=solver):
        return jaxisac.solve(bdris.shaping_problem(c, group_size=4, objective=obj, retraction="cayley"), s, throw=False)

    batched = jax.vmap(one)(chans)
    assert bool(jnp.all(batched.success))
    for i in range(3):
        c = jax.tree_util.tree_map(lambda a: a[i], chans)
        single = one(c)
        assert int(single.stats["steps"]) == int(batched.stats["steps"][i])
        np.testing.assert_allclose(single.objective, batched.objective[i], rtol=1e-12)
        np.testing.assert_allclose(single.value, batched.value[i], atol=1e-10)
    if refill:
        refill = jaxisac.core.solve_refill(
            jax.vmap(lambda c: bdris.shaping_problem(c, group_size=4, objective=obj, retraction="cayley"))(chans),
            solver, width=2)
        np.testing.assert_allclose(refill.objective, batched.objective, rtol=1e-12)
    # float32 (channels normalised as in experiments/bench_bdris.py) close to float64
    c = jax.tree_util.tree_map(lambda a: a[0], chans)
    sb, sf = float(jnp.linalg.norm(c.H_backward, 2)), float(jnp.linalg.norm(c.H_forward, 2))
    H = (c.H_direct / (sb * sf), c.H_backward / sb, c.H_forward / sf)
    s64 = jaxisac.solve(bdris.ChannelShaping(*H, group_size=4, objective=obj, retraction="cayley"), solver)
    p32 = bdris.ChannelShaping(*(h.astype(jnp.complex64) for h in H), group_size=4, objective=obj, retraction="cayley")
    s32 = jaxisac.solve(p32, bdris.RiemannianLBFGS(gtol=0.0, atol=1e-4, max_steps=1000), throw=False)
    assert s32.value.dtype == jnp.complex64 and s32.objective.dtype == jnp.float32
    np.testing.assert_allclose(float(s32.objective), float(s64.objective), rtol=1e-5)
    assert float(bdris.unitarity_error(s32.value)) < 1e-5
    return chans, batched


def test_lbfgs_nuclear_vmap_equals_loop_and_float32():
    _, batched = _lbfgs_vmap_loop_refill_float32("nuclear", refill=False)  # (refill: in the slow test below)
    assert bool(jnp.all(batched.stats["steps"] > 0))


@pytest.mark.slow
def test_lbfgs_nuclear_jacobi_vmap_equals_loop_refill_float32_and_cg_optimum():
    # (slow: the unrolled Jacobi SVD takes long to compile inside the loops)
    chans, batched = _lbfgs_vmap_loop_refill_float32("nuclear_jacobi")
    # the same stationary points as the geodesic CG (the paper's algorithm, the library default)
    cg = jax.vmap(lambda c: jaxisac.solve(bdris.shaping_problem(c, group_size=4, objective="nuclear"),
                                          bdris.RiemannianCG(gtol=0.0, atol=1e-9, max_steps=3000), throw=False))(chans)
    np.testing.assert_allclose(batched.objective, cg.objective, rtol=1e-9)
    svd = jax.vmap(lambda c: jaxisac.solve(bdris.shaping_problem(c, group_size=4, objective="nuclear", retraction="cayley"),
                                           bdris.RiemannianLBFGS(gtol=0.0, atol=1e-9, max_steps=1000), throw=False))(chans)
    np.testing.assert_allclose(svd.objective, batched.objective, rtol=1e-9)


class _CirclePower(AbstractManifoldProblem):
    A: jax.Array
    manifold: ComplexCircle

    def objective(self, x):
        return jnp.sum(jnp.abs(self.A @ x) ** 2)

    def initial_point(self):
        return jnp.ones(self.A.shape[1], self.A.dtype)


def test_lbfgs_transport_fallback_on_the_circle():
    # rank-one A = a b^H: the maximum over the circle is |a|^2 (sum |b_i|)^2
    rng = np.random.default_rng(4)
    a, b = _cn(rng, 3, 1), _cn(rng, 6, 1)
    prob = _CirclePower(A=jnp.asarray(a @ b.conj().T), manifold=ComplexCircle(6))
    sol = jaxisac.solve(prob, bdris.RiemannianLBFGS(gtol=1e-10, memory=4))
    np.testing.assert_allclose(float(sol.objective), np.sum(np.abs(a) ** 2) * np.sum(np.abs(b)) ** 2, rtol=1e-10)


def test_lbfgs_validation():
    with pytest.raises(ValueError, match="memory"):
        bdris.RiemannianLBFGS(memory=0)
    with pytest.raises(ValueError, match="armijo_rule"):
        bdris.RiemannianLBFGS(armijo_rule="paper")
    with pytest.raises(ValueError, match="max_halvings"):
        bdris.RiemannianLBFGS(max_halvings=0)
    with pytest.raises(ValueError, match="problem"):
        jaxisac.solve(object(), bdris.RiemannianLBFGS())


def test_lbfgs_envelope_gradient_equals_finite_differences_of_resolves():
    """The optimum of RiemannianLBFGS carries the envelope derivative (the solvers' shared
    postprocess): d f*(H_D + t E)/dt at t = 0 equals central differences of re-solves."""
    H_D, H_B, H_F, _, _ = R1
    E = jnp.asarray(_cn(np.random.default_rng(5), *H_D.shape)) * jnp.linalg.norm(H_D) / np.sqrt(H_D.size)
    solver = bdris.RiemannianLBFGS(gtol=1e-12, max_steps=3000)

    def opt(t):
        prob = bdris.ChannelShaping(H_D + t * E, H_B, H_F, group_size=4, objective="power", retraction="cayley")
        return jaxisac.solve(prob, solver).objective

    d_env = float(jax.grad(opt)(0.0))
    h = 1e-4
    d_fd = (float(opt(h)) - float(opt(-h))) / (2 * h)
    assert abs(d_env) > 0
    np.testing.assert_allclose(d_env, d_fd, rtol=1e-6)
