"""BD-RIS channel shaping on the accelerator: L-BFGS over a batch of channels reaches the CPU optima
(float64), stays unitary, and float32 reaches them to float32 accuracy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import bdris


def _solve(solver):
    def one(H):
        return jaxisac.solve(bdris.ChannelShaping(*H, group_size=4, objective="nuclear"), solver, throw=False)

    return jax.vmap(one)


def _normalised(c):
    """(H_direct, H_backward, H_forward) scaled to unit spectral norms (objective O(1): float32-friendly)."""
    sb = jnp.linalg.norm(c.H_backward, 2, axis=(-2, -1))[:, None, None]
    sf = jnp.linalg.norm(c.H_forward, 2, axis=(-2, -1))[:, None, None]
    return c.H_direct / (sb * sf), c.H_backward / sb, c.H_forward / sf


@pytest.mark.gpu
def test_gpu_batch_matches_cpu(accelerator):
    chans = _normalised(jax.vmap(lambda k: bdris.make_channels(k, 4, 16, 4))(jax.random.split(jax.random.key(5), 32)))
    solver = bdris.RiemannianLBFGS(gtol=0.0, atol=1e-10, max_steps=1000)
    f = jax.jit(_solve(solver))
    cpu = f(chans)
    acc = f(jax.device_put(chans, accelerator))
    assert acc.objective.devices() == {accelerator}
    assert bool(jnp.all(acc.success)) and bool(jnp.all(cpu.success))
    np.testing.assert_allclose(np.asarray(acc.objective), np.asarray(cpu.objective), rtol=1e-8)
    theta = np.asarray(acc.value)  # (batch, groups, 4, 4) unitary blocks
    eye = np.eye(theta.shape[-1])
    assert np.max(np.abs(theta @ np.conj(np.swapaxes(theta, -1, -2)) - eye)) <= 1e-10
    c32 = tuple(h.astype(jnp.complex64) for h in chans)
    s32 = jax.jit(_solve(bdris.RiemannianLBFGS(gtol=0.0, atol=1e-4, max_steps=1000)))(jax.device_put(c32, accelerator))
    assert s32.objective.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(s32.objective), np.asarray(cpu.objective), rtol=1e-5)
