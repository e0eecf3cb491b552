# %% [markdown]
# # Robust ISAC waveforms: the conservative frontier as θ and ρ move, and gradients through the worst case
#
# Seed 002 (Wang–Dai–Wang–Li, IEEE TSP 2024). A base station with N = 16 antennas sends one waveform
# X (N × L, L = 30) that carries K = 4 QPSK streams S and probes targets. The channel is known only as
# a nominal H̄; the true H₀ lies in a Frobenius ball ‖H − H̄‖_F ≤ θ. The joint robust design
# (Method 3, total power) solves min_X max_H ρ‖HX − S‖² + (1 − ρ)‖X − X_s‖², where X_s is a reference
# radar waveform: ρ trades communication (multi-user interference, MUI) against sensing.
#
# Evaluating the sum-rate of the robust waveform X* at its own worst-case channel H_w(X*) gives a
# *certified, conservative* frontier point; the total MUI of X* is guaranteed to be no larger for
# every true channel inside the ball.

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

jax.config.update("jax_enable_x64", True)
import jaxisac
from jaxisac import robust as rb
from jaxisac.core import ascent_grad

sc = rb.make_scenario(jax.random.key(2), dtype=jnp.complex128)  # N = 16, K = 4, L = 30, P_T = 2.5 W, SNR 10 dB
H_true = sc.true_channels(jax.random.key(3), 200)  # small Monte-Carlo set of true channels H0
print("H_nominal", sc.H_nominal.shape, " S", sc.S.shape, " X_s", sc.X_s.shape, " N0 =", float(sc.noise_var))

# %% [markdown]
# ## A batched θ × ρ sweep
# One `jax.jit(jax.vmap(jax.vmap(...)))` solves the whole grid. For every design we record the
# certified rate R_{H_w(X*),X*}, the nominal rate R_{H̄,X̄}, the Monte-Carlo mean of the true rates
# R_{H₀,X*}, the sensing error ‖X*X*ᴴ/L − R‖_F, and the largest true MUI among the Monte-Carlo
# channels that lie inside the ball (to compare with the worst-case MUI). The radii reach 0.6,
# which covers all 200 draws (‖H₀ − H̄‖_F is about 0.47 ± 0.03 here).

# %%
rhos = jnp.array([0.2, 0.4, 0.6, 0.8, 0.9, 0.95])
thetas = jnp.array([0.0, 0.2, 0.4, 0.5, 0.6])


def design(rho, theta):
    prob = rb.JointProblem(sc.H_nominal, sc.S, sc.X_s, 2.5, rho, theta, noise_var=sc.noise_var)
    sol = jaxisac.solve(prob, rb.Method3(certify=True), throw=False)
    X = sol.value
    true_rates = jax.vmap(lambda H: rb.aasr(H, X, sc.S, sc.noise_var))(H_true)
    true_mui = jax.vmap(lambda H: rb.mui(H, X, sc.S))(H_true)
    inside = jnp.linalg.norm(H_true - sc.H_nominal, axis=(1, 2)) <= theta
    return {
        "status": sol.result,
        "certified": sol.stats["aasr_certified"],
        "robust": sol.stats["aasr_robust"],
        "nominal": sol.stats["aasr_nominal"],
        "true_mean": jnp.mean(true_rates),
        "true_min": jnp.min(true_rates),
        "worst_mui": rb.worst_case_value(X, sc.S, sc.H_nominal, theta),
        "max_mui_inside": jnp.max(jnp.where(inside, true_mui, -jnp.inf)),
        "inside": jnp.mean(inside),
        "sensing": rb.covariance_error(X, sc.R),
        "lower": sol.stats["lower"],
        "upper": sol.stats["upper"],
        "upper_nominal": prob.rho_clipped * rb.worst_case_value(sol.stats["X_nominal"], sc.S, sc.H_nominal, theta)
        + (1 - prob.rho_clipped) * jnp.sum(jnp.abs(sol.stats["X_nominal"] - sc.X_s) ** 2),
    }


