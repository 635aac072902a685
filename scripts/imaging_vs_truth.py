#!/usr/bin/env python
"""Compare a simulated run's images with the simulator's truth.

    python scripts/imaging_vs_truth.py [results]

For every science image: each injected source with pb > 0.5 and SNR > 50 -- pbcor peak
(Gaussian sub-pixel interpolation) against its injected flux at the image frequency, and
its position offset in units of the synthesized beam (BMIN); and the image rms against
the natural-weighting thermal noise SEFD / sqrt(2 dnu dt) / sqrt(N unflagged samples).
"""

from __future__ import annotations

import glob
import json
import math
import os
import sys

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from casacore import tables

from dsa110_contimg.config import load_config
from dsa110_contimg.imaging.qa import peak_subpixel, weighting_noise_ratio


def main(out: str) -> int:
    truth = json.load(open(os.path.join(out, "sim", "truth.json")))
    sim_sefd = truth["sefd_jy"]
    ratios, offsets, zs, snrs, rms_ratios, sigmas, names = [], [], [], [], [], [], []
    blended = 0
    robust = load_config()["imaging"]["robust"]  # the weighting of the default config's images
    epoch_of = {g["group_id"]: g["epoch"] for g in truth["groups"]}
    drift = truth.get("science_scale")
    for qa_path in sorted(glob.glob(os.path.join(out, "images", "*.qa.json"))):
        qa = json.load(open(qa_path))
        gid = os.path.basename(qa_path)[: -len(".qa.json")]
        h = fits.getheader(qa["fits"]["image.pbcor"])
        img = np.squeeze(fits.getdata(qa["fits"]["image.pbcor"]))
        pb = np.squeeze(fits.getdata(qa["fits"]["pb"]))
        w = WCS(h).celestial
        nu = h["CRVAL3"]
        lines = []
        for s in truth["sky"]:
            x, y = w.world_to_pixel_values(s["ra_deg"], s["dec_deg"])
            xi, yi = int(round(float(x))), int(round(float(y)))
            if not (8 <= xi < img.shape[1] - 8 and 8 <= yi < img.shape[0] - 8) or not pb[yi, xi] > 0.5:
                continue
            # injected flux at the image frequency, times the source's light curve (the ESE
            # source) and the science-group gain drift of the epoch (which calibration cannot
            # see; normalisation removes it later)
            ep = epoch_of[gid]
            expect = s["flux_jy"] * (nu / 1.4e9) ** s["alpha"] * s.get("lightcurve", [1.0] * (ep + 1))[ep]
            expect *= drift[ep] if drift else 1.0
            if expect * pb[yi, xi] / qa["rms_jy"] < 50:
                continue
            # a peak is not a flux when another source lies within 1.5 beams (photometry fits those jointly)
            sep = [math.hypot((o["ra_deg"] - s["ra_deg"]) * math.cos(math.radians(s["dec_deg"])), o["dec_deg"] - s["dec_deg"])
                   for o in truth["sky"] if o is not s]
            if min(sep) < 1.5 * h["BMAJ"]:
                blended += 1
                continue
            peak, px, py = peak_subpixel(img, float(x), float(y))
            off = math.hypot(px - float(x), py - float(y)) * abs(h["CDELT2"]) / h["BMIN"]
            ratios.append(peak / expect)
            offsets.append(off)
            snrs.append(expect * pb[yi, xi] / qa["rms_jy"])
            zs.append((peak - expect) / (qa["rms_jy"] / pb[yi, xi]))
            sigmas.append(qa["rms_jy"] / pb[yi, xi] / expect)  # the image noise as a fraction of the flux
            names.append(s["name"])
            lines.append(f"    {s['name']}: {expect:.3f} Jy injected, {peak:.3f} Jy measured ({100 * (peak / expect - 1):+.1f}%), offset {off:.3f} beam, pb {pb[yi, xi]:.2f}")
        ms = qa["ms"]
        with tables.table(ms, ack=False) as t:
            a1, a2, f = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("FLAG")
            tint = float(t.getcol("INTERVAL")[0])
        with tables.table(ms + "::SPECTRAL_WINDOW", ack=False) as t:
            dnu = float(abs(t.getcol("CHAN_WIDTH")[0][0]))
        thermal = sim_sefd / math.sqrt(2 * dnu * tint) / math.sqrt((~f[a1 != a2]).sum())
        geo = qa["geometry"]
        briggs = thermal * weighting_noise_ratio(ms, geo["imsize"], geo["cell_arcsec"], robust)
        rms_ratios.append(qa["rms_jy"] / briggs)
        print(f"  {gid} ({qa['backend']}): rms {1e3 * qa['rms_jy']:.3f} mJy = {qa['rms_jy'] / thermal:.2f} x natural thermal "
              f"({1e3 * thermal:.3f} mJy) = {qa['rms_jy'] / briggs:.2f} x thermal for the Briggs weights used ({1e3 * briggs:.3f} mJy); "
              f"beam {qa['beam_arcsec'][0]:.0f}x{qa['beam_arcsec'][1]:.0f} arcsec; {len(lines)} sources with SNR>50, pb>0.5")
        print("\n".join(lines))
    if ratios:
        r, z, snr = np.array(ratios), np.array(zs), np.array(snrs)
        print(f"  all: flux ratio median {np.median(r):.3f}, max |error| {100 * np.max(np.abs(r - 1)):.1f}%, "
              f"{int(np.sum(np.abs(r - 1) <= 0.03))}/{len(r)} within 3%, max offset {max(offsets):.3f} beam (n = {len(r)})")
        hi = snr > 100
        if hi.any():
            print(f"  SNR > 100: {int(np.sum(np.abs(r[hi] - 1) <= 0.03))}/{int(hi.sum())} within 3%, max |error| {100 * np.max(np.abs(r[hi] - 1)):.1f}%")
        # what noise alone would give: P(|N(0, sigma)| <= 3%) summed over the measurements
        from scipy.special import erf  # noqa: PLC0415

        sig = np.array(sigmas)
        print(f"  noise alone (each measurement's rms/pb as its error) would put {np.sum(erf(0.03 / (sig * math.sqrt(2)))):.0f}/{len(r)} within 3%")
        per_source = {n: np.median(r[[i for i, m in enumerate(names) if m == n]]) - 1 for n in set(names)}
        worst = max(per_source, key=lambda n: abs(per_source[n]))
        print(f"  per source, median over epochs: {sum(abs(v) <= 0.03 for v in per_source.values())}/{len(per_source)} within 3%, "
              f"worst {worst} {100 * per_source[worst]:+.1f}%")
        print(f"  ({blended} source-images with a neighbour within 1.5 BMAJ left out)")
        print(f"  (measured - injected) / (rms / pb): mean {z.mean():+.2f}, std {z.std():.2f} (noise alone: 0, ~1)")
        print(f"  rms / thermal for the Briggs weights: {min(rms_ratios):.2f}-{max(rms_ratios):.2f} (median {np.median(rms_ratios):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "results"))
