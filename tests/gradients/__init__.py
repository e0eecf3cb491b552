"""Per-solver gradient matrix (issue 9): every differentiation mode a solver offers, against central
finite differences of re-solves in float64, under ``jit`` and ``vmap`` and in forward mode."""
