"""The library's one batched SDP solver (small dense SDPs, thousands per ``jit``).

Problem (standard primal form over Hermitian blocks, an orthant slack and, optionally,
second-order-cone blocks)::

    minimise    sum_j Re<C_j, X_j> + <c, s> + sum_k <q_k, u_k>
    subject to  sum_j Re<A_j[i], X_j> + <G[i], s> + sum_k <Q_k[i], u_k> = b[i],   i = 1..m
                X_j Hermitian PSD (n_j x n_j),  s >= 0 (p,),  u_k[0] >= ||u_k[1:]|| (q_k,)

with ``Re<A, X> = Re tr(A^H X)``. Inequalities are written with the slack ``s``; the cones ``u_k``
give epigraphs of Euclidean norms and of squared norms (``t >= ||d||^2`` is
``(t+1)/2 >= ||((t-1)/2, d)||``, i.e. ``u = (a, b, d)`` with ``a - b = 1`` and ``t = a + b``; see
:func:`soc_square_epigraph`). Its dual is::

    maximise    b^T y
    subject to  C_j - sum_i y_i A_j[i]^H-part = Z_j  PSD,    c - G^T y = z >= 0,
                q_k - Q_k^T y = w_k  in the second-order cone.

Only the Hermitian part of each ``A_j[i]`` matters (``Re<A, X>`` vanishes on anti-Hermitian ``A``
when ``X`` is Hermitian), so non-Hermitian ``A_j[i]`` are accepted and used through
``(A + A^H)/2``. A block is complex (``X_j`` complex Hermitian) when ``C_j`` or ``A_j`` is complex,
real symmetric otherwise.

Algorithm (:class:`ADMMSDP`): the dual ADMM of Wen, Goldfarb and Yin (2010) on the vectorised,
equilibrated problem (see ``jaxisac.kernels.sdp``). Per instance, once: rows of the constraint map are
normalised to unit norm, ``b`` and ``(C, c)`` are scaled to unit norm, and the pseudo-inverse of the
``m x m`` Gram matrix is formed by ``eigh`` (so redundant constraints are allowed). Per iteration: two
matrix-vector products with the ``m x N`` constraint matrix, one ``m x m`` product and one ``eigh``
per Hermitian block (complex Hermitian handled natively). Every ``check_every`` iterations the
relative residuals are evaluated, the penalty ``rho`` is re-balanced (residual balancing; the
factorisation does not depend on it) and infeasibility certificates are tested.

Stopping: ``Status.SUCCESS`` when the relative primal residual, dual residual and duality gap of the
*equilibrated* problem are all ``<= tol``::

    ||A(X) - b|| / (1 + ||b||),  ||C - A^* y - Z|| / (1 + ||C||),  |p - d| / (1 + |p| + |d|)

(scale invariant with respect to the overall size of ``b`` and of ``(C, c)``). ``X`` and ``Z`` are
PSD and complementary at every iterate, so these three quantities are the whole KKT error.

Infeasibility (``Status.INFEASIBLE``; ``stats["certificate"]`` says which): the differences of
successive ADMM iterates converge to Farkas certificates when an instance is infeasible (Banjac,
Goulart, Stellato & Boyd, 2019). Every check the solver tests

* primal infeasibility: ``dy`` (change of ``y`` over the last check period) with ``b^T dy > 0`` and
  ``dist(-A^* dy, K) <= infeas_tol * b^T dy`` (``certificate == 1``); also when ``b`` is not in the
  range of the constraint map (inconsistent equalities, detected before the first step);
* dual infeasibility (primal unbounded): ``dx`` with ``<C, dx> < 0`` and
  ``||A dx|| + dist(dx, K) <= infeas_tol * (-<C, dx>)`` (``certificate == 2``).

By Farkas' lemma neither test can fire on a feasible instance whose (equilibrated) primal, resp.
dual, solutions have norm below ``1 / infeas_tol``. Nearly infeasible instances end in
``MAX_STEPS``; no instance ends with silent NaN (the solve loop reports ``NONFINITE``).

Differentiation: the ADMM iterations are *not* differentiated (``solve`` runs a ``while_loop``).
:func:`optimal_value` differentiates the optimal value by the envelope theorem (first-order change
``Re<dC, X> + dc^T s - sum_i y_i (Re<dA[i], X> + dG[i]^T s) + db^T y``), valid wherever the primal
and dual optima are unique (forward and reverse mode). Derivatives of the optimal *solution* are not
offered: the KKT map of an SDP is smooth only under strict complementarity and nondegeneracy, which
typical instances of this library (rank-one PhaseLift/LRA solutions) do not satisfy robustly.

Batching: ``jax.vmap(lambda p: solve_sdp(p))(batched_sdp)`` over SDPs of the same shapes; finished
instances are frozen, so batched results equal one-at-a-time results.
"""

