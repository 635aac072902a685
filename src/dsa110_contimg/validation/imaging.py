"""Images of a simulated run against the simulator's truth.

For every science image: each injected source with pb > 0.5 and SNR > 50 -- pbcor peak
(Gaussian sub-pixel interpolation, :func:`~dsa110_contimg.imaging.qa.peak_subpixel`)
against its injected flux at the image frequency, and its position offset in units of the
synthesized beam (BMIN); and the image rms against the natural-weighting thermal noise
SEFD / sqrt(2 dnu dt) / sqrt(N unflagged samples), and against that noise for the Briggs
weights the run used (the ``imaging.robust`` its QA record holds).

Conventions: fluxes Jy, frequencies Hz, angles degrees; the truth dict is the simulator's
(``<run>/sim/truth.json``); images are indexed [y, x] (FITS order).
"""

from __future__ import annotations

import glob
import json
import math
import os

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from casacore import tables
from scipy.special import erf

from ..imaging.qa import peak_subpixel, weighting_noise_ratio
from ..settings import load_settings
from ..sky import REF_FREQ_HZ
from .calibration import read_truth

MIN_PB = 0.5
"""Sources are checked where the primary beam is above this ..."""
MIN_SNR = 50.0
"""... and their expected apparent peak is above this many image rms."""
BLEND_BMAJ = 1.5
"""A source with another injected source closer than this many BMAJ is left out (a peak is not a flux)."""
EDGE_PIX = 8
"""Sources closer than this to the image edge (pixels) are skipped."""
WITHIN = 0.03
"""The flux tolerance the summary counts against (3 %)."""


def expected_flux(source: dict, *, freq_hz: float, epoch: int, drift) -> float:
    """Injected flux (Jy) of a truth sky entry at ``freq_hz``, times the source's light curve
    (the ESE source) and the science-group gain drift of ``epoch`` (``drift``: per-epoch
    factors or None), which calibration cannot see (normalisation removes it later)."""
    expect = source["flux_jy"] * (freq_hz / REF_FREQ_HZ) ** source["alpha"] * source.get("lightcurve", [1.0] * (epoch + 1))[epoch]
    expect *= drift[epoch] if drift else 1.0
    return expect


def check_sources(image: np.ndarray, pb: np.ndarray, *, wcs: WCS, freq_hz: float, bmaj_deg: float, bmin_deg: float,
                  cell_deg: float, rms_jy: float, sky: list[dict], epoch: int, drift) -> tuple[list[dict], int]:
    """Injected sources in one pbcor ``image`` (2-D, Jy/beam) with primary beam ``pb``.

    ``wcs``: the celestial WCS; ``rms_jy``: the image rms (flat image, Jy/beam).  A source
    is checked when it lies :data:`EDGE_PIX` inside the image, pb > :data:`MIN_PB`, its
    expected apparent SNR >= :data:`MIN_SNR` and no other injected source is within
    :data:`BLEND_BMAJ` BMAJ.  Returns (one dict per checked source: name, expect_jy,
    peak_jy, offset_beam (BMIN units), pb, snr, z = (peak - expect) / (rms / pb),
    sigma_frac = rms / pb / expect; the number left out as blended).
    """
    out, blended = [], 0
    for s in sky:
        x, y = wcs.world_to_pixel_values(s["ra_deg"], s["dec_deg"])
        xi, yi = int(round(float(x))), int(round(float(y)))
        if not (EDGE_PIX <= xi < image.shape[1] - EDGE_PIX and EDGE_PIX <= yi < image.shape[0] - EDGE_PIX) \
                or not pb[yi, xi] > MIN_PB:
            continue
        expect = expected_flux(s, freq_hz=freq_hz, epoch=epoch, drift=drift)
        if expect * pb[yi, xi] / rms_jy < MIN_SNR:
            continue
        # a peak is not a flux when another source lies within 1.5 beams (photometry fits those jointly)
        sep = [math.hypot((o["ra_deg"] - s["ra_deg"]) * math.cos(math.radians(s["dec_deg"])), o["dec_deg"] - s["dec_deg"])
               for o in sky if o is not s]
        if min(sep) < BLEND_BMAJ * bmaj_deg:
            blended += 1
            continue
        # the peak within half a beam: a wider box can catch a brighter neighbour's flank
        peak, px, py = peak_subpixel(image, float(x), float(y), box=max(2, math.ceil(0.5 * bmin_deg / cell_deg)))
        out.append({
            "name": s["name"], "expect_jy": expect, "peak_jy": peak,
            "offset_beam": math.hypot(px - float(x), py - float(y)) * cell_deg / bmin_deg,
            "pb": pb[yi, xi], "snr": expect * pb[yi, xi] / rms_jy,
            "z": (peak - expect) / (rms_jy / pb[yi, xi]),
            "sigma_frac": rms_jy / pb[yi, xi] / expect,  # the image noise as a fraction of the flux
        })
    return out, blended


