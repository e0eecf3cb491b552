"""Shared machinery: complex calculus, solutions and the solve loop, implicit differentiation,
validation, sweeps, root finding, the batched SDP solver, manifolds and Riemannian solvers."""

from .complex import (
    ascent_grad,
    complex_view,
    ct,
    hermitian_part,
    real_inner,
    real_view,
    value_and_ascent_grad,
)
from . import manifolds
from .implicit import implicit_solution, ravel_real
from .riemannian import AbstractManifoldProblem, RiemannianAscent, RiemannianCG
from .roots import RootResult, bracketed_root
from .sdp import ADMMSDP, SDP, SDPValue, envelope_term, lagrangian, optimal_value, solve_sdp
from .solution import Solution, SolveError, Status, status_message
from .solve import AbstractSolver, solve, stop_gradient_tree, tree_where
from .refill import solve_refill
from .sweep import ProgressBar, Table, sweep
from .validation import (
    as_array,
    check_array,
    check_hermitian,
    check_positive,
    check_same_leading,
    is_concrete,
)

__all__ = [
    "ADMMSDP",
    "AbstractManifoldProblem",
    "AbstractSolver",
    "RiemannianAscent",
    "RiemannianCG",
    "RootResult",
    "SDP",
    "SDPValue",
    "bracketed_root",
    "manifolds",
    "optimal_value",
    "stop_gradient_tree",
    "lagrangian",
    "envelope_term",
    "solve_sdp",
    "ProgressBar",
    "Solution",
    "SolveError",
    "Status",
    "Table",
    "as_array",
    "ascent_grad",
    "check_array",
    "check_hermitian",
    "check_positive",
    "check_same_leading",
    "complex_view",
    "ct",
    "hermitian_part",
    "implicit_solution",
    "is_concrete",
    "ravel_real",
    "real_inner",
    "real_view",
    "solve",
    "solve_refill",
    "status_message",
    "sweep",
    "tree_where",
    "value_and_ascent_grad",
]
