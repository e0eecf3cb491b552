"""CVXPY + Clarabel oracles (T2, T3, T4, T8): the reduced problem equals the SDR, R-BAL equals R-IPM."""

import numpy as np
import pytest

import jaxisac
import jaxisac.crb as C

from . import oracles as O

pytestmark = pytest.mark.oracle


def test_sdr_equals_reduced_problem_and_structure_T3_T4():
    prob = C.make_instance(0, 12, 4, sinr_db=20.0)  # active (spec §9.2: 1.78905602 / 1.78905616)
    v2, R, _ = O.full_sdr(prob)
    v7, Rt, _ = O.reduced(prob)
    assert abs(v2 - v7) <= 1e-6 * v7
    Hm = np.asarray(prob.H)
    Pi = Hm @ np.linalg.solve(Hm.conj().T @ Hm, Hm.conj().T)
    Pp = np.eye(12) - Pi
    th = (100.0 - np.trace(Pi @ R).real) / 8
    assert np.linalg.norm(Pp @ R @ Pp - th * Pp) <= 1e-6 * np.linalg.norm(R)
    assert np.linalg.norm(Pi @ R @ Pp) <= 1e-6 * np.linalg.norm(R)
    assert th == pytest.approx((100.0 - np.trace(Rt).real) / 8, rel=1e-4)


def test_rbal_equals_r_ipm_and_power_min_T2_T8():
    prob = C.make_instance(0, 16, 8)  # REG-A (active)
    sol = jaxisac.solve(prob, C.RBAL())
    v13, _, _ = O.reduced(prob, equality=True)
    v7, _, _ = O.reduced(prob)
    f = float(sol.objective)
    assert abs(f - v13) <= 1e-6 * f  # the oracle itself is ~1e-7 accurate
    assert abs(f - v7) <= 3e-6 * f  # Clarabel reports "optimal_inaccurate" here (spec §9.2: 1.7e-6)
    assert f <= min(v7, v13) * (1 + 1e-9)  # R-BAL is the better optimiser
    p_low = O.power_min(prob)
    assert float(sol.stats["p_low"]) == pytest.approx(p_low, rel=1e-5)
