"""CRB-optimal ISAC beamforming for an extended target (seed 001): low-dimensional reformulation,
R-BAL, closed-form branches, metrics and derivatives of the optimum.

    prob = jaxisac.crb.make_instance(0, 16, 8)            # spec §9.0 generator (REG-A)
    sol = jaxisac.solve(prob, jaxisac.crb.RBAL())          # sol.value.W, sol.value.W_aux
    jax.vmap(lambda p: jaxisac.solve(p, RBAL(), throw=False))(batch)
"""

from .problem import ExtendedTargetCRB, make_instance, make_instances, random_instance
from .rbal import RBAL, Branch, CRBBeamformers
from .metrics import crb, power, sinr
from .bal import BAL
from .diff import optimal_crb, optimal_solution
from .batch import solve_batch
from .point import PointTargetBeamformers, PointTargetCRB, point_crb, point_target_sdp, solve_point_target

__all__ = [
    "BAL", "Branch", "CRBBeamformers", "ExtendedTargetCRB", "RBAL", "crb", "make_instance", "make_instances",
    "optimal_crb", "optimal_solution", "power", "random_instance", "sinr", "solve_batch",
    "PointTargetBeamformers", "PointTargetCRB", "point_crb", "point_target_sdp", "solve_point_target",
]
