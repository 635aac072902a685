"""Rule calibration_ledger: converted groups that no valid calibration covers."""
import csv

from dsa110_contimg.atomic import atomic_path
from dsa110_contimg.logutil import to_file
from dsa110_contimg.selection import calibration_plan, discover_groups

sm = snakemake  # noqa: F821
to_file(sm.log[0])
plan = calibration_plan(sm.config, discover_groups(sm.config))
with atomic_path(sm.output[0]) as tmp, open(tmp, "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["group", "mid_mjd", "reason"])
    for gid, v in sorted(plan.items()):
        if "skip" in v:
            w.writerow([gid, f"{v['mid_mjd']:.6f}", v["skip"]])
