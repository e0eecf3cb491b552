"""The XLA CPU setting that avoids the batched-LAPACK deadlock (jaxisac/_runtime.py)."""

import os
import subprocess
import sys
import textwrap

from jaxisac import _runtime


def test_flag_added_once_and_user_choice_wins():
    env = {}
    assert _runtime.configure_xla_flags(env)
    assert env["XLA_FLAGS"] == _runtime.SCHEDULER_FLAG + "=false"
    assert not _runtime.configure_xla_flags(env)  # idempotent
    env = {"XLA_FLAGS": "--xla_foo=1 " + _runtime.SCHEDULER_FLAG + "=true"}
    assert not _runtime.configure_xla_flags(env)
    assert env["XLA_FLAGS"].endswith("=true")
    env = {"XLA_FLAGS": "--xla_foo=1", "JAXISAC_KEEP_XLA_FLAGS": "1"}
    assert not _runtime.configure_xla_flags(env)
    assert env["XLA_FLAGS"] == "--xla_foo=1"
    env = {"XLA_FLAGS": "--xla_foo=1"}
    assert _runtime.configure_xla_flags(env)
    assert env["XLA_FLAGS"].split() == ["--xla_foo=1", _runtime.SCHEDULER_FLAG + "=false"]


def test_two_concurrent_batched_eigh_do_not_deadlock():
    # Two independent batched eigh calls in one loop body: with JAX's default CPU scheduler this
    # deadlocks on a 2-thread pool (both threads wait inside jaxlib's ParallelBatchMap). Importing
    # jaxisac first must make it finish.
    code = textwrap.dedent(
        """
        import jaxisac, jax, jax.numpy as jnp
        jax.config.update("jax_enable_x64", True)
        def f(a, b):
            def body(i, c):
                a, b = c
                la, va = jnp.linalg.eigh(a)
                lb, vb = jnp.linalg.eigh(b)
                rec = lambda l, v: (v * l[..., None, :]) @ jnp.conj(jnp.swapaxes(v, -1, -2))
                return 0.5 * (a + rec(la, va)), 0.5 * (b + rec(lb, vb))
            return jax.lax.fori_loop(0, 100, body, (a, b))
        a = jax.random.normal(jax.random.key(0), (512, 8, 8)) + 1j * jax.random.normal(jax.random.key(1), (512, 8, 8))
        a = a + jnp.conj(jnp.swapaxes(a, -1, -2))
        out = jax.block_until_ready(jax.jit(f)(a, 2 * a))
        print("finished", bool(jnp.all(jnp.isfinite(out[0]))))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAXISAC_KEEP_XLA_FLAGS")}
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd()] + sys.path)
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "finished True" in res.stdout