from __future__ import annotations

from typing import Any, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..kernels import sdp as _k
from .complex import hermitian_part
from .solution import Solution, Status
from .solve import AbstractSolver, solve, stop_gradient_tree
from .validation import check_array, check_hermitian, is_concrete

__all__ = ["SDP", "SDPValue", "ADMMSDP", "solve_sdp", "optimal_value", "lagrangian", "envelope_term", "soc_square_epigraph"]


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


class SDP(eqx.Module):
    """A small dense SDP in standard form (see the module docstring).

    Attributes (leading batch axes allowed, the same on every argument; trailing shapes):
        C: tuple of ``(n_j, n_j)`` Hermitian cost blocks (real or complex); may be empty when the
            problem has an orthant slack or second-order cones (an LP/SOCP in the same format).
        A: tuple of ``(m, n_j, n_j)`` constraint blocks; row ``i`` of block ``j`` is ``A_j[i]``.
        b: ``(m,)`` real right-hand side.
        c: ``(p,)`` real cost of the orthant slack (zeros when ``G`` is given alone).
        G: ``(m, p)`` real slack coefficients (zeros when ``c`` is given alone).
        Q: tuple of ``(m, q_k)`` real coefficients of the second-order-cone blocks (default none).
        q: tuple of ``(q_k,)`` real costs of the second-order-cone blocks (zeros when omitted).

    The constructor raises ``ValueError`` naming the argument for wrong shapes, non-finite values,
    non-Hermitian ``C_j`` or complex ``b``/``c``/``G``/``Q``/``q`` (value checks only on concrete
    arrays).
    """

    C: tuple
    A: tuple
    b: jax.Array
    c: jax.Array
    G: jax.Array
    Q: tuple = ()
    q: tuple = ()

    def __init__(self, C: Sequence[Any], A: Sequence[Any], b: Any, c: Any = None, G: Any = None,
                 Q: Sequence[Any] | None = None, q: Sequence[Any] | None = None):
        if isinstance(C, (jax.Array, np.ndarray)) or not isinstance(C, (tuple, list)):
            C = (C,)
        if isinstance(A, (jax.Array, np.ndarray)) or not isinstance(A, (tuple, list)):
            A = (A,)
        if len(C) == 0 and c is None and G is None and not Q:
            raise ValueError("C: expected at least one cone (a PSD block, the orthant slack or a second-order cone)")
        if len(A) != len(C):
            raise ValueError(f"A: expected one constraint block per cost block ({len(C)}), got {len(A)}")
        b = check_array(b, "b", kind="real")
        if b.ndim < 1:
            raise ValueError(f"b: expected shape (..., m), got {_shape_str(b.shape)}")
        batch, m = b.shape[:-1], b.shape[-1]
        Cs, As = [], []
        for j, (Cj, Aj) in enumerate(zip(C, A)):
            Cj = check_hermitian(Cj, f"C[{j}]")
            n = Cj.shape[-1]
            if Cj.shape[:-2] != batch:
                raise ValueError(f"C[{j}]: expected shape {_shape_str(batch + (n, n))}, got {_shape_str(Cj.shape)}")
            Aj = check_array(Aj, f"A[{j}]", shape=tuple(batch) + (m, n, n))
            Cs.append(Cj)
            As.append(Aj)
        if c is None and G is None:
            c = jnp.zeros(batch + (0,), b.dtype)
            G = jnp.zeros(batch + (m, 0), b.dtype)
        elif c is None:
            G = check_array(G, "G", kind="real", shape=tuple(batch) + (m, None))
            c = jnp.zeros(batch + (G.shape[-1],), b.dtype)
        else:
            c = check_array(c, "c", kind="real", shape=tuple(batch) + (None,))
            G = (
                jnp.zeros(batch + (m, c.shape[-1]), b.dtype)
                if G is None
                else check_array(G, "G", kind="real", shape=tuple(batch) + (m, c.shape[-1]))
            )
        if isinstance(Q, (jax.Array, np.ndarray)):
            Q = (Q,)
        if isinstance(q, (jax.Array, np.ndarray)):
            q = (q,)
        Q = () if Q is None else tuple(Q)
        if q is not None and len(tuple(q)) != len(Q):
            raise ValueError(f"q: expected one cost per second-order-cone block ({len(Q)}), got {len(tuple(q))}")
        Qs, qs = [], []
        for k, Qk in enumerate(Q):
            Qk = check_array(Qk, f"Q[{k}]", kind="real", shape=tuple(batch) + (m, None))
            if Qk.shape[-1] < 1:
                raise ValueError(f"Q[{k}]: expected at least one column, got {_shape_str(Qk.shape)}")
            qk = (
                jnp.zeros(batch + (Qk.shape[-1],), b.dtype)
                if q is None
                else check_array(tuple(q)[k], f"q[{k}]", kind="real", shape=tuple(batch) + (Qk.shape[-1],))
            )
            Qs.append(Qk)
            qs.append(qk)
        self.C = tuple(Cs)
        self.A = tuple(As)
        self.b = b
        self.c = c
        self.G = G
        self.Q = tuple(Qs)
        self.q = tuple(qs)

    @property
    def layout(self):
        """Static structure ``(((n_j, is_complex_j), ...), p)`` of the vectorised variable, with the
        second-order-cone sizes ``(q_1, ...)`` appended when there are such blocks."""
        blocks = tuple(
            (int(Cj.shape[-1]), bool(jnp.iscomplexobj(Cj) or jnp.iscomplexobj(Aj))) for Cj, Aj in zip(self.C, self.A)
        )
        if self.Q:
            return blocks, int(self.c.shape[-1]), tuple(int(Qk.shape[-1]) for Qk in self.Q)
        return blocks, int(self.c.shape[-1])

    @property
    def real_dtype(self):
        dt = jnp.result_type(*self.C, *self.A, self.b, self.c, self.G, *self.Q, *self.q)
        return jnp.finfo(dt).dtype


