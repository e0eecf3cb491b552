"""`make demo`: a batched demonstration of every system that has landed, on CPU by default.

Each `experiments/demo_<system>.py` defines `run(out_dir: pathlib.Path) -> list[dict]`; this script
runs them in turn, prints one readable table of their rows, and the demos write their plots under
`results/demo/`. Add a system by adding its `demo_<system>.py`.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "results" / "demo"


def _load(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in sorted(HERE.glob("demo_*.py")):
        t0 = time.perf_counter()
        print(f"== {path.stem[5:]}", flush=True)
        for row in _load(path).run(OUT):
            rows.append({"system": path.stem[5:], **row})
        print(f"   done in {time.perf_counter() - t0:.1f} s", flush=True)
    keys = ["system", "what", "batch", "result", "time"]
    for r in rows:  # demos may report raw seconds
        if isinstance(r.get("time"), float):
            r["time"] = f"{r['time']:.1f} s"
    widths = {k: max(len(k), *(len(str(r.get(k, ""))) for r in rows)) for k in keys}
    print()
    print("  ".join(k.ljust(widths[k]) for k in keys))
    print("  ".join("-" * widths[k] for k in keys))
    for r in rows:
        print("  ".join(str(r.get(k, "")).ljust(widths[k]) for k in keys))
    print(f"\nplots and CSVs under {OUT.relative_to(HERE.parent)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
