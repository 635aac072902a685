"""Command line: ``python -m dsa110_contimg.simulate.cli {truth,group,all} ...``.

Examples::

    # truth + catalog, then every group of the plan
    python -m dsa110_contimg.simulate.cli all --config config/config.yaml --out-dir sim/
    # one group (what the workflow rule runs)
    python -m dsa110_contimg.simulate.cli group --config cfg.yaml --truth sim/truth.json \
        --group 2026-01-15T08:35:10 --out-dir sim/raw
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import yaml

from ..settings import load_settings
from .run import simulate_group, write_truth
from .scenario import plan


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="dsa110-simulate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["truth", "group", "all", "plan"])
    ap.add_argument("--config", default=None, help="workflow config YAML (default: config/config.yaml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (dotted, YAML value)")
    ap.add_argument("--out-dir", default="sim", help="directory for truth.json, sky.csv and raw/")
    ap.add_argument("--truth", help="truth.json (command group)")
    ap.add_argument("--group", help="group id (command group)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    settings = load_settings(args.config, overrides)
    sections = {"simulation": settings.simulation, "telescope": settings.telescope}
    raw = os.path.join(args.out_dir, "raw")
    if args.command == "plan":
        for g in plan(**sections):
            print(g.group_id, g.kind, g.epoch, len(g.filenames()))
        return 0
    if args.command in ("truth", "all"):
        truth = write_truth(settings, truth_path=os.path.join(args.out_dir, "truth.json"),
                            catalog_path=os.path.join(args.out_dir, "sky.csv"))
    if args.command == "group":
        with open(args.truth) as fh:
            truth = json.load(fh)
        simulate_group(**sections, truth=truth, group_id=args.group, out_dir=args.out_dir)
    if args.command == "all":
        for g in truth["groups"]:
            simulate_group(**sections, truth=truth, group_id=g["group_id"], out_dir=raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
