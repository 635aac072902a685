"""What to image: the data column, the image grid (cell, imsize, niter) and the w-projection planes.

``cell`` defaults to a third of the synthesized beam (lambda_min / B_max, divided by
``imaging.pixels_per_beam``); ``imsize`` defaults to the smallest even size whose field
holds the primary beam down to ``pblimit`` at the lowest frequency.  ``quick`` caps
imsize (enlarging the cell so the beam still fits) and niter.
"""

from __future__ import annotations

import math

import numpy as np
from casacore import tables

from ..geometry import C_M_S, airy_power
from ..settings import Imaging, Telescope

ROWS_PER_CHUNK = 20000
"""Rows read at a time when a whole visibility column is checked."""


class ImagingError(RuntimeError):
    """The MS or the imaging parameters cannot make a valid image; the message says why."""


def pb_radius_deg(freq_hz: float, pblimit: float, dish_m: float) -> float:
    """Radius (deg) where the Airy power pattern of a ``dish_m`` (m) dish at ``freq_hz`` (Hz) falls to ``pblimit``."""
    if not 0.0 < pblimit < 1.0:
        raise ValueError(f"pblimit {pblimit}: must lie between 0 and 1")
    # bisection (scipy.optimize costs ~0.7 s to import, more than a job's work) between the
    # axis and the first null, where the pattern falls monotonically from 1 to 0
    lo, hi = 0.0, math.asin(min(1.0, 3.8317 * C_M_S / (math.pi * dish_m * freq_hz)))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if airy_power(mid, freq_hz, dish_m) > pblimit else (lo, mid)
    return math.degrees(0.5 * (lo + hi))


def choose_datacolumn(ms_path: str, requested: str = "auto") -> str:
    """'corrected' when CORRECTED_DATA holds calibrated data, else 'data' (``auto``).

    A CORRECTED_DATA column that is all zero where unflagged is an error, not a fallback.
    """
    with tables.table(ms_path, ack=False) as t:
        cols = t.colnames()
        if requested == "data" or ("CORRECTED_DATA" not in cols and requested == "auto"):
            return "data"
        if "CORRECTED_DATA" not in cols:
            raise ImagingError(f"{ms_path}: has no CORRECTED_DATA column (imaging.datacolumn = corrected)")
        n_good = n_nonzero = 0
        for r0 in range(0, t.nrows(), ROWS_PER_CHUNK):  # chunks: a full-size column is 1.35 GB
            nr = min(ROWS_PER_CHUNK, t.nrows() - r0)
            good = t.getcol("CORRECTED_DATA", r0, nr)[~t.getcol("FLAG", r0, nr)]
            if not np.all(np.isfinite(good)):
                raise ImagingError(f"{ms_path}: CORRECTED_DATA holds non-finite values where unflagged")
            n_good += good.size
            n_nonzero += int(np.count_nonzero(good))
    if n_good == 0:
        raise ImagingError(f"{ms_path}: every visibility is flagged; nothing to image")
    if n_nonzero == 0:
        raise ImagingError(f"{ms_path}: CORRECTED_DATA is all zero where unflagged; re-run the calibration (snakemake calibrated) "
                           "or set imaging.datacolumn: data")
    return "corrected"


def image_geometry(ms_path: str, *, imaging: Imaging, telescope: Telescope) -> dict:
    """cell (arcsec), imsize, niter, synthesized beam (arcsec), primary-beam radius and field
    (deg), frequency range (Hz), largest w (wavelengths) and w-planes; checks the request."""
    with tables.table(ms_path, ack=False) as t:
        uvw = t.getcol("UVW")
    with tables.table(f"{ms_path}::SPECTRAL_WINDOW", ack=False) as t:
        f = t.getcol("CHAN_FREQ")[0]
    bmax = float(np.max(np.hypot(uvw[:, 0], uvw[:, 1])))
    beam_arcsec = math.degrees(C_M_S / f.max() / bmax) * 3600
    r_pb = pb_radius_deg(f.min(), imaging.pblimit, telescope.dish_diameter_m)
    cell = imaging.cell_arcsec or beam_arcsec / imaging.pixels_per_beam
    need = 2 * r_pb * 3600 / cell
    imsize = imaging.imsize or int(2 * math.ceil(need * 1.05 / 2))
    niter = imaging.niter
    if imaging.quick:
        if imsize > imaging.quick_imsize:
            cell *= imsize / imaging.quick_imsize
            imsize = imaging.quick_imsize
        niter = min(niter, imaging.quick_niter)
    fov_deg = imsize * cell / 3600
    if fov_deg < 2 * r_pb:
        raise ImagingError(
            f"{ms_path}: imsize {imsize} x cell {cell:.2f} arcsec = {fov_deg:.2f} deg cannot hold the primary beam "
            f"down to pblimit {imaging.pblimit} ({2 * r_pb:.2f} deg across at {f.min() / 1e6:.0f} MHz); "
            "raise imaging.imsize or imaging.cell_arcsec, or leave them 0 for automatic values"
        )
    wmax_lambda = float(np.max(np.abs(uvw[:, 2]))) * f.max() / C_M_S
    nw = imaging.wprojplanes or w_planes(wmax_lambda, math.radians(fov_deg / 2), imaging.wproj_phase_tol_rad)
    return {"cell_arcsec": cell, "imsize": imsize, "niter": niter, "beam_arcsec": beam_arcsec, "pb_radius_deg": r_pb,
            "fov_deg": fov_deg, "freq_min_hz": float(f.min()), "freq_max_hz": float(f.max()),
            "wmax_lambda": wmax_lambda, "wprojplanes": int(nw)}


def reference_freq_hz(geometry: dict) -> float:
    """The image's reference frequency (Hz): the middle of the band (what tclean's mfs image is at)."""
    return 0.5 * (geometry["freq_min_hz"] + geometry["freq_max_hz"])


def w_planes(wmax_lambda: float, radius_rad: float, tol_rad: float) -> int:
    """Number of w-projection planes keeping the w-term phase step below ``tol_rad``.

    The w-term phase at angular radius theta is 2 pi w (sqrt(1 - theta^2) - 1) ~ -pi w theta^2
    (w in wavelengths); over |w| <= wmax it spans pi wmax theta^2, cut into steps of at
    most ``tol_rad``.  Clipped to [8, 512].  Too few planes lose flux far from the phase
    centre (16 planes on the 4 deg demo field: peaks ~1.5% low at 1 deg).
    """
    return int(min(512, max(8, math.ceil(math.pi * wmax_lambda * radius_rad**2 / tol_rad))))
