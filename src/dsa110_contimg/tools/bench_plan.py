"""Benchmark: how long Snakemake takes to plan days and months of a full-day strip.

    python -m dsa110_contimg.tools.bench_plan [--days 1 7 30] [--repeat 3] [--work bench/plan]

For each range: a config (the default one with every day a full strip, 288 groups: the
transit and 287 contiguous groups after it) and ``snakemake -n --quiet all`` on it, timed
``--repeat`` times (the median is printed with the spread: on a shared VM the same run
varies by +-10 %).  Prints groups, jobs, the dry run's wall time and the package's own
planning (group discovery and the calibration plan) measured in this process.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import yaml


def strip_config(*, days: int, out_dir: str) -> dict:
    """Overrides of config/config.yaml: ``days`` full days of contiguous groups."""
    return {"output_dir": out_dir, "simulation": {"n_epochs": days, "science_groups_per_epoch": 287,
                                                  "science_offset_min": 5.2, "incomplete_groups": []}}


def own_planning_s(overrides: dict) -> tuple[float, int]:
    """Seconds this package takes to discover the groups and plan their calibration; groups."""
    from ..selection import calibration_plan, discover_groups
    from ..settings import load_settings
    from ..simulate.scenario import plan

    flat = {"output_dir": overrides["output_dir"], **{f"simulation.{k}": v for k, v in overrides["simulation"].items()}}
    settings = load_settings(None, flat)
    t = time.perf_counter()
    planned = plan(simulation=settings.simulation, telescope=settings.telescope)
    groups = discover_groups(settings, planned=planned)
    calibration_plan(settings, groups, planned=planned)
    return time.perf_counter() - t, len(groups)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dsa110_contimg.tools.bench_plan", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, nargs="+", default=[1, 7, 30])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work", default="bench/plan")
    args = ap.parse_args(argv)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    exe = os.path.join(os.path.dirname(sys.executable), "snakemake")
    print(f"  {'days':>4s} {'groups':>7s} {'jobs':>7s} {'dry run s (median, min-max)':>28s} {'own planning s':>15s}")
    for days in args.days:
        cfg = os.path.join(work, f"days{days}.yaml")
        over = strip_config(days=days, out_dir=os.path.join(work, f"days{days}"))
        with open(cfg, "w") as fh:
            yaml.safe_dump(over, fh)
        own, n_groups = own_planning_s(over)
        walls, jobs = [], "?"
        for _ in range(args.repeat):
            t = time.perf_counter()
            res = subprocess.run([exe, "-n", "--quiet", "all", "--cores", "2", "--configfile", "config/config.yaml", cfg],
                                 capture_output=True, text=True, check=False)
            walls.append(time.perf_counter() - t)
            if res.returncode:
                raise SystemExit(f"snakemake -n failed for {days} days:\n{res.stderr[-3000:]}")
            m = re.search(r"^total\s+(\d+)", res.stdout, re.M)
            jobs = m.group(1) if m else jobs
        print(f"  {days:4d} {n_groups:7d} {jobs:>7s} {statistics.median(walls):14.1f} ({min(walls):.1f}-{max(walls):.1f})"
              f" {own:15.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
