# %% [markdown]
# # CRB-ISAC: how the optimal CRB responds to SINR targets, power and each user's channel
#
# The extended-target CRB problem (seed 001) minimises tr((W Wᴴ + W_aux W_auxᴴ)⁻¹) subject to per-user
# SINR targets Γ_k and a power budget P_T. `jaxisac.crb.optimal_crb` returns the optimum as a function of
# the problem data whose derivative comes from the envelope theorem (the solver itself is never
# differentiated), and `optimal_solution` differentiates the beamformers through the KKT system
# (implicit function theorem). Here we use the strongly active setting S-D of the spec:
# N_t = 16 antennas, K = 4 users, Γ = 20 dB, P_T = 20 dBm, σ² = 0 dBm (powers in mW).

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

jax.config.update("jax_enable_x64", True)
import jaxisac
from jaxisac import crb

prob = crb.make_instance(0, 16, 4, sinr_db=20.0)
sol = jaxisac.solve(prob, crb.RBAL())
print("optimal CRB:", float(sol.objective), " branch:", int(sol.stats["branch"]), " steps:", int(sol.stats["steps"]))
print("SINR achieved [dB]:", np.round(10 * np.log10(np.asarray(crb.sinr(sol.value.W, sol.value.W_aux, prob))), 4))

# %% [markdown]
# ## Sensitivities by the envelope theorem
# One call of `jax.grad` gives ∂CRB*/∂Γ_k, ∂CRB*/∂P_T, ∂CRB*/∂σ² and the ascent direction of CRB* in
# each user's channel (the library's complex-gradient convention: `ascent_grad` = conj(jax.grad)).

# %%
from jaxisac.core import ascent_grad

@jax.jit  # compiled once; every re-solve below reuses it
def crb_of(data):
    channels, sinr, power, noise = data
    return crb.optimal_crb(crb.ExtendedTargetCRB(channels, sinr, power, noise))

data = (prob.channels, prob.sinr_targets, prob.power, prob.noise_var)
g_ch, g_sinr, g_pow, g_noise = jax.jit(ascent_grad(crb_of))(data)
print("dCRB*/dGamma_k      :", np.asarray(g_sinr))
print("dCRB*/dP_T          :", float(g_pow))
print("dCRB*/dsigma^2      :", float(g_noise))
print("|dCRB*/dh_k| (users):", np.asarray(jnp.linalg.norm(g_ch, axis=1)))

# %% [markdown]
# ## Check against finite differences of re-solves
# Central differences re-solve the problem from scratch at perturbed data.

# %%
def fd(fn, x, h):
    return (fn(x + h) - fn(x - h)) / (2 * h)

checks = {}
h = 1e-4
checks["Gamma_0"] = (float(g_sinr[0]), float(fd(lambda t: crb_of((prob.channels, prob.sinr_targets.at[0].set(t), prob.power, prob.noise_var)), prob.sinr_targets[0], h * prob.sinr_targets[0])))
checks["P_T"] = (float(g_pow), float(fd(lambda t: crb_of((prob.channels, prob.sinr_targets, t, prob.noise_var)), prob.power, h * prob.power)))
checks["sigma2"] = (float(g_noise), float(fd(lambda t: crb_of((prob.channels, prob.sinr_targets, prob.power, t)), prob.noise_var, h * prob.noise_var)))
direction = jax.random.normal(jax.random.key(1), prob.channels.shape, dtype=prob.channels.dtype)
dir_fd = float(fd(lambda t: crb_of((prob.channels + t * direction, prob.sinr_targets, prob.power, prob.noise_var)), 0.0, 1e-5))
checks["channel direction"] = (float(jnp.sum(jnp.real(jnp.conj(g_ch) * direction))), dir_fd)
for name, (an, num) in checks.items():
    print(f"{name:18s} envelope {an: .6e}   finite difference {num: .6e}   rel. err {abs(an - num) / abs(num):.1e}")

# %% [markdown]
# ## The CRB–SINR trade-off, with tangents from the gradient
# A batched re-solve over a grid of common SINR targets (one `vmap`), with the envelope-theorem slopes
# drawn as tangents at three points.

# %%
gammas_db = jnp.linspace(0.0, 24.0, 25)

def crb_at_common_target(gdb):
    g = jnp.full((4,), 10 ** (gdb / 10))
    return crb_of((prob.channels, g, prob.power, prob.noise_var))

curve, slopes = jax.jit(jax.vmap(jax.value_and_grad(crb_at_common_target)))(gammas_db)
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(gammas_db, curve, "o-", ms=3, label="CRB* (batched re-solves)")
for i in (8, 16, 22):
    x = np.linspace(gammas_db[i] - 2, gammas_db[i] + 2, 5)
    ax.plot(x, curve[i] + slopes[i] * (x - gammas_db[i]), "r-", lw=2)
ax.set(xlabel="common SINR target Γ [dB]", ylabel="optimal CRB", title="N_t = 16, K = 4, P_T = 20 dBm")
ax.legend(); fig.tight_layout()

# %% [markdown]
# ## Beamformers by implicit differentiation (forward mode)
# `optimal_solution` differentiates the beamformers through the KKT system; a JVP in P_T matches a
# finite difference of re-solved beamformers (the covariance W Wᴴ is compared, since each w_k is only
# defined up to a phase).

# %%
@jax.jit
def cov_of_power(p):
    s = crb.optimal_solution(crb.ExtendedTargetCRB(prob.channels, prob.sinr_targets, p, prob.noise_var))
    return s.W @ jnp.conj(s.W).T

_, dcov = jax.jit(lambda p: jax.jvp(cov_of_power, (p,), (jnp.ones_like(p),)))(prob.power)
dcov_fd = fd(cov_of_power, prob.power, 1e-3 * prob.power)
beam_err = float(jnp.linalg.norm(dcov - dcov_fd) / jnp.linalg.norm(dcov_fd))
print("relative error of d(W W^H)/dP_T:", beam_err)

# %%
assert int(sol.result) == 0
for name, (an, num) in checks.items():
    assert abs(an - num) <= 1e-4 * abs(num) + 1e-9, name
assert beam_err < 1e-3
c = np.asarray(curve)
assert np.all(np.diff(c) >= -1e-9 * c[1:])  # a stricter SINR target never lowers the CRB ...
assert c[-1] > 1.05 * c[0]  # ... and raises it once the SINR constraints become active
