"""Unitary group U(n) and block-diagonal products U(L)^G (BD-RIS scattering matrices).

Points are complex arrays ``(n, n)`` (:class:`UnitaryGroup`) or stacks of blocks ``(G, L, L)``
(:class:`BlockUnitary`); the block-diagonal ``N_S x N_S`` matrix is never formed. The metric is the
embedded real inner product ``<A, B> = Re tr(A^H B)`` (summed over blocks).

Tangent vectors are ambient matrices ``V = Omega X`` with ``Omega`` skew-Hermitian (one per block).
With ``G = ascent_grad(f)(X)`` (the spec's Euclidean gradient ``nabla_E``),

* the Riemannian gradient is ``skew(G X^H) X`` with ``skew(A) = (A - A^H)/2``; the spec's
  Lie-algebra gradient ``G~ = G X^H - X G^H`` is twice its right-trivialisation;
* the slope of ``f`` along ``t -> exp(t Omega) X`` is ``<grad, Omega X>``.

Retractions (static choice; accuracy and cost are compared in ``experiments/003_retractions.py``):

* ``"exp"``: the geodesic ``exp(t Omega) X``, through ONE ``eigh`` of the Hermitian generator
  ``j Omega = W diag(lam) W^H`` per direction: ``exp(t Omega) = W diag(exp(-j t lam)) W^H``, so every
  line-search trial costs a matrix product. (Never a general ``eig``: its eigenvectors are not
  orthogonal at repeated eigenvalues and the result leaves the group.) Not for reverse-mode
  differentiation through the iterations (``eigh`` derivatives are singular at repeated eigenvalues);
* ``"expm"``: the same geodesic by Pade ``jax.scipy.linalg.expm`` (differentiable, slower);
* ``"cayley"``: ``(I - t Omega/2)^{-1} (I + t Omega/2) X = 2 (I - t Omega/2)^{-1} X - X`` (second
  order, cheap, smooth; one solve, no product); blocks of size <= 8 are solved by an unrolled
  elimination without pivoting in real arithmetic (elementwise ops only, no LAPACK call per block;
  exact up to round-off because ``I - t Omega/2`` has Hermitian part ``I``), larger ones by LAPACK's LU;
* ``"qr"``: Q factor of ``X + t Omega X`` with ``diag(R) > 0`` (first order);
* ``"polar"``: unitary polar factor of ``X + t Omega X`` (second order; SVD).

Vector transport is by right translation, ``Omega X -> Omega Y`` (an isometry, the transport of
Abrudan et al.'s geodesic conjugate gradient). Its transport-free coordinates (``coords``) are the
generators ``Omega`` packed as real ``(n, n)`` arrays (:func:`pack_skew`): the L-BFGS keeps its
gradient, direction and memory in them (real, half the size, no products per iteration).
"""

from __future__ import annotations

from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..complex import ct
from .base import AbstractManifold

__all__ = ["UnitaryGroup", "BlockUnitary", "haar_unitary", "pack_skew", "polar_factor", "skew", "unpack_skew"]

_RETRACTIONS = ("exp", "expm", "cayley", "qr", "polar")


def skew(a: jax.Array) -> jax.Array:
    """Skew-Hermitian part ``(A - A^H) / 2`` over the last two axes."""
    return 0.5 * (a - ct(a))


def _complex_dtype(dtype: Any) -> Any:
    if dtype is None:
        return jnp.result_type(complex)
    return jnp.result_type(dtype, jnp.complex64)


def haar_unitary(key: jax.Array, shape: tuple[int, ...], dtype: Any = None) -> jax.Array:
    """Haar-distributed unitary matrices of shape ``(..., n, n)`` (QR of Gaussians, phases fixed)."""
    cdt = _complex_dtype(dtype)
    rdt = jnp.finfo(cdt).dtype
    kr, ki = jax.random.split(key)
    z = (jax.random.normal(kr, shape, rdt) + 1j * jax.random.normal(ki, shape, rdt)).astype(cdt)
    q, r = jnp.linalg.qr(z)
    d = jnp.diagonal(r, axis1=-2, axis2=-1)
    ph = d / jnp.where(jnp.abs(d) > 0, jnp.abs(d), 1.0)
    return q * ph[..., None, :]


