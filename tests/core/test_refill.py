"""solve_refill: equal to vmap(solve) instance by instance (toy solver and BD-RIS Riemannian CG),
statuses per instance, the iteration bound of its cost model, input validation."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import bdris
from jaxisac.core import AbstractSolver, Solution, Status, solve_refill


class Countdown(eqx.Module):
    start: jax.Array  # the counter starts here and steps down by 1; done at <= 0
    poison: jax.Array  # a step that lands on this value yields NaN (-1: never)


class CountdownSolver(AbstractSolver):
    """Instance-dependent step counts: ceil(start) steps, 0 when start <= 0."""

    max_steps: int = 40

    def init(self, problem, init):
        x = problem.start if init is None else init
        return {"x": x, "hist": jnp.zeros(3, x.dtype)}

    def step(self, problem, s):
        y = s["x"] - 1.0
        y = jnp.where(y == problem.poison, jnp.nan, y)
        return {"x": y, "hist": jnp.stack([y, s["hist"][0], s["hist"][1]])}

    def terminate(self, problem, s):
        return s["x"] <= 0, Status.SUCCESS()

    def postprocess(self, problem, s, result, stats):
        return Solution(value=s, objective=s["x"] ** 2 + jnp.sum(s["hist"]), result=result, stats=stats)


def _countdown_batch(n, seed=0):
    rng = np.random.default_rng(seed)
    # heavy-tailed step counts, a few done at init, one past the cap, one NaN at init, one poisoned
    start = np.floor(rng.exponential(6.0, n)) + 0.5
    start[[1, 5]] = -1.0
    start[3] = 55.0  # > max_steps = 40: MAX_STEPS
    start[7] = np.nan  # non-finite initial state: NONFINITE, 0 steps
    poison = -np.ones(n)
    start[9], poison[9] = 12.5, 6.5  # NaN at the 6th step (counted): NONFINITE, state of step 5
    return Countdown(jnp.asarray(start), jnp.asarray(poison))


def _vmap_solve(problems, solver, init=None, max_steps=None):
    f = jax.jit(jax.vmap(lambda p, i: jaxisac.solve(p, solver, init=i, max_steps=max_steps, throw=False)))
    return f(problems, init)


def _assert_same(ref, sol, rtol=0.0, atol=0.0):
    np.testing.assert_array_equal(np.asarray(sol.result), np.asarray(ref.result))
    np.testing.assert_array_equal(np.asarray(sol.stats["steps"]), np.asarray(ref.stats["steps"]))
    assert set(sol.stats) == set(ref.stats) | {"loop_iteration"}
    for a, b in zip(jax.tree_util.tree_leaves((ref.value, ref.objective, ref.stats)),
                    jax.tree_util.tree_leaves((sol.value, sol.objective, {k: sol.stats[k] for k in ref.stats}))):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=rtol, atol=atol)


N_TOY = 23
TOY = _countdown_batch(N_TOY)
TOY_SOLVER = CountdownSolver()
TOY_REF = _vmap_solve(TOY, TOY_SOLVER)


def test_toy_reference_has_every_status():
    r = np.asarray(TOY_REF.result)
    steps = np.asarray(TOY_REF.stats["steps"])
    assert r[3] == Status.MAX_STEPS and steps[3] == 40
    assert r[7] == Status.NONFINITE and steps[7] == 0
    assert r[9] == Status.NONFINITE and steps[9] == 6 and float(TOY_REF.value["x"][9]) == 7.5
    assert r[1] == Status.SUCCESS and steps[1] == 0
    assert len(set(steps.tolist())) >= 6  # step counts really vary


@pytest.mark.parametrize("width", [1, 4, 7, 23, 50])
def test_toy_equals_vmap_and_iteration_bound(width):
    sol = solve_refill(TOY, TOY_SOLVER, width=width)
    _assert_same(TOY_REF, sol)  # exact: the toy is integer arithmetic in floats
    steps = np.asarray(sol.stats["steps"])
    iters = int(np.max(np.asarray(sol.stats["loop_iteration"])))
    w = min(width, N_TOY)
    assert math.ceil(steps.sum() / w) <= iters <= math.ceil(steps.sum() / w) + steps.max()
    if width == 1:  # one slot runs the instances one after the other
        assert iters == steps.sum()
    # an instance finishes in the iteration of its last step, not earlier
    assert np.all(np.asarray(sol.stats["loop_iteration"]) >= steps)


def test_toy_max_steps_override_and_warm_start():
    init = TOY.start - 3.0
    ref = _vmap_solve(TOY, TOY_SOLVER, init=init, max_steps=6)
    sol = solve_refill(TOY, TOY_SOLVER, width=5, init=init, max_steps=6)
    _assert_same(ref, sol)
    assert np.sum(np.asarray(sol.result) == Status.MAX_STEPS) >= 3
    # max_steps = 0: nothing steps, every instance not done at init ends MAX_STEPS
    sol0 = solve_refill(TOY, TOY_SOLVER, width=3, max_steps=0)
    _assert_same(_vmap_solve(TOY, TOY_SOLVER, max_steps=0), sol0)
    assert np.all(np.asarray(sol0.stats["loop_iteration"]) == 0)


def test_inside_jit_equals_outside():
    f = jax.jit(lambda p: solve_refill(p, TOY_SOLVER, width=6))
    _assert_same(TOY_REF, f(TOY))


def test_validation():
    with pytest.raises(ValueError, match="width"):
        solve_refill(TOY, TOY_SOLVER, width=0)
    with pytest.raises(ValueError, match="width"):
        solve_refill(TOY, TOY_SOLVER, width=2.0)
    with pytest.raises(ValueError, match="width"):
        solve_refill(TOY, TOY_SOLVER, width=True)
    with pytest.raises(ValueError, match="problems"):
        solve_refill(Countdown(TOY.start, TOY.poison[:5]), TOY_SOLVER, width=2)
    with pytest.raises(ValueError, match="problems"):
        solve_refill(Countdown(jnp.float64(1.0), jnp.float64(-1.0)), TOY_SOLVER, width=2)
    with pytest.raises(ValueError, match="init"):
        solve_refill(TOY, TOY_SOLVER, width=2, init=TOY.start[:4])
    with pytest.raises(ValueError, match="max_steps"):
        solve_refill(TOY, TOY_SOLVER, width=2, max_steps=-1)
    with pytest.raises(ValueError, match="solver"):
        solve_refill(TOY, "cg", width=2)


# ----------------------------------------------------------------------------- a real solver
N_BD = 7


@pytest.fixture(scope="module")
def bdris_case():
    chans = jax.vmap(lambda k: bdris.make_channels(k, 2, 8, 2))(jax.random.split(jax.random.key(3), N_BD))
    probs = jax.vmap(lambda c: bdris.shaping_problem(c, group_size=2, objective="nuclear"))(chans)
    solver = bdris.RiemannianCG(gtol=1e-9, max_steps=200)
    return probs, solver, _vmap_solve(probs, solver)


@pytest.mark.parametrize("width", [3, 16])
def test_bdris_cg_equals_vmap(bdris_case, width):
    probs, solver, ref = bdris_case
    steps = np.asarray(ref.stats["steps"])
    assert steps.max() >= 1.5 * steps.min()  # the draws need different iteration counts
    sol = solve_refill(probs, solver, width=width)
    _assert_same(ref, sol, rtol=1e-12, atol=1e-12)
    iters = int(np.max(np.asarray(sol.stats["loop_iteration"])))
    w = min(width, N_BD)
    assert iters <= math.ceil(steps.sum() / w) + steps.max()


def test_bdris_cg_max_steps_per_instance(bdris_case):
    probs, solver, ref = bdris_case
    cap = int(np.median(np.asarray(ref.stats["steps"])))
    sol = solve_refill(probs, solver, width=3, max_steps=cap)
    _assert_same(_vmap_solve(probs, solver, max_steps=cap), sol, rtol=1e-12, atol=1e-12)
    r = np.asarray(sol.result)
    assert np.any(r == Status.MAX_STEPS) and np.any(r == Status.SUCCESS)


def test_bdris_envelope_gradient_equals_vmap(bdris_case):
    # the derivative comes from postprocess (envelope theorem on live data): same as with solve
    probs, solver, _ = bdris_case

    def loss_vmap(hd):
        p = eqx.tree_at(lambda q: q.H_direct, probs, hd)
        return jnp.sum(jax.vmap(lambda q: jaxisac.solve(q, solver, throw=False))(p).objective)

    def loss_refill(hd):
        return jnp.sum(solve_refill(eqx.tree_at(lambda q: q.H_direct, probs, hd), solver, width=3).objective)

    g_ref = jax.jit(jax.grad(loss_vmap))(probs.H_direct)
    g = jax.jit(jax.grad(loss_refill))(probs.H_direct)
    assert float(jnp.linalg.norm(g_ref)) > 1e-3
    np.testing.assert_allclose(np.asarray(g), np.asarray(g_ref), rtol=1e-10, atol=1e-12)


def test_toy_forward_mode_through_the_iterations_equals_vmap():
    # the toy's objective depends on the start through every iterate: a jvp crosses the slots,
    # the gathers and the scatters of the refill loop
    def obj(solve_fn, start):
        return solve_fn(Countdown(start, TOY.poison)).objective

    ok = np.asarray(TOY_REF.result) == Status.SUCCESS
    tangent = jnp.linspace(0.5, 1.5, N_TOY)
    _, t_ref = jax.jvp(lambda s: obj(lambda p: _vmap_solve(p, TOY_SOLVER), s), (TOY.start,), (tangent,))
    _, t = jax.jvp(lambda s: obj(lambda p: solve_refill(p, TOY_SOLVER, width=4), s), (TOY.start,), (tangent,))
    # (after exactly one step the derivative 2x + 1 vanishes: x = -1/2, hist = (x, 0, 0))
    assert np.all(np.abs(np.asarray(t_ref)[ok & (np.asarray(TOY_REF.stats["steps"]) > 1)]) > 0)
    np.testing.assert_array_equal(np.asarray(t), np.asarray(t_ref))