def thermal_noise_jy(*, sefd_jy: float, chan_width_hz: float, integration_s: float, n_samples: int) -> float:
    """Natural-weighting thermal noise of an image (Jy/beam): SEFD / sqrt(2 dnu dt) / sqrt(N)
    for ``n_samples`` unflagged visibility samples (channels x polarisations x baselines x times)."""
    return sefd_jy / math.sqrt(2 * chan_width_hz * integration_s) / math.sqrt(n_samples)


def ms_thermal_noise_jy(ms: str, sefd_jy: float) -> float:
    """:func:`thermal_noise_jy` of the unflagged cross-correlation samples of an MS."""
    with tables.table(ms, ack=False) as t:
        a1, a2, f = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("FLAG")
        tint = float(t.getcol("INTERVAL")[0])
    with tables.table(ms + "::SPECTRAL_WINDOW", ack=False) as t:
        dnu = float(abs(t.getcol("CHAN_WIDTH")[0][0]))
    return thermal_noise_jy(sefd_jy=sefd_jy, chan_width_hz=dnu, integration_s=tint, n_samples=(~f[a1 != a2]).sum())


def robust_of(qa: dict) -> tuple[float, str | None]:
    """(Briggs robust the image was made with, note): from the QA record's ``imaging``
    settings; an older QA record without them gets the default config's, with a note."""
    if "imaging" in qa:
        return qa["imaging"]["robust"], None
    robust = load_settings().imaging.robust
    return robust, f"note: {qa.get('ms', '?')}: QA record without imaging settings; assuming the default config's robust {robust}"


def check_image(qa: dict, *, group: str, truth: dict) -> dict:
    """One science image (its QA record ``qa``: fits paths, rms_jy, ms, geometry, backend,
    beam_arcsec) against ``truth``.  Returns group, backend, rms_jy, thermal_jy (natural),
    briggs_jy (thermal for the weights used), robust, note, beam_arcsec, sources and
    n_blended (:func:`check_sources`)."""
    h = fits.getheader(qa["fits"]["image.pbcor"])
    img = np.squeeze(fits.getdata(qa["fits"]["image.pbcor"]))
    pb = np.squeeze(fits.getdata(qa["fits"]["pb"]))
    epoch_of = {g["group_id"]: g["epoch"] for g in truth["groups"]}
    sources, blended = check_sources(img, pb, wcs=WCS(h).celestial, freq_hz=h["CRVAL3"], bmaj_deg=h["BMAJ"],
                                     bmin_deg=h["BMIN"], cell_deg=abs(h["CDELT2"]), rms_jy=qa["rms_jy"], sky=truth["sky"],
                                     epoch=epoch_of[group], drift=truth.get("science_scale"))
    thermal = ms_thermal_noise_jy(qa["ms"], truth["sefd_jy"])
    robust, note = robust_of(qa)
    geo = qa["geometry"]
    briggs = thermal * weighting_noise_ratio(qa["ms"], geo["imsize"], geo["cell_arcsec"], robust)
    return {"group": group, "backend": qa["backend"], "rms_jy": qa["rms_jy"], "thermal_jy": thermal, "briggs_jy": briggs,
            "robust": robust, "note": note, "beam_arcsec": qa["beam_arcsec"], "sources": sources, "n_blended": blended}


