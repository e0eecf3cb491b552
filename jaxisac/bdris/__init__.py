"""BD-RIS MIMO channel shaping and rate maximisation (seed 003: Zhao, Li, Clerckx, Franceschetti,
"MIMO Channel Shaping and Rate Maximization Using Beyond-Diagonal RIS"; spec ``seed-003-bdris.md``).

Model: ``H = H_D + H_B Theta H_F`` with ``Theta = blkdiag(Theta_1..Theta_G)``, ``Theta_g in U(L)``
(``L = 1`` D-RIS, ``L = N_S`` fully connected), optionally reciprocal (``Theta_g = Q_g Q_g^T``).

* :func:`channel`, :func:`make_channels` (paper set-up), :func:`spec_instance` (the spec's NumPy
  regression instances);
* :class:`ChannelShaping` — maximise ANY differentiable ``f(H, params)`` (power gain, weighted
  singular values / Pareto (34), nuclear norm, fixed-covariance rate, or your own) with
  :class:`RiemannianCG` / :class:`RiemannianAscent` (geodesic, eigh-exponential, true-slope Armijo;
  the paper's algorithm and the default), :class:`RiemannianLBFGS` (one objective-and-gradient
  evaluation per iteration, about 4x fewer evaluations than CG on the nuclear norm; use it with
  ``retraction="cayley"``), or, for the power gain, :class:`PowerGainMM` (Prop 5). The nuclear norm
  has a closed-form gradient (no autodiff) and a LAPACK-free variant ``objective="nuclear_jacobi"``
  (unrolled Jacobi SVD, for batched runs of small channels);
* :class:`RateMaximisation` + :class:`RateAO` (AO with water-filling, initialised from the power-gain
  optimum), :func:`rate`, :func:`waterfill`, :func:`capacity`, :func:`decoupled_rate`;
* closed forms (:func:`theta_power_max`, :func:`theta_dof_max`, ...) and the appendix's claims as
  functions (:mod:`jaxisac.bdris.bounds`); symmetric BD-RIS helpers (:func:`takagi`).

Rates are in nats (:func:`to_bits`). Everything batches with ``jax.vmap`` and runs in
complex64/complex128.
"""

from jaxisac.core.riemannian import RiemannianAscent, RiemannianCG, RiemannianLBFGS

from .ao import RateAO, RateMaximisation, power_gain_theta
from .bounds import (
    capacity_asymptotes,
    capacity_fully_connected,
    determinant_invariant,
    interlacing_bounds,
    padded_singular_values,
    power_bounds,
    product_lower_bounds,
    product_upper_bounds,
    rank_bounds,
    singular_value_bounds,
)
from .channels import PAPER_PATHLOSS_DB, Channels, los_channel, make_channels, spec_instance
from .closed_forms import (
    numerical_rank,
    theta_dof_max,
    theta_dof_min,
    theta_permutation,
    theta_power_max,
    theta_power_min,
    theta_procrustes,
    theta_siso,
)
from .model import as_blocks, channel, identity_theta, random_theta, to_dense, unitarity_error
from .objectives import (
    OBJECTIVES,
    nuclear_norm,
    nuclear_norm_jacobi,
    power_gain,
    power_gain_egrad,
    rate_egrad,
    rate_objective,
    weighted_singular_values,
    weighted_sv_egrad,
)
from .problems import ChannelShaping, PowerGainMM, shaping_problem
from .rate import capacity, rate, to_bits, waterfill, waterfilling_covariance
from .symmetric import enforce_symmetry_paper, symmetric_polar, symmetric_power_max, symmetry_error, takagi


def decoupled_rate(H_direct, H_backward, H_forward, *, power, noise, group_size, max_steps: int = 1000):
    """Low-complexity design (spec §3.2): maximise the power gain (Prop 5), then water-fill.

    Returns ``(rate_nats, theta_blocks)``.
    """
    import jaxisac

    prob = ChannelShaping(H_direct, H_backward, H_forward, group_size=group_size, objective="power")
    sol = jaxisac.solve(prob, PowerGainMM(max_steps=max_steps), throw=False)
    return capacity(prob.channel(sol.value), power, noise), sol.value


__all__ = [
    "Channels",
    "ChannelShaping",
    "OBJECTIVES",
    "PAPER_PATHLOSS_DB",
    "PowerGainMM",
    "RateAO",
    "RateMaximisation",
    "RiemannianAscent",
    "RiemannianCG",
    "RiemannianLBFGS",
    "as_blocks",
    "capacity",
    "capacity_asymptotes",
    "capacity_fully_connected",
    "channel",
    "decoupled_rate",
    "determinant_invariant",
    "enforce_symmetry_paper",
    "identity_theta",
    "interlacing_bounds",
    "los_channel",
    "make_channels",
    "nuclear_norm",
    "nuclear_norm_jacobi",
    "numerical_rank",
    "padded_singular_values",
    "power_bounds",
    "power_gain",
    "power_gain_egrad",
    "power_gain_theta",
    "product_lower_bounds",
    "product_upper_bounds",
    "random_theta",
    "rank_bounds",
    "rate",
    "rate_egrad",
    "rate_objective",
    "shaping_problem",
    "singular_value_bounds",
    "spec_instance",
    "symmetric_polar",
    "symmetric_power_max",
    "symmetry_error",
    "takagi",
    "theta_dof_max",
    "theta_dof_min",
    "theta_permutation",
    "theta_power_max",
    "theta_power_min",
    "theta_procrustes",
    "theta_siso",
    "to_bits",
    "to_dense",
    "unitarity_error",
    "waterfill",
    "waterfilling_covariance",
    "weighted_singular_values",
    "weighted_sv_egrad",
]