class SDPValue(eqx.Module):
    """Primal-dual point of an :class:`SDP`.

    Attributes:
        X: tuple of primal PSD blocks ``(n_j, n_j)`` (complex Hermitian or real symmetric).
        s: ``(p,)`` primal orthant slack.
        y: ``(m,)`` equality multipliers (dual variables).
        Z: tuple of dual PSD blocks ``C_j - sum_i y_i A_j[i]`` (Hermitian part).
        z: ``(p,)`` dual orthant slack ``c - G^T y``.
        u: tuple of primal second-order-cone blocks ``(q_k,)`` (empty when the SDP has none).
        w: tuple of dual second-order-cone blocks ``q_k - Q_k^T y``.
    """

    X: tuple
    s: jax.Array
    y: jax.Array
    Z: tuple
    z: jax.Array
    u: tuple = ()
    w: tuple = ()


class _Scaled(eqx.Module):
    M: jax.Array  # (m, N) equilibrated constraint matrix
    b: jax.Array  # (m,)
    c: jax.Array  # (N,)
    d: jax.Array  # (m,) row norms
    beta: jax.Array  # primal scale
    gamma: jax.Array  # cost scale


def _scaled(sdp: SDP, scale: bool) -> _Scaled:
    layout = sdp.layout
    rdt = sdp.real_dtype
    cdt = jnp.result_type(rdt, jnp.complex64)
    blocks = tuple(
        hermitian_part(Aj.astype(cdt if cplx else rdt)) for Aj, (_, cplx) in zip(sdp.A, layout[0])
    )
    M = _k.pack(blocks, sdp.G.astype(rdt), layout, tuple(Qk.astype(rdt) for Qk in sdp.Q))
    cost = _k.pack(
        tuple(hermitian_part(Cj.astype(cdt if cplx else rdt)) for Cj, (_, cplx) in zip(sdp.C, layout[0])),
        sdp.c.astype(rdt),
        layout,
        tuple(qk.astype(rdt) for qk in sdp.q),
    )
    b = sdp.b.astype(rdt)
    one = jnp.ones((), rdt)
    if not scale:
        return _Scaled(M, b, cost, jnp.ones_like(b), one, one)
    d = jnp.linalg.norm(M, axis=1)
    d = jnp.where(d > 0, d, 1.0)
    M = M / d[:, None]
    b = b / d
    beta = jnp.linalg.norm(b)
    beta = jnp.where(beta > 0, beta, 1.0)
    gamma = jnp.linalg.norm(cost)
    gamma = jnp.where(gamma > 0, gamma, 1.0)
    return _Scaled(M, b / beta, cost / gamma, d, beta, gamma)


