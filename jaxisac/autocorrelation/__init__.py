"""IRS channel-autocorrelation estimation from received-power measurements (seed 004).

Measurement model and generator (:mod:`.model`, :mod:`.generator`), the estimators ALRA / robust ALRA
(:mod:`.alra`), LRA / robust LRA / trace minimisation on the library's SDP solver (:mod:`.lra`),
reflection design and baselines (:mod:`.reflection`), metrics (:mod:`.metrics`).
"""

from .alra import ALRA, RobustALRA
from .lra import LRA, TM, RobustLRA, RobustTM, best_trace, lra_sdp, robust_lra_sdp, robust_tm_sdp, tm_sdp
from .generator import Drop, channel_from_draws, make_drop, paper_drop
from .model import (
    adjoint_map,
    cascade,
    dbm_to_watt,
    forward_map,
    gram_matrix,
    measure_power,
    quantize_rsrp,
    received_power,
    training_patterns,
    watt_to_dbm,
)
from .metrics import eigenvalue_ratio, gain_db, nmse, true_autocorrelation
from .problems import PowerMeasurements, RobustMeasurements
from .reflection import (
    align_discrete,
    continuous_bound,
    csm_reflection,
    design_reflection,
    effective_gain,
    rms_reflection,
    upper_bound_reflection,
)

__all__ = [
    "LRA",
    "TM",
    "RobustLRA",
    "RobustTM",
    "best_trace",
    "robust_lra_sdp",
    "robust_tm_sdp",
    "lra_sdp",
    "tm_sdp",
    "align_discrete",
    "continuous_bound",
    "csm_reflection",
    "design_reflection",
    "effective_gain",
    "eigenvalue_ratio",
    "gain_db",
    "nmse",
    "rms_reflection",
    "true_autocorrelation",
    "upper_bound_reflection",
    "ALRA",
    "Drop",
    "PowerMeasurements",
    "RobustALRA",
    "RobustMeasurements",
    "adjoint_map",
    "cascade",
    "channel_from_draws",
    "dbm_to_watt",
    "forward_map",
    "gram_matrix",
    "make_drop",
    "measure_power",
    "paper_drop",
    "quantize_rsrp",
    "received_power",
    "training_patterns",
    "watt_to_dbm",
]
