"""Calibration solutions against the simulator's truth (used by tests and truth scripts).

Conventions: caltable dicts as returned by :func:`dsa110_contimg.calibration.qa.read_caltable`
(antenna = station - 1); ``truth`` is the simulator's truth dict; ``ref`` the reference
antenna's station number.  The dead antenna is always skipped.
"""

from __future__ import annotations

import numpy as np

from . import corruptions


def delay_residuals(k: dict, truth: dict, ref: int) -> tuple[np.ndarray, np.ndarray]:
    """(residuals (Nant, 2) ns, flagged (Nant,) bool) of a K table against the injected delays.

    The truth gain is exp(-2 pi i nu tau) and CASA's K reports the opposite sign, so the
    residual is K + (tau_ant - tau_ref).
    """
    res, flagged = [], []
    for a, v, f in zip(k["antenna"], k["values"][:, 0, :], k["flags"][:, 0, :], strict=True):
        st = a + 1
        if str(st) not in truth["delays_ns"] or st == truth["dead_antenna"]:
            continue
        res.append(v + np.array(truth["delays_ns"][str(st)]) - np.array(truth["delays_ns"][str(ref)]))
        flagged.append(bool(f.any()))
    return np.array(res), np.array(flagged, dtype=bool)


def bandpass_residuals(b: dict, truth: dict, ref: int) -> tuple[np.ndarray, np.ndarray]:
    """(fractional amplitude residuals, phase residuals in degrees) of a B table over its
    unflagged channels, both polarisations.

    Solutions and truth (referred to the reference antenna's phase) are each normalised to
    mean amplitude 1 (CASA's solnorm); the mean phase offset per antenna and polarisation
    is removed (it belongs to G).
    """
    bref = corruptions.bandpass(truth, ref, b["freqs"])
    amp, ph = [], []
    for a, v, f in zip(b["antenna"], b["values"], b["flags"], strict=True):
        st = a + 1
        if str(st) not in truth["bandpass"] or st == truth["dead_antenna"]:
            continue
        bt = corruptions.bandpass(truth, st, b["freqs"]) * np.exp(-1j * np.angle(bref))
        for p in range(2):
            g = ~f[:, p]
            if not g.any():
                continue
            r, t = v[g, p] / np.mean(np.abs(v[g, p])), bt[g, p] / np.mean(np.abs(bt[g, p]))
            d = np.angle(r * np.conj(t))
            amp.append(np.abs(r) / np.abs(t) - 1)
            ph.append(np.degrees(d - np.angle(np.mean(np.exp(1j * d)))))
    return np.concatenate(amp), np.concatenate(ph)
