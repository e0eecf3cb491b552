"""Shared small instances for the robust tests (float64 unless asked)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxisac import robust as rb


def small_instance(seed=0, K=2, N=4, L=6, dtype=jnp.complex128, eps=0.05):
    """A small random instance: (Href, Hbar, S, R) with R PD of trace P_T = 2.5, QPSK x sqrt(2.5)."""
    return _small(jax.random.key(seed), K, N, L, jnp.dtype(dtype), eps)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4, 5))
def _small(key, K, N, L, dtype, eps):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    Href = jax.random.normal(k1, (K, N), dtype)
    Hbar = rb.perturb_channel(k2, Href, eps)
    S = rb.qpsk(k3, (K, L), power=2.5, dtype=dtype)
    Z = jax.random.normal(k4, (N, N), dtype)
    R = Z @ Z.conj().T / N + 0.3 * jnp.eye(N, dtype=dtype)
    R = 2.5 * R / jnp.real(jnp.trace(R))
    R = 0.5 * (R + R.conj().T)
    return Href, Hbar, S, R


def paper_scenario(seed=0, dtype=jnp.complex128):
    return rb.make_scenario(jax.random.key(seed), dtype=dtype)


def random_semi_unitary(rng, N, L, n):
    """n random N x L matrices with orthonormal rows (numpy)."""
    Z = rng.standard_normal((n, L, N)) + 1j * rng.standard_normal((n, L, N))
    Q, _ = np.linalg.qr(Z)
    return np.conj(np.swapaxes(Q, -1, -2))
