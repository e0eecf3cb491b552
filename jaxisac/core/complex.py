"""Complex calculus: the one ascent-direction helper, Hermitian parts, real/complex views.

JAX convention (jax#9110): for a real function f(z) of complex z = x + iy, ``jax.grad(f)(z)`` returns
``df/dx - i df/dy``, the *conjugate* of the steepest-ascent direction ``df/dx + i df/dy``. Every
Riemannian or projected step in jaxisac takes its direction from :func:`ascent_grad` (or
:func:`value_and_ascent_grad`), which undoes the conjugation once, for whole pytrees. Real leaves are
returned unchanged (conjugation is the identity on them).

With this convention, the first-order change of f along a perturbation dz is
``Re <ascent_grad(f)(z), dz> = Re sum(conj(g) * dz)`` (see :func:`real_inner`).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

__all__ = [
    "ascent_grad",
    "value_and_ascent_grad",
    "real_inner",
    "hermitian_part",
    "ct",
    "real_view",
    "complex_view",
]


def _conj_tree(tree: Any) -> Any:
    return jax.tree_util.tree_map(jnp.conj, tree)


def ascent_grad(f: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """Steepest-ascent direction of a real-valued ``f`` with respect to (pytrees of) complex inputs.

    Returns a function with the signature of ``f`` that gives ``conj(jax.grad(f))`` (and the aux
    output when ``has_aux``). For real inputs this equals ``jax.grad(f)``.
    """
    g = jax.grad(f, argnums=argnums, has_aux=has_aux)

    def wrapped(*args, **kwargs):
        if has_aux:
            grad, aux = g(*args, **kwargs)
            return _conj_tree(grad), aux
        return _conj_tree(g(*args, **kwargs))

    return wrapped


def value_and_ascent_grad(
    f: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False
) -> Callable:
    """Like :func:`ascent_grad` but also returns the value: ``(f(...), ascent)``."""
    g = jax.value_and_grad(f, argnums=argnums, has_aux=has_aux)

    def wrapped(*args, **kwargs):
        value, grad = g(*args, **kwargs)
        return value, _conj_tree(grad)

    return wrapped


def real_inner(a: Any, b: Any) -> jax.Array:
    """Real inner product ``Re sum conj(a) * b`` summed over all leaves of two matching pytrees."""
    leaves = jax.tree_util.tree_leaves(
        jax.tree_util.tree_map(lambda x, y: jnp.sum(jnp.real(jnp.conj(x) * y)), a, b)
    )
    return sum(leaves[1:], leaves[0]) if leaves else jnp.asarray(0.0)


def ct(a: jax.Array) -> jax.Array:
    """Conjugate transpose of the last two axes (batched ``A^H``)."""
    return jnp.conj(jnp.swapaxes(a, -1, -2))


def hermitian_part(a: jax.Array) -> jax.Array:
    """``(A + A^H) / 2`` over the last two axes."""
    return 0.5 * (a + ct(a))


def real_view(z: jax.Array) -> jax.Array:
    """Complex ``(...,)`` -> real ``(..., 2)`` with ``[..., 0] = Re z`` and ``[..., 1] = Im z``."""
    return jnp.stack([jnp.real(z), jnp.imag(z)], axis=-1)


def complex_view(x: jax.Array) -> jax.Array:
    """Inverse of :func:`real_view`: real ``(..., 2)`` -> complex ``(...,)``."""
    if x.shape[-1] != 2:
        raise ValueError(f"complex_view: x must have a trailing axis of size 2, got shape {x.shape}")
    return jax.lax.complex(x[..., 0], x[..., 1])
