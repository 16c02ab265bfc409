"""Multi-seed runs: fit a recipe once per seed and report mean ± std of every metric.

``zoo fit RECIPE seeds=[1,2,3]`` writes ``<run>/seed1/``, ``<run>/seed2/``, … (each a complete run
folder) and, in ``<run>/``, ``seeds.json``: the per-seed results and, per metric, the mean, the
standard deviation (sample, ``ddof=1``, as papers report over repeated runs) and the count.
Each finished seed is appended to ``seeds.jsonl`` at once, so an interrupted series keeps what
it finished.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pytorch_lightning.utilities import rank_zero_info, rank_zero_only

__all__ = ["run_seeds", "summarise_seeds", "format_seed_table"]


def summarise_seeds(per_seed: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Mean, sample std and count of each metric over the seeds that report it."""
    keys = sorted({k for results in per_seed for k in results})
    summary = {}
    for key in keys:
        values = np.array([r[key] for r in per_seed if key in r], dtype=np.float64)
        summary[key] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "n": int(len(values)),
        }
    return summary


def format_seed_table(summary: Mapping[str, Mapping[str, float]]) -> str:
    """``metric  mean ± std  (n)`` lines for val/test metrics."""
    width = max((len(k) for k in summary), default=10)
    lines = [f"{'metric':<{width}}  {'mean':>8} ± {'std':<8} n"]
    for key, s in summary.items():
        lines.append(f"{key:<{width}}  {s['mean']:>8.4f} ± {s['std']:<8.4f} {s['n']}")
    return "\n".join(lines)


@rank_zero_only
def _append(path: Path, record: Mapping[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


@rank_zero_only
def _write(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


def run_seeds(
    cfg: Mapping[str, Any],
    run_dir: Path,
    run_one: Callable[[dict[str, Any], Path], dict[str, Any]],
) -> dict[str, Any]:
    """Run ``run_one(cfg_with_seed, seed_dir)`` for each seed of ``cfg["seeds"]``.

    Returns:
        ``{"run_dir", "results": {metric: mean}, "seeds": {seed: results}, "summary": {...}}``.
    """
    seeds = [int(s) for s in cfg["seeds"]]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    per_seed: dict[int, dict[str, float]] = {}
    for seed in seeds:
        seed_dir = run_dir / f"seed{seed}"
        seed_dir.mkdir(parents=True, exist_ok=True)
        seed_cfg = {**cfg, "seed": seed, "seeds": None}
        rank_zero_info(f"--- seed {seed} ({seeds.index(seed) + 1}/{len(seeds)}) → {seed_dir}")
        out = run_one(seed_cfg, seed_dir)
        per_seed[seed] = dict(out["results"])
        _append(run_dir / "seeds.jsonl", {"seed": seed, "run_dir": str(seed_dir), "results": per_seed[seed]})
    summary = summarise_seeds(list(per_seed.values()))
    _write(run_dir / "seeds.json", {"seeds": {str(k): v for k, v in per_seed.items()}, "summary": summary})
    if rank_zero_only.rank == 0:  # results on stdout, once under DDP
        print(f"\nover {len(seeds)} seeds {seeds}:\n{format_seed_table(summary)}\n", flush=True)
    return {
        "run_dir": run_dir,
        "results": {k: v["mean"] for k, v in summary.items()},
        "seeds": per_seed,
        "summary": summary,
        "best_ckpt": None,
    }
