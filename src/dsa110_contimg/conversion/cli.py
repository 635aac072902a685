"""Command line: convert one group of UVH5 subband files to a Measurement Set.

    python -m dsa110_contimg.conversion.cli --out group.ms [--writer parallel] \
        [--config config/config.yaml] [--set conversion.workers=2] FILE_sb00.hdf5 ...
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys

import yaml

from ..settings import load_settings
from .convert import WRITERS, ConversionError, convert_group


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="dsa110-convert", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="the subband files of one group")
    ap.add_argument("--out", required=True, help="output Measurement Set path")
    ap.add_argument("--writer", choices=WRITERS, default=None, help="default: conversion.writer of the config")
    ap.add_argument("--config", default=None, help="workflow config YAML (default: config/config.yaml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (dotted)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = load_settings(args.config, {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)})
    conversion = dataclasses.replace(settings.conversion, writer=args.writer) if args.writer else settings.conversion
    try:
        summary = convert_group(args.files, args.out, telescope=settings.telescope, conversion=conversion)
    except ConversionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
