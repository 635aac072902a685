"""Apparent coordinates and sidereal time (astropy, offline).

All angles are radians; times are Julian Dates (UTC).  "Apparent" means topocentric
true-equator-true-equinox (astropy ``TETE`` with an ``EarthLocation``), so that the
local hour angle of a source is ``LAST - RA_app`` with LAST the local apparent
sidereal time.  IERS tables are the ones bundled with astropy (no downloads).
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import ICRS, TETE, EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers

from .startup_cache import bundled_iers_table

iers.conf.auto_download = False
iers.conf.auto_max_age = None
iers.earth_orientation_table.set(bundled_iers_table())


def location(lon_deg: float, lat_deg: float, height_m: float) -> EarthLocation:
    """EarthLocation from WGS84 geodetic longitude/latitude (deg) and height (m)."""
    return EarthLocation.from_geodetic(lon_deg * u.deg, lat_deg * u.deg, height_m * u.m)


def last_rad(times_jd, loc: EarthLocation) -> np.ndarray:
    """Local apparent sidereal time (radians) at each JD (UTC)."""
    t = Time(np.atleast_1d(times_jd), format="jd", scale="utc")
    return np.asarray(t.sidereal_time("apparent", longitude=loc.lon).to_value(u.rad))


def icrs_to_apparent(ra_rad, dec_rad, times_jd, loc: EarthLocation):
    """ICRS (ra, dec) -> apparent (ra, dec) at each time; arrays broadcast with times."""
    t = Time(np.atleast_1d(times_jd), format="jd", scale="utc")
    c = SkyCoord(ra=np.asarray(ra_rad) * u.rad, dec=np.asarray(dec_rad) * u.rad, frame=ICRS())
    app = c.transform_to(TETE(obstime=t, location=loc))
    return np.asarray(app.ra.to_value(u.rad)), np.asarray(app.dec.to_value(u.rad))


def apparent_to_icrs(ra_app_rad, dec_app_rad, time_jd, loc: EarthLocation):
    """Apparent (ra, dec) at ``time_jd`` -> ICRS (ra, dec), radians."""
    t = Time(time_jd, format="jd", scale="utc")
    c = SkyCoord(ra=ra_app_rad * u.rad, dec=dec_app_rad * u.rad, frame=TETE(obstime=t, location=loc))
    icrs = c.transform_to(ICRS())
    return float(icrs.ra.to_value(u.rad)), float(icrs.dec.to_value(u.rad))


def meridian_icrs(time_jd: float, dec_app_rad: float, loc: EarthLocation):
    """ICRS position of the point on the local meridian (HA = 0) at apparent dec, at ``time_jd``.

    This is the phase centre the converter uses: RA = LAST(mid-time), Dec = pointing
    declination, expressed in the apparent frame and converted to ICRS.
    """
    ra, dec = meridian_icrs_many(time_jd, dec_app_rad, loc)
    return float(ra[0]), float(dec[0])


def meridian_icrs_many(times_jd, dec_app_rad, loc: EarthLocation) -> tuple[np.ndarray, np.ndarray]:
    """:func:`meridian_icrs` at every time of ``times_jd`` at once (``dec_app_rad``: a value or
    one per time), radians: one astropy transform for all (a month of groups plans in a
    fraction of a second instead of ~10 ms each)."""
    t = np.atleast_1d(np.asarray(times_jd, float))
    lst = last_rad(t, loc)
    c = SkyCoord(ra=lst * u.rad, dec=np.broadcast_to(np.asarray(dec_app_rad, float), t.shape) * u.rad,
                 frame=TETE(obstime=Time(t, format="jd", scale="utc"), location=loc))
    icrs = c.transform_to(ICRS())
    return np.asarray(icrs.ra.to_value(u.rad)), np.asarray(icrs.dec.to_value(u.rad))


def hadec_of(ra_icrs_rad, dec_icrs_rad, times_jd, loc: EarthLocation):
    """Local apparent hour angle and declination (radians) of an ICRS direction at each time."""
    ra_app, dec_app = icrs_to_apparent(ra_icrs_rad, dec_icrs_rad, times_jd, loc)
    return np.angle(np.exp(1j * (last_rad(times_jd, loc) - ra_app))), dec_app


def _unit_itrs(coord, times, loc) -> np.ndarray:
    """Topocentric ITRS unit vectors (N, 3) of a SkyCoord (includes aberration and polar motion)."""
    from astropy.coordinates import ITRS  # noqa: PLC0415

    c = coord.transform_to(ITRS(obstime=times, location=loc))
    xyz = np.atleast_2d(c.cartesian.xyz.value.T)
    return xyz / np.linalg.norm(xyz, axis=-1, keepdims=True)


def direction_itrs(ra_rad, dec_rad, times_jd, loc: EarthLocation, frame: str = "icrs") -> np.ndarray:
    """Unit vectors (N, 3) in ITRS towards (ra, dec) at each time, as seen from ``loc``.

    ``frame`` is ``"icrs"`` or ``"apparent"`` (TETE of date).  The geometric delay of
    baseline ``b`` (ITRF metres) towards the direction is ``b . s / c``.
    """
    t = Time(np.atleast_1d(times_jd), format="jd", scale="utc")
    ra = np.broadcast_to(np.asarray(ra_rad, dtype=float), t.shape)
    dec = np.broadcast_to(np.asarray(dec_rad, dtype=float), t.shape)
    fr = ICRS() if frame == "icrs" else TETE(obstime=t, location=loc)
    c = SkyCoord(ra=ra * u.rad, dec=dec * u.rad, frame=fr)
    return _unit_itrs(c, t, loc)


def uvw_basis(ra_rad, dec_rad, times_jd, loc: EarthLocation, frame: str = "icrs", eps: float = 1e-6) -> np.ndarray:
    """(u, v, w) unit vectors in ITRS, shape (Nt, 3, 3) = [e_u, e_v, e_w] per time.

    ``e_w`` points to (ra, dec); ``e_v`` towards increasing dec of ``frame`` (north of
    that frame), ``e_u = e_v x e_w`` towards increasing RA (east).  Thus UVW computed
    with this basis are in the axes of the phase direction's own frame (ICRS for the
    MS), and include precession, nutation, aberration and polar motion.
    """
    times = np.atleast_1d(times_jd)
    n = times.size
    ra = np.broadcast_to(np.asarray(ra_rad, dtype=float), (n,))
    dec = np.broadcast_to(np.asarray(dec_rad, dtype=float), (n,))
    allra = np.concatenate([ra, ra, ra])
    alldec = np.concatenate([dec, dec + eps, dec - eps])
    s = direction_itrs(allra, alldec, np.concatenate([times, times, times]), loc, frame)
    ew = s[:n]
    dv = s[n : 2 * n] - s[2 * n :]
    dv -= np.sum(dv * ew, axis=1, keepdims=True) * ew
    ev = dv / np.linalg.norm(dv, axis=1, keepdims=True)
    eu = np.cross(ev, ew)
    return np.stack([eu, ev, ew], axis=1)
