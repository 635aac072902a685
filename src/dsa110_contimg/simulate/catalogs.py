"""NVSS-, VLASS- and FIRST-like survey tables of the simulator's sky, with catalog errors.

Each sky source is a dict with ``name``, ``ra_deg``, ``dec_deg`` (ICRS), ``flux_jy``
(1.4 GHz), ``alpha`` (S ~ nu^alpha), ``kind``; an optional ``major_arcsec`` gives an
intrinsic deconvolved FWHM major axis (arcsec, default 0 = point source) seen by FIRST.

Error models (all fluxes mJy in the files, 1-sigma errors, drawn independently per
survey from ``numpy.random.default_rng([seed, 7, k])``, k = 0 NVSS, 1 VLASS, 2 FIRST):

- NVSS (``nvss.csv``; columns NVSS, RAJ2000 ``"hh mm ss.ss"``, DEJ2000
  ``"+dd mm ss.s"``, S1.4, e_S1.4): every source with true S1.4 > 2.5 mJy.  Flux noise
  ``sqrt((0.03 S)^2 + rms^2)``, rms = 0.45 mJy; position error per coordinate
  ``sqrt(0.5"^2 + (0.6 * 45" / (S/rms))^2)`` (~0.5" bright, ~5" at the limit).
  ``e_S1.4`` holds the thermal error (rms) only, so ``S/e_S1.4`` is the detection
  significance; the 3 % scale term is in the drawn flux but not in that column.
- VLASS (``vlass.csv``; Component_name, RA, DEC in degrees, Total_flux, E_Total_flux,
  Peak_flux, E_Peak_flux): true 3 GHz flux ``S1.4 (3/1.4)^alpha`` above 1 mJy, 10 %
  multiplicative scatter (quick-look calibration) plus 0.12 mJy rms (E_Total_flux
  includes both terms, E_Peak_flux the rms only); positions
  ``sqrt(0.5"^2 + (0.6 * 2.5" / snr)^2)`` per coordinate.
- FIRST (``first.tsv``; FIRST, RA, DEC degrees, FPEAK, FINT, RMS, MAJ, MIN deconvolved
  arcsec): true S1.4 > 1 mJy; 5 % scatter plus 0.15 mJy rms; positions 0.5" per
  coordinate; MAJ = major_arcsec + |N(0, 1.5")|, MIN = |N(0, 1.5")| (<= MAJ).
"""

from __future__ import annotations

import csv
import os

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord

from ..atomic import atomic_path

NVSS_LIMIT_MJY = 2.5
NVSS_RMS_MJY = 0.45
NVSS_BEAM_ARCSEC = 45.0
VLASS_LIMIT_MJY = 1.0
VLASS_RMS_MJY = 0.12
VLASS_BEAM_ARCSEC = 2.5
VLASS_SCATTER = 0.10
FIRST_LIMIT_MJY = 1.0
FIRST_RMS_MJY = 0.15
FIRST_SCATTER = 0.05
POS_SYS_ARCSEC = 0.5


def format_ra_hms(ra_deg: float, ndp: int = 2) -> str:
    """RA degrees -> ``"hh mm ss.ss"`` (hours), rounding carried into minutes/hours."""
    unit = 10**ndp
    total = round((ra_deg % 360.0) / 15.0 * 3600.0 * unit) % (24 * 3600 * unit)
    h, rem = divmod(total, 3600 * unit)
    m, s = divmod(rem, 60 * unit)
    return f"{h:02d} {m:02d} {s / unit:0{3 + ndp}.{ndp}f}"


def format_dec_dms(dec_deg: float, ndp: int = 1) -> str:
    """Dec degrees -> ``"+dd mm ss.s"``, rounding carried into minutes/degrees."""
    unit = 10**ndp
    total = round(abs(dec_deg) * 3600.0 * unit)
    d, rem = divmod(total, 3600 * unit)
    m, s = divmod(rem, 60 * unit)
    sign = "-" if dec_deg < 0 and total > 0 else "+"
    return f"{sign}{d:02d} {m:02d} {s / unit:0{3 + ndp}.{ndp}f}"


def _jname(ra_deg: float, dec_deg: float) -> str:
    """IAU-style ``Jhhmmss.ss+ddmmss.s`` from a position."""
    return "J" + format_ra_hms(ra_deg).replace(" ", "") + format_dec_dms(dec_deg).replace(" ", "")


def _offset(ra_deg, dec_deg, sigma_arcsec, rng) -> tuple[np.ndarray, np.ndarray]:
    """Positions displaced by Gaussian errors ``sigma_arcsec`` per coordinate (on the sky)."""
    n = len(ra_deg)
    dra = rng.normal(0.0, 1.0, n) * sigma_arcsec
    ddec = rng.normal(0.0, 1.0, n) * sigma_arcsec
    if n == 0:
        return np.zeros(0), np.zeros(0)
    c = SkyCoord(np.asarray(ra_deg) * u.deg, np.asarray(dec_deg) * u.deg, frame="icrs")
    moved = c.spherical_offsets_by(dra * u.arcsec, ddec * u.arcsec)
    return moved.ra.deg % 360.0, moved.dec.deg


