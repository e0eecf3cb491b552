"""ALRA on the accelerator: a batch of drops (N = 17) gives the CPU estimates (complex128) and recovers
the autocorrelation, also in complex64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import autocorrelation as ac


@pytest.mark.gpu
def test_gpu_batch_matches_cpu(accelerator, on_device):
    keys = jax.random.split(jax.random.key(3), 32)
    drops = jax.vmap(lambda k: ac.make_drop(k, 80, 2, nx=4, nz=4))(keys)  # N = 17, T_p = 80
    Hb = np.asarray(jax.vmap(lambda h: ac.true_autocorrelation(h, 2))(drops.hbar))

    def est(V, p):
        return jax.vmap(lambda V, p: jaxisac.solve(ac.PowerMeasurements(V, p), ac.ALRA(), throw=False).value)(V, p)

    cpu = on_device(est, jax.devices("cpu")[0], drops.V, drops.p)
    acc = on_device(est, accelerator, drops.V, drops.p)
    np.testing.assert_allclose(acc, cpu, rtol=0, atol=1e-8 * np.max(np.abs(cpu)))
    nm = np.asarray(ac.nmse(jnp.asarray(acc), Hb))
    assert np.median(nm) <= 1e-6
    s32 = on_device(est, accelerator, drops.V.astype(jnp.complex64), drops.p.astype(jnp.float32))
    assert s32.dtype == np.complex64
    assert np.median(np.asarray(ac.nmse(jnp.asarray(s32, jnp.complex128), Hb))) <= 1e-3
