"""Fig. 8 of the BD-RIS paper (spec §5, v5 Fig. 8 / v3 Fig. 7): the cost of reciprocity (symmetric
BD-RIS, ``Theta = Theta^T``), power half and rate half. Spec target: a small loss from symmetry.

Power half (2 x N_S x 2, no direct link), per group size L: asymmetric P-max (Prop 5, parallel MM);
symmetric by the exact routes of spec §3.3 (Takagi MM ``PowerGainMM(variant="takagi")`` and Riemannian
CG over ``Q`` with ``Theta = Q Q^T``); and the paper's "projection" ``(Theta + Theta^T)/2`` of the
asymmetric optimum (spec A11), reported with its unitarity error: it is not a lossless scattering
matrix.

Rate half (4 x N_S x 4 with the direct link, P = 20 dB, noise -75 dB; rates in nats in the CSV,
bit/s/Hz in the plot), per group size L:

* ``asymmetric``: the rate AO (``RateAO``, spec §4.8, from the P-max point);
* ``symmetric_QQT``: the same AO over ``Theta_g = Q_g Q_g^T`` (``RateMaximisation(symmetric=True)``),
  warm-started from the symmetric P-max factor ``symmetric_power_max`` (Takagi MM) -- exact:
  symmetric and unitary;
* ``takagi_projection``: ``Q Q^T`` from the Takagi factorisation of ``(Theta + Theta^T)/2`` of the
  asymmetric AO solution, then water-filling (exact but post hoc);
* ``paper_projection``: the paper's "enforced" ``(Theta + Theta^T)/2`` of the asymmetric AO solution,
  then water-filling; NOT unitary (its ``max_unitarity_error`` is reported): its rate is that of a
  lossy surface, listed for comparison only;
* ``no_ris``: capacity of the direct link.

``L = 1`` (D-RIS) is symmetric, so all RIS methods coincide there; that row is the D-RIS reference.

``--quick``: power N_S = 16, L in {1, 4, 16}, 4 draws; rate N_S = 16, L in {1, 4, 16}, 3 draws. Full:
power N_S in {16, 64}, rate N_S in {16, 256}, L in {1, 4, 16, 64, 256} (<= N_S), 100 draws (a GPU
job). ``--rate-sizes`` / ``--draws`` override the rate half (e.g. ``--rate-sizes 64 --draws 10``),
``--power-sizes`` / ``--power-draws`` the power half; ``--only rate`` (``power``) runs one half. Writes results/bdris/003_fig8_symmetric.{csv,png}: one CSV with
a ``half`` column (``power`` / ``rate``) and a two-panel figure.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import jaxisac  # noqa: E402
from jaxisac import bdris  # noqa: E402
from _common import pyplot, write_rows  # noqa: E402

ETA = 10 ** (-7.5)
P_DB = 20.0
POWER_METHODS = ("asymmetric", "takagi_mm", "rcg_QQT", "paper_projection")
RATE_METHODS = ("asymmetric", "symmetric_QQT", "takagi_projection", "paper_projection", "no_ris")


def _row(half, n_s, L, method, values, ref, d_ris, unit, *, power_db=float("nan"), unitarity=0.0, symmetry=0.0, draws, seconds):
    v = np.asarray(values)
    return dict(half=half, n_ris=n_s, group_size=L, power_db=power_db, method=method, unit=unit,
                mean=float(v.mean()), stderr=float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else float("nan"),
                mean_ratio_to_asymmetric=float(np.mean(v / ref)),
                mean_diff_to_asymmetric=float(np.mean(v - ref)),
                frac_below_d_ris=float(np.mean(v < d_ris - 1e-9 * np.abs(d_ris))) if d_ris is not None else float("nan"),
                max_unitarity_error=float(unitarity), max_symmetry_error=float(symmetry), draws=int(v.size), seconds=seconds)


def power_half(quick: bool, sizes=None, draws=None):
    """Power gain of the symmetric routes vs the asymmetric P-max (2 x N_S x 2, no direct link)."""
    sizes = sizes or ([16] if quick else [16, 64])
    draws = draws or (4 if quick else 100)
    mm = bdris.PowerGainMM(rtol=1e-10, max_steps=1000)
    mm_t = bdris.PowerGainMM(rtol=1e-10, max_steps=1000, variant="takagi")
    rcg = bdris.RiemannianCG(gtol=1e-8, max_steps=2000)
    rows = []
    for n_s in sizes:
        keys = jax.random.split(jax.random.key(8000 + n_s), draws)
        chans = jax.vmap(lambda k: bdris.make_channels(k, 2, n_s, 2, direct=False))(keys)
        for L in [g for g in (1, 4, 16, 64) if g <= n_s]:
            t0 = time.perf_counter()

            def one(c, L=L):
                asym = jaxisac.solve(bdris.shaping_problem(c, group_size=L), mm, throw=False)
                tak = jaxisac.solve(bdris.shaping_problem(c, group_size=L), mm_t, throw=False)
                symp = bdris.shaping_problem(c, group_size=L, symmetric=True)
                q = jaxisac.solve(symp, rcg, throw=False)
                proj = bdris.enforce_symmetry_paper(asym.value)
                p_proj = bdris.power_gain(bdris.channel(proj, None, c.H_backward, c.H_forward))
                th_q = symp.theta(q.value)
                return dict(asymmetric=asym.objective, takagi_mm=tak.objective, rcg_QQT=q.objective, paper_projection=p_proj,
                            u_paper_projection=bdris.unitarity_error(proj), u_takagi_mm=bdris.unitarity_error(tak.value),
                            u_rcg_QQT=bdris.unitarity_error(th_q), s_takagi_mm=bdris.symmetry_error(tak.value),
                            s_rcg_QQT=bdris.symmetry_error(th_q), s_paper_projection=bdris.symmetry_error(proj))

            res = {k: np.asarray(v) for k, v in jax.block_until_ready(jax.vmap(one)(chans)).items()}
            dt = time.perf_counter() - t0
            d_ris = res["asymmetric"] if L == 1 else None
            for m in POWER_METHODS:
                rows.append(_row("power", n_s, L, m, res[m], res["asymmetric"], d_ris, "power gain (linear)",
                                 unitarity=res.get("u_" + m, np.zeros(1)).max(), symmetry=res.get("s_" + m, np.zeros(1)).max(),
                                 draws=draws, seconds=dt))
                print(f"power 2x{n_s}x2 L={L:3d} {m:17s}: mean {res[m].mean():.4e}  (x{np.mean(res[m] / res['asymmetric']):.4f} of asymmetric)")
            print(f"   paper projection unitarity error up to {res['u_paper_projection'].max():.2e}")
    return rows


def rate_designs(chans, *, group_size: int, power: float, ao: bdris.RateAO):
    """All rate-half designs for a batch of noise-normalised channels (``lax.map`` inside one ``jit``).

    Args:
        chans: :class:`~jaxisac.bdris.Channels` with a leading batch axis (``H / sqrt(eta)``, noise 1).
        group_size: ``L``.
        power: transmit power (linear, in units of the noise power).
        ao: the rate AO configuration.

    Returns:
        dict of ``(draws,)`` arrays: rates in nats per method, unitarity / symmetry errors.
    """
    L = int(group_size)

    def one(c):
        HD, HB, HF = c.H_direct, c.H_backward, c.H_forward
        asym = jaxisac.solve(bdris.RateMaximisation(HD, HB, HF, power=power, noise=1.0, group_size=L), ao, throw=False)
        th_a = asym.value["theta"]
        symp = bdris.RateMaximisation(HD, HB, HF, power=power, noise=1.0, group_size=L, symmetric=True)
        q0 = bdris.symmetric_power_max(HD, HB, HF, group_size=L)
        sym = jaxisac.solve(symp, ao, init=q0, throw=False)
        th_s = symp.theta(sym.value["theta"])
        th_t = bdris.symmetric_polar(th_a)
        th_p = bdris.enforce_symmetry_paper(th_a)

        def cap(th):
            return bdris.capacity(bdris.channel(th, HD, HB, HF), power, 1.0)

        return dict(asymmetric=asym.objective, symmetric_QQT=sym.objective, takagi_projection=cap(th_t),
                    paper_projection=cap(th_p), no_ris=bdris.capacity(HD, power, 1.0),
                    u_asymmetric=bdris.unitarity_error(th_a), u_symmetric_QQT=bdris.unitarity_error(th_s),
                    u_takagi_projection=bdris.unitarity_error(th_t), u_paper_projection=bdris.unitarity_error(th_p),
                    s_symmetric_QQT=bdris.symmetry_error(th_s), s_takagi_projection=bdris.symmetry_error(th_t),
                    s_paper_projection=bdris.symmetry_error(th_p), s_asymmetric=bdris.symmetry_error(th_a),
                    ao_status=(asym.result != 0) | (sym.result != 0))

    return jax.jit(lambda cs: jax.lax.map(one, cs))(chans)


def rate_half(quick: bool, sizes=None, draws=None):
    """Rate of the symmetric designs vs the asymmetric AO (4 x N_S x 4 with the direct link)."""
    sizes = sizes or ([16] if quick else [16, 256])
    draws = draws or (3 if quick else 100)
    ao = bdris.RateAO(rtol=1e-8, inner=bdris.RiemannianCG(gtol=1e-8, max_steps=500))
    power = 10 ** (P_DB / 10)
    s = float(np.sqrt(ETA))  # noise-normalised channels (spec §8): rates unchanged, better scaled
    rows = []
    for n_s in sizes:
        keys = jax.random.split(jax.random.key(8100 + n_s), draws)
        chans = jax.vmap(lambda k: bdris.make_channels(k, 4, n_s, 4))(keys)
        chans = bdris.Channels(chans.H_direct / s, chans.H_backward / s, chans.H_forward)
        d_ris = None
        for L in [g for g in (1, 4, 16, 64, 256) if g <= n_s]:
            t0 = time.perf_counter()
            res = {k: np.asarray(v) for k, v in jax.block_until_ready(rate_designs(chans, group_size=L, power=power, ao=ao)).items()}
            dt = time.perf_counter() - t0
            if L == 1:
                d_ris = res["asymmetric"]
            if res["ao_status"].any():
                print(f"   warning: {int(res['ao_status'].sum())} AO run(s) did not report success (max steps)")
            for m in RATE_METHODS:
                rows.append(_row("rate", n_s, L, m, res[m], res["asymmetric"], d_ris if m != "no_ris" else None, "rate (nats)",
                                 power_db=P_DB, unitarity=res.get("u_" + m, np.zeros(1)).max(),
                                 symmetry=res.get("s_" + m, np.zeros(1)).max(), draws=draws, seconds=dt))
                print(f"rate 4x{n_s}x4 L={L:3d} {m:17s}: mean {res[m].mean() / np.log(2):.4f} bit/s/Hz"
                      f"  ({np.mean(res[m] - res['asymmetric']):+.4f} nats vs asymmetric)")
            print(f"   unitarity error: QQ^T {res['u_symmetric_QQT'].max():.1e}, Takagi projection {res['u_takagi_projection'].max():.1e},"
                  f" paper projection {res['u_paper_projection'].max():.2e} ({dt:.1f} s)")
    return rows


def plot(rows, path):
    plt = pyplot()
    fig, (ax_p, ax_r) = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"asymmetric": "o-", "takagi_mm": "s--", "rcg_QQT": "x:", "symmetric_QQT": "s--", "takagi_projection": "d:",
              "paper_projection": "v-.", "no_ris": "k-"}
    for ax, half, methods, scale in ((ax_p, "power", POWER_METHODS, 1.0), (ax_r, "rate", RATE_METHODS, 1 / np.log(2))):
        sub = [r for r in rows if r["half"] == half]
        for n_s in sorted({r["n_ris"] for r in sub}):
            for m in methods:
                r = [x for x in sub if x["n_ris"] == n_s and x["method"] == m]
                if not r:
                    continue
                lab = f"{m}{' (not unitary)' if m == 'paper_projection' else ''}, N_S={n_s}"
                ax.errorbar([x["group_size"] for x in r], [x["mean"] * scale for x in r],
                            yerr=[x["stderr"] * scale for x in r] if m == "asymmetric" else None, fmt=styles[m], ms=4,
                            capsize=2, label=lab)
        ax.set_xscale("log", base=2)
        ax.legend(fontsize=6)
        ax.grid(alpha=0.3)
    ax_p.set(xlabel="group size L (error bars: s.e. over draws; methods share the draws)", ylabel="channel power gain",
             title="(a) power: 2 x N_S x 2, no direct link")
    ax_r.set(xlabel="group size L", ylabel="achievable rate [bit/s/Hz]", title=f"(b) rate: 4 x N_S x 4, direct link, P = {P_DB:.0f} dB")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(quick: bool, out_dir: pathlib.Path, *, rate_sizes=None, draws=None, power_sizes=None, power_draws=None,
        only: str = "both"):
    rows = []
    if only in ("both", "power"):
        rows += power_half(quick, power_sizes, power_draws)
    if only in ("both", "rate"):
        rows += rate_half(quick, rate_sizes, draws)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows(rows, out_dir / "003_fig8_symmetric.csv")
    plot(rows, out_dir / "003_fig8_symmetric.png")
    return rows


def _cli():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI-sized run")
    ap.add_argument("--out", default="results/bdris", help="output folder for CSV + PNG")
    ap.add_argument("--rate-sizes", type=int, nargs="+", default=None, help="N_S values of the rate half")
    ap.add_argument("--draws", type=int, default=None, help="channel draws of the rate half")
    ap.add_argument("--power-sizes", type=int, nargs="+", default=None, help="N_S values of the power half")
    ap.add_argument("--power-draws", type=int, default=None, help="channel draws of the power half")
    ap.add_argument("--only", choices=("both", "power", "rate"), default="both")
    a = ap.parse_args()
    for name in ("draws", "power_draws"):
        if getattr(a, name) is not None and getattr(a, name) < 2:
            ap.error(f"--{name.replace('_', '-')}: expected at least 2 (for a standard error)")
    return a


if __name__ == "__main__":
    a = _cli()
    run(a.quick, pathlib.Path(a.out), rate_sizes=a.rate_sizes, draws=a.draws, power_sizes=a.power_sizes,
        power_draws=a.power_draws, only=a.only)