def _pack_masks(n: int):
    i, j = np.indices((n, n))
    return i < j, i > j


def pack_skew(omega: jax.Array) -> jax.Array:
    """Real ``(..., n, n)`` coordinates of skew-Hermitian ``omega = R + jI`` (``R`` antisymmetric,
    ``I`` symmetric): ``sqrt(2) R`` above the diagonal, ``sqrt(2) I`` below it, ``I`` on it, so that
    the dot product of two packings is ``Re tr(omega_1^H omega_2)``. Elementwise (no gather): the
    L-BFGS memory is real and half the size of the complex generators."""
    up, lo = _pack_masks(omega.shape[-1])
    re, im = jnp.real(omega), jnp.imag(omega)
    r2 = np.sqrt(2.0).astype(re.dtype)
    return jnp.where(up, r2 * re, jnp.where(lo, r2 * im, im))


def unpack_skew(c: jax.Array) -> jax.Array:
    """Inverse of :func:`pack_skew` (complex skew-Hermitian ``(..., n, n)``)."""
    up, lo = _pack_masks(c.shape[-1])
    ctr = jnp.swapaxes(c, -1, -2)
    h = np.sqrt(0.5).astype(c.dtype)
    re = jnp.where(up, h * c, jnp.where(lo, -h * ctr, 0.0))
    im = jnp.where(up, h * ctr, jnp.where(lo, h * c, c))
    return jax.lax.complex(re, im)


def polar_factor(a: jax.Array) -> jax.Array:
    """Unitary polar factor ``U V^H`` of ``A = U S V^H`` (the closest unitary matrix), batched."""
    u, _, vh = jnp.linalg.svd(a, full_matrices=False)
    return u @ vh


def _qr_pos(a: jax.Array) -> jax.Array:
    q, r = jnp.linalg.qr(a)
    d = jnp.diagonal(r, axis1=-2, axis2=-1)
    ph = d / jnp.where(jnp.abs(d) > 0, jnp.abs(d), 1.0)
    return q * ph[..., None, :]


# blocks up to this size: products as unrolled multiply-and-adds, Cayley by unrolled elimination (no
# LAPACK call or small GEMM per block; timings in experiments/bench_bdris.py)
_SMALL = 8


def _mm(a: jax.Array, b: jax.Array) -> jax.Array:
    """Matrix product over the last two axes; small blocks as unrolled multiply-and-adds, which XLA
    fuses with its neighbours and vectorises over the batch axes (on CPU a batched ``dot`` of many
    tiny matrices runs one small GEMM per matrix)."""
    k = a.shape[-1]
    # float64 only: in float32 the BLAS product (FMA accumulation) kept the float32 solve of the spec
    # instance R1 within 1e-5 of float64, the unrolled sums did not (1.5e-5; tests/bdris T23)
    wide = jnp.finfo(jnp.result_type(a, b)).bits > 32
    if wide and max(a.shape[-2:] + b.shape[-1:]) <= _SMALL:
        # explicit left-to-right sum (no reduce op): the same rounding batched or not, so vmap == loop
        out = a[..., :, 0, None] * b[..., None, 0, :]
        for i in range(1, k):
            out = out + a[..., :, i, None] * b[..., None, i, :]
        return out
    return a @ b


def _cayley_solve(m: jax.Array, b: jax.Array) -> jax.Array:
    """``m^{-1} b`` for ``m = I - K`` with ``K`` skew-Hermitian, by Gauss-Jordan elimination WITHOUT
    pivoting, unrolled over the (static, small) size: only elementwise ops, which XLA fuses and
    vectorises over blocks and batch (a batched LAPACK solve makes one call per block). Safe without
    pivoting: ``m`` has Hermitian part ``I``, so every pivot has real part >= 1. Rows are kept as
    separate real and imaginary arrays: real arithmetic vectorises where XLA's complex arithmetic
    did not (a third of the time of complex rows at 4 x 4 blocks, ``experiments/bench_bdris.py``).
    """
    n = m.shape[-1]
    aug = jnp.concatenate([m, b], -1)
    re = [jnp.real(aug[..., i, :]) for i in range(n)]
    im = [jnp.imag(aug[..., i, :]) for i in range(n)]
    for k in range(n):
        pr, pi = re[k][..., k : k + 1], im[k][..., k : k + 1]
        d = 1.0 / (pr * pr + pi * pi)
        qr, qi = pr * d, -pi * d
        vr, vi = re[k] * qr - im[k] * qi, re[k] * qi + im[k] * qr
        for i in range(n):
            if i == k:
                re[i], im[i] = vr, vi
            else:
                fr, fi = re[i][..., k : k + 1], im[i][..., k : k + 1]
                re[i], im[i] = re[i] - (fr * vr - fi * vi), im[i] - (fr * vi + fi * vr)
    return jax.lax.complex(jnp.stack(re, -2)[..., n:], jnp.stack(im, -2)[..., n:])


