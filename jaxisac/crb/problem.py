"""The extended-target CRB beamforming problem (seed 001, problems (1)/(2)) and its instance generators."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core.validation import check_array, is_concrete

__all__ = ["ExtendedTargetCRB", "make_instance", "make_instances", "random_instance"]


class ExtendedTargetCRB(eqx.Module):
    """Minimise tr((W W^H + W_aux W_aux^H)^{-1}) s.t. SINR_k >= Gamma_k and total power <= P_T.

    SINR_k = |h_k^H w_k|^2 / (sum_{i != k} |h_k^H w_i|^2 + ||h_k^H W_aux||^2 + sigma_C^2) (the sensing
    streams interfere with the users).

    Args:
        channels: (K, N_t) complex; row k is h_k. Requires N_t > K and full row rank.
        sinr_targets: (K,) or scalar, linear SINR targets Gamma_k > 0 (not dB).
        power: scalar P_T > 0 (power unit, e.g. mW).
        noise_var: scalar sigma_C^2 > 0 (same unit as ``power``).
        crb_scale: scalar sigma_s^2 N_r / L multiplying tr(R^{-1}) in :func:`jaxisac.crb.crb`
            (default 1: the CRB is reported as tr(R^{-1})).

    The real dtype of every field follows ``channels`` (complex64 -> float32, complex128 -> float64).
    Build batches with ``jax.vmap(ExtendedTargetCRB)(...)`` or :func:`make_instances`.
    """

    channels: jax.Array
    sinr_targets: jax.Array
    power: jax.Array
    noise_var: jax.Array
    crb_scale: jax.Array

    def __init__(self, channels, sinr_targets, power, noise_var, crb_scale=1.0):
        ch = check_array(channels, "channels", ndim=2, kind="complex")
        k, n_t = ch.shape
        if n_t <= k:
            raise ValueError(
                f"channels: expected shape (K, N_t) with N_t > K (the reduction needs a sensing null space), got {ch.shape}"
            )
        rdt = jnp.real(ch).dtype
        g = check_array(sinr_targets, "sinr_targets", kind="real")
        if g.ndim == 0:
            g = jnp.broadcast_to(g, (k,))
        if g.shape != (k,):
            raise ValueError(f"sinr_targets: expected shape ({k},) or a scalar, got {g.shape}")
        p = check_array(power, "power", ndim=0, kind="real")
        s2 = check_array(noise_var, "noise_var", ndim=0, kind="real")
        sc = check_array(crb_scale, "crb_scale", ndim=0, kind="real")
        for arr, name in ((g, "sinr_targets"), (p, "power"), (s2, "noise_var"), (sc, "crb_scale")):
            if is_concrete(arr) and not bool(np.all(np.asarray(arr) > 0)):
                raise ValueError(f"{name}: expected positive values, got {np.asarray(arr)}")
        if is_concrete(ch):
            sv = np.linalg.svd(np.asarray(ch), compute_uv=False)
            if sv[-1] <= 1e-10 * sv[0]:
                raise ValueError("channels: rows must be linearly independent (rank K); got a rank-deficient channel matrix")
        self.channels = ch
        self.sinr_targets = g.astype(rdt)
        self.power = p.astype(rdt)
        self.noise_var = s2.astype(rdt)
        self.crb_scale = sc.astype(rdt)

    @property
    def n_t(self) -> int:
        return self.channels.shape[-1]

    @property
    def k(self) -> int:
        return self.channels.shape[-2]

    @property
    def H(self) -> jax.Array:
        """(N_t, K): column k is h_k (the spec's H)."""
        return jnp.swapaxes(self.channels, -1, -2)


def _db(x):
    return 10.0 ** (np.asarray(x, np.float64) / 10.0)


def make_instance(seed: int, n_t: int, k: int, *, power_dbm=20.0, noise_dbm=0.0, sinr_db=10.0, dtype=np.complex128):
    """The spec's §9.0 generator (numpy ``default_rng(seed)``): H i.i.d. CN(0, 1), powers in mW.

    ``seed`` plays the role of the key (integer seed, as in the spec's regression table). Defaults are
    the paper's: P_T = 20 dBm, sigma_C^2 = 0 dBm, Gamma = 10 dB.
    """
    rng = np.random.default_rng(seed)
    Gm = rng.standard_normal((2, n_t, k))
    H = (Gm[0] + 1j * Gm[1]) / np.sqrt(2)
    rdt = np.float32 if np.dtype(dtype) == np.complex64 else np.float64
    return ExtendedTargetCRB(
        jnp.asarray(H.T, dtype),
        jnp.asarray(_db(np.broadcast_to(sinr_db, (k,))), rdt),
        jnp.asarray(_db(power_dbm), rdt),
        jnp.asarray(_db(noise_dbm), rdt),
    )


def make_instances(seeds, n_t: int, k: int, **kw):
    """Stack :func:`make_instance` over ``seeds`` into one batched problem (leading axis = seeds)."""
    probs = [make_instance(int(s), n_t, k, **kw) for s in seeds]
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *probs)


def random_instance(key, n_t: int, k: int, *, power_dbm=20.0, noise_dbm=0.0, sinr_db=10.0, dtype=jnp.complex64):
    """JAX-keyed generator (same distribution as :func:`make_instance`, different stream): traceable,
    so ``jax.vmap(lambda k: random_instance(k, ...))(keys)`` builds large batches on the device."""
    rdt = jnp.float32 if jnp.dtype(dtype) == jnp.complex64 else jnp.float64
    g = jax.random.normal(key, (2, k, n_t), rdt) / jnp.sqrt(jnp.asarray(2.0, rdt))
    ch = jax.lax.complex(g[0], g[1]).astype(dtype)
    sinr = jnp.broadcast_to(jnp.asarray(10.0 ** (jnp.asarray(sinr_db, rdt) / 10), rdt), (k,))
    return ExtendedTargetCRB(ch, sinr, jnp.asarray(10 ** (power_dbm / 10), rdt), jnp.asarray(10 ** (noise_dbm / 10), rdt))
