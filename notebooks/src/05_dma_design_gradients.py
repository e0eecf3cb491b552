# %% [markdown]
# # DMA: how the optimised ISAC beampattern depends on the load conductance R₀ and the element spacing
#
# A dynamic metasurface antenna (seed 000) shapes its radiation through tunable element loads
# (susceptances y) and a digital precoder B; mutual coupling between elements is part of the
# admittance model. The safeguarded alternating optimisation `DMAAO` maximises the average target
# beampattern P_tot under user SINR and power constraints. Here we ask a *design* question: at the
# optimised loads, how would P_tot change with the hardware parameters R₀ (the element loss) and the
# element spacing? `jaxisac.dma.p2_value` is the optimum of the digital SDP at fixed loads, made
# differentiable by the envelope theorem through the shared SDP solver, and the model builder is
# differentiable in the geometry. Small set-up: N = 4 waveguides × 4 elements, two users.

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

jax.config.update("jax_enable_x64", True)
import jaxisac
from jaxisac import dma

LAMBDA = 299792458.0 / 10e9  # wavelength at 10 GHz [m]
N, L_MU = 4, 4


def problem_for(R0, spacing):
    return dma.make_problem(dma.make_model(N=N, L_mu=L_MU, R0=R0, element_spacing=spacing))


prob = problem_for(2.0, LAMBDA / 2)
sol = jaxisac.solve(prob, dma.DMAAO(max_iters=10, max_steps=25), throw=False)
y_opt = sol.value["y"]
print("status:", jaxisac.core.status_message(int(sol.result)))
print("P_tot: digital-only start", float(sol.stats["trace"][0]), "-> AO", float(sol.objective))

# %% [markdown]
# ## The optimised beampattern
# Azimuth cut at the targets' elevation (−10°); targets at −40°, 0°, 35°.

# %%
az = jnp.deg2rad(jnp.linspace(-90.0, 90.0, 181))
dirs = jnp.stack([az, jnp.full_like(az, jnp.deg2rad(-10.0))], axis=-1)
pattern = dma.beampattern(prob.model, y_opt, sol.value["B"], dirs)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(np.rad2deg(az), np.asarray(pattern))
for t in (-40, 0, 35):
    ax.axvline(t, color="r", ls=":", lw=1)
ax.set(xlabel="azimuth [deg]", ylabel="beampattern", title="AO design, N = 4, L = 16 (targets dotted)")
fig.tight_layout()

# %% [markdown]
# ## Gradients with respect to R₀ and the spacing, against finite differences
# The value is the digital optimum at the AO's loads (P2 is re-solved at every evaluation; its
# gradient comes from the SDP's multipliers, not from differentiating the ADMM iterations).

# %%
@jax.jit
def value(R0, spacing):
    return dma.p2_value(problem_for(R0, spacing), y_opt)


R0, d = jnp.asarray(2.0), jnp.asarray(LAMBDA / 2)
v0 = value(R0, d)
g_R0, g_d = jax.jit(jax.grad(value, argnums=(0, 1)))(R0, d)
h_R0, h_d = 1e-3 * R0, 1e-3 * d
fd_R0 = (value(R0 + h_R0, d) - value(R0 - h_R0, d)) / (2 * h_R0)
fd_d = (value(R0, d + h_d) - value(R0, d - h_d)) / (2 * h_d)
print(f"P2 optimum at the AO loads: {float(v0):.6f}")
print(f"dP/dR0      envelope {float(g_R0): .5e}   finite difference {float(fd_R0): .5e}")
print(f"dP/dspacing envelope {float(g_d): .5e}   finite difference {float(fd_d): .5e}  [per metre]")

# %% [markdown]
# ## A sweep over R₀ (one batched call) with the tangent from the gradient

# %%
R0_grid = jnp.linspace(0.5, 4.0, 8)
curve = jax.jit(jax.vmap(lambda r: value(r, d)))(R0_grid)
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(R0_grid, curve, "o-", label="P2 optimum at the AO loads")
x = np.linspace(1.5, 2.5, 5)
ax.plot(x, float(v0) + float(g_R0) * (x - 2.0), "r-", lw=2, label="tangent from the gradient")
ax.set(xlabel="load conductance R₀ [normalised S]", ylabel="P_tot")
ax.legend(); fig.tight_layout()

# %%
assert float(sol.objective) >= float(sol.stats["trace"][0]) - 1e-9  # the safeguarded AO never loses
assert abs(float(g_R0) - float(fd_R0)) <= 1e-3 * abs(float(fd_R0)) + 1e-6
assert abs(float(g_d) - float(fd_d)) <= 1e-3 * abs(float(fd_d)) + 1e-6
c = np.asarray(curve)
assert np.all(np.diff(c) < 0)  # more element loss, less radiated power towards the targets