def _unscaled_solution(problem: SDP, sc: _Scaled, x, z, y, res, iterations, cert, stats):
    """Primal-dual point in the original data from the equilibrated vectors ``(x, z, y)`` (shared by
    the algorithms): ``(SDPValue, primal objective, stats)`` with the residuals, the dual objective,
    the iteration count and the certificate added to ``stats``."""
    layout = problem.layout
    X, s = _k.unpack(x * sc.beta, layout)
    Z, zs = _k.unpack(z * sc.gamma, layout)
    value = SDPValue(X=X, s=s, y=y * sc.gamma / sc.d, Z=Z, z=zs,
                     u=_k.unpack_soc(x * sc.beta, layout), w=_k.unpack_soc(z * sc.gamma, layout))
    factor = sc.beta * sc.gamma
    stats = dict(stats)
    stats.update(primal_residual=res[0], dual_residual=res[1], gap=res[2],
                 dual_objective=factor * jnp.dot(sc.b, y), iterations=iterations, certificate=cert)
    return value, factor * jnp.dot(sc.c, x), stats


class _State(eqx.Module):
    x: jax.Array  # relaxed primal iterate (drives the method)
    xh: jax.Array  # primal point in K, complementary to z (reported)
    z: jax.Array
    y: jax.Array
    mu: jax.Array
    Ginv: jax.Array
    res: jax.Array  # (3,) primal residual, dual residual, gap (equilibrated, relative)
    cert: jax.Array  # int32: 0 none, 1 primal infeasible, 2 dual infeasible
    iterations: jax.Array
    aa: tuple = ()  # Anderson history (anderson > 0 only; see kernels.sdp.wgy_iterations_aa)


