"""XLA CPU runtime settings applied when jaxisac is imported (before JAX starts its backend).

Batched ``eigh``/``svd`` calls on CPU run through jaxlib's LAPACK kernels, which split a large batch
over XLA's intra-op thread pool and then *wait* on that same pool. When the default
concurrency-optimised scheduler lets two such calls run at once (R-BAL's three proximal maps, any
two independent eigen-decompositions in a loop body), each occupies a pool thread while waiting
for work that can only run on the other: a deadlock (every thread parked in a futex, CPU idle).
On a 2-core machine a vmapped R-BAL over 64 instances hung this way. Turning that scheduler off
serialises the independent calls (measured on a vmapped R-BAL batch of 32 on 2 cores: 12.0 s with
the flag vs 10.6 s without, within run-to-run noise; without it a batch of 64 never finished).

Set ``JAXISAC_KEEP_XLA_FLAGS=1`` to leave ``XLA_FLAGS`` untouched. A flag the user already set wins.
"""

from __future__ import annotations

import os

SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler"


def configure_xla_flags(environ=os.environ) -> bool:
    """Append ``SCHEDULER_FLAG=false`` to ``XLA_FLAGS`` unless opted out or already set.

    Returns True when the flag was added. Has an effect only if JAX's backend has not started yet
    (XLA reads ``XLA_FLAGS`` once); :func:`backend_started_before` tells whether it was too late.
    """
    if environ.get("JAXISAC_KEEP_XLA_FLAGS", "") not in ("", "0"):
        return False
    flags = environ.get("XLA_FLAGS", "")
    if SCHEDULER_FLAG in flags:
        return False
    environ["XLA_FLAGS"] = (flags + " " if flags else "") + SCHEDULER_FLAG + "=false"
    return True


def backend_started() -> bool:
    """Whether JAX has already initialised a backend (then ``XLA_FLAGS`` changes come too late)."""
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge._backends)
    except Exception:  # pragma: no cover - private API moved: assume not started
        return False
