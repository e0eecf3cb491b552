"""Robust ISAC waveform design under channel uncertainty (seed 002, Wang-Dai-Wang-Li, IEEE TSP 2024).

Problem data are :class:`SensingCentricProblem` and :class:`JointProblem`; the designs are the solver
configurations :class:`Nominal`, :class:`Method1`, :class:`Method2`, :class:`Method3` (closed forms and
the PAPC Riemannian CG) and :class:`MinMax` (a first-order min-max solver beyond the paper), all run by
``jaxisac.solve`` and batched by ``jax.vmap``. Building blocks: :func:`worst_case_channel` (exact
trust-region worst case, implicitly differentiable), :func:`sensing_centric_waveform` (closed form
(29)), metrics (:func:`aasr`, :func:`mui`, :func:`sinr`, :func:`beampattern`,
:func:`detection_probability`, :func:`value_function`), and the scenario generator
:func:`make_scenario`. See ``shared/specs/seed-002-robust.md`` for the maths.
"""

from .calibration import Calibration, calibrate_theta, coverage_fraction
from .joint import PAPCProblem, joint_cost, papc_waveform, tpc_waveform
from .minmax import MinMax
from .methods import JointProblem, Method1, Method2, Method3, Nominal, SensingCentricProblem
from .metrics import (
    aasr,
    beampattern,
    covariance_error,
    detection_probability,
    lipschitz_constant,
    lower_bound,
    mui,
    per_user_mui,
    sinr,
    upper_bound,
    value_function,
)
from .scenario import (
    RobustScenario,
    make_scenario,
    paper_reference_waveform,
    perturb_channel,
    qpsk,
    random_sensing_waveform,
)
from .sensing import cyclic_waveform, desired_beampattern, mmse_covariance, par
from .sensing_centric import cholesky_factor, method2_step, remedy_waveform, sensing_centric_waveform
from .worst_case import WorstCase, worst_case, worst_case_channel, worst_case_value

__all__ = [
    "Calibration",
    "calibrate_theta",
    "coverage_fraction",
    "JointProblem",
    "Method1",
    "Method2",
    "Method3",
    "MinMax",
    "Nominal",
    "PAPCProblem",
    "RobustScenario",
    "SensingCentricProblem",
    "WorstCase",
    "aasr",
    "beampattern",
    "cholesky_factor",
    "covariance_error",
    "detection_probability",
    "joint_cost",
    "lipschitz_constant",
    "lower_bound",
    "make_scenario",
    "mmse_covariance",
    "cyclic_waveform",
    "desired_beampattern",
    "par",
    "paper_reference_waveform",
    "method2_step",
    "mui",
    "papc_waveform",
    "per_user_mui",
    "perturb_channel",
    "qpsk",
    "random_sensing_waveform",
    "remedy_waveform",
    "sensing_centric_waveform",
    "sinr",
    "tpc_waveform",
    "upper_bound",
    "value_function",
    "worst_case",
    "worst_case_channel",
    "worst_case_value",
]
