"""The DMA ISAC beamforming problem P1/P3 (spec §2): data of one instance, noise-normalised."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core.validation import check_array, check_positive, is_concrete
from .metrics import noise_variance
from .model import S0_TARGETS_DEG, Y0_CST, DMAModel, directions_from_degrees, steering

__all__ = ["DMAProblem", "make_problem"]


class DMAProblem(eqx.Module):
    """One instance of the mutual-coupling-aware DMA ISAC problem (spec P1 with the loads free).

    Attributes:
        model: the :class:`DMAModel` (admittances of the drop).
        A: (D, L) complex steering vectors ``a_d`` of the directions of interest.
        O: (M, L) complex noise-normalised user observers ``y_RS,m / sigma`` (so the noise power is 1).
        gamma: (M,) real SINR thresholds (linear, > 0).
        p_max: scalar real power budget (> 0, model units).
        beta_lo: (D,) real lower beampattern bounds (>= 0; 0 = none).
        beta_hi: scalar real upper beampattern bound (used only when ``has_upper``).
        y0: (L,) real initial susceptances.
        objective: ``"avg"`` (paper: average beampattern + box) or ``"maxmin"`` (P1-mm). Static.
        has_upper: whether ``beta_hi`` is finite (static: it changes the SDP's shape).
        has_lower: whether lower bounds are imposed (static; False when all ``beta_lo`` are 0).
    """

    model: DMAModel
    A: jax.Array
    O: jax.Array
    gamma: jax.Array
    p_max: jax.Array
    beta_lo: jax.Array
    beta_hi: jax.Array
    y0: jax.Array
    objective: str = eqx.field(static=True, default="avg")
    has_upper: bool = eqx.field(static=True, default=False)
    has_lower: bool = eqx.field(static=True, default=False)

    @property
    def D(self) -> int:
        return self.A.shape[-2]

    @property
    def K(self) -> int:
        return self.O.shape[-2] + self.model.N

    @property
    def observers(self) -> jax.Array:
        """(D + M, L) stacked observer rows ``[a_1^T; ..; a_D^T; o_1; ..; o_M]``."""
        return jnp.concatenate([self.A, self.O], axis=-2)

    def with_(self, **kw) -> "DMAProblem":
        """Copy with some array fields replaced (e.g. ``gamma``, ``p_max``, ``y0``)."""
        names = list(kw)
        return eqx.tree_at(lambda p: [getattr(p, n) for n in names], self, [kw[n] for n in names])


def make_problem(
    model: DMAModel,
    directions: Any = None,
    *,
    gamma: Any = 2.0,
    p_max: Any = 1.0,
    snr_db: Any = 30.0,
    noise_var: Any = None,
    beta_lo: Any = 0.0,
    beta_hi: Any = None,
    y0: Any = Y0_CST,
    objective: str = "avg",
    element_factor: bool = False,
) -> DMAProblem:
    """Build a :class:`DMAProblem` (defaults: set-up S0 of spec §4.2).

    Args:
        model: the drop's :class:`DMAModel`.
        directions: (D, 2) (azimuth, elevation) radians (default: S0 targets -40, 0, 35 deg at -10 deg).
        gamma: SINR thresholds, scalar or (M,), linear (default 2 = 3 dB). p_max: power budget.
        snr_db / noise_var: noise power, from the reference SNR (§4.2) unless given directly.
        beta_lo: lower bounds, scalar or (D,). beta_hi: common upper bound (``None``: none).
        y0: initial susceptances, scalar or (L,). objective: ``"avg"`` or ``"maxmin"``.
    """
    if not isinstance(model, DMAModel):
        raise ValueError(f"model: expected a DMAModel, got {type(model).__name__}")
    if objective not in ("avg", "maxmin"):
        raise ValueError(f"objective: expected 'avg' or 'maxmin', got {objective!r}")
    rdt = model.R0.dtype
    if directions is None:
        directions = directions_from_degrees(np.asarray(S0_TARGETS_DEG))
    directions = check_array(directions, "directions", ndim=2, kind="real").astype(rdt)
    if directions.shape[-1] != 2:
        raise ValueError(f"directions: expected shape (D, 2), got {directions.shape}")
    D, M, L = directions.shape[0], model.M, model.L
    gamma = jnp.broadcast_to(check_positive(gamma, "gamma").astype(rdt), (M,))
    p_max = check_positive(p_max, "p_max").astype(rdt)
    if p_max.ndim != 0:
        raise ValueError(f"p_max: expected a scalar, got shape {p_max.shape}")
    try:  # decided on the raw input, so that a default 0 stays "no bounds" inside jit/vmap
        has_lower = bool(np.any(np.asarray(beta_lo) > 0))
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        has_lower = True
    beta_lo = jnp.broadcast_to(check_positive(beta_lo, "beta_lo", strict=False).astype(rdt), (D,))
    has_upper = beta_hi is not None
    beta_hi = check_positive(1.0 if beta_hi is None else beta_hi, "beta_hi").astype(rdt)
    if has_upper and is_concrete(beta_hi) and is_concrete(beta_lo) and bool(jnp.any(beta_lo > beta_hi)):
        raise ValueError("beta_lo: expected beta_lo <= beta_hi")
    if noise_var is None:
        noise_var = noise_variance(model, snr_db, p_max)
    noise_var = check_positive(noise_var, "noise_var").astype(rdt)
    y0 = jnp.broadcast_to(check_array(y0, "y0", kind="real").astype(rdt), (L,))
    A = steering(model, directions, element_factor=element_factor)
    O = model.y_RS / jnp.sqrt(noise_var)
    return DMAProblem(
        model=model, A=A.astype(model.Y_ss.dtype), O=O.astype(model.Y_ss.dtype), gamma=gamma, p_max=p_max,
        beta_lo=beta_lo, beta_hi=beta_hi, y0=y0, objective=objective, has_upper=has_upper, has_lower=has_lower,
    )
