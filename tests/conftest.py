"""Test configuration: x64 on (every solver is also checked in float32 by its own tests)."""

import jaxisac  # noqa: F401  (first: sets the XLA CPU flag of jaxisac/_runtime.py before JAX starts)
import jax
import pytest

jax.config.update("jax_enable_x64", True)


def pytest_collection_modifyitems(config, items):
    has_gpu = any(d.platform == "gpu" for d in jax.devices())
    if has_gpu:
        return
    skip_gpu = pytest.mark.skip(reason="needs an accelerator: no GPU visible to JAX on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
