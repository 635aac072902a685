"""An H5 beam model's power pattern towards a source drifting through a meridian-pointed beam.

The beam A_s(t, nu) is the H5 model's Stokes-I power pattern at the source's offset from
the pointing (meridian at each integration, pointing declination), with the offset
scaled by nu / nu_model from the nearest model frequency (a dish pattern scales with
frequency).  Offsets are direction cosines (east, north) of the source relative to the
pointing; the pattern's phi is measured from north through east, as in the VP table.
Used by the static beam (imaging) and the field-gain model (calibration).
"""

from __future__ import annotations

import math

import h5py
import numpy as np

from ..kernels import direction_cosines
from ..msmeta import DriftGeometry
from ..sky import PointSource
from .h5model import read_model
from .vptable import jones_at


def power_at(model: dict, theta_rad: np.ndarray, phi_rad: np.ndarray) -> np.ndarray:
    """Stokes-I power pattern 0.5 sum |J|^2 of an H5 beam model at (theta, phi), radians.

    Bilinear in theta and (periodically) in phi; 0 beyond the model's theta range.
    """
    j = jones_at(model, np.asarray(theta_rad, float), np.asarray(phi_rad, float))
    return 0.5 * np.sum(np.abs(j) ** 2, axis=0)


def load_beams(beam_h5: str) -> dict[float, dict]:
    """Every frequency of the H5 beam model: {model frequency (Hz): model}, read once."""
    with h5py.File(beam_h5, "r") as f:
        mf = np.asarray(f["freq_hz"][()], float)
    return {float(nu): read_model(beam_h5, float(nu)) for nu in mf}


def source_beam(beams: dict[float, dict], src: PointSource, geo: DriftGeometry, freqs_hz=None) -> np.ndarray:
    """A_s[t, chan]: the power beam towards ``src`` at each integration and frequency
    (``freqs_hz``, default the MS channels), from the nearest model frequency with the
    angle scaled by nu / nu_model (a dish pattern scales with frequency)."""
    freqs = geo.freqs_hz if freqs_hz is None else np.atleast_1d(np.asarray(freqs_hz, float))
    ra, dec = math.radians(src.ra_deg), math.radians(src.dec_deg)
    l, m, _ = direction_cosines(ra, dec, geo.pointing_ra, geo.pointing_dec)  # (Nt,) east, north of the pointing
    theta0 = np.arcsin(np.clip(np.hypot(l, m), 0, 1))
    phi = np.mod(np.arctan2(l, m), 2 * np.pi)
    mf = np.array(sorted(beams))
    nearest = mf[np.argmin(np.abs(freqs[:, None] - mf[None, :]), axis=1)]
    out = np.empty((geo.times.size, freqs.size))
    for nu_m in np.unique(nearest):
        chans = np.flatnonzero(nearest == nu_m)
        th = theta0[:, None] * (freqs[chans] / nu_m)[None, :]
        out[:, chans] = power_at(beams[float(nu_m)], th, np.broadcast_to(phi[:, None], th.shape))
    return out
