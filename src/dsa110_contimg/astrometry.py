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

iers.conf.auto_download = False
iers.conf.auto_max_age = None


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
    lst = float(last_rad(time_jd, loc)[0])
    return apparent_to_icrs(lst, dec_app_rad, time_jd, loc)


def hadec_of(ra_icrs_rad, dec_icrs_rad, times_jd, loc: EarthLocation):
    """Local apparent hour angle and declination (radians) of an ICRS direction at each time."""
    ra_app, dec_app = icrs_to_apparent(ra_icrs_rad, dec_icrs_rad, times_jd, loc)
    return np.angle(np.exp(1j * (last_rad(times_jd, loc) - ra_app))), dec_app
