"""The H5 beam-model file.

Layout (all datasets required)::

    /freq_hz              (Nf,)            float64, Hz
    /theta_rad            (Nth,)           float64, angle from boresight, radians, ascending from 0
    /phi_rad              (Nph,)           float64, azimuth about boresight, radians, [0, 2 pi)
    /X/ephi, /X/etheta    (Nf, Nth, Nph)   complex64, far-field E components of the X feed
    /Y/ephi, /Y/etheta    (Nf, Nth, Nph)   complex64, same for the Y feed
    attrs: telescope, dish_diameter_m, description

Amplitudes are voltage patterns normalised to 1 on boresight.  The simulator writes
this file from the Airy pattern it uses (:func:`write_airy_model`), so truth and model
agree: ideal feeds without cross-polarisation, X.ephi = V(theta), Y.etheta = -V(theta),
X.etheta = Y.ephi = 0, hence Jxx = Jyy = V with the Jones mapping of :mod:`.vptable`.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

from ..atomic import atomic_path
from ..geometry import C_M_S

REQUIRED = ("freq_hz", "theta_rad", "phi_rad", "X/ephi", "X/etheta", "Y/ephi", "Y/etheta")


class BeamModelError(ValueError):
    """The H5 beam model is missing a dataset or has inconsistent shapes."""


def airy_voltage(theta_rad, freq_hz, dish_m: float) -> np.ndarray:
    """Airy voltage pattern 2 J1(x)/x, x = pi D sin(theta) nu / c (power pattern squared)."""
    from scipy.special import j1

    x = np.pi * dish_m * np.sin(np.asarray(theta_rad)) * np.asarray(freq_hz) / C_M_S
    out = np.ones(np.broadcast(x, x).shape)
    nz = np.abs(x) > 1e-12
    xv = np.broadcast_to(x, out.shape)[nz]
    out[nz] = 2.0 * j1(xv) / xv
    return out


def write_airy_model(path: str, freqs_hz, dish_m: float, *, telescope: str, theta_max_deg: float = 10.0,
                     ntheta: int = 201, nphi: int = 72) -> None:
    """Write the simulator's beam (ideal Airy, 4.65 m dish) in the H5 layout above."""
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    theta = np.radians(np.linspace(0.0, theta_max_deg, ntheta))
    phi = np.linspace(0.0, 2 * np.pi, nphi, endpoint=False)
    v = airy_voltage(theta[None, :, None], freqs[:, None, None], dish_m)  # (Nf, Nth, 1)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f["freq_hz"] = freqs
        f["theta_rad"] = theta
        f["phi_rad"] = phi
        # ideal feeds, no cross-polarisation: Jxx = X.ephi = V, Jyy = -Y.etheta = V
        zero = np.zeros((freqs.size, theta.size, phi.size), np.complex64)
        full = np.broadcast_to(v, zero.shape).astype(np.complex64)
        f["X/ephi"] = full
        f["X/etheta"] = zero
        f["Y/ephi"] = zero
        f["Y/etheta"] = -full
        f.attrs["telescope"] = telescope
        f.attrs["dish_diameter_m"] = dish_m
        f.attrs["description"] = "Airy pattern of a uniformly illuminated dish (dsa110_contimg simulator)"


def read_model(path: str, freq_hz: float) -> dict:
    """Read the model at the frequency nearest ``freq_hz``; validate every dataset and shape.

    Returns theta, phi (radians), freq (Hz) and the four complex patterns (Nth, Nph).
    """
    if not os.path.isfile(path):
        raise BeamModelError(f"beam model {path} not found")
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise BeamModelError(f"{path}: not a readable HDF5 file ({err})") from None
    with f:
        missing = [k for k in REQUIRED if k not in f]
        if missing:
            raise BeamModelError(f"{path}: missing dataset(s) {', '.join(missing)}; expected {', '.join(REQUIRED)}")
        freqs, theta, phi = f["freq_hz"][()], f["theta_rad"][()], f["phi_rad"][()]
        want = (freqs.size, theta.size, phi.size)
        for k in REQUIRED[3:]:
            if f[k].shape != want:
                raise BeamModelError(f"{path}: {k} has shape {f[k].shape}, expected (Nfreq, Ntheta, Nphi) = {want}")
        i = int(np.argmin(np.abs(freqs - freq_hz)))
        out = {k: f[k][i] for k in REQUIRED[3:]}
    if theta[0] != 0 or np.any(np.diff(theta) <= 0):
        raise BeamModelError(f"{path}: theta_rad must start at 0 and increase")
    out.update({"theta": theta, "phi": phi, "freq_hz": float(freqs[i])})
    return out