grid = jax.jit(jax.vmap(jax.vmap(design, (None, 0)), (0, None)))(rhos, thetas)  # [rho, theta]
grid = {k: np.asarray(v) for k, v in grid.items()}
print("certified AASR R_{H_w(X*),X*} [bps/Hz/user] (rows rho, columns theta):")
print(np.round(grid["certified"], 3))
print("mean true AASR:")
print(np.round(grid["true_mean"], 3))
print("fraction of true channels inside the ball, per theta:", grid["inside"][0])
print("sandwich gap (upper - lower) / lower of the robust joint problem:")
print(np.round((grid["upper"] - grid["lower"]) / grid["lower"], 3) + 0.0)
print("worst-case joint cost of X* / worst-case joint cost of the nominal waveform Xbar:")
print(np.round(grid["upper"] / grid["upper_nominal"], 3))

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
colors = plt.cm.viridis(np.linspace(0, 0.85, len(thetas)))
for j, th in enumerate(np.asarray(thetas)):
    ax.plot(grid["sensing"][:, j], grid["certified"][:, j], "o-", ms=4, color=colors[j], label=f"θ = {th:g}")
    ax.plot(grid["sensing"][:, j], grid["true_mean"][:, j], "x--", ms=4, color=colors[j], lw=1)
ax.set(xlabel="sensing error ‖XXᴴ/L − R‖_F  (ρ increases →)", ylabel="AASR [bps/Hz/user]",
       title="certified frontier (solid), mean true rate (dashed)")
ax.legend(fontsize=8); fig.tight_layout()

# %% [markdown]
# Larger ρ buys rate at the cost of sensing accuracy; a larger radius θ pushes the certified
# frontier down. Once θ covers the true channels (θ = 0.6) the certified rates lie below every
# Monte-Carlo rate; at small ρ the robust waveforms also raise the mean true rate, at large ρ
# robustness costs mean rate (the dashed curves cross). For θ > 0 the certified rate peaks at an
# intermediate ρ and the points to the right of each peak are dominated. The printed tables explain
# why: Method 3 re-fits the waveform to H*, the worst case of the *nominal* waveform X̄ (penalty
# α = 100, as the reference code), and the worst case of X* then lies elsewhere in the ball. Where ρ
# and θ are small this lowers the worst-case cost below that of X̄ and the sandwich gap of problem
# (10) is small; at large ρ and θ the gap opens and X* is certified *worse* than X̄ itself.
#
# ## Gradient of the worst-case MUI (Danskin) and of its θ-sensitivity
# φ(X, θ) = max_{‖H − H̄‖ ≤ θ} ‖HX − S‖²_F. `worst_case_channel` returns the exact maximiser H* (a
# trust-region subproblem) and is implicitly differentiable, so `jax.grad` can go straight through it.
# Danskin's theorem says that the same gradient is obtained with H* frozen: ∇_X φ = ∇_X ‖H*X − S‖²,
# and ∂φ/∂θ = 2λθ with λ the trust-region multiplier. Both are checked against central finite
# differences of re-solved worst cases.

# %%
theta0 = 0.1
X0 = rb.tpc_waveform(sc.H_nominal, sc.S, sc.X_s, 2.5, 0.6)  # a joint waveform to differentiate at


@jax.jit
def worst_mui(X, theta):
    Hs = rb.worst_case_channel(X, sc.S, sc.H_nominal, theta)  # implicitly differentiable
    return rb.mui(Hs, X, sc.S)


@jax.jit
def worst_mui_danskin(X, theta):
    Hs = jax.lax.stop_gradient(rb.worst_case_channel(X, sc.S, sc.H_nominal, theta))  # H* frozen
    return rb.mui(Hs, X, sc.S)


