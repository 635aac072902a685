"""Station positions, telescope location and interferometer geometry.

Conventions
-----------
- Positions are ITRF/ECEF metres (WGS84 geodetic input, degrees in files).
- Baselines are ``x[ant2] - x[ant1]`` (pyuvdata's convention).  CASA's MS stores the
  negated UVW together with conjugated visibilities; :mod:`dsa110_contimg.conversion`
  does that flip when writing.
- Angles are radians in all functions here; UVW geometry lives in
  :mod:`dsa110_contimg.astrometry` (ITRS direction vectors from astropy).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import warnings
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

N_STATIONS = 117
C_M_S = 299_792_458.0


class StationFileError(ValueError):
    """The station-coordinates file cannot be used."""


class StationFileWarning(UserWarning):
    """A station-coordinates file was read, but a value had to be filled in."""


@dataclass(frozen=True)
class Stations:
    """Antenna table: names ``DSA-001``.. with geodetic positions.

    Attributes
    ----------
    names : list[str]
    numbers : np.ndarray of int  (station number, 1..117)
    lat_deg, lon_deg, height_m : np.ndarray of float  (WGS84)
    """

    names: list[str]
    numbers: np.ndarray
    lat_deg: np.ndarray
    lon_deg: np.ndarray
    height_m: np.ndarray

    def ecef(self) -> np.ndarray:
        """ITRF positions, shape (Nstations, 3), metres."""
        return geodetic_to_ecef(self.lat_deg, self.lon_deg, self.height_m)

    def __len__(self) -> int:
        return len(self.names)


def geodetic_to_ecef(lat_deg, lon_deg, height_m) -> np.ndarray:
    """WGS84 geodetic (deg, deg, m) -> ECEF metres, shape (N, 3)."""
    a = 6378137.0
    f = 1.0 / 298.257223563
    e2 = f * (2 - f)
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    h = np.asarray(height_m, dtype=float)
    n = a / np.sqrt(1 - e2 * np.sin(lat) ** 2)
    x = (n + h) * np.cos(lat) * np.cos(lon)
    y = (n + h) * np.cos(lat) * np.sin(lon)
    z = (n * (1 - e2) + h) * np.sin(lat)
    return np.stack([x, y, z], axis=-1)


def read_station_file(path: str) -> Stations:
    """Read a DSA-110 station-coordinates CSV.

    The real file has a few title lines, then a header row containing
    ``Station Number, Latitude, Longitude, Elevation (meters)``, then one row per
    station (``DSA-001`` ...).  A missing elevation is filled with the median
    elevation of the other stations and reported with a :class:`StationFileWarning`
    naming the station (DSA-117 in the real file has none).  A missing or
    non-numeric latitude/longitude is an error.
    """
    if not os.path.isfile(path):
        raise StationFileError(
            f"station file {path!r} does not exist; set telescope.station_file to the "
            "DSA110_Station_Coordinates.csv path, or leave it empty to use the built-in layout"
        )
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    header_idx = None
    for i, row in enumerate(rows):
        low = [c.strip().lower() for c in row]
        if any(c.startswith("station") for c in low) and any(c.startswith("lat") for c in low):
            header_idx = i
            break
    if header_idx is None:
        raise StationFileError(
            f"{path}: no header row with 'Station' and 'Latitude' columns found; "
            "expected the DSA-110 station-coordinates CSV layout"
        )
    header = [c.strip().lower() for c in rows[header_idx]]

    def col(prefix: str) -> int:
        for j, c in enumerate(header):
            if c.startswith(prefix):
                return j
        raise StationFileError(f"{path}: header row has no column starting with {prefix!r}: {rows[header_idx]}")

    js, jlat, jlon, jel = col("station"), col("lat"), col("lon"), col("elev")
    names, lat, lon, el, missing = [], [], [], [], []
    for lineno, row in enumerate(rows[header_idx + 1 :], start=header_idx + 2):
        if len(row) <= max(js, jlat, jlon) or not row[js].strip():
            continue
        name = row[js].strip()
        try:
            la, lo = float(row[jlat]), float(row[jlon])
        except ValueError:
            raise StationFileError(
                f"{path}, line {lineno}: station {name} has a missing or non-numeric "
                f"latitude/longitude ({row[jlat]!r}, {row[jlon]!r}); fix the file"
            ) from None
        e = row[jel].strip() if jel < len(row) else ""
        try:
            ev = float(e)
        except ValueError:
            ev = math.nan
            missing.append(name)
        names.append(name)
        lat.append(la)
        lon.append(lo)
        el.append(ev)
    if not names:
        raise StationFileError(f"{path}: header found but no station rows follow it")
    el_arr = np.array(el)
    if missing:
        good = el_arr[np.isfinite(el_arr)]
        if good.size == 0:
            raise StationFileError(f"{path}: no station has an elevation")
        fill = float(np.median(good))
        el_arr[~np.isfinite(el_arr)] = fill
        warnings.warn(
            f"{path}: station(s) {', '.join(missing)} have no elevation; using the median "
            f"elevation of the other stations, {fill:.1f} m",
            StationFileWarning,
            stacklevel=2,
        )
    numbers = np.array([_station_number(n) for n in names])
    return Stations(names, numbers, np.array(lat), np.array(lon), el_arr)


def _station_number(name: str) -> int:
    digits = "".join(ch for ch in name if ch.isdigit())
    if not digits:
        raise StationFileError(f"station name {name!r} carries no number (expected DSA-NNN)")
    return int(digits)


def builtin_t_layout(lat_deg: float = 37.2334, lon_deg: float = -118.2831, height_m: float = 1188.0) -> Stations:
    """An approximate DSA-110 layout: a T of 102 core stations plus 15 outriggers.

    Stations 1-51 form the east-west arm (5.75 m spacing, ~290 m), 52-102 the
    north-south arm (5.75 m spacing south of the junction, ~290 m), and 103-117 are
    outriggers on a ring of 0.4-1.3 km.  Only for use when no station file is
    configured; it is not the real array.
    """
    m_per_deg_lat = 111_132.0
    m_per_deg_lon = 111_320.0 * math.cos(math.radians(lat_deg))
    east, north = [], []
    for k in range(51):
        east.append((k - 25) * 5.75)
        north.append(0.0)
    for k in range(51):
        east.append(0.0)
        north.append(-(k + 1) * 5.75 - 10.0)
    rng = np.random.default_rng(110)
    for k in range(15):
        ang = 2 * math.pi * k / 15 + rng.uniform(-0.2, 0.2)
        r = 400.0 + 900.0 * (k % 5) / 4
        east.append(r * math.cos(ang))
        north.append(r * math.sin(ang))
    east, north = np.array(east), np.array(north)
    names = [f"DSA-{i:03d}" for i in range(1, N_STATIONS + 1)]
    return Stations(
        names,
        np.arange(1, N_STATIONS + 1),
        lat_deg + north / m_per_deg_lat,
        lon_deg + east / m_per_deg_lon,
        np.full(N_STATIONS, height_m),
    )


def load_stations(station_file: str | None) -> Stations:
    """Stations from ``station_file`` if given, else :func:`builtin_t_layout`."""
    if station_file:
        return read_station_file(station_file)
    return builtin_t_layout()


def airy_power(sep_rad, freq_hz, diameter_m: float):
    """Airy power pattern ``(2 J1(x)/x)^2`` with ``x = pi D sin(sep) nu / c``.

    ``sep_rad`` is the angle from the pointing centre (radians); broadcasts with
    ``freq_hz`` (Hz).  Returns 1 on axis.
    """
    from scipy.special import j1  # noqa: PLC0415

    x = np.pi * diameter_m * np.sin(np.asarray(sep_rad)) * np.asarray(freq_hz) / C_M_S
    out = np.ones(np.broadcast(x, x).shape)
    nz = np.abs(x) > 1e-12
    xv = np.broadcast_to(x, out.shape)[nz]
    out[nz] = (2.0 * j1(xv) / xv) ** 2
    return out


def angular_separation(ra1, dec1, ra2, dec2):
    """Great-circle separation (radians) between (ra1, dec1) and (ra2, dec2), radians."""
    s = np.sin(dec1) * np.sin(dec2) + np.cos(dec1) * np.cos(dec2) * np.cos(np.asarray(ra1) - ra2)
    return np.arccos(np.clip(s, -1.0, 1.0))