def _lu_solve(m: jax.Array, b: jax.Array) -> jax.Array:
    """``m^{-1} b`` by LAPACK's pivoted LU, with the row permutation built from the pivots by
    unrolled elementwise swaps: ``jnp.linalg.solve`` builds it in a loop of scatters over the rows,
    which XLA's CPU backend runs as a dozen small kernels per row (a tenth of an L-BFGS iteration at
    16 x 16 blocks)."""
    n = m.shape[-1]
    lu, piv, _ = jax.lax.linalg.lu(m)  # the unused permutation output (the loop) is dropped
    idx = jnp.arange(n, dtype=piv.dtype)
    perm = jnp.broadcast_to(idx, piv.shape)
    for k in range(n):  # row k swapped with row piv[k], in order
        pk = piv[..., k : k + 1]
        a = perm[..., k : k + 1]
        c = jnp.take_along_axis(perm, pk, axis=-1)
        perm = jnp.where(idx == k, c, jnp.where(idx == pk, a, perm))
    pb = jnp.take_along_axis(b, perm[..., :, None], axis=-2)
    y = jax.lax.linalg.triangular_solve(lu, pb, left_side=True, lower=True, unit_diagonal=True)
    return jax.lax.linalg.triangular_solve(lu, y, left_side=True, lower=False)


class _UnitaryBase(AbstractManifold):
    """Shared implementation over arrays ``(..., n, n)``."""

    @property
    def _n(self) -> int:  # block size
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def _check_retraction(self):
        if self.retraction not in _RETRACTIONS:
            raise ValueError(f"retraction: expected one of {_RETRACTIONS}, got {self.retraction!r}")

    # tangent vectors are ambient matrices Omega X
    def proj(self, x, g):
        return _mm(skew(_mm(g, ct(x))), x)

    def generator(self, x, v):
        """Right-trivialised tangent vector ``Omega = skew(V X^H)`` (skew-Hermitian)."""
        return skew(_mm(v, ct(x)))

    def from_generator(self, x, w):
        """Tangent vector ``Omega X`` at ``x`` of the generator ``Omega`` (inverse of :meth:`generator`)."""
        return _mm(w, x)

    # transport-free real coordinates (see AbstractManifold.has_coords)
    has_coords = True

    def coords(self, x, v):
        """Real coordinates ``(..., n, n)`` of the tangent vector ``v``: its generator packed by
        :func:`pack_skew` (the metric is their dot product; right translation leaves them unchanged)."""
        return self.coords_of_product(_mm(v, ct(x)))

    def coords_of_product(self, a):
        """Coordinates of the tangent vector ``skew(A) X`` from ``A = V X^H`` (a closed-form gradient
        can supply ``A`` for less than ``V`` and a product)."""
        return pack_skew(skew(a))

    def from_coords(self, x, c):
        return _mm(unpack_skew(c), x)

    def curve_coords(self, x, c):
        return self._curve_omega(x, unpack_skew(c))

    def lie_gradient(self, x, egrad):
        """The spec's Lie-algebra gradient ``G~ = G X^H - X G^H`` (= 2 skew(G X^H)) per block."""
        return 2.0 * skew(_mm(egrad, ct(x)))

    def transport(self, x, y, v):
        return _mm(skew(_mm(v, ct(x))), y)

    def retract(self, x, v):
        return self.curve(x, v)(jnp.ones((), jnp.real(x).dtype))

    def curve(self, x, v) -> Callable[[jax.Array], jax.Array]:
        return self._curve_omega(x, skew(_mm(v, ct(x))))

    def _curve_omega(self, x, omega) -> Callable[[jax.Array], jax.Array]:
        """``t -> R(t Omega) X`` for the skew-Hermitian generator ``omega``."""
        n = self._n
        if n == 1:  # blocks of size 1: phases; all retractions reduce to elementwise maps
            w = omega  # purely imaginary 1x1
            if self.retraction in ("exp", "expm"):
                return lambda t: jnp.exp(t * w) * x
            if self.retraction == "cayley":
                return lambda t: (1 + 0.5 * t * w) / (1 - 0.5 * t * w) * x
            return lambda t: (x + t * w * x) / jnp.abs(x + t * w * x)
        eye = jnp.eye(n, dtype=x.dtype)
        if self.retraction == "exp":
            lam, wv = jnp.linalg.eigh(1j * omega)  # j Omega is Hermitian
            wvh = ct(wv)

            wvh_x = _mm(wvh, x)  # hoisted: each trial step costs one product

            def _exp(t):
                ph = jnp.exp(-1j * (t * lam)).astype(x.dtype)
                return _mm(wv * ph[..., None, :], wvh_x)

            return _exp
        if self.retraction == "expm":
            return lambda t: jax.scipy.linalg.expm(t * omega) @ x
        if self.retraction == "cayley":
            if n <= _SMALL:  # (I - A)^{-1} (I + A) X = 2 (I - A)^{-1} X - X: one elimination, no product
                return lambda t: 2 * _cayley_solve(eye - 0.5 * t * omega, x) - x
            # the same identity: one LU solve, no product (the product took 8 % of an L-BFGS iteration at 16 x 16)
            return lambda t: 2 * _lu_solve(eye - 0.5 * t * omega, x) - x
        if self.retraction == "qr":
            return lambda t: _qr_pos(x + t * (omega @ x))
        return lambda t: polar_factor(x + t * (omega @ x))

    def random_point(self, key, dtype=None):
        return haar_unitary(key, self.shape, dtype)

    def identity(self, dtype=None):
        """The identity point (every block ``I``)."""
        cdt = _complex_dtype(dtype)
        return jnp.broadcast_to(jnp.eye(self._n, dtype=cdt), self.shape)

    def distance_to_manifold(self, x):
        return jnp.max(jnp.abs(ct(x) @ x - jnp.eye(x.shape[-1], dtype=x.dtype)))

    def closest_point(self, x):
        return polar_factor(x)


