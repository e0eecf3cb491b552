"""Test configuration: x64 on (every solver is also checked in float32 by its own tests).

Tests marked ``gpu`` compare a batch run on the accelerator with the same batch on the CPU; they get
the device from the ``accelerator`` fixture and are skipped, with the reason shown, when JAX sees no
GPU. ``JAXISAC_GPU_TESTS_ON_CPU=1`` runs them with the CPU standing in for the accelerator, which checks
their code (not the GPU) on a machine without one.
"""

import os

import jaxisac  # noqa: F401  (first: sets the XLA CPU flag of jaxisac/_runtime.py before JAX starts)
import jax
import pytest

jax.config.update("jax_enable_x64", True)

_GPU_ON_CPU = os.environ.get("JAXISAC_GPU_TESTS_ON_CPU", "") not in ("", "0")


def _gpus():
    try:
        return jax.devices("gpu")
    except RuntimeError:  # no GPU backend in this jaxlib
        return []


def pytest_collection_modifyitems(config, items):
    if _gpus() or _GPU_ON_CPU:
        return
    skip_gpu = pytest.mark.skip(reason="needs an accelerator: no GPU visible to JAX on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def accelerator():
    """The device a ``gpu`` test runs its batch on (the first GPU; the CPU under JAXISAC_GPU_TESTS_ON_CPU)."""
    gpus = _gpus()
    return gpus[0] if gpus else jax.devices("cpu")[0]


@pytest.fixture
def on_device():
    """``on_device(fn, device, *args)``: ``jit(fn)`` run on ``device`` (inputs placed there), results as NumPy."""
    import numpy as np

    def run(fn, device, *args):
        args = jax.device_put(args, device)
        out = jax.jit(fn)(*args)
        return jax.tree_util.tree_map(np.asarray, out)

    return run
