"""Scenario generators: array geometry, steering vectors, channel models, RIS cascades."""

from .arrays import beampattern, deg2rad, element_positions, ula_steering, upa_steering
from .channels import RISCascade, path_loss, rayleigh, rician, ris_cascade, scattering_channel

__all__ = [
    "RISCascade",
    "beampattern",
    "deg2rad",
    "element_positions",
    "path_loss",
    "rayleigh",
    "rician",
    "ris_cascade",
    "scattering_channel",
    "ula_steering",
    "upa_steering",
]