gX = jax.jit(ascent_grad(worst_mui))(X0, theta0)  # conj(jax.grad): the ascent direction
gX_danskin = jax.jit(ascent_grad(worst_mui_danskin))(X0, theta0)
g_theta = float(jax.jit(jax.grad(worst_mui, argnums=1))(X0, theta0))
wc = rb.worst_case(X0, sc.S, sc.H_nominal, theta0)

D = jax.random.normal(jax.random.key(7), X0.shape, X0.dtype)
D = D / jnp.linalg.norm(D) * jnp.linalg.norm(X0)
h = 1e-6
fd_X = float((worst_mui(X0 + h * D, theta0) - worst_mui(X0 - h * D, theta0)) / (2 * h))
dd_X = float(jnp.sum(jnp.real(jnp.conj(gX) * D)))  # directional derivative Re sum(conj(g) d)
fd_theta = float((worst_mui(X0, theta0 + h) - worst_mui(X0, theta0 - h)) / (2 * h))

err_X = abs(dd_X - fd_X) / abs(fd_X)
err_theta = abs(g_theta - fd_theta) / abs(fd_theta)
err_danskin = float(jnp.linalg.norm(gX - gX_danskin) / jnp.linalg.norm(gX))
err_envelope = abs(g_theta - 2 * float(wc.multiplier) * theta0) / abs(g_theta)
print(f"worst-case MUI phi = {float(worst_mui(X0, theta0)):.6f}  (nominal MUI {float(rb.mui(sc.H_nominal, X0, sc.S)):.6f})")
print(f"d phi along D : autodiff {dd_X: .10e}  finite diff {fd_X: .10e}  rel. err {err_X:.1e}")
print(f"d phi / d theta: autodiff {g_theta: .10e}  finite diff {fd_theta: .10e}  rel. err {err_theta:.1e}")
print(f"through H* vs Danskin (H* frozen): rel. diff {err_danskin:.1e};  2 lam theta vs autodiff: {err_envelope:.1e}")

# %% [markdown]
# A first-order use of that gradient: one projected step of the waveform along −∇_X φ (rescaled to
# the power budget) lowers the worst-case MUI.

# %%
step = 1e-3 * float(jnp.linalg.norm(X0) / jnp.linalg.norm(gX))
X1 = X0 - step * gX
X1 = X1 * jnp.linalg.norm(X0) / jnp.linalg.norm(X1)  # back onto ‖X‖² = L P_T
phi0, phi1 = float(worst_mui(X0, theta0)), float(worst_mui(X1, theta0))
print(f"worst-case MUI before {phi0:.6f}, after one projected gradient step {phi1:.6f}")

# %%
assert np.all(grid["status"] == 0)
assert np.all(grid["lower"] <= grid["upper"] * (1 + 1e-10))  # certified sandwich of the robust optimum
ratio = grid["upper"] / grid["upper_nominal"]
assert np.all(ratio[0, 1:] < 1) and ratio[-1, -1] > 2  # Method 3 helps at small rho, backfires at large rho theta
cert, nom = grid["certified"], grid["nominal"]
assert np.all(np.diff(cert, axis=1) < 0)  # the certified rate falls as theta grows (every rho)
assert np.all(grid["robust"] <= nom + 1e-12)  # R_{H*,X*} never exceeds the nominal rate
assert np.all(np.diff(nom[:, 0]) > 0)  # more weight on communication -> higher nominal rate
assert np.all(np.diff(grid["sensing"][:, 0]) > 0)  # ... and a larger sensing error
assert np.all(grid["max_mui_inside"] <= grid["worst_mui"] * (1 + 1e-12))  # the worst case covers the ball
assert np.all(grid["inside"][:, -1] == 1.0) and np.all(cert[:, -1] <= grid["true_min"][:, -1])  # theta = 0.6
assert err_X < 1e-6 and err_theta < 1e-6  # autodiff through the worst case == finite differences
assert err_danskin < 1e-8 and err_envelope < 1e-8  # Danskin / envelope theorem
assert phi1 < phi0
