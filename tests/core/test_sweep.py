import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac.core import Table, sweep


def _fn(key, scale, offset):
    z = jax.random.normal(key, (4,))
    return {"mean": scale * jnp.mean(z) + offset, "vec": z[:2]}


def test_sweep_grid_matches_direct_evaluation_and_chunks(tmp_path):
    keys = jax.random.split(jax.random.key(0), 5)
    grid = {"scale": jnp.array([1.0, 2.0, 3.0]), "offset": jnp.array([0.0, 10.0])}
    t = sweep(_fn, keys, grid, chunk_size=7, progress=False)
    assert len(t) == 5 * 3 * 2
    assert set(t.names) == {"draw", "scale", "offset", "mean", "vec[0]", "vec[1]"}
    for row in [0, 13, 29]:
        d, s, o = int(t["draw"][row]), float(t["scale"][row]), float(t["offset"][row])
        np.testing.assert_allclose(t["mean"][row], _fn(keys[d], s, o)["mean"], rtol=1e-12)
    # chunking does not change the numbers
    t2 = sweep(_fn, keys, grid, chunk_size=1000, progress=False)
    np.testing.assert_array_equal(t["mean"], t2["mean"])
    path = tmp_path / "out.csv"
    t.to_csv(str(path))
    assert path.read_text().splitlines()[0] == "draw,scale,offset,mean,vec[0],vec[1]"
    assert len(path.read_text().splitlines()) == 31


def test_sweep_bad_args():
    keys = jax.random.split(jax.random.key(0), 2)
    with pytest.raises(ValueError, match="chunk_size"):
        sweep(_fn, keys, {"scale": [1.0], "offset": [0.0]}, chunk_size=0)
    with pytest.raises(ValueError, match="mesh"):
        sweep(_fn, keys, {"scale": [1.0], "offset": [0.0]}, mesh="gpus")
    with pytest.raises(ValueError, match="grid"):
        sweep(_fn, keys, {"scale": [], "offset": [0.0]})
    with pytest.raises(ValueError, match="columns"):
        Table({"a": [1, 2], "b": [1]})


_SHARDED = r"""
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_x64", True)
assert len(jax.devices()) == 4, jax.devices()
from jaxisac.core import sweep
def fn(key, scale):
    x = jax.random.normal(key, (8, 8))
    return {"v": scale * jnp.linalg.norm(x @ x.T)}
keys = jax.random.split(jax.random.key(1), 10)
grid = {"scale": jnp.array([1.0, 2.0, 0.5])}
a = sweep(fn, keys, grid, chunk_size=8, mesh="all", progress=False)
b = sweep(fn, keys, grid, chunk_size=8, mesh=None, progress=False)
np.testing.assert_array_equal(a["v"], b["v"])
print("SHARDED-OK", len(a))
"""


def test_sharded_sweep_on_four_cpu_devices_equals_unsharded():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", _SHARDED], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "SHARDED-OK 30" in out.stdout