def summarize(images: list[dict]) -> dict | None:
    """Figures over every checked source of every image (None without any): flux ratio
    (measured / injected) median, largest |error| (%), counts within :data:`WITHIN`, the same
    for SNR > 100, what noise alone would give, per-source medians over epochs, z mean/std,
    and rms / Briggs thermal over the images."""
    src = [s for im in images for s in im["sources"]]
    if not src:
        return None
    r = np.array([s["peak_jy"] / s["expect_jy"] for s in src])
    z, snr = np.array([s["z"] for s in src]), np.array([s["snr"] for s in src])
    names = [s["name"] for s in src]
    rms_ratios = [im["rms_jy"] / im["briggs_jy"] for im in images]
    out = {
        "n": len(r), "ratio_median": np.median(r), "max_error_pct": 100 * np.max(np.abs(r - 1)),
        "n_within": int(np.sum(np.abs(r - 1) <= WITHIN)), "max_offset_beam": max(s["offset_beam"] for s in src),
        "snr100": None,
        # what noise alone would give: P(|N(0, sigma)| <= 3%) summed over the measurements
        "noise_alone_within": np.sum(erf(WITHIN / (np.array([s["sigma_frac"] for s in src]) * math.sqrt(2)))),
        "n_blended": sum(im["n_blended"] for im in images),
        "z_mean": z.mean(), "z_std": z.std(),
        "rms_ratio_min": min(rms_ratios), "rms_ratio_max": max(rms_ratios), "rms_ratio_median": np.median(rms_ratios),
    }
    hi = snr > 100
    if hi.any():
        out["snr100"] = {"n_within": int(np.sum(np.abs(r[hi] - 1) <= WITHIN)), "n": int(hi.sum()),
                         "max_error_pct": 100 * np.max(np.abs(r[hi] - 1))}
    per_source = {n: np.median(r[[i for i, m in enumerate(names) if m == n]]) - 1 for n in set(names)}
    worst = max(per_source, key=lambda n: abs(per_source[n]))
    out["per_source"] = {"n_within": sum(abs(v) <= WITHIN for v in per_source.values()), "n": len(per_source),
                         "worst": worst, "worst_pct": 100 * per_source[worst]}
    return out


def check_imaging(run: str) -> dict:
    """Every image of a run (``<run>/images/<date>/<group>/*.qa.json``) against its truth:
    ``{"images": [check_image(...)], "summary": summarize(...)}``."""
    truth = read_truth(run)
    images = []
    for qa_path in sorted(glob.glob(os.path.join(run, "images", "*", "*", "*.qa.json"))):
        with open(qa_path) as fh:
            qa = json.load(fh)
        images.append(check_image(qa, group=os.path.basename(qa_path)[: -len(".qa.json")], truth=truth))
    return {"images": images, "summary": summarize(images)}


def format_imaging(report: dict) -> list[str]:
    """The printed lines of :func:`check_imaging` (notes excluded: see ``image["note"]``)."""
    lines = []
    for im in report["images"]:
        rms, thermal, briggs = im["rms_jy"], im["thermal_jy"], im["briggs_jy"]
        lines.append(f"  {im['group']} ({im['backend']}): rms {1e3 * rms:.3f} mJy = {rms / thermal:.2f} x natural thermal "
                     f"({1e3 * thermal:.3f} mJy) = {rms / briggs:.2f} x thermal for the Briggs weights used ({1e3 * briggs:.3f} mJy); "
                     f"beam {im['beam_arcsec'][0]:.0f}x{im['beam_arcsec'][1]:.0f} arcsec; {len(im['sources'])} sources with SNR>50, pb>0.5")
        lines.append("\n".join(
            f"    {s['name']}: {s['expect_jy']:.3f} Jy injected, {s['peak_jy']:.3f} Jy measured "
            f"({100 * (s['peak_jy'] / s['expect_jy'] - 1):+.1f}%), offset {s['offset_beam']:.3f} beam, pb {s['pb']:.2f}"
            for s in im["sources"]))
    s = report["summary"]
    if s is None:
        return lines
    lines.append(f"  all: flux ratio median {s['ratio_median']:.3f}, max |error| {s['max_error_pct']:.1f}%, "
                 f"{s['n_within']}/{s['n']} within 3%, max offset {s['max_offset_beam']:.3f} beam (n = {s['n']})")
    if s["snr100"]:
        h = s["snr100"]
        lines.append(f"  SNR > 100: {h['n_within']}/{h['n']} within 3%, max |error| {h['max_error_pct']:.1f}%")
    lines.append(f"  noise alone (each measurement's rms/pb as its error) would put {s['noise_alone_within']:.0f}/{s['n']} within 3%")
    p = s["per_source"]
    lines.append(f"  per source, median over epochs: {p['n_within']}/{p['n']} within 3%, worst {p['worst']} {p['worst_pct']:+.1f}%")
    lines.append(f"  ({s['n_blended']} source-images with a neighbour within 1.5 BMAJ left out)")
    lines.append(f"  (measured - injected) / (rms / pb): mean {s['z_mean']:+.2f}, std {s['z_std']:.2f} (noise alone: 0, ~1)")
    lines.append(f"  rms / thermal for the Briggs weights: {s['rms_ratio_min']:.2f}-{s['rms_ratio_max']:.2f} "
                 f"(median {s['rms_ratio_median']:.2f})")
    return lines
