"""Building blocks of the learning-to-optimise example (experiments/l2o_crb.py, issue 9)."""

import importlib.util
import pathlib

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxisac  # noqa: E402
from jaxisac import crb  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _l2o():
    spec = importlib.util.spec_from_file_location("l2o_crb", ROOT / "experiments" / "l2o_crb.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


L = _l2o()


def test_network_output_is_a_valid_init_with_the_same_optimum():
    probs = L.instances(7, 4)
    net = L.WarmStartNet(L.SETTING["k"], jax.random.key(0), offset=np.r_[np.full(8, -5.0), np.full(8, 1.8), -5.0])
    # a random (untrained) last layer: the output is arbitrary, the init must still be valid
    net = eqx.tree_at(lambda n: n.mlp.layers[-1].weight, net, 0.3 * jax.random.normal(jax.random.key(1), net.mlp.layers[-1].weight.shape))
    init = jax.vmap(net.init)(probs)
    assert all(bool(jnp.all(jnp.isfinite(a))) for a in init)
    eig = np.linalg.eigvalsh(np.asarray(init.X))
    assert eig.min() >= -1e-10 * eig.max()
    assert np.all(np.real(np.einsum("bkii->b", np.asarray(init.X))) < np.asarray(probs.power))
    solver = crb.RBAL()
    cold = L._solve_batch(probs, solver)
    warm = L._solve_batch(probs, solver, init)
    assert np.all(np.asarray(cold.result) == 0) and np.all(np.asarray(warm.result) == 0)
    np.testing.assert_allclose(np.asarray(warm.objective), np.asarray(cold.objective), rtol=1e-6)


def test_exact_primal_dual_state_is_a_fixed_point():
    probs = L.instances(3, 4)
    X, mu, _, ok = L.optimum_targets(probs)
    assert ok.all()
    init = jax.vmap(L.iterate_from_primal_dual)(probs, X, mu)
    warm = L._solve_batch(probs, crb.RBAL(polish=False), init)
    assert np.all(np.asarray(warm.stats["iterations"]) <= 2)


def test_unrolled_loss_gradient_is_finite_and_nonzero():
    probs = L.instances(11, 4)
    net = L.WarmStartNet(L.SETTING["k"], jax.random.key(2), offset=np.r_[np.full(8, -5.0), np.full(8, 1.8), -5.0])
    params, static = eqx.partition(net, eqx.is_inexact_array)
    w = jnp.ones((4,))
    g = jax.jit(jax.grad(lambda pr: L.unrolled_loss(eqx.combine(pr, static), probs, 3, w)))(params)
    leaves = [np.asarray(a) for a in jax.tree_util.tree_leaves(g)]
    assert all(np.all(np.isfinite(a)) for a in leaves)
    # the last layer starts at zero, so its gradient is the informative one
    assert np.abs(np.asarray(g.mlp.layers[-1].weight)).max() > 0
    assert np.abs(np.asarray(g.mlp.layers[-1].bias)).max() > 0
