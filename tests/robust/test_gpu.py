"""Robust designs on the accelerator: Methods 1-3 (TPC) over a batch of channels and radii give the CPU
run's objectives (complex128) on the same constraint sets, and complex64 on the accelerator stays
within float32 tolerance. (The waveforms themselves are compared through invariant quantities: the
sensing-centric minimisers are not unique, so their completions may differ by round-off.)"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxisac
from jaxisac import robust as rb

L, P_T = 30, 2.5


def _designs(sc, dtype):
    cast = lambda a: jnp.asarray(a, dtype)
    S, R, Xs = cast(sc.S), cast(sc.R), cast(sc.X_s)

    def one(Hb, t, r):
        p = rb.SensingCentricProblem(Hb, S, R, t)
        j = rb.JointProblem(Hb, S, Xs, P_T, r, t, constraint="tpc")
        sols = [jaxisac.solve(p, rb.Method1(), throw=False), jaxisac.solve(p, rb.Method2(), throw=False),
                jaxisac.solve(j, rb.Method3(), throw=False)]
        return [(s.objective, s.value @ jnp.conj(s.value.T), s.result) for s in sols]

    return jax.vmap(one)


@pytest.mark.gpu
def test_gpu_batch_matches_cpu(accelerator, on_device):
    sc = rb.make_scenario(jax.random.key(1), dtype=jnp.complex128)
    Hb = rb.perturb_channel(jax.random.key(2), sc.H_ref, 0.05, shape=(64,))
    th, rh = jnp.linspace(0.0, 0.2, 64), jnp.linspace(0.05, 0.95, 64)
    cpu = on_device(_designs(sc, jnp.complex128), jax.devices("cpu")[0], Hb, th, rh)
    acc = on_device(_designs(sc, jnp.complex128), accelerator, Hb, th, rh)
    f32 = on_device(_designs(sc, jnp.complex64), accelerator, Hb.astype(jnp.complex64), th.astype(jnp.float32),
                    rh.astype(jnp.float32))
    R = np.asarray(sc.R)
    for m, (c, a, s) in enumerate(zip(cpu, acc, f32)):
        assert np.all(c[2] == 0) and np.all(a[2] == 0) and np.all(s[2] == 0)
        np.testing.assert_allclose(a[0], c[0], rtol=1e-9)
        assert s[0].dtype == np.float32
        np.testing.assert_allclose(s[0], c[0], rtol=2e-3, atol=1e-4 * np.max(c[0]))
        for g, tol in ((a[1], 1e-10), (s[1], 1e-4)):  # X X^H = L R (Methods 1, 2); ||X||^2 = L P_T (TPC)
            if m < 2:
                np.testing.assert_allclose(g, np.broadcast_to(L * R, g.shape), rtol=0, atol=tol * L * np.max(np.abs(R)))
            else:
                np.testing.assert_allclose(np.trace(g, axis1=-2, axis2=-1).real, L * P_T, rtol=tol)
