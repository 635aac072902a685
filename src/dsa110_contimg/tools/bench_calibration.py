"""Benchmark calibration and imaging on the full-size calibrator group of `make bench`.

    python -m dsa110_contimg.tools.bench_calibration [--work bench/work] [--imsize 2048] [--skip-imaging]

Copies bench/work/ours.ms (written by :mod:`.bench_conversion`: 96 antennas,
768 channels, 24 integrations, a calibrator transit) and times, in this process:
flagging (AOFlagger), the model (ft + beam), K/B/G solves, applycal, then imaging of the
calibrated group with each backend (tclean, and wsclean when installed) on the same
grid (``--imsize`` pixels, cell from 5 pixels per lambda/B_max, niter 1000).
Settings: the default config (config/config.yaml).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time

import psutil

from ..beam.h5model import write_airy_model
from ..beam.vptable import build_vp_table
from ..calibration import apply as apmod
from ..calibration.flagging import flag_ms
from ..calibration.model import set_calibrator_model
from ..calibration.solve import antenna_scores, pick_refant, solve
from ..casa_env import configure_casa
from ..imaging.beam_equalize import equalize_beam
from ..imaging.params import image_geometry
from ..imaging.pipeline import image_group
from ..imaging.wsclean_backend import wsclean_available
from ..provenance import config_hash
from ..settings import load_settings
from ..sky import PointSource


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dsa110_contimg.tools.bench_calibration", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="bench/work")
    ap.add_argument("--imsize", type=int, default=2048)
    ap.add_argument("--skip-imaging", action="store_true")
    args = ap.parse_args(argv)
    src = os.path.join(args.work, "ours.ms")
    if not os.path.isdir(src):
        print(f"{src} not found: run `make bench` first", file=sys.stderr)
        return 2
    configure_casa()
    ms = os.path.join(args.work, "cal.ms")
    shutil.rmtree(ms, ignore_errors=True)
    shutil.copytree(src, ms)
    settings = load_settings()
    with open(os.path.join(args.work, "truth.json")) as fh:
        s = json.load(fh)["sky"][0]
    cal = PointSource(s["name"], s["ra_deg"], s["dec_deg"], s["flux_jy"], s["alpha"])
    caldir = os.path.join(args.work, "cal")
    times = {}

    def step(name, fn):
        t = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t
        print(f"  {name:11s} {times[name]:6.1f} s   (RSS {psutil.Process().memory_info().rss / 1e9:.2f} GB)", flush=True)
        return out

    step("flag", lambda: flag_ms(ms, calibration=settings.calibration))
    step("model", lambda: set_calibrator_model(ms, cal, telescope=settings.telescope, workdir=args.work))
    refant = step("refant", lambda: pick_refant(ms, antenna_scores(ms), settings.calibration.refant))
    tabs = step("K+B+G", lambda: solve(ms, caldir=caldir, refant=refant, calibration=settings.calibration))
    step("applycal", lambda: apmod.apply(ms, tabs))
    print(f"  total      {sum(times.values()):6.1f} s")
    if not args.skip_imaging:
        h5 = os.path.join(args.work, "beam.h5")
        write_airy_model(h5, [1.35e9, 1.4e9, 1.45e9], settings.telescope.dish_diameter_m, telescope=settings.telescope.name)
        vp = build_vp_table(h5, os.path.join(args.work, "dsa110.vp"), telescope=settings.telescope.name, freq_hz=settings.imaging.vp_freq_hz)
        chash = config_hash(settings.as_dict())
        quick = dataclasses.replace(settings.imaging, quick=True, quick_imsize=args.imsize, quick_niter=1000)
        print(f"imaging ({args.imsize}^2 pixels, niter 1000, 2 cores):")
        for backend in ("tclean", "wsclean"):
            if backend == "wsclean" and not wsclean_available():
                print("  wsclean    not installed (apt-get install wsclean)")
                continue
            imaging = dataclasses.replace(quick, backend=backend)
            q = step(backend, lambda imaging=imaging, backend=backend: image_group(
                ms_path=ms, fits_prefix=os.path.join(args.work, f"img_{backend}"), imaging=imaging,
                telescope=settings.telescope, config_hash=chash, vptable=vp, beam_h5=h5))
            print(f"             rms {1e3 * q['rms_jy']:.3f} mJy, peak {q['peak_jy']:.3f} Jy/beam, cell {q['geometry']['cell_arcsec']:.2f} arcsec")
        # the default path of the workflow: static beam + phase self-calibration (catalog = the
        # group's one simulated source, the calibrator) + catalog clean mask, then tclean
        sky = [cal]
        geom = image_geometry(ms, imaging=quick, telescope=settings.telescope)
        ref = 0.5 * (geom["freq_min_hz"] + geom["freq_max_hz"])
        eq = os.path.join(args.work, "static.ms")
        static = dataclasses.replace(quick, static_beam_min_mjy=10.0, static_beam_max_radius_deg=10.0, flat_spectrum=False)
        for name, selfcal in (("static", False), ("static+sc", True)):
            shutil.rmtree(eq, ignore_errors=True)
            step(name, lambda selfcal=selfcal: equalize_beam(
                ms_in=ms, ms_out=eq, datacolumn="corrected", sources=sky, beam_h5=h5,
                imaging=dataclasses.replace(static, selfcal=selfcal), telescope=settings.telescope,
                ref_freq_hz=ref, half_width_deg=geom["fov_deg"] / 2))
        shutil.rmtree(eq, ignore_errors=True)
        q = step("tclean+all", lambda: image_group(
            ms_path=ms, fits_prefix=os.path.join(args.work, "img_tclean_static"), imaging=quick,
            telescope=settings.telescope, config_hash=chash, vptable=vp, beam_h5=h5, sky_sources=sky))
        print(f"             rms {1e3 * q['rms_jy']:.3f} mJy, peak {q['peak_jy']:.3f} Jy/beam (static beam, self-cal, catalog mask)")
    shutil.rmtree(ms, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
