"""Forced photometry at catalog positions on a primary-beam-corrected image.

Measurement model
-----------------
A point source of flux S (Jy) at catalog position x0 appears on the flat-noise image
``F = pbcor * pb`` (Jy/beam, the image before primary-beam correction) as
``S pb(x0) B(x - x0)``, where ``B`` is the restoring beam (header BMAJ/BMIN/BPA, an
elliptical Gaussian with peak 1) and pb varies negligibly across one beam.  The noise of
``F`` is stationary, so the matched filter over a box of pixels i around x0,

    A = sum_i B_i F_i / sum_i B_i^2,      S = A / pb(x0),

is the least-squares amplitude of the beam with uniform weights on ``F`` -- identical
to weighting the pbcor image by the local inverse noise variance pb^2.  Positions are
held at the catalog values (sub-pixel offsets enter B exactly); nothing is fitted but
the amplitude.

Errors: image noise is correlated over the beam (by the dirty beam, sidelobes and all),
so the error is not rms/sqrt(sum B^2).  It is measured, not modelled: the same matched
filter is applied everywhere (``A(x) = (F * B)(x) / sum B^2``, an FFT convolution) and
sigma_A is the robust (1.4826 MAD) standard deviation of A(x) in an annulus
(``annulus_beams`` x BMAJ) around the source, other catalog sources masked.  That is the
scatter this very estimator shows on blank sky near the source, whatever the noise
correlation.  error(S) = sigma_A / pb(x0).  ``rms_jy`` is the plain pixel rms of ``F`` in
the same annulus, in pbcor units (rms / pb).  The annulus of the filtered map skips
pixels within a box half-size of the pblimit boundary (the filter is damped there).
With too few annulus pixels (< 20) the error falls back to the image-wide robust scatter
of the filtered map (or, failing that, rms * g, g = sqrt(sum_ij B_i B_j B(x_i - x_j)) /
sum_i B_i^2: noise correlated like the restoring beam).

Blends: sources closer than ``blend_beams`` x BMAJ to each other are fitted jointly
(linear least squares for all amplitudes over the union of their boxes) and flagged
``blended``; their errors are scaled by sqrt((M^-1)_kk sum B^2) with M the normal matrix.
Flags (';'-joined): ``edge`` (box leaves the image or touches pixels below pblimit),
``blended``, ``nofit`` (no finite measurement).  Catalog sources between ``pblimit`` and
``pb_min`` are not reported but still enter joint fits and the annulus masks.  The grid
must be a standard celestial one (RA increasing to the left, no rotation).

Positions: catalog RA/Dec (ICRS, degrees) through the image WCS.  Fluxes in Jy, mjd is
the image's MJD-OBS (or DATE-OBS) in UTC.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.time import Time
from astropy.wcs import WCS

from ..settings import Photometry

log = logging.getLogger(__name__)

COLUMNS = ["source_id", "ra_deg", "dec_deg", "mjd", "group", "flux_jy", "flux_err_jy", "rms_jy", "pb", "snr", "flags"]
FWHM_TO_SIGMA = 1.0 / math.sqrt(8.0 * math.log(2.0))


class PhotometryError(ValueError):
    """A bad input to forced photometry (message names the file and the fix)."""


@dataclass
class Image:
    """A pbcor image and its primary beam on the same grid (2-D arrays, y then x)."""

    pbcor: np.ndarray
    pb: np.ndarray
    wcs: WCS
    bmaj_deg: float
    bmin_deg: float
    bpa_deg: float
    cell_deg: float
    mjd: float
    path: str


def load_image(pbcor_path: str, pb_path: str) -> Image:
    """Read a pbcor FITS and its pb FITS; the beam and time come from the pbcor header."""
    with fits.open(pbcor_path) as hd:
        h = hd[0].header
        data = np.squeeze(hd[0].data).astype(np.float64)
    missing = [k for k in ("BMAJ", "BMIN", "BPA") if k not in h]
    if missing:
        raise PhotometryError(
            f"{pbcor_path}: no restoring-beam keywords {', '.join(missing)} in the FITS header; forced photometry "
            "needs the beam shape -- export the image with its beam (the imaging rule writes BMAJ/BMIN/BPA)"
        )
    if data.ndim != 2:
        raise PhotometryError(f"{pbcor_path}: expected one image plane, found shape {data.shape}")
    with fits.open(pb_path) as hd:
        pb = np.squeeze(hd[0].data).astype(np.float64)
    if pb.shape != data.shape:
        raise PhotometryError(f"{pb_path}: primary beam shape {pb.shape} differs from the image {data.shape} of {pbcor_path}")
    if "MJD-OBS" in h:
        mjd = float(h["MJD-OBS"])
    elif "DATE-OBS" in h:
        mjd = float(Time(h["DATE-OBS"], scale="utc").mjd)
    else:
        raise PhotometryError(f"{pbcor_path}: neither MJD-OBS nor DATE-OBS in the header; the measurement has no time")
    w = WCS(h).celestial
    from astropy.wcs.utils import proj_plane_pixel_scales  # noqa: PLC0415

    pc = w.wcs.get_pc()
    if not (abs(pc[0, 1]) < 1e-9 and abs(pc[1, 0]) < 1e-9 and w.wcs.get_cdelt()[0] * pc[0, 0] < 0 < w.wcs.get_cdelt()[1] * pc[1, 1]):
        raise PhotometryError(f"{pbcor_path}: rotated or flipped pixel grid; forced photometry needs RA increasing to the "
                              "left and Dec upwards (regrid the image, e.g. with reproject)")
    cell = float(proj_plane_pixel_scales(w)[1])
    return Image(data, pb, w, float(h["BMAJ"]), float(h["BMIN"]), float(h["BPA"]), cell, mjd, pbcor_path)


def beam_on_grid(dx: np.ndarray, dy: np.ndarray, img: Image) -> np.ndarray:
    """Restoring beam (peak 1) at pixel offsets (dx along +x, dy along +y = north).

    BPA is measured from north through east; on a standard RA---/DEC-- grid +x points
    east-to-west reversed (RA decreases with x), so east = -x.
    """
    sx = img.bmaj_deg / img.cell_deg * FWHM_TO_SIGMA
    sy = img.bmin_deg / img.cell_deg * FWHM_TO_SIGMA
    pa = math.radians(img.bpa_deg)
    # rotate pixel offsets into (major, minor): major axis direction (east = -x) at PA from north (+y)
    u = -dx * math.sin(pa) + dy * math.cos(pa)
    v = dx * math.cos(pa) + dy * math.sin(pa)
    return np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2))


def noise_factor(img: Image, half: int) -> float:
    """g = sqrt(sum_ij B_i B_j rho_ij) / sum_i B_i^2 for beam-correlated noise (rho = B)."""
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(float)
    b = beam_on_grid(xx, yy, img)
    # sum_ij B_i B_j B(x_i - x_j) = sum_d B(d) (B * B)(d): autocorrelation via FFT
    n = 4 * half + 3
    pad = np.zeros((n, n))
    pad[: b.shape[0], : b.shape[1]] = b
    ft = np.fft.rfft2(pad)
    auto = np.fft.irfft2(ft * np.conj(ft), s=pad.shape)
    auto = np.fft.fftshift(auto)
    c = n // 2
    yy2, xx2 = np.mgrid[-c : n - c, -c : n - c].astype(float)
    return float(math.sqrt(max(np.sum(auto * beam_on_grid(xx2, yy2, img)), 0.0)) / np.sum(b * b))


def measure(img: Image, sources: pd.DataFrame, group: str, *, photometry: Photometry, pblimit: float) -> pd.DataFrame:
    """Forced photometry of catalog ``sources`` (columns source_id, ra_deg, dec_deg) on ``img``.

    ``photometry`` gives ``pb_min``, ``box_beams``, ``annulus_beams`` and ``blend_beams``;
    ``pblimit`` is the image's primary-beam cut-off (``imaging.pblimit``).  One row
    (:data:`COLUMNS`) per source inside the image with pb >= ``pb_min``; sources outside
    it get no row.  ``blend_beams`` should be at least 2 x ``box_beams`` so that sources
    whose fit boxes overlap are fitted jointly.
    """
    pb_min, box_beams = photometry.pb_min, photometry.box_beams
    annulus_beams, blend_beams = photometry.annulus_beams, photometry.blend_beams
    ny, nx = img.pbcor.shape
    flat = img.pbcor * img.pb
    usable = np.isfinite(flat) & (img.pb >= pblimit)
    x, y = img.wcs.world_to_pixel_values(sources["ra_deg"].to_numpy(float), sources["dec_deg"].to_numpy(float))
    x, y = np.asarray(x, float), np.asarray(y, float)
    xi, yi = np.round(x).astype(int), np.round(y).astype(int)
    inside = (xi >= 0) & (xi < nx) & (yi >= 0) & (yi < ny)
    pb0 = np.full(len(x), np.nan)
    pb0[inside] = img.pb[yi[inside], xi[inside]]
    fit = np.flatnonzero(inside & (np.nan_to_num(pb0) >= pblimit))  # fitted and masked
    report = set(np.flatnonzero(inside & (np.nan_to_num(pb0) >= pb_min)).tolist())  # reported
    bmaj_px = img.bmaj_deg / img.cell_deg
    half = max(2, int(math.ceil(box_beams * bmaj_px)))
    r_in, r_out = (a * bmaj_px for a in annulus_beams)
    filtered = matched_filter_map(np.where(usable, flat, 0.0), img, half)
    from scipy import ndimage  # noqa: PLC0415

    # the filtered map is damped within `half` of unusable pixels: keep those out of its annulus
    usable_f = ndimage.binary_erosion(usable, iterations=half)
    v = filtered[usable_f]
    global_sig = float(1.4826 * np.median(np.abs(v - np.median(v)))) if v.size else float("nan")
    # sources closer than blend_beams * BMAJ form groups (friends of friends) fitted jointly
    groups = _friends(x[fit], y[fit], blend_beams * bmaj_px)
    rows = []
    for members in groups:
        idx = fit[members]
        if not report.intersection(idx.tolist()):
            continue
        x0, x1 = int(np.floor(x[idx].min())) - half, int(np.ceil(x[idx].max())) + half
        y0, y1 = int(np.floor(y[idx].min())) - half, int(np.ceil(y[idx].max())) + half
        edge = x0 < 0 or y0 < 0 or x1 >= nx or y1 >= ny
        xs, ys = slice(max(x0, 0), min(x1, nx - 1) + 1), slice(max(y0, 0), min(y1, ny - 1) + 1)
        yy, xx = np.mgrid[ys, xs].astype(float)
        patch, ok = flat[ys, xs], usable[ys, xs]
        near = np.zeros(patch.shape, bool)
        for k in idx:
            near |= np.hypot(xx - x[k], yy - y[k]) <= half
        edge = edge or not np.all(ok[near])
        m = near & ok
        design = np.stack([beam_on_grid(xx[m] - x[k], yy[m] - y[k], img) for k in idx], axis=1)  # (Npix, Nsrc)
        flags = ["edge"] if edge else []
        if len(idx) > 1:
            flags.append("blended")
        amp = np.full(len(idx), np.nan)
        scale = np.full(len(idx), np.nan)
        if design.shape[0] >= 3 * len(idx):
            normal = design.T @ design
            try:
                cov = np.linalg.inv(normal)
                amp = cov @ (design.T @ patch[m])
                single = np.sum(design**2, axis=0)
                scale = np.sqrt(np.clip(np.diag(cov) * single, 0.0, None))
            except np.linalg.LinAlgError:
                pass
        for j, k in enumerate(idx):
            if k not in report:
                continue
            rms = _annulus_rms(flat, usable, x[k], y[k], r_in, r_out, x[fit], y[fit], half)
            sig_a = _annulus_rms(filtered, usable_f, x[k], y[k], r_in, r_out, x[fit], y[fit], half)
            if not np.isfinite(sig_a):  # too few annulus pixels (image edge): the image-wide value
                sig_a = global_sig if np.isfinite(global_sig) else noise_factor(img, half) * rms
            err_flat = sig_a * scale[j]
            s = amp[j] / pb0[k]
            e = err_flat / pb0[k]
            f = list(flags)
            if not (np.isfinite(s) and np.isfinite(e) and e > 0):
                f.append("nofit")
            rows.append({
                "source_id": str(sources["source_id"].iloc[k]), "ra_deg": float(sources["ra_deg"].iloc[k]),
                "dec_deg": float(sources["dec_deg"].iloc[k]), "mjd": img.mjd, "group": group,
                "flux_jy": float(s), "flux_err_jy": float(e), "rms_jy": float(rms / pb0[k]), "pb": float(pb0[k]),
                "snr": float(s / e) if e > 0 else float("nan"), "flags": ";".join(f),
            })
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.sort_values("source_id", kind="stable").reset_index(drop=True)


def matched_filter_map(flat: np.ndarray, img: Image, half: int) -> np.ndarray:
    """A(x) = sum_i B(x_i - x) F_i / sum_i B^2 at every pixel (the isolated-source amplitude)."""
    from scipy.signal import fftconvolve  # noqa: PLC0415

    yy, xx = np.mgrid[-half : half + 1, -half : half + 1].astype(float)
    b = beam_on_grid(xx, yy, img)
    return fftconvolve(flat, b[::-1, ::-1], mode="same") / np.sum(b * b)


def _friends(x: np.ndarray, y: np.ndarray, link: float) -> list[np.ndarray]:
    """Friends-of-friends groups of points closer than ``link`` (pixels)."""
    n = len(x)
    label = np.arange(n)
    for i in range(n):
        for j in range(i + 1, n):
            if math.hypot(x[i] - x[j], y[i] - y[j]) < link:
                a, b = label[i], label[j]
                label[label == b] = a
    return [np.flatnonzero(label == lab) for lab in np.unique(label)]


def _annulus_rms(flat, usable, x0, y0, r_in, r_out, xs, ys, mask_r) -> float:
    """Robust rms (1.4826 MAD about the median) of the flat image in an annulus, sources masked."""
    ny, nx = flat.shape
    r = int(math.ceil(r_out))
    ya, yb = max(int(y0) - r, 0), min(int(y0) + r + 1, ny)
    xa, xb = max(int(x0) - r, 0), min(int(x0) + r + 1, nx)
    yy, xx = np.mgrid[ya:yb, xa:xb].astype(float)
    d = np.hypot(xx - x0, yy - y0)
    m = (d >= r_in) & (d <= r_out) & usable[ya:yb, xa:xb]
    for xk, yk in zip(xs, ys):
        if abs(xk - x0) < r_out + mask_r and abs(yk - y0) < r_out + mask_r:
            m &= np.hypot(xx - xk, yy - yk) > mask_r
    v = flat[ya:yb, xa:xb][m]
    if v.size < 20:
        return float("nan")
    return float(1.4826 * np.median(np.abs(v - np.median(v))))