def _write_table(path: str, header: list[str], rows: list[list], delimiter: str, comment: str = "") -> str:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        if comment:
            fh.write(f"# {comment}\n")
        w = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def write_survey_tables(sky: list[dict], *, seed: int, out_dir: str) -> dict[str, str]:
    """Write ``nvss.csv``, ``vlass.csv`` and ``first.tsv`` into ``out_dir`` (atomically).

    Deterministic for a given ``sky`` and ``seed``.  Returns ``{'nvss', 'vlass', 'first'}``
    -> path.  See the module doc for columns and error models.
    """
    os.makedirs(out_dir, exist_ok=True)
    ra = np.array([float(s["ra_deg"]) for s in sky])
    dec = np.array([float(s["dec_deg"]) for s in sky])
    s14 = np.array([float(s["flux_jy"]) for s in sky]) * 1e3  # mJy
    alpha = np.array([float(s["alpha"]) for s in sky])
    # sky data, not config: "major_arcsec" is optional (the simulator's sky is all point sources)
    major = np.array([float(s.get("major_arcsec", 0.0) or 0.0) for s in sky])
    n = len(sky)
    paths = {}

    # NVSS
    rng = np.random.default_rng([seed, 7, 0])
    sigma_s = np.sqrt((0.03 * s14) ** 2 + NVSS_RMS_MJY**2)
    s_obs = s14 + rng.normal(0.0, 1.0, n) * sigma_s
    snr = np.maximum(s14 / NVSS_RMS_MJY, 1.0)
    pos_sig = np.sqrt(POS_SYS_ARCSEC**2 + (0.6 * NVSS_BEAM_ARCSEC / snr) ** 2)
    ra_o, dec_o = _offset(ra, dec, pos_sig, rng)
    keep = np.flatnonzero(s14 > NVSS_LIMIT_MJY)
    rows = [[_jname(ra_o[k], dec_o[k]), format_ra_hms(ra_o[k]), format_dec_dms(dec_o[k]), f"{s_obs[k]:.2f}", f"{NVSS_RMS_MJY:.2f}"] for k in keep]
    paths["nvss"] = _write_table(os.path.join(out_dir, "nvss.csv"), ["NVSS", "RAJ2000", "DEJ2000", "S1.4", "e_S1.4"], rows, ",")

    # VLASS
    rng = np.random.default_rng([seed, 7, 1])
    s3 = s14 * (3.0 / 1.4) ** alpha
    s3_obs = s3 * (1.0 + VLASS_SCATTER * rng.normal(0.0, 1.0, n)) + VLASS_RMS_MJY * rng.normal(0.0, 1.0, n)
    peak_obs = s3_obs + VLASS_RMS_MJY * rng.normal(0.0, 1.0, n)
    snr3 = np.maximum(s3 / VLASS_RMS_MJY, 1.0)
    pos_sig = np.sqrt(POS_SYS_ARCSEC**2 + (0.6 * VLASS_BEAM_ARCSEC / snr3) ** 2)
    ra_o, dec_o = _offset(ra, dec, pos_sig, rng)
    keep = np.flatnonzero(s3 > VLASS_LIMIT_MJY)
    e_tot = np.sqrt((VLASS_SCATTER * s3_obs) ** 2 + VLASS_RMS_MJY**2)
    rows = [
        ["VLASS1QLCIR " + _jname(ra_o[k], dec_o[k]), f"{ra_o[k]:.6f}", f"{dec_o[k]:.6f}",
         f"{s3_obs[k]:.3f}", f"{e_tot[k]:.3f}", f"{peak_obs[k]:.3f}", f"{VLASS_RMS_MJY:.3f}"]
        for k in keep
    ]
    header = ["Component_name", "RA", "DEC", "Total_flux", "E_Total_flux", "Peak_flux", "E_Peak_flux"]
    paths["vlass"] = _write_table(os.path.join(out_dir, "vlass.csv"), header, rows, ",")

    # FIRST
    rng = np.random.default_rng([seed, 7, 2])
    fint = s14 * (1.0 + FIRST_SCATTER * rng.normal(0.0, 1.0, n)) + FIRST_RMS_MJY * rng.normal(0.0, 1.0, n)
    maj = major + np.abs(rng.normal(0.0, 1.5, n))
    mnr = np.minimum(np.abs(rng.normal(0.0, 1.5, n)), maj)
    # Gaussian source elongated along its major axis, 5.4" FIRST beam: peak = int / sqrt(1 + (maj/5.4")^2)
    fpeak = fint / np.sqrt(1.0 + (maj / 5.4) ** 2) + FIRST_RMS_MJY * rng.normal(0.0, 1.0, n)
    ra_o, dec_o = _offset(ra, dec, np.full(n, POS_SYS_ARCSEC), rng)
    keep = np.flatnonzero(s14 > FIRST_LIMIT_MJY)
    rows = [
        [_jname(ra_o[k], dec_o[k]), f"{ra_o[k]:.6f}", f"{dec_o[k]:.6f}", f"{fpeak[k]:.2f}", f"{fint[k]:.2f}",
         f"{FIRST_RMS_MJY:.3f}", f"{maj[k]:.2f}", f"{mnr[k]:.2f}"]
        for k in keep
    ]
    header = ["FIRST", "RA", "DEC", "FPEAK", "FINT", "RMS", "MAJ", "MIN"]
    paths["first"] = _write_table(
        os.path.join(out_dir, "first.tsv"), header, rows, "\t", comment=f"FIRST-like catalogue of the simulated sky, seed {seed}; mJy, deg, arcsec"
    )
    return paths
