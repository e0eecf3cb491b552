"""Shared small DMA instances and compiled solvers (compiled once per test session)."""

import functools

import jax
import jax.numpy as jnp
import pytest

import jaxisac
from jaxisac import dma
from jaxisac.dma.ao import DMAAO

SMALL = dict(N=4, L_mu=4)  # L = 16: the CVXPY-oracle size of the default run


@functools.lru_cache(maxsize=None)
def small_model(dtype="complex128"):
    return dma.make_model(**SMALL, dtype=jnp.dtype(dtype))


@functools.lru_cache(maxsize=None)
def s0_model():
    return dma.make_model()


def small_problem(**kw):
    return dma.make_problem(small_model(), **kw)


AO_TEST = DMAAO(max_iters=15, max_steps=150)


@functools.lru_cache(maxsize=None)
def ao_single():
    return jax.jit(lambda p: jaxisac.solve(p, AO_TEST, throw=False))


@functools.lru_cache(maxsize=None)
def ao_single_c64():
    """Same function, traced for complex64 problems (its own compilation)."""
    return jax.jit(lambda p: jaxisac.solve(p, AO_TEST, throw=False))


@functools.lru_cache(maxsize=None)
def ao_batched():
    return jax.jit(jax.vmap(lambda p: jaxisac.solve(p, AO_TEST, throw=False)))


@functools.lru_cache(maxsize=None)
def drop_problems(n=3):
    """``n`` random user drops of the small model (avg objective), stacked for vmap."""
    keys = jax.random.split(jax.random.key(7), n)
    probs = []
    for k in keys:
        users = dma.random_users(k, 2)
        probs.append(dma.make_problem(dma.make_model(users, **SMALL)))
    return probs, jax.tree_util.tree_map(lambda *x: jnp.stack(x), *probs)


@pytest.fixture(scope="session")
def ao_batch_results():
    probs, stacked = drop_problems()
    return probs, ao_batched()(stacked)
