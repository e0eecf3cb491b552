"""Input validation for the public boundary: every check raises ``ValueError`` naming the argument.

Value checks (finite, positive, Hermitian) run only on concrete arrays; under ``jit``/``vmap`` the
inputs are tracers and only shapes and dtypes can be checked (traced code reports bad instances
through status codes instead).
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "is_concrete",
    "as_array",
    "check_array",
    "check_positive",
    "check_hermitian",
    "check_same_leading",
]


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds values (not a tracer inside ``jit``/``vmap``/``grad``)."""
    return not isinstance(x, jax.core.Tracer)


def _shape_str(shape: Sequence[Any]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def as_array(x: Any, name: str, *, complex_ok: bool = True) -> jax.Array:
    """Convert to a JAX array or raise ``ValueError`` naming ``name``."""
    try:
        arr = jnp.asarray(x)
    except Exception as err:  # noqa: BLE001 - re-raised with the argument's name
        raise ValueError(f"{name}: expected an array, got {type(x).__name__} ({err})") from None
    if not (jnp.issubdtype(arr.dtype, jnp.number) or arr.dtype == jnp.bool_):
        raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if not complex_ok and jnp.issubdtype(arr.dtype, jnp.complexfloating):
        raise ValueError(f"{name}: expected a real array, got complex dtype {arr.dtype}")
    return arr


def check_array(
    x: Any,
    name: str,
    *,
    ndim: int | None = None,
    shape: Sequence[int | None] | None = None,
    kind: str = "numeric",
    finite: bool = True,
) -> jax.Array:
    """Validate and return ``x`` as an array.

    Args:
        ndim: required number of dimensions.
        shape: required shape; ``None`` entries match any size.
        kind: ``"numeric"``, ``"real"`` (no complex dtype) or ``"complex"`` (complex dtype; real
            input is promoted).
        finite: require no NaN/inf (checked on concrete arrays only).
    """
    arr = as_array(x, name, complex_ok=(kind != "real"))
    if kind == "complex" and not jnp.issubdtype(arr.dtype, jnp.complexfloating):
        arr = arr.astype(jnp.result_type(arr.dtype, jnp.complex64))
    if kind in ("real", "numeric") and not jnp.issubdtype(arr.dtype, jnp.inexact):
        arr = arr.astype(jnp.result_type(float))
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {_shape_str(arr.shape)}")
    if shape is not None:
        ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
        if not ok:
            want = _shape_str(["*" if s is None else s for s in shape])
            raise ValueError(f"{name}: expected shape {want}, got {_shape_str(arr.shape)}")
    if finite and is_concrete(arr) and not bool(np.all(np.isfinite(np.asarray(arr)))):
        raise ValueError(f"{name}: contains NaN or inf")
    return arr


def check_positive(x: Any, name: str, *, strict: bool = True, shape: Sequence[int | None] | None = None) -> jax.Array:
    """Real array whose entries are > 0 (``strict``) or >= 0; raises ``ValueError`` otherwise."""
    arr = check_array(x, name, shape=shape, kind="real")
    if is_concrete(arr):
        vals = np.asarray(arr)
        bad = vals <= 0 if strict else vals < 0
        if np.any(bad):
            rel = "> 0" if strict else ">= 0"
            raise ValueError(f"{name}: expected values {rel}, got {vals[bad].ravel()[:3].tolist()}")
    return arr


def check_hermitian(x: Any, name: str, *, psd: bool = False, rtol: float = 1e-6) -> jax.Array:
    """Square (batched) Hermitian matrix, optionally positive semidefinite (checked when concrete)."""
    arr = check_array(x, name)
    if arr.ndim < 2 or arr.shape[-1] != arr.shape[-2]:
        raise ValueError(f"{name}: expected a square matrix (..., n, n), got {_shape_str(arr.shape)}")
    if is_concrete(arr):
        a = np.asarray(arr)
        scale = max(float(np.max(np.abs(a))), 1e-30)
        if np.max(np.abs(a - np.conj(np.swapaxes(a, -1, -2)))) > rtol * scale:
            raise ValueError(f"{name}: expected a Hermitian matrix (A == A^H)")
        if psd:
            w = np.linalg.eigvalsh(a)
            if np.min(w) < -rtol * scale * a.shape[-1]:
                raise ValueError(f"{name}: expected a positive semidefinite matrix, min eigenvalue {np.min(w):.3g}")
    return arr


def check_same_leading(arrays: dict[str, jax.Array], axis_names: str) -> int:
    """All arrays share the size of their first axis; returns it. ``axis_names`` labels the axis."""
    sizes = {name: a.shape[0] for name, a in arrays.items()}
    if len(set(sizes.values())) > 1:
        listing = ", ".join(f"{k}: {v}" for k, v in sizes.items())
        raise ValueError(f"{'/'.join(sizes)}: the {axis_names} axes disagree ({listing})")
    return next(iter(sizes.values()))
