"""Small helpers shared by the experiment scripts: CSV rows, a headless pyplot, the --quick/--out CLI."""

from __future__ import annotations

import argparse
import csv
import pathlib
from typing import Any, Sequence


def write_rows(rows: Sequence[dict[str, Any]], path: str | pathlib.Path) -> None:
    """Write a list of equal-keyed dicts as CSV (header from the first row), creating the folder."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def quick_cli(default_out: str, description: str | None = None) -> tuple[bool, pathlib.Path]:
    """Parse ``--quick`` (CI-sized run) and ``--out`` (output folder); returns ``(quick, out_dir)``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--quick", action="store_true", help="CI-sized run")
    ap.add_argument("--out", default=default_out, help="output folder for CSV/JSON + PNG")
    args = ap.parse_args()
    return args.quick, pathlib.Path(args.out)


def add_gpu_cli(ap: argparse.ArgumentParser, default_batch: int) -> None:
    """The benchmarks' GPU-only options (used by ``experiments/gpu_suite.py``)."""
    ap.add_argument("--gpu-only", action="store_true", help="only the GPU throughput (no CPU references)")
    ap.add_argument("--gpu-batch", type=int, default=default_batch, help="batch of the GPU throughput run")
    ap.add_argument("--allow-cpu", action="store_true", help="with --gpu-only: dry-run the GPU part on the CPU")


def throughput_device(allow_cpu: bool = False):
    """The first GPU; the CPU for a dry run when ``allow_cpu``; else None (no GPU: nothing to measure)."""
    import jax

    dev = jax.devices()[0]
    return dev if dev.platform == "gpu" or allow_cpu else None
