"""The DMA model (admittance matrices of one drop) and the builder of the default set-up S0."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..core.validation import check_array, is_concrete
from . import physics

__all__ = ["DMAModel", "make_model", "steering", "directions_from_degrees", "S0_USERS", "S0_TARGETS_DEG"]

#: Users of the spec's §4.5 sanity drop (m).
S0_USERS = ((-10.0, 30.0, 1.5), (12.0, 45.0, 1.5))
#: Target directions of S0: (azimuth, elevation) in degrees.
S0_TARGETS_DEG = ((-40.0, -10.0), (0.0, -10.0), (35.0, -10.0))
#: CST-validated element susceptance of Williams et al. (normalised S).
Y0_CST = -15.7934


class DMAModel(eqx.Module):
    """Admittance model of one DMA drop (spec §1.2). All admittances in normalised siemens (l = 1).

    Attributes:
        Y_tt: (N, N) complex, feed self-admittance (diagonal, purely imaginary).
        Y_st: (L, N) complex, feed -> element admittance (block structure, purely imaginary).
        Y_ss: (L, L) complex symmetric, element <-> element admittance (coupling).
        Y_rs: (M, L) complex, element -> user admittance (the wireless channel).
        Y_rr: (M, M) complex, user <-> user admittance.
        Y_r: (M, M) complex diagonal, user loads (conjugate matched).
        positions: (L, 3) real, element positions relative to the DMA site (m).
        k: scalar real, free-space wavenumber (rad/m).
        R0: scalar real >= 0, fixed load conductance (Re of the element loads).
    """

    Y_tt: jax.Array
    Y_st: jax.Array
    Y_ss: jax.Array
    Y_rs: jax.Array
    Y_rr: jax.Array
    Y_r: jax.Array
    positions: jax.Array
    k: jax.Array
    R0: jax.Array

    @property
    def N(self) -> int:
        return self.Y_st.shape[-1]

    @property
    def L(self) -> int:
        return self.Y_st.shape[-2]

    @property
    def M(self) -> int:
        return self.Y_rs.shape[-2]

    @property
    def y_RS(self) -> jax.Array:
        """(M, L) user-side normalised channel ``(Y_r + Y_rr)^{-1} Y_rs``."""
        return jnp.linalg.solve(self.Y_r + self.Y_rr, self.Y_rs)

    @property
    def W(self) -> jax.Array:
        """(L, L) real SPD ``R0 I + Re Y_ss``: the dissipation + radiation weight of the power."""
        return self.R0 * jnp.eye(self.L, dtype=self.Y_ss.real.dtype) + jnp.real(self.Y_ss)

    def loads(self, y: jax.Array) -> jax.Array:
        """(L, L) complex ``Y_s + Y_ss = R0 I + Y_ss + j diag(y)``."""
        return self.Y_ss + jnp.diag(self.R0 + 1j * y).astype(self.Y_ss.dtype)

    def astype(self, dtype: Any) -> "DMAModel":
        """Cast to a complex dtype (``complex64`` or ``complex128``); real leaves follow."""
        cdt = jnp.dtype(dtype)
        rdt = jnp.finfo(cdt).dtype
        return jax.tree_util.tree_map(
            lambda x: x.astype(cdt) if jnp.iscomplexobj(x) else x.astype(rdt), self
        )

    def without_coupling(self) -> "DMAModel":
        """The same model with the off-diagonal of ``Y_ss`` zeroed (Lorentzian / no-coupling ablation)."""
        return eqx.tree_at(lambda m: m.Y_ss, self, jnp.diag(jnp.diagonal(self.Y_ss)))


def directions_from_degrees(az_el_deg: Any) -> jax.Array:
    """(D, 2) (azimuth, elevation) in degrees -> radians."""
    return jnp.asarray(az_el_deg) * (jnp.pi / 180.0)


def steering(model_or_positions: Any, directions: jax.Array, k: Any = None, *, element_factor: bool = False) -> jax.Array:
    """Element steering vectors ``a_l(u) = exp(+j k u^T r_l)`` (spec §1.5), shape (..., L).

    Args:
        model_or_positions: a :class:`DMAModel` or positions (L, 3) in metres (then give ``k``).
        directions: (..., 2) (azimuth from boresight +y, elevation from the horizontal) in radians.
        element_factor: multiply by the z-dipole element factor ``1 - u_z^2`` (off by default).
    """
    if isinstance(model_or_positions, DMAModel):
        pos, k = model_or_positions.positions, model_or_positions.k
    else:
        pos = model_or_positions
    az, el = directions[..., 0], directions[..., 1]
    u = jnp.stack([jnp.cos(el) * jnp.sin(az), jnp.cos(el) * jnp.cos(az), jnp.sin(el)], axis=-1)
    a = jnp.exp(1j * k * (u @ pos.T))
    if element_factor:
        a = a * (1.0 - u[..., 2:3] ** 2)
    return a


def make_model(
    users: Any = S0_USERS,
    *,
    N: int = 4,
    L_mu: int = 8,
    freq: float = 10e9,
    R0: float = 2.0,
    site: Any = (0.0, 0.0, 10.0),
    channel: str = "los",
    key: jax.Array | None = None,
    element_spacing: float | None = None,
    guide_spacing: float | None = None,
    dtype: Any = None,
) -> DMAModel:
    """Build the admittance model of the set-up S0 (spec §4.2) for one drop of users.

    Args:
        users: (M, 3) user positions in metres (default: the §4.5 drop). Traced values are allowed
            (vmap over drops, gradients with respect to positions).
        N: RF chains = waveguides; L_mu: elements per waveguide (L = N * L_mu).
        freq: carrier frequency in Hz (default 10 GHz). R0: load conductance (normalised S, >= 0).
        site: DMA position in metres. channel: ``"los"`` (W8, bug-fixed) or ``"rayleigh"`` (W9,
            needs ``key``).
        element_spacing / guide_spacing: metres (default lambda/2 and lambda).
        dtype: complex dtype of the model (default complex128 with x64, else complex64). The
            geometry is built in the matching real dtype.

    Raises:
        ValueError: bad sizes, negative R0, unknown channel, or a waveguide resonance
            (``|sin(k_x S)| < 1e-2``).
    """
    if int(N) < 1:
        raise ValueError(f"N: expected a positive number of RF chains, got {N}")
    if int(L_mu) < 1:
        raise ValueError(f"L_mu: expected a positive number of elements per waveguide, got {L_mu}")
    if channel not in ("los", "rayleigh"):
        raise ValueError(f"channel: expected 'los' or 'rayleigh', got {channel!r}")
    if channel == "rayleigh" and key is None:
        raise ValueError("key: the 'rayleigh' channel needs a jax.random key")
    cdt = jnp.dtype(dtype) if dtype is not None else jnp.result_type(complex)
    # Build in the widest available precision (float64 with x64), then cast: the phases k*D ~ 1e4 rad.
    bdt = jnp.result_type(float)
    users = check_array(users, "users", ndim=2, kind="real").astype(bdt)
    if users.shape[-1] != 3:
        raise ValueError(f"users: expected shape (M, 3), got {users.shape}")
    R0 = jnp.asarray(R0, bdt)
    if is_concrete(R0) and float(R0) < 0:
        raise ValueError(f"R0: expected a load conductance >= 0, got {float(R0)}")
    freq = jnp.asarray(freq, bdt)
    if is_concrete(freq):
        lam = physics.C0 / freq
        geom = physics.dma_geometry(int(N), int(L_mu), wavelength=lam, d_el=element_spacing, d_wg=guide_spacing, dtype=bdt)
        margin = physics.resonance_margin(freq, geom["a"], geom["S"])
        if float(margin) < 1e-2:
            raise ValueError(
                f"L_mu/element_spacing: waveguide resonance, |sin(k_x S)| = {float(margin):.2e} < 1e-2; change the length"
            )
    site = jnp.asarray(site, bdt)
    key = jax.random.key(0) if key is None else key
    spacing = jnp.asarray([jnp.nan if element_spacing is None else element_spacing,
                           jnp.nan if guide_spacing is None else guide_spacing], bdt)
    model = _build(users, R0, freq, site, key, spacing, int(N), int(L_mu), channel)
    return model.astype(cdt)


@eqx.filter_jit
def _build(users, R0, freq, site, key, spacing, N, L_mu, channel):
    lam = physics.C0 / freq
    d_el = jnp.where(jnp.isnan(spacing[0]), lam / 2, spacing[0])
    d_wg = jnp.where(jnp.isnan(spacing[1]), lam, spacing[1])
    geom = physics.dma_geometry(N, L_mu, wavelength=lam, d_el=d_el, d_wg=d_wg, dtype=users.dtype)
    blocks = physics.admittance_blocks(geom, freq, N=N)
    absolute = geom["positions"] + site
    if channel == "los":
        Y_rs = physics.los_channel(users, absolute, freq)
    else:
        Y_rs = physics.rayleigh_channel(key, users, absolute, freq)
    Y_rr, Y_r = physics.user_admittances(users, freq)
    return DMAModel(
        Y_tt=blocks["Y_tt"], Y_st=blocks["Y_st"], Y_ss=blocks["Y_ss"], Y_rs=Y_rs, Y_rr=Y_rr, Y_r=Y_r,
        positions=geom["positions"], k=blocks["k"], R0=R0,
    )


def random_users(key: jax.Array, M: int, *, x=(-20.0, 20.0), y=(20.0, 60.0), z: float = 1.5, dtype: Any = None) -> jax.Array:
    """(M, 3) users uniform in the S0 box (metres), key first."""
    rdt = jnp.finfo(jnp.result_type(complex) if dtype is None else dtype).dtype
    u = jax.random.uniform(key, (M, 2), rdt)
    return jnp.stack([x[0] + (x[1] - x[0]) * u[:, 0], y[0] + (y[1] - y[0]) * u[:, 1], jnp.full((M,), z, rdt)], -1)


__all__ += ["random_users", "Y0_CST"]
