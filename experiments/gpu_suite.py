"""Every GPU check of the open issues in one prepared run, sized for a lent GPU machine's budget.

    PYTHONPATH=. python experiments/gpu_suite.py [--budget-s 480] [--out DIR] [--only crb,robust]

Runs, each in its own process with its own time limit, and stops starting sections once the budget is
spent (what was skipped is listed):

1. ``pytest -m gpu``: each system's batch on the accelerator equals the CPU run (complex128) and
   complex64 on the accelerator is within float32 tolerance (``tests/*/test_gpu.py``, DMA spec T17);
2. the throughput runs the issues name, through each benchmark's ``--gpu-only`` mode (no CVXPY, NumPy
   or pymanopt references, so none of those packages is needed on the GPU machine):
   CRB 10^4 active-regime instances (N_t = 128, K = 8, Gamma = 20 dB; goal <= 2 s), robust designs per
   second at batch 10^4, BD-RIS batch 10^4 at N_S = 256, ALRA on 1024 drops (N = 65, T_p = 260).

The caps add up to more than one device call may run (600 s): with a 15-minute device budget, run it
as two calls, ``--only pytest,crb`` and ``--only robust,bdris,autocorrelation``. Logs and JSON go to ``--out`` (default ``$OUT`` when set, the device tool's return folder, else
``results/gpu``); ``summary.json`` lists each section's exit status and time. ``--allow-cpu`` dry-runs
everything on the CPU at small sizes (for checking this script on a machine without a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]

# name -> (command after the interpreter, seconds it may take at most, JSON files it writes under results/)
SECTIONS = {
    "pytest": (["-m", "pytest", "-p", "no:xdist", "-q", "-m", "gpu", "tests"], 240, []),
    "crb": (["experiments/bench_crb.py", "--gpu-only"], 200, ["crb/bench_crb_gpu.json"]),
    "robust": (["experiments/bench_robust.py", "--gpu-only"], 200, ["robust/bench_robust_gpu.json"]),
    "bdris": (["experiments/bench_bdris.py", "--gpu-only"], 150, ["bdris/bench_bdris_gpu.json"]),
    "autocorrelation": (["experiments/bench_autocorrelation.py", "--gpu-only"], 150, ["autocorrelation/bench_gpu.json"]),
}
# --allow-cpu: the same code at sizes a CPU finishes
DRY_RUN = {"crb": ["--gpu-batch", "32", "--allow-cpu"], "robust": ["--gpu-batch", "64", "--allow-cpu"],
           "bdris": ["--gpu-batch", "16", "--allow-cpu"], "autocorrelation": ["--gpu-batch", "8", "--allow-cpu"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-s", type=float, default=480.0, help="wall-clock budget of the whole suite")
    ap.add_argument("--out", default=os.environ.get("OUT") or str(ROOT / "results" / "gpu"))
    ap.add_argument("--only", default=None, help="comma-separated section names (default: all)")
    ap.add_argument("--allow-cpu", action="store_true", help="dry run on the CPU at small sizes")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [s.strip() for s in args.only.split(",")] if args.only else list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise ValueError(f"--only: unknown sections {unknown}; choose from {list(SECTIONS)}")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if args.allow_cpu:
        env["JAXISAC_GPU_TESTS_ON_CPU"] = "1"
    start = time.perf_counter()
    summary = {}
    for name in names:
        cmd, cap, files = SECTIONS[name]
        left = args.budget_s - (time.perf_counter() - start)
        if left < 30:
            summary[name] = {"status": "skipped", "why": f"budget spent ({left:.0f} s left)"}
            print(f"[{name}] skipped: budget spent", flush=True)
            continue
        full = [sys.executable, *cmd, *(DRY_RUN.get(name, []) if args.allow_cpu else [])]
        print(f"[{name}] {' '.join(full[1:])} (limit {min(cap, left):.0f} s)", flush=True)
        t0 = time.perf_counter()
        with open(out / f"{name}.log", "w") as log:
            try:
                rc = subprocess.run(full, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    timeout=min(cap, left)).returncode
            except subprocess.TimeoutExpired:
                rc = "timeout"
        dt = time.perf_counter() - t0
        for f in files:  # the benchmarks write under results/; bring their JSON to the return folder
            src = ROOT / "results" / f
            if src.exists() and src.stat().st_mtime >= time.time() - dt - 1:
                shutil.copy(src, out / src.name)
        summary[name] = {"status": "ok" if rc == 0 else "failed", "returncode": rc, "seconds": round(dt, 1)}
        tail = (out / f"{name}.log").read_text().strip().splitlines()[-4:]
        print(f"[{name}] {summary[name]['status']} in {dt:.0f} s\n    " + "\n    ".join(tail), flush=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    return 0 if all(v["status"] == "ok" for v in summary.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
