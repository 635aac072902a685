"""Compare a simulated run's calibration, images and photometry with the simulator's truth.

    python -m dsa110_contimg.tools.truth [results] [--only calibration imaging photometry]

Calibration (:mod:`dsa110_contimg.validation.calibration`): for every calibrator transit,
delay residuals (ns rms, relative to the reference antenna), bandpass amplitude (% rms)
and phase (deg rms) residuals over unflagged channels, solutions flagged on working
antennas, and whether the dead antenna was flagged; for every group, the fraction of
injected RFI samples flagged and of clean samples flagged.

Imaging (:mod:`dsa110_contimg.validation.imaging`): pbcor peaks of isolated injected
sources against their injected flux, position offsets, image rms against thermal noise.

Photometry (:mod:`dsa110_contimg.validation.photometry`): corrections against the injected
drift, chi2_nu of stable sources, ESE detection; writes
``<results>/photometry/truth_check.json`` and ``corrections_vs_truth.png``.
"""

from __future__ import annotations

import argparse
import sys

from ..validation.calibration import check_calibration, format_calibration
from ..validation.imaging import check_imaging, format_imaging
from ..validation.photometry import check_run, format_photometry

CHECKS = ("calibration", "imaging", "photometry")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dsa110_contimg.tools.truth", description=__doc__.splitlines()[0])
    ap.add_argument("run", nargs="?", default="results", help="the run's output directory (default results)")
    ap.add_argument("--only", nargs="+", choices=CHECKS, default=list(CHECKS))
    args = ap.parse_args(argv)
    if "calibration" in args.only:
        print("\n".join(format_calibration(check_calibration(args.run))), flush=True)
    if "imaging" in args.only:
        report = check_imaging(args.run)
        for im in report["images"]:
            if im["note"]:
                print(im["note"], file=sys.stderr)
        lines = format_imaging(report)
        if lines:
            print("\n".join(lines), flush=True)
    if "photometry" in args.only:
        print("\n".join(format_photometry(check_run(args.run))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