class UnitaryGroup(_UnitaryBase):
    """The unitary group ``U(n)``: points ``(n, n)`` with ``X^H X = I``.

    Args:
        n: matrix size.
        retraction: ``"exp"`` (default), ``"expm"``, ``"cayley"``, ``"qr"`` or ``"polar"`` (see the module
            docstring).
    """

    n: int = eqx.field(static=True)
    retraction: str = eqx.field(static=True, default="exp")

    def __check_init__(self):
        if int(self.n) < 1:
            raise ValueError(f"n: expected a positive integer, got {self.n}")
        self._check_retraction()

    @property
    def _n(self):
        return self.n

    @property
    def shape(self):
        return (self.n, self.n)


class BlockUnitary(_UnitaryBase):
    """Block-diagonal unitary matrices ``blkdiag(X_1..X_G)``, ``X_g in U(L)``, stored as ``(G, L, L)``.

    ``L = 1`` is the complex circle (D-RIS) and ``G = 1`` the unitary group (fully connected BD-RIS).

    Args:
        n_blocks: number of groups ``G``.
        block_size: group size ``L``.
        retraction: as :class:`UnitaryGroup`.
    """

    n_blocks: int = eqx.field(static=True)
    block_size: int = eqx.field(static=True)
    retraction: str = eqx.field(static=True, default="exp")

    def __check_init__(self):
        if int(self.n_blocks) < 1:
            raise ValueError(f"n_blocks: expected a positive integer, got {self.n_blocks}")
        if int(self.block_size) < 1:
            raise ValueError(f"block_size: expected a positive integer, got {self.block_size}")
        self._check_retraction()

    @property
    def _n(self):
        return self.block_size

    @property
    def shape(self):
        return (self.n_blocks, self.block_size, self.block_size)

    def to_dense(self, x):
        """The ``(G L) x (G L)`` block-diagonal matrix (for checks and small problems only)."""
        return jax.scipy.linalg.block_diag(*[x[g] for g in range(self.n_blocks)])