class ADMMSDP(AbstractSolver):
    """Dual ADMM (Wen–Goldfarb–Yin) for :class:`SDP`, batched with ``vmap``.

    Attributes:
        tol: stopping tolerance on the relative primal/dual residuals and gap (see module docs).
        max_steps: cap on solver steps; one step is ``check_every`` ADMM iterations.
        rho: initial penalty ``mu`` of the method (on the equilibrated problem).
        alpha: relaxation of the primal update, in ``(0, (1 + sqrt 5)/2)`` (Wen–Goldfarb–Yin's
            step; 1.6 saves about a quarter of the iterations on random instances). The reported
            ``X`` is the unrelaxed point ``Pi_K(-v)/mu``: PSD and complementary to ``Z`` whatever
            ``alpha``.
        adaptive: re-balance ``rho`` at every check from the ratio of primal to dual residual.
        balance: re-balance when the ratio leaves ``[1/balance, balance]``.
        check_every: ADMM iterations between convergence/infeasibility checks (static).
        infeas_tol: tolerance of the infeasibility certificates (see module docs); ``0`` disables.
        scale: equilibrate rows of the constraint map and the sizes of ``b`` and ``C``.
        embed_above: complex blocks with ``n_j > embed_above`` are projected through the real
            ``2n x 2n`` embedding (same result; XLA's CPU complex ``eigh`` is many times slower than
            the real one beyond about n = 16). Set it large to always use the complex ``eigh``.
        anderson: memory of type-II Anderson acceleration of the ADMM fixed-point map on
            ``(x, z)`` (static; ``0``, the default, is the plain method). Safeguarded (history
            dropped when the fixed-point residual doubles) and reset whenever ``rho`` changes;
            the reported point is always a plain ADMM point (``X``, ``Z`` PSD, complementary).
    """

    tol: float = 1e-6
    max_steps: int = 1000
    rho: float = 1.0
    alpha: float = 1.6
    adaptive: bool = eqx.field(default=True, static=True)
    balance: float = 5.0
    check_every: int = eqx.field(default=10, static=True)
    infeas_tol: float = 1e-6
    scale: bool = eqx.field(default=True, static=True)
    embed_above: int = eqx.field(default=16, static=True)
    anderson: int = eqx.field(default=0, static=True)

    def __check_init__(self):
        if not isinstance(self.anderson, int) or self.anderson < 0:
            raise ValueError(f"anderson: expected a non-negative integer memory, got {self.anderson}")
        if not isinstance(self.check_every, int) or self.check_every < 1:
            raise ValueError(f"check_every: expected a positive integer, got {self.check_every}")
        for name in ("tol", "rho", "balance"):
            v = getattr(self, name)
            if is_concrete(v) and not float(v) > 0:
                raise ValueError(f"{name}: expected a positive number, got {v}")
        if is_concrete(self.alpha) and not 0.0 < float(self.alpha) < 0.5 * (1 + 5**0.5):
            raise ValueError(f"alpha: expected a value in (0, 1.618), got {self.alpha}")

    # -- interface -------------------------------------------------------------------------------
    def init(self, problem: SDP, init: SDPValue | None) -> _State:
        layout = problem.layout
        sc = _scaled(problem, self.scale)
        rdt = sc.M.dtype
        m, N = sc.M.shape
        Ginv, P, cut = _k.gram_pinv(sc.M)
        if init is None:
            x = jnp.zeros((N,), rdt)
            z = jnp.zeros((N,), rdt)
            y = jnp.zeros((m,), rdt)
        else:
            x = _k.pack(tuple(init.X), init.s, layout, tuple(init.u)).astype(rdt) / sc.beta
            z = _k.pack(tuple(init.Z), init.z, layout, tuple(init.w)).astype(rdt) / sc.gamma
            y = (jnp.asarray(init.y, rdt) * sc.d / sc.gamma).astype(rdt)
        # ||b|| = 1 after equilibration; a consistent b = M x leaves at most sqrt(cut) ||x|| outside
        # the numerical range of M, so only a clearly larger residual certifies inconsistency.
        inconsistent = jnp.linalg.norm(sc.b - P @ sc.b) > jnp.maximum(100.0 * jnp.sqrt(cut), 1e3 * jnp.finfo(rdt).eps)
        res = jnp.stack(_k.residuals(sc.M, sc.b, sc.c, x, z, y))
        aa = self._aa_reset(None, x, z, N, rdt)
        return _State(
            x=x,
            xh=x,
            z=z,
            y=y,
            mu=jnp.asarray(self.rho, rdt),
            Ginv=Ginv,
            res=res,
            cert=jnp.where(inconsistent, 1, 0).astype(jnp.int32),
            iterations=jnp.zeros((), jnp.int32),
            aa=aa,
        )

    def _aa_reset(self, aa, x, z, N, rdt):
        """Fresh Anderson history starting at the plain point ``(x, z)`` (empty when off)."""
        mem = int(self.anderson)
        if mem == 0:
            return ()
        w = jnp.concatenate([x, z]).astype(rdt)
        if aa is None:
            zeros = jnp.zeros((mem, 2 * N), rdt)
            return (zeros, zeros, jnp.zeros_like(w), jnp.zeros_like(w), jnp.asarray(0, jnp.int32),
                    jnp.zeros((), rdt), w)
        dW, dF, w_prev, f_prev, _, fn, _ = aa
        return (dW, dF, w_prev, f_prev, jnp.asarray(0, jnp.int32), fn, w)

    def step(self, problem: SDP, state: _State) -> _State:
        layout = problem.layout
        sc = _scaled(problem, self.scale)
        rdt = sc.M.dtype
        alpha = jnp.asarray(self.alpha, rdt)
        aa = state.aa
        if self.anderson:
            x, z, y, xh, aa = _k.wgy_iterations_aa(
                sc.M, state.Ginv, sc.b, sc.c, state.y, state.mu, alpha,
                self.check_every, layout, self.embed_above, state.aa,
            )
        else:
            x, z, y, xh = _k.wgy_iterations(
                sc.M, state.Ginv, sc.b, sc.c, state.x, state.z, state.y, state.mu, alpha,
                self.check_every, layout, self.embed_above,
            )
        pr, dr, gap = _k.residuals(sc.M, sc.b, sc.c, xh, z, y)
        mu = state.mu
        if self.adaptive:
            ratio = pr / jnp.maximum(dr, jnp.finfo(rdt).tiny)
            factor = jnp.clip(jnp.sqrt(ratio), 0.1, 10.0)
            rebalance = (ratio > self.balance) | (ratio < 1.0 / self.balance)
            mu = jnp.where(rebalance, mu * factor, mu)
            mu = jnp.clip(mu, 1e-6, 1e6)
        if self.anderson:
            # the map changes with mu: restart the history from the last plain point
            fresh = self._aa_reset(aa, x, z, x.shape[0], rdt)
            aa = jax.tree_util.tree_map(lambda a, b: jnp.where(mu != state.mu, a, b), fresh, aa)
        cert = state.cert
        if self.infeas_tol > 0:
            dy = y - state.y
            t = jnp.dot(sc.b, dy)
            viol = _k.cone_violation(-(sc.M.T @ dy), layout, self.embed_above)
            primal_inf = (t > 0) & (viol <= self.infeas_tol * t)
            dx = xh - state.xh
            t2 = -jnp.dot(sc.c, dx)
            viol2 = jnp.linalg.norm(sc.M @ dx) + _k.cone_violation(dx, layout, self.embed_above)
            dual_inf = (t2 > 0) & (viol2 <= self.infeas_tol * t2)
            cert = jnp.where(cert > 0, cert, jnp.where(primal_inf, 1, jnp.where(dual_inf, 2, 0))).astype(jnp.int32)
        return _State(
            x=x,
            xh=xh,
            z=z,
            y=y,
            mu=mu,
            Ginv=state.Ginv,
            res=jnp.stack([pr, dr, gap]),
            cert=cert,
            iterations=state.iterations + self.check_every,
            aa=aa,
        )

    def terminate(self, problem: SDP, state: _State):
        infeasible = state.cert > 0
        converged = jnp.all(state.res <= self.tol)
        status = jnp.where(infeasible, Status.INFEASIBLE(), Status.SUCCESS())
        return infeasible | converged, status

    def postprocess(self, problem: SDP, state: _State, result, stats) -> Solution:
        sc = _scaled(problem, self.scale)
        value, objective, stats = _unscaled_solution(problem, sc, state.xh, state.z, state.y, state.res,
                                                     state.iterations, state.cert, stats)
        stats.update(rho=state.mu)
        return Solution(value=value, objective=objective, result=result, stats=stats)


