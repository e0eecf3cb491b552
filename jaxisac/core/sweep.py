"""Monte-Carlo sweeps: PRNG keys x a grid of hyper-parameters, in chunks, optionally sharded.

    table = sweep(fn, jax.random.split(key, 1000), {"sinr_db": jnp.linspace(0, 20, 11)})

runs ``fn(key, sinr_db=...)`` for every (draw, grid point), batched by ``vmap`` in chunks of
``chunk_size`` instances (bounded memory; one compilation), shows a progress bar on long runs, and
returns a :class:`Table` with one row per (draw, grid point). With ``mesh=...`` (or
``mesh="all"``: every local device) each chunk's batch axis is sharded over the devices; the numbers
are identical to the unsharded run.
"""

from __future__ import annotations

import csv
import sys
import time
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["Table", "sweep", "ProgressBar"]


class Table:
    """Named columns of equal length (NumPy arrays). Export with :meth:`to_csv`."""

    def __init__(self, columns: Mapping[str, Any]):
        cols = {k: np.asarray(v) for k, v in columns.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns: lengths differ {({k: len(v) for k, v in cols.items()})}")
        self.columns = cols

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def where(self, mask: np.ndarray) -> "Table":
        """Rows where ``mask`` holds."""
        return Table({k: v[mask] for k, v in self.columns.items()})

    def to_csv(self, path: str) -> None:
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(self.names)
            for row in zip(*self.columns.values()):
                w.writerow([_fmt(x) for x in row])

    def __repr__(self) -> str:
        head = min(len(self), 8)
        lines = ["  ".join(f"{n:>12}" for n in self.names)]
        for i in range(head):
            lines.append("  ".join(f"{_fmt(self.columns[n][i]):>12}" for n in self.names))
        if len(self) > head:
            lines.append(f"... ({len(self)} rows)")
        return "\n".join(lines)


def _fmt(x: Any) -> str:
    if isinstance(x, (float, np.floating)):
        return f"{x:.6g}"
    return str(x)


class ProgressBar:
    """A minimal text progress bar on stderr (no dependency); silent when ``enabled`` is False."""

    def __init__(self, total: int, desc: str = "", enabled: bool = True, width: int = 30):
        self.total, self.desc, self.enabled, self.width = total, desc, enabled, width
        self.done, self.t0 = 0, time.perf_counter()

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        frac = self.done / max(self.total, 1)
        bar = "#" * int(frac * self.width)
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        sys.stderr.write(
            f"\r{self.desc} [{bar:<{self.width}}] {self.done}/{self.total} "
            f"{elapsed:6.1f}s elapsed, {eta:6.1f}s left"
        )
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _resolve_mesh(mesh: Mesh | str | None) -> Mesh | None:
    if mesh is None:
        return None
    if isinstance(mesh, str):
        if mesh != "all":
            raise ValueError(f"mesh: expected a jax.sharding.Mesh, 'all' or None, got {mesh!r}")
        return Mesh(np.array(jax.local_devices()), ("batch",))
    if not isinstance(mesh, Mesh):
        raise ValueError(f"mesh: expected a jax.sharding.Mesh, 'all' or None, got {type(mesh).__name__}")
    return mesh


def sweep(
    fn: Callable[..., Any],
    keys: jax.Array,
    grid: Mapping[str, Any] | None = None,
    *,
    chunk_size: int = 4096,
    mesh: Mesh | str | None = None,
    progress: bool | None = None,
    desc: str = "sweep",
) -> Table:
    """Evaluate ``fn(key, **params)`` over ``keys`` x the Cartesian product of ``grid``.

    Args:
        fn: pure JAX function of one PRNG key and keyword scalars; returns a dict of scalars (or
            of arrays with a fixed trailing shape, flattened into columns ``name[i]``).
        keys: PRNG keys, shape ``(n_draws, ...)`` (e.g. ``jax.random.split(key, n)``).
        grid: name -> 1-D array of values; the sweep covers every combination.
        chunk_size: instances per compiled batch (memory bound). Rounded up to a multiple of the
            number of devices when sharding.
        mesh: a 1-D ``jax.sharding.Mesh`` (its one axis shards the batch), ``"all"`` for all local
            devices, or ``None``.
        progress: show a progress bar (default: when there is more than one chunk).

    Returns:
        A :class:`Table` with columns ``draw``, one per grid name, and one per output.
    """
    grid = dict(grid or {})
    keys = jnp.asarray(keys)
    n_draws = keys.shape[0]
    names = list(grid)
    values = [np.asarray(grid[n]).ravel() for n in names]
    for n, v in zip(names, values):
        if v.size == 0:
            raise ValueError(f"grid[{n!r}]: expected at least one value")
    # rows in C order over (draw, grid_1, grid_2, ...), as itertools.product would give, without a Python loop
    index = np.indices((n_draws, *[len(v) for v in values])).reshape(len(values) + 1, -1)
    draw_idx = index[0]
    param_cols = {n: v[index[i + 1]] for i, (n, v) in enumerate(zip(names, values))}
    total = draw_idx.size
    if chunk_size <= 0:
        raise ValueError(f"chunk_size: expected a positive integer, got {chunk_size}")

    mesh = _resolve_mesh(mesh)
    n_dev = mesh.devices.size if mesh is not None else 1
    chunk = min(chunk_size, total)
    chunk = -(-chunk // n_dev) * n_dev

    def one(key, params):
        return fn(key, **params)

    batched = jax.jit(jax.vmap(one))
    sharding = NamedSharding(mesh, PartitionSpec(mesh.axis_names[0])) if mesh is not None else None
    n_chunks = -(-total // chunk)
    bar = ProgressBar(total, desc, enabled=(n_chunks > 1) if progress is None else progress)
    outs: list[Any] = []
    for start in range(0, total, chunk):
        stop = min(start + chunk, total)
        idx = np.arange(start, start + chunk)
        idx = np.minimum(idx, total - 1)  # pad the last chunk by repetition: one compiled shape
        k = keys[draw_idx[idx]]
        p = {n: jnp.asarray(param_cols[n][idx]) for n in names}
        if sharding is not None:
            k, p = jax.device_put((k, p), sharding)
        out = batched(k, p)
        out = jax.tree_util.tree_map(lambda x: np.asarray(x)[: stop - start], out)
        outs.append(out)
        bar.update(stop - start)

    merged = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs, axis=0), *outs)
    if not isinstance(merged, dict):
        merged = {"value": merged}
    columns: dict[str, Any] = {"draw": draw_idx}
    columns.update(param_cols)
    for name, arr in merged.items():
        arr = np.asarray(arr)
        if arr.ndim == 1:
            columns[name] = arr
        else:
            flat = arr.reshape(arr.shape[0], -1)
            for j in range(flat.shape[1]):
                columns[f"{name}[{j}]"] = flat[:, j]
    return Table(columns)
