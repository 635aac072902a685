"""Measurement Set metadata and drift-scan geometry, read in one place.

Conventions: MS ``TIME`` is MJD seconds (UTC); Julian Dates are ``TIME / 86400 + 2400000.5``.
Angles are radians.  ``freqs_hz`` are the channel frequencies in the order the MS stores
them (the converter writes ascending frequency).  The phase centre is ``FIELD::PHASE_DIR``
(ICRS); the drift-scan pointing is the meridian (local apparent sidereal time) at the
pointing declination of each integration, converted to ICRS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from casacore import tables

from . import astrometry


def phase_centre_rad(ms_path: str) -> tuple[float, float]:
    """(RA, Dec) of the MS's first field's phase centre, ICRS radians."""
    with tables.table(f"{ms_path}::FIELD", ack=False) as t:
        ra, dec = t.getcol("PHASE_DIR")[0, 0]
    return float(ra), float(dec)


def pointing_dec_rad(ms_path: str) -> float:
    """Pointing declination (radians): the raw files' ``phase_center_dec``, kept by the
    converter in the MS keyword ``DSA110_PROVENANCE``; else the phase centre's declination."""
    with tables.table(ms_path, ack=False) as t:
        kw = t.getkeywords()
    if "DSA110_PROVENANCE" in kw:
        prov = json.loads(kw["DSA110_PROVENANCE"])
        if "pointing_dec_rad" in prov:
            return float(prov["pointing_dec_rad"])
    return phase_centre_rad(ms_path)[1]


def unique_times_s(ms_path: str) -> np.ndarray:
    """The MS's integration times (``TIME``, MJD seconds), unique and ascending."""
    with tables.table(ms_path, ack=False) as t:
        return np.unique(t.getcol("TIME"))


def channel_freqs_hz(ms_path: str) -> np.ndarray:
    """Channel frequencies (Hz) of the first spectral window, as stored."""
    with tables.table(f"{ms_path}::SPECTRAL_WINDOW", ack=False) as t:
        return t.getcol("CHAN_FREQ")[0]


def antenna_names(ms_path: str) -> list[str]:
    with tables.table(f"{ms_path}::ANTENNA", ack=False) as t:
        return list(t.getcol("NAME"))


def mjd_s_to_jd(times_s) -> np.ndarray:
    """MS ``TIME`` (MJD seconds) to Julian Date."""
    return np.asarray(times_s) / 86400.0 + 2400000.5


def pointing_ra_offsets_rad(ms_path: str, *, location) -> np.ndarray:
    """RA offsets (radians, wrapped to (-pi, pi]) of the drift-scan pointing (meridian) at each
    integration from the meridian at mid-time (the phase centre)."""
    lst = astrometry.last_rad(mjd_s_to_jd(unique_times_s(ms_path)), location)
    return np.angle(np.exp(1j * (lst - 0.5 * (lst[0] + lst[-1]))))


@dataclass
class DriftGeometry:
    """What the drift-scan beam and the fringe kernels need of an MS."""

    times: np.ndarray  # unique TIME values (MJD seconds), ascending
    freqs_hz: np.ndarray  # channel frequencies as stored (any order)
    ra0: float  # phase centre, ICRS radians
    dec0: float
    pointing_ra: np.ndarray  # ICRS RA of the pointing (meridian) at each time, radians
    pointing_dec: np.ndarray  # ICRS Dec of the pointing at each time, radians

    @property
    def phase_centre(self) -> tuple[float, float]:
        return self.ra0, self.dec0

    def time_index(self, time_s: np.ndarray) -> np.ndarray:
        """Index into :attr:`times` of each row's ``TIME``."""
        return np.clip(np.searchsorted(self.times, time_s), 0, self.times.size - 1)


def drift_geometry(ms_path: str, *, location) -> DriftGeometry:
    """Times, frequencies, phase centre and drift-scan pointing (meridian at each integration)
    of ``ms_path``; ``location`` is the array's ``EarthLocation`` (``Telescope.location``)."""
    times = unique_times_s(ms_path)
    ra0, dec0 = phase_centre_rad(ms_path)
    dec_p = pointing_dec_rad(ms_path)
    jd = mjd_s_to_jd(times)
    lst = astrometry.last_rad(jd, location)
    pra, pdec = np.empty_like(jd), np.empty_like(jd)
    for k, (j, s) in enumerate(zip(jd, lst)):
        pra[k], pdec[k] = astrometry.apparent_to_icrs(float(s), dec_p, float(j), location)
    return DriftGeometry(times, channel_freqs_hz(ms_path), ra0, dec0, pra, pdec)
