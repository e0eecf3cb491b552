"""The appendix's propositions and corollaries (spec §2, T1-T9) on random instances, and the
closed forms that attain them."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxisac import bdris

RNG = np.random.default_rng(2024)
# a few fixed shapes (N_T, N_S, N_R) keep the number of compilations low; instances are random
SHAPES = [(2, 4, 4), (4, 3, 5), (3, 5, 2), (1, 4, 3)]


def shape():
    return SHAPES[RNG.integers(len(SHAPES))]


def cn(*shape):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)) / np.sqrt(2)


def haar(n):
    q, r = np.linalg.qr(cn(n, n))
    return q * (np.diag(r) / np.abs(np.diag(r)))


def random_block_theta(n_s, L):
    th = np.zeros((n_s, n_s), complex)
    for g in range(n_s // L):
        th[g * L : (g + 1) * L, g * L : (g + 1) * L] = haar(L)
    return th


def rank_abs(A, scale):
    return int(np.sum(np.linalg.svd(A, compute_uv=False) > 1e-9 * scale))


def sv(A):
    return np.linalg.svd(A, compute_uv=False)


def test_T1_rank_bounds_and_dof_closed_forms():
    for _ in range(25):
        n_t, n_s, n_r = RNG.integers(2, 7, size=3)
        r_b, r_f = RNG.integers(1, min(n_r, n_s) + 1), RNG.integers(1, min(n_s, n_t) + 1)
        H_B = cn(n_r, r_b) @ cn(r_b, n_s)
        H_F = cn(n_s, r_f) @ cn(r_f, n_t)
        lo, hi = bdris.rank_bounds(H_B, H_F)
        assert (lo, hi) == (max(r_b + r_f - n_s, 0), min(r_b, r_f))
        scale = np.linalg.norm(H_B, 2) * np.linalg.norm(H_F, 2)
        for L in (1, n_s):
            r = rank_abs(H_B @ random_block_theta(n_s, L) @ H_F, scale)  # NumPy products
            assert lo <= r <= hi
        for th, target in ((bdris.theta_dof_max(H_B, H_F), hi), (bdris.theta_dof_min(H_B, H_F), lo)):
            assert float(bdris.unitarity_error(th)) < 1e-12
            assert rank_abs(H_B @ th[0] @ H_F, scale) == target


def test_T1_example3_printed_thetas_and_d_ris():
    H_B = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]], complex)
    H_F = np.diag([1, 1, 0, 0]).astype(complex)
    assert bdris.rank_bounds(H_B, H_F) == (0, 2)
    for _ in range(20):  # D-RIS always gives DoF 1
        ph = np.exp(2j * np.pi * RNG.random(4))
        assert rank_abs(np.asarray(bdris.channel(ph, None, H_B, H_F)), 1.0) == 1
    assert rank_abs(H_B @ bdris.theta_dof_max(H_B, H_F)[0] @ H_F, 1.0) == 2
    assert rank_abs(H_B @ bdris.theta_dof_min(H_B, H_F)[0] @ H_F, 1.0) == 0


@pytest.mark.parametrize("side", ["forward", "backward"])
def test_T2_interlacing_bounds_hold_for_every_theta(side):
    worst = np.inf
    for _ in range(12):
        n_t, n_r = RNG.integers(2, 6, size=2)
        n_s = int(RNG.choice([4, 8]))
        k = int(RNG.integers(1, min(n_t, n_r)))
        H_D = cn(n_r, n_t)
        if side == "forward":
            H_F, H_B = cn(n_s, k) @ cn(k, n_t), cn(n_r, n_s)
        else:
            H_F, H_B = cn(n_s, n_t), cn(n_r, k) @ cn(k, n_s)
        lower, upper, kk = bdris.interlacing_bounds(H_D, H_B, H_F, side=side)
        assert kk == k
        for L in (1, 2, 4, n_s):
            H = np.asarray(bdris.channel(jnp.asarray(random_block_theta(n_s, L)), H_D, H_B, H_F))
            s = sv(H)[: len(lower)]
            tol = 1e-12 * s[0]
            assert np.all(s >= lower - tol) and np.all(s <= upper + tol)
            worst = min(worst, np.min(s - lower))
    assert worst > -1e-12


def test_T2_hypothesis_matters_full_rank_forward_breaks_the_upper_bound():
    # with a FULL-rank H_F the Prop 2 upper bound computed for a wrongly assumed k = 1 fails
    H_D, H_F, H_B = cn(4, 4), cn(8, 4), cn(4, 8)
    u, s, vh = np.linalg.svd(H_F, full_matrices=False)
    V = vh[:1].conj().T
    st = sv(H_D - H_D @ V @ V.conj().T)
    H = np.asarray(bdris.channel(jnp.asarray(random_block_theta(8, 8)), H_D, H_B, H_F))
    assert np.any(sv(H)[1:] > st[:-1] * (1 + 1e-6))


def test_T4_prop3_sv_of_product_depend_only_on_singular_values():
    for _ in range(10):
        n_t, n_s, n_r = shape()
        H_B, H_F = cn(n_r, n_s), cn(n_s, n_t)
        ub, sb, vbh = np.linalg.svd(H_B)
        uf, sf, vfh = np.linalg.svd(H_F)
        Sb = np.zeros((n_r, n_s)); Sb[: len(sb), : len(sb)] = np.diag(sb)
        Sf = np.zeros((n_s, n_t)); Sf[: len(sf), : len(sf)] = np.diag(sf)
        X = haar(n_s)
        H = H_B @ (vbh.conj().T @ X @ uf.conj().T) @ H_F
        np.testing.assert_allclose(sv(H), sv(Sb @ X @ Sf), atol=1e-12)
        # realisability: any B, F with these singular values, via X = Vbar_B^H Ubar_F
        UB, VB, UF, VF = haar(n_r), haar(n_s), haar(n_s), haar(n_t)
        B, F = UB @ Sb @ VB.conj().T, UF @ Sf @ VF.conj().T
        X = VB.conj().T @ UF
        np.testing.assert_allclose(sv(H_B @ (vbh.conj().T @ X @ uf.conj().T) @ H_F), sv(B @ F), atol=1e-12)


def test_T5_product_bounds_and_determinant_invariance():
    for _ in range(15):
        n_t, n_s, n_r = shape()
        H_B, H_F = cn(n_r, n_s), cn(n_s, n_t)
        up = np.asarray(bdris.product_upper_bounds(H_B, H_F))
        for L in (1, n_s):
            s = sv(H_B @ random_block_theta(n_s, L) @ H_F)
            assert np.all(np.cumprod(s) <= up * (1 + 1e-12) + 1e-12 * s[0] ** np.arange(1, len(s) + 1))
    # (x): N_S <= N  =>  the product of the first N_S singular values is invariant
    H_B, H_F = cn(5, 3), cn(3, 4)
    inv = float(bdris.determinant_invariant(H_B, H_F))
    for L in (1, 3):
        s = sv(H_B @ random_block_theta(3, L) @ H_F)
        np.testing.assert_allclose(np.prod(s[:3]), inv, rtol=1e-12)
    # (13b), square case N_T = N_S = N_R
    H_B, H_F = cn(4, 4), cn(4, 4)
    low = np.asarray(bdris.product_lower_bounds(H_B, H_F))
    s = sv(H_B @ haar(4) @ H_F)
    assert np.all(np.cumprod(s[::-1]) >= low * (1 - 1e-12))
    with pytest.raises(ValueError, match="N_S"):
        bdris.determinant_invariant(cn(2, 5), cn(5, 2))


def test_T6_horn_bounds_attained_by_permutations_and_example4():
    for n_t, n_s, n_r in [(2, 4, 4), (4, 3, 5), (3, 2, 3), (3, 4, 2)]:
        H_B, H_F = cn(n_r, n_s), cn(n_s, n_t)
        lower, upper = (np.asarray(a) for a in bdris.singular_value_bounds(H_B, H_F))
        for _ in range(5):
            s = sv(H_B @ haar(n_s) @ H_F)[: len(lower)]
            tol = 1e-12 * s[0]
            assert np.all(s <= upper + tol) and np.all(s >= lower - tol)
        per = np.array([sv(H_B @ bdris.theta_permutation(H_B, H_F, p)[0] @ H_F)[: len(lower)] for p in itertools.permutations(range(n_s))])
        np.testing.assert_allclose(per.max(axis=0), upper, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(per.min(axis=0), lower, rtol=1e-10, atol=1e-12)
    H_B, H_F = np.diag([3.0, 2.0, 1.0]).astype(complex), np.diag([4.0, 0.0, 5.0]).astype(complex)
    lower, upper = (np.asarray(a) for a in bdris.singular_value_bounds(H_B, H_F))
    np.testing.assert_allclose(upper, [15, 10, 0], atol=1e-12)
    np.testing.assert_allclose(lower, [8, 4, 0], atol=1e-12)
    np.testing.assert_allclose(sv(H_B @ H_F), [12, 5, 0], atol=1e-12)  # D-RIS (Theta = I)


def test_T7_power_bounds_attained_and_printed_lower_bound_not_tight():
    for _ in range(12):
        n_t, n_s, n_r = shape()
        H_B, H_F = cn(n_r, n_s), cn(n_s, n_t)
        lo, hi = (float(a) for a in bdris.power_bounds(H_B, H_F))
        lo_printed, _ = bdris.power_bounds(H_B, H_F, printed=True)
        assert float(lo_printed) <= lo * (1 + 1e-12)
        for _ in range(5):
            p = np.linalg.norm(H_B @ haar(n_s) @ H_F) ** 2
            assert lo * (1 - 1e-12) <= p <= hi * (1 + 1e-12)
        np.testing.assert_allclose(np.linalg.norm(H_B @ bdris.theta_power_max(H_B, H_F)[0] @ H_F) ** 2, hi, rtol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(H_B @ bdris.theta_power_min(H_B, H_F)[0] @ H_F) ** 2, lo, rtol=1e-10, atol=1e-14)
    # spec A7: N_T = 2, N_S = N_R = 4: the printed bound is 0, the attained minimum is positive
    H_B, H_F = cn(4, 4), cn(4, 2)
    lo_printed, _ = bdris.power_bounds(H_B, H_F, printed=True)
    lo, _ = bdris.power_bounds(H_B, H_F)
    assert float(lo_printed) == 0.0 and float(lo) > 0.1


def test_T8_capacity_closed_form_and_random_thetas_never_exceed_it():
    H_D, H_B, H_F, eta, P = bdris.spec_instance(1, direct=False)
    c22 = float(bdris.capacity_fully_connected(H_B, H_F, P, eta))
    np.testing.assert_allclose(c22, 10.1963145757, rtol=1e-10)  # spec §10.3 (R0)
    at_pmax = float(bdris.capacity(bdris.channel(bdris.theta_power_max(H_B, H_F), None, H_B, H_F), P, eta))
    np.testing.assert_allclose(at_pmax, c22, rtol=1e-9)
    ths = jax.vmap(lambda k: bdris.random_theta(k, 16, 16))(jax.random.split(jax.random.key(0), 100))
    caps = jax.vmap(lambda t: bdris.capacity(bdris.channel(t, None, H_B, H_F), P, eta))(ths)
    assert float(jnp.max(caps)) <= c22 * (1 + 1e-12)


def test_T9_capacity_asymptotes():
    H_B, H_F = cn(3, 5), cn(5, 3)
    th = bdris.theta_power_max(H_B, H_F)
    H = bdris.channel(th, None, H_B, H_F)
    low, _ = bdris.capacity_asymptotes(H_B, H_F, 1e-4)
    c = float(bdris.capacity(H, 1e-4, 1.0))
    assert 0.995 < c / float(low) <= 1.0
    for rho, gap in ((1e3, 1e-2), (1e6, 1e-5)):
        _, high = bdris.capacity_asymptotes(H_B, H_F, rho)
        d = float(bdris.capacity(H, rho, 1.0)) - float(high)
        assert 0.0 < d < gap


def test_siso_closed_form_beats_the_printed_sorted_formula():
    n_s = 8
    hb, hf, hd = cn(n_s), cn(n_s), complex(cn(1)[0])
    for L in (1, 2, 4, 8):
        th = bdris.theta_siso(hd, hb, hf, L)
        assert float(bdris.unitarity_error(th)) < 1e-12
        h = complex(bdris.channel(th, np.array([[hd]]), hb[None, :], hf[:, None])[0, 0])
        target = abs(hd) + sum(np.linalg.norm(hb[g * L : (g + 1) * L]) * np.linalg.norm(hf[g * L : (g + 1) * L]) for g in range(n_s // L))
        np.testing.assert_allclose(abs(h), target, rtol=1e-12)
        # printed (6): sum of magnitude-sorted branch products per group (Cauchy-Schwarz: smaller for L >= 2)
        printed = abs(hd) + sum(np.sum(np.sort(np.abs(hb[g * L : (g + 1) * L])) * np.sort(np.abs(hf[g * L : (g + 1) * L]))) for g in range(n_s // L))
        assert printed <= target * (1 + 1e-12) and (L == 1 or printed < target)


def test_T20_singular_value_gradients_are_finite_at_degenerate_points():
    for H in (jnp.eye(3, dtype=complex), jnp.zeros((3, 3), complex)):
        g = jax.grad(lambda H: bdris.weighted_singular_values(H, jnp.array([1.0, 0.5, -1.0])))(H)
        assert bool(jnp.all(jnp.isfinite(g)))
        g2 = jax.grad(lambda H: jnp.sum(jnp.linalg.svd(H, compute_uv=False)))(H)
        assert bool(jnp.all(jnp.isfinite(g2)))
        # the pitfall the spec documents: through the singular vectors the gradient is NaN
        g3 = jax.grad(lambda H: jnp.real(jnp.sum(jnp.linalg.svd(H)[0])))(H)
        assert not bool(jnp.all(jnp.isfinite(g3)))
