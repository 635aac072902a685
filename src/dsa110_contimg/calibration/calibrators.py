"""Calibrator catalog and calibrator-transit detection.

Catalog file: CSV with columns ``name, ra_deg, dec_deg, flux_jy, alpha`` (ICRS degrees,
flux density at :data:`~dsa110_contimg.sky.REF_FREQ_HZ` (1.4 GHz) in Jy, spectral index
with S ~ nu^alpha); each row is a :class:`~dsa110_contimg.sky.PointSource`.  A group holds
a usable transit when the calibrator's primary-beam-weighted flux at the group's pointing
centre (meridian at mid-time, pointing declination), ``flux_jy * A(sep, 1.4 GHz)`` with
``A`` the Airy power pattern of the dish, is at least the configured threshold.
"""

from __future__ import annotations

import csv
import math
import os

from ..geometry import airy_power, angular_separation
from ..sky import REF_FREQ_HZ, PointSource

COLUMNS = ("name", "ra_deg", "dec_deg", "flux_jy", "alpha")


class CalibratorCatalogError(ValueError):
    """The calibrator catalog is missing, malformed, or lacks a requested calibrator."""


def read_catalog(path: str) -> list[PointSource]:
    """Read a calibrator catalog CSV (columns: name, ra_deg, dec_deg, flux_jy, alpha)."""
    if not path or not os.path.isfile(path):
        raise CalibratorCatalogError(f"calibrator catalog {path!r} not found; set calibration.catalog")
    out = []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CalibratorCatalogError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        for lineno, row in enumerate(reader, start=2):
            try:
                out.append(PointSource(row["name"].strip(), float(row["ra_deg"]), float(row["dec_deg"]), float(row["flux_jy"]), float(row["alpha"])))
            except ValueError:
                raise CalibratorCatalogError(f"{path}, line {lineno}: non-numeric value in {row}") from None
    return out


def write_catalog(cals: list[PointSource], path: str) -> None:
    """Write ``cals`` as a calibrator catalog CSV (the caller makes it atomic)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for c in cals:
            w.writerow([c.name, f"{c.ra_deg:.6f}", f"{c.dec_deg:.6f}", f"{c.flux_jy:.4f}", f"{c.alpha:.3f}"])


def lookup(cals: list[PointSource], name: str) -> PointSource:
    """The calibrator called ``name``; :class:`CalibratorCatalogError` if there is none."""
    for c in cals:
        if c.name == name:
            return c
    raise CalibratorCatalogError(f"calibrator {name!r} is not in the catalog ({', '.join(c.name for c in cals) or 'empty'})")


def beam_weighted_flux(cal: PointSource, *, ra0_deg: float, dec0_deg: float, dish_m: float) -> float:
    """``flux_jy * A`` at 1.4 GHz for a pointing centre (ra0, dec0) in degrees, dish diameter in metres."""
    sep = angular_separation(math.radians(cal.ra_deg), math.radians(cal.dec_deg), math.radians(ra0_deg), math.radians(dec0_deg))
    return float(cal.flux_jy * airy_power(sep, REF_FREQ_HZ, dish_m))


def transit_calibrator(cals: list[PointSource], *, ra0_deg: float, dec0_deg: float, min_flux_jy: float,
                       dish_m: float) -> PointSource | None:
    """The calibrator with the highest beam-weighted flux >= ``min_flux_jy`` (Jy) at (ra0, dec0) (degrees), or None."""
    def weighted(c):
        return beam_weighted_flux(c, ra0_deg=ra0_deg, dec0_deg=dec0_deg, dish_m=dish_m)

    best = max(cals, key=weighted, default=None)
    if best is None or weighted(best) < min_flux_jy:
        return None
    return best
