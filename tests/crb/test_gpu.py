"""R-BAL + polish on the accelerator: a batch of the active regime S-A equals the CPU run (float64), and
float32 on the accelerator meets the spec regression value (T20)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac.crb as C

SOLVER = C.RBAL()


@pytest.mark.gpu
def test_gpu_batch_matches_cpu(accelerator):
    batch = C.make_instances(range(16), 16, 8)  # S-A: (N_t, K) = (16, 8), active
    cpu = C.solve_batch(batch, SOLVER)
    acc = C.solve_batch(jax.device_put(batch, accelerator), SOLVER)
    assert acc.objective.devices() == {accelerator}
    np.testing.assert_array_equal(np.asarray(acc.result), np.asarray(cpu.result))
    assert np.all(np.asarray(cpu.result) == 0)
    np.testing.assert_allclose(np.asarray(acc.objective), np.asarray(cpu.objective), rtol=1e-9)
    # float32 on the accelerator: spec §9.0 REG-A (seed 0) to float32 accuracy
    p32 = C.make_instances([0], 16, 8, dtype=np.complex64)
    s32 = C.solve_batch(jax.device_put(p32, accelerator), SOLVER)
    assert s32.objective.dtype == jnp.float32 and int(s32.result[0]) == 0
    assert float(s32.objective[0]) == pytest.approx(2.611192802802, rel=1e-4)
