"""python -m dsa110_contimg.beam.cli --h5 BEAM.h5 --out dsa110.vp [--telescope OVRO_DSA] [--freq-hz 1.4e9]"""

from __future__ import annotations

import argparse
import sys

from ..sky import REF_FREQ_HZ
from .h5model import BeamModelError
from .vptable import build_vp_table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="dsa110-beam", description="Build a CASA VP table from an H5 beam model")
    ap.add_argument("--h5", required=True, help="H5 beam model (see dsa110_contimg.beam.h5model for the layout)")
    ap.add_argument("--out", required=True, help="output VP table")
    ap.add_argument("--telescope", default="OVRO_DSA", help="telescope name the MS carries (OBSERVATION::TELESCOPE_NAME)")
    ap.add_argument("--freq-hz", type=float, default=REF_FREQ_HZ, help="frequency of the pattern (nearest in the model)")
    ap.add_argument("--npix", type=int, default=129)
    a = ap.parse_args(argv)
    try:
        print(build_vp_table(a.h5, a.out, telescope=a.telescope, freq_hz=a.freq_hz, npix=a.npix))
    except BeamModelError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
