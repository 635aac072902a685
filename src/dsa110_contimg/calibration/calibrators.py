"""Calibrator catalog and calibrator-transit detection.

Catalog file: CSV with columns ``name, ra_deg, dec_deg, flux_jy, alpha`` (ICRS degrees,
flux density at 1.4 GHz in Jy, spectral index with S ~ nu^alpha).  A group holds a
usable transit when the calibrator's primary-beam-weighted flux at the group's
pointing centre (meridian at mid-time, pointing declination),
``flux_jy * A(sep, 1.4 GHz)`` with ``A`` the Airy power pattern of a 4.65 m dish,
is at least the configured threshold.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

from ..geometry import DISH_DIAMETER_M, airy_power, angular_separation

COLUMNS = ("name", "ra_deg", "dec_deg", "flux_jy", "alpha")
REF_FREQ_HZ = 1.4e9


class CalibratorCatalogError(ValueError):
    """The calibrator catalog is missing, malformed, or lacks a requested calibrator."""


@dataclass(frozen=True)
class Calibrator:
    name: str
    ra_deg: float
    dec_deg: float
    flux_jy: float
    alpha: float

    def flux_at(self, freq_hz):
        """Flux density (Jy) at ``freq_hz``."""
        return self.flux_jy * (freq_hz / REF_FREQ_HZ) ** self.alpha


def read_catalog(path: str) -> list[Calibrator]:
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
                out.append(Calibrator(row["name"].strip(), float(row["ra_deg"]), float(row["dec_deg"]), float(row["flux_jy"]), float(row["alpha"])))
            except ValueError:
                raise CalibratorCatalogError(f"{path}, line {lineno}: non-numeric value in {row}") from None
    return out


def write_catalog(cals: list[Calibrator], path: str) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for c in cals:
            w.writerow([c.name, f"{c.ra_deg:.6f}", f"{c.dec_deg:.6f}", f"{c.flux_jy:.4f}", f"{c.alpha:.3f}"])


def lookup(cals: list[Calibrator], name: str) -> Calibrator:
    for c in cals:
        if c.name == name:
            return c
    raise CalibratorCatalogError(f"calibrator {name!r} is not in the catalog ({', '.join(c.name for c in cals) or 'empty'})")


def beam_weighted_flux(cal: Calibrator, ra0_deg: float, dec0_deg: float, dish_m: float = DISH_DIAMETER_M) -> float:
    """``flux_jy * A`` at 1.4 GHz for a pointing centre (ra0, dec0) in degrees."""
    sep = angular_separation(math.radians(cal.ra_deg), math.radians(cal.dec_deg), math.radians(ra0_deg), math.radians(dec0_deg))
    return float(cal.flux_jy * airy_power(sep, REF_FREQ_HZ, dish_m))


def transit_calibrator(cals: list[Calibrator], ra0_deg: float, dec0_deg: float, min_flux_jy: float, dish_m: float = DISH_DIAMETER_M):
    """The calibrator with the highest beam-weighted flux >= ``min_flux_jy`` at (ra0, dec0), or None."""
    best = max(cals, key=lambda c: beam_weighted_flux(c, ra0_deg, dec0_deg, dish_m), default=None)
    if best is None or beam_weighted_flux(best, ra0_deg, dec0_deg, dish_m) < min_flux_jy:
        return None
    return best
