"""Mutual-coupling-aware DMA hybrid beamforming for ISAC (seed 000; spec ``seed-000-dma.md``)."""

from .model import DMAModel, make_model, random_users, steering, directions_from_degrees, S0_USERS, S0_TARGETS_DEG, Y0_CST
from .metrics import (
    beampattern, p_tot, sinr, transmit_power, transmit_power_ports, excitations, effective_channels,
    noise_variance, sensing_only_bound, crude_bound,
)
from .problem import DMAProblem, make_problem
from .digital import default_sdp_solver, digital_step, evaluate, p2_sdp, p2_value, scale_to_min_power
from .analog import P4MMConfig, analog_step, coefficients, p4mm_conic
from .ao import DMAAO
from .baselines import digital_only, fd_upper_bound
from .direct import direct_solve  # the direct method; dma.direct also has optimised_value, polish
