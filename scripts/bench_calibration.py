#!/usr/bin/env python
"""Benchmark calibration and imaging on the full-size calibrator group of `make bench`.

    python scripts/bench_calibration.py [--work bench/work] [--imsize 2048] [--skip-imaging]

Copies bench/work/ours.ms (written by scripts/bench_conversion.py: 96 antennas,
768 channels, 24 integrations, a calibrator transit) and times, in this process:
flagging (AOFlagger), the model (ft + beam), K/B/G solves, applycal, then imaging of the
calibrated group with each backend (tclean, and wsclean when installed) on the same
grid (``--imsize`` pixels, cell from 5 pixels per lambda/B_max, niter 1000).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

import psutil

from dsa110_contimg.casa_env import configure_casa


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="bench/work")
    ap.add_argument("--imsize", type=int, default=2048)
    ap.add_argument("--skip-imaging", action="store_true")
    args = ap.parse_args()
    src = os.path.join(args.work, "ours.ms")
    if not os.path.isdir(src):
        print(f"{src} not found: run `make bench` first", file=sys.stderr)
        return 2
    configure_casa()
    from dsa110_contimg.calibration import apply as apmod
    from dsa110_contimg.calibration.calibrators import Calibrator
    from dsa110_contimg.calibration.flagging import flag_ms
    from dsa110_contimg.calibration.model import set_calibrator_model
    from dsa110_contimg.calibration.solve import antenna_scores, pick_refant, solve
    from dsa110_contimg.config import load_config

    ms = os.path.join(args.work, "cal.ms")
    shutil.rmtree(ms, ignore_errors=True)
    shutil.copytree(src, ms)
    cfg = load_config()
    with open(os.path.join(args.work, "truth.json")) as fh:
        s = json.load(fh)["sky"][0]
    cal = Calibrator(s["name"], s["ra_deg"], s["dec_deg"], s["flux_jy"], s["alpha"])
    caldir = os.path.join(args.work, "cal")
    times = {}

    def step(name, fn):
        t = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t
        print(f"  {name:11s} {times[name]:6.1f} s   (RSS {psutil.Process().memory_info().rss / 1e9:.2f} GB)", flush=True)
        return out

    step("flag", lambda: flag_ms(ms))
    step("model", lambda: set_calibrator_model(ms, cal, cfg["telescope"], workdir=args.work))
    refant = step("refant", lambda: pick_refant(ms, antenna_scores(ms)))
    tabs = step("K+B+G", lambda: solve(ms, caldir, cfg["calibration"], refant))
    step("applycal", lambda: apmod.apply(ms, tabs))
    print(f"  total      {sum(times.values()):6.1f} s")
    if not args.skip_imaging:
        from dsa110_contimg.beam.h5model import write_airy_model
        from dsa110_contimg.beam.vptable import build_vp_table
        from dsa110_contimg.imaging.pipeline import image_group
        from dsa110_contimg.imaging.wsclean_image import wsclean_available

        h5 = os.path.join(args.work, "beam.h5")
        write_airy_model(h5, [1.35e9, 1.4e9, 1.45e9], 4.65)
        vp = build_vp_table(h5, os.path.join(args.work, "dsa110.vp"))
        print(f"imaging ({args.imsize}^2 pixels, niter 1000, 2 cores):")
        for backend in ("tclean", "wsclean"):
            if backend == "wsclean" and not wsclean_available():
                print("  wsclean    not installed (apt-get install wsclean)")
                continue
            icfg = {**cfg["imaging"], "backend": backend, "quick": True, "quick_imsize": args.imsize, "quick_niter": 1000}
            q = step(backend, lambda icfg=icfg: image_group(ms, os.path.join(args.work, f"img_{backend}"), {**cfg, "imaging": icfg}, vp, beam_h5=h5))
            print(f"             rms {1e3 * q['rms_jy']:.3f} mJy, peak {q['peak_jy']:.3f} Jy/beam, cell {q['geometry']['cell_arcsec']:.2f} arcsec")
        # the default path of the workflow: static beam + phase self-calibration (catalog = the
        # group's one simulated source, the calibrator) + catalog clean mask, then tclean
        from dsa110_contimg.imaging.beam_equalize import SkySource, equalize_beam
        from dsa110_contimg.imaging.tclean_image import image_geometry

        sky = [SkySource(cal.name, cal.ra_deg, cal.dec_deg, cal.flux_jy, cal.alpha)]
        icfg = {**cfg["imaging"], "quick": True, "quick_imsize": args.imsize, "quick_niter": 1000}
        geom = image_geometry(ms, icfg, 4.65)
        ref = 0.5 * (geom["freq_min_hz"] + geom["freq_max_hz"])
        eq = os.path.join(args.work, "static.ms")
        shutil.rmtree(eq, ignore_errors=True)
        step("static", lambda: equalize_beam(ms, eq, "corrected", sky, h5, cfg["telescope"], ref, geom["fov_deg"] / 2, 10.0, 10.0))
        shutil.rmtree(eq, ignore_errors=True)
        step("static+sc", lambda: equalize_beam(ms, eq, "corrected", sky, h5, cfg["telescope"], ref, geom["fov_deg"] / 2, 10.0, 10.0,
                                                 selfcal=True))
        shutil.rmtree(eq, ignore_errors=True)
        q = step("tclean+all", lambda: image_group(ms, os.path.join(args.work, "img_tclean_static"), {**cfg, "imaging": icfg}, vp,
                                                    beam_h5=h5, sky_sources=sky))
        print(f"             rms {1e3 * q['rms_jy']:.3f} mJy, peak {q['peak_jy']:.3f} Jy/beam (static beam, self-cal, catalog mask)")
    shutil.rmtree(ms, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