def solve_sdp(
    sdp: SDP,
    solver: ADMMSDP = ADMMSDP(),
    *,
    init: SDPValue | None = None,
    throw: bool = False,
    max_steps: int | None = None,
) -> Solution:
    """Solve ``sdp`` with ``solver`` (``jaxisac.solve`` with ``throw=False`` by default).

    ``init``: a previous :class:`SDPValue` (warm start; same shapes). Returns a :class:`Solution`
    whose ``value`` is an :class:`SDPValue`, ``objective`` the primal objective, ``stats`` the
    residuals (``primal_residual``, ``dual_residual``, ``gap``), ``dual_objective``,
    ``iterations``, final ``rho`` and ``certificate`` (0 none, 1 primal infeasible, 2 dual
    infeasible).
    """
    if not isinstance(sdp, SDP):
        raise ValueError(f"sdp: expected a jaxisac.core.SDP, got {type(sdp).__name__}")
    return solve(sdp, solver, init=init, max_steps=max_steps, throw=throw)


def _re_inner(A, X):
    """``Re <A, X> = Re tr(A^H X)`` over the trailing two axes."""
    return jnp.sum(jnp.real(jnp.conj(A) * X), axis=(-2, -1))


def lagrangian(sdp: SDP, value: SDPValue) -> jax.Array:
    """Lagrangian of ``sdp`` at the primal-dual point ``value`` (real scalar)::

        sum_j Re<C_j, X_j> + c^T s + sum_k q_k^T u_k - y^T (sum_j Re<A_j, X_j> + G s + sum_k Q_k u_k - b)

    At a primal-dual optimum it equals the optimal value; its derivative with respect to the data of
    ``sdp`` at fixed ``value`` is the derivative of the optimal value (envelope theorem).
    """
    if not isinstance(sdp, SDP):
        raise ValueError(f"sdp: expected a jaxisac.core.sdp.SDP, got {type(sdp).__name__}")
    if not isinstance(value, SDPValue):
        raise ValueError(f"value: expected a jaxisac.core.sdp.SDPValue, got {type(value).__name__}")
    y = value.y
    L = jnp.asarray(jnp.dot(sdp.c, value.s), sdp.real_dtype)
    r = -sdp.b + sdp.G @ value.s
    for C, A, X in zip(sdp.C, sdp.A, value.X):
        L = L + _re_inner(C, X)
        r = r + _re_inner(A, X[None])
    for q, Q, u in zip(sdp.q, sdp.Q, value.u):
        L = L + jnp.dot(q, u)
        r = r + Q @ u
    return L - jnp.dot(y, r)


