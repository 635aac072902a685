#!/usr/bin/env python
"""Compare a simulated run's calibration products with the simulator's truth.

    python scripts/calibration_vs_truth.py [results]

For every calibrator transit: delay residuals (ns rms, relative to the reference antenna),
bandpass amplitude (% rms) and phase (deg rms) residuals over unflagged channels,
solutions flagged on working antennas, and whether the dead antenna was flagged.  For
every group: the fraction of injected RFI samples flagged and of clean samples flagged.
"""

from __future__ import annotations

import glob
import json
import os
import sys

import numpy as np
from casacore import tables

from dsa110_contimg.calibration import qa
from dsa110_contimg.simulate import truthcheck


def main(out: str) -> int:
    with open(os.path.join(out, "sim", "truth.json")) as fh:
        truth = json.load(fh)
    by_gid = {g["group_id"]: g for g in truth["groups"]}
    print("calibrator transits:")
    for path in sorted(glob.glob(os.path.join(out, "caltables", "*.json"))):
        s = json.load(open(path))
        ref = int(s["refant"].split("-")[1])
        dres, dflag = truthcheck.delay_residuals(qa.read_caltable(s["tables"]["K"]), truth, ref)
        dres = dres[~dflag]
        amp, ph = truthcheck.bandpass_residuals(qa.read_caltable(s["tables"]["B"]), truth, ref)
        bs = s["stats"]["B"]["summary"]
        dead_ok = s["dead_antennas"] == [f"DSA-{truth['dead_antenna']:03d}"]
        print(f"  {os.path.basename(path)[:-5]}: refant {s['refant']}, delay rms {np.sqrt(np.mean(np.square(dres))):.3f} ns, "
              f"bandpass amp {100 * np.sqrt(np.mean(amp**2)):.2f}% / phase {np.sqrt(np.mean(ph**2)):.2f} deg rms, "
              f"B flagged on working antennas {100 * bs['flagged_fraction_working']:.1f}% "
              f"({100 * bs.get('flagged_fraction_working_usable_channels', float('nan')):.1f}% outside RFI-flagged channels), "
              f"dead antenna flagged: {dead_ok}")
    print("flagging:")
    for path in sorted(glob.glob(os.path.join(out, "flags", "*.json"))):
        gid = os.path.basename(path)[:-5]
        g = by_gid[gid]
        rfi = truth["rfi"][str(g["index"])]
        ms = os.path.join(out, "ms", f"{gid}.ms")
        with tables.table(ms, ack=False) as t:
            f, a1, a2, tm = t.getcol("FLAG"), t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("TIME")
        nch, dead = f.shape[1], truth["dead_antenna"] - 1
        good = (a1 != a2) & (a1 != dead) & (a2 != dead)  # rows are time-major
        ff = f[good].reshape(len(np.unique(tm)), -1, nch, 2)
        mask = np.zeros(ff.shape, bool)
        mask[:, :, [nch - 1 - c for c in rfi["channels"]]] = True
        mask[rfi["times"]] = True
        print(f"  {gid} ({g['kind']}): injected RFI flagged {100 * ff[mask].mean():.1f}%, clean data flagged {100 * ff[~mask].mean():.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "results"))