def envelope_term(sdp: SDP, value: SDPValue) -> jax.Array:
    """Zero-valued scalar whose derivative (forward and reverse mode) is the envelope derivative of
    ``sdp``'s optimal value at the primal-dual point ``value`` (held fixed). Add it to a value
    computed on ``stop_gradient`` data."""
    value = stop_gradient_tree(value)
    L = lagrangian(sdp, value)
    return L - jax.lax.stop_gradient(L)


def soc_square_epigraph(d_coeff: Any, one_row: int, m: int, weight: Any = 1.0, dtype=None):
    """Second-order-cone block ``(Q, q)`` for a penalty ``weight * ||d||^2`` with ``d`` entering rows
    of the constraints.

    The cone variable is ``u = (a, b, d)`` (``a >= ||(b, d)||``). Row ``one_row`` of the constraints
    becomes ``a - b = 1``: the caller sets the right-hand side of that row to 1 and lets no other
    variable enter it. Then ``a + b >= ||d||^2`` and the cost ``weight * (a + b)`` equals the penalty
    at the optimum. ``d_coeff`` ``(m, k)`` gives the coefficients of ``d`` in the ``m`` constraint
    rows (its row ``one_row`` must be zero). Returns ``(Q (m, k + 2), q (k + 2,))``.
    """
    d_coeff = jnp.asarray(d_coeff, dtype)
    if not jnp.issubdtype(d_coeff.dtype, jnp.floating):
        d_coeff = d_coeff.astype(jnp.result_type(float))
    dtype = d_coeff.dtype
    if d_coeff.ndim != 2 or d_coeff.shape[0] != m:
        raise ValueError(f"d_coeff: expected shape ({m}, k), got {_shape_str(d_coeff.shape)}")
    if not 0 <= int(one_row) < m:
        raise ValueError(f"one_row: expected a row index in [0, {m}), got {one_row}")
    ab = jnp.zeros((m, 2), dtype).at[one_row].set(jnp.asarray([1.0, -1.0], dtype))
    Q = jnp.concatenate([ab, d_coeff], axis=1)
    w = jnp.asarray(weight, dtype)
    q = jnp.concatenate([jnp.stack([w, w]), jnp.zeros((d_coeff.shape[1],), dtype)])
    return Q, q


def optimal_value(sdp: SDP, solver: ADMMSDP = ADMMSDP(), *, max_steps: int | None = None) -> jax.Array:
    """Optimal value of ``sdp``, differentiable in all its data by the envelope theorem.

    ``d p* = Re<dC, X> + dc^T s - sum_i y_i (Re<dA[i], X> + dG[i]^T s) + db^T y`` at the computed
    primal-dual solution (exact where the optimal ``X, s`` and ``y`` are unique). NaN where the
    instance did not succeed.
    """

    @jax.custom_jvp
    def value(p):
        sol = solve_sdp(p, solver, max_steps=max_steps)
        return jnp.where(sol.result == int(Status.SUCCESS), sol.objective, jnp.nan)

    @value.defjvp
    def _jvp(primals, tangents):
        (p,), (dp,) = primals, tangents
        sol = solve_sdp(p, solver, max_steps=max_steps)
        val = jnp.where(sol.result == int(Status.SUCCESS), sol.objective, jnp.nan)
        value_fixed = jax.lax.stop_gradient(sol.value)
        return val, jax.jvp(lambda q: lagrangian(q, value_fixed), (p,), (dp,))[1]

    return value(sdp)
