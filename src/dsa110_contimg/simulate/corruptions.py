"""Instrumental corruptions with known truth.

Per antenna ``a`` and polarization ``p`` (0 = X, 1 = Y) the voltage gain is

    J[a,p](t, nu) = sqrt(scale[epoch]) * G[a,p](t) * B[a,p](nu) * exp(-2 pi i nu tau[a,p])

in CASA's convention (``V_ms[i,j] = J_i conj(J_j) V_true``):

- ``tau`` : delay, ns (truth in ``delays_ns``), zero-mean, rms ``delay_rms_ns``;
- ``B``   : bandpass, smooth amplitude (cosine series + ripple) and phase (cosine
            series without its constant and linear parts over the band, which belong
            to G and tau), defined over the full band; mean amplitude ~1;
- ``G``   : slowly varying complex gain: amplitude ``a0 (1 + a1 sin(2 pi t/P + f))``
            and phase ``p0 + rate * t`` (t in hours since the first integration of the
            whole run, phases in radians);
- ``scale`` : per-epoch overall flux-scale factor (multiplies all visibilities);
  the calibrator transit of the same epoch measures and removes it;
- ``science_scale`` : a further per-epoch gain-amplitude drift between the calibrator
  transit and the science groups (multiplies science-group visibilities only).  The
  calibration cannot see it; ensemble normalisation of the photometry must remove it;
- the dead antenna has J = 0 (its baselines hold noise only).

RFI is added after the gains: persistent narrow-band lines in a few native channels
and impulsive broadband bursts in single integrations.
"""

from __future__ import annotations

import numpy as np

from ..bands import BAND_LO_HZ, N_SUBBANDS, TOP_FREQ_HZ
from ..settings import Simulation

BAND_SPAN_HZ = TOP_FREQ_HZ - BAND_LO_HZ


def draw(*, simulation: Simulation, active: list[int]) -> dict:
    """Draw every corruption parameter of the run's ``simulation.n_epochs`` epochs; returns
    a JSON-serialisable truth dict.

    ``active`` are station numbers of the active antennas.  Random streams:
    ``default_rng([seed, 3])`` for everything but the science drift (``[seed, 8]``).
    """
    sim = simulation
    c = sim.corruptions
    n_epochs = sim.n_epochs
    rng = np.random.default_rng([sim.seed, 3])
    na = len(active)
    out: dict = {"convention": "V_ms[i,j] = J_i conj(J_j) V_true; J = sqrt(scale) G B exp(-2 pi i nu tau)"}
    tau = rng.normal(0.0, c.delay_rms_ns, (na, 2)) if c.delays else np.zeros((na, 2))
    out["delays_ns"] = {str(a): tau[k].tolist() for k, a in enumerate(active)}
    nterm = 4
    if c.bandpass:
        amp_c = rng.normal(0.0, c.bandpass_amp_rms / np.sqrt(nterm), (na, 2, nterm))
        ph_c = rng.normal(0.0, np.radians(c.bandpass_phase_rms_deg) / np.sqrt(nterm), (na, 2, nterm))
        ripple = rng.uniform(0.0, c.bandpass_ripple, (na, 2))
        rip_period = rng.uniform(8e6, 20e6, (na, 2))
        rip_phase = rng.uniform(0, 2 * np.pi, (na, 2))
    else:
        amp_c = np.zeros((na, 2, nterm))
        ph_c = np.zeros((na, 2, nterm))
        ripple = np.zeros((na, 2))
        rip_period = np.full((na, 2), 1e7)
        rip_phase = np.zeros((na, 2))
    out["bandpass"] = {
        str(a): {
            "amp_coeffs": amp_c[k].tolist(),
            "phase_coeffs_rad": ph_c[k].tolist(),
            "ripple": ripple[k].tolist(),
            "ripple_period_hz": rip_period[k].tolist(),
            "ripple_phase_rad": rip_phase[k].tolist(),
        }
        for k, a in enumerate(active)
    }
    if c.gains:
        a0 = rng.uniform(0.8, 1.2, (na, 2))
        a1 = rng.uniform(0.0, c.gain_amp_var, (na, 2))
        per = rng.uniform(4.0, 12.0, (na, 2))
        fph = rng.uniform(0, 2 * np.pi, (na, 2))
        p0 = rng.uniform(-np.pi, np.pi, (na, 2))
        rate = rng.normal(0.0, np.radians(c.gain_phase_rate_deg_per_h), (na, 2))
    else:
        a0, a1, per = np.ones((na, 2)), np.zeros((na, 2)), np.full((na, 2), 6.0)
        fph, p0, rate = np.zeros((na, 2)), np.zeros((na, 2)), np.zeros((na, 2))
    out["gains"] = {
        str(a): {
            "amp0": a0[k].tolist(),
            "amp_var": a1[k].tolist(),
            "period_h": per[k].tolist(),
            "amp_phase_rad": fph[k].tolist(),
            "phase0_rad": p0[k].tolist(),
            "phase_rate_rad_per_h": rate[k].tolist(),
        }
        for k, a in enumerate(active)
    }
    scale = 1.0 + rng.normal(0.0, c.flux_scale_rms, n_epochs) if c.flux_scale else np.ones(n_epochs)
    out["flux_scale"] = scale.tolist()
    out["dead_antenna"] = int(active[int(rng.integers(1, na))]) if c.dead_antenna and na > 2 else None
    # own random stream, so enabling it leaves every other draw unchanged
    drift_rng = np.random.default_rng([sim.seed, 8])
    drift = 1.0 + drift_rng.normal(0.0, c.science_drift_rms, n_epochs) if c.science_drift else np.ones(n_epochs)
    out["science_scale"] = drift.tolist()
    return out


def bandpass(truth: dict, ant: int, freqs_hz: np.ndarray) -> np.ndarray:
    """Complex bandpass of station ``ant``, shape (Nfreq, 2) (pol X, Y)."""
    p = truth["bandpass"][str(ant)]
    x = (np.asarray(freqs_hz) - BAND_LO_HZ) / BAND_SPAN_HZ  # 0..1 over the band
    n = np.arange(1, len(p["amp_coeffs"][0]) + 1)
    out = np.empty((x.size, 2), dtype=np.complex128)
    # the phase has no constant or linear part over the band (those are the gain phase
    # and the delay): remove the least-squares line fitted on the native channel grid
    xg = np.linspace(0.0, 1.0, 768)
    for pol in range(2):
        basis = np.cos(np.pi * np.outer(x, n))
        amp = 1.0 + basis @ np.asarray(p["amp_coeffs"][pol])
        amp *= 1.0 + p["ripple"][pol] * np.sin(2 * np.pi * np.asarray(freqs_hz) / p["ripple_period_hz"][pol] + p["ripple_phase_rad"][pol])
        coeffs = np.asarray(p["phase_coeffs_rad"][pol])
        line = np.polyfit(xg, np.cos(np.pi * np.outer(xg, n)) @ coeffs, 1)
        ph = basis @ coeffs - np.polyval(line, x)
        out[:, pol] = amp * np.exp(1j * ph)
    return out


def gain(truth: dict, ant: int, hours: np.ndarray) -> np.ndarray:
    """Complex time-variable gain of station ``ant`` at ``hours`` since the run start, shape (Nt, 2)."""
    p = truth["gains"][str(ant)]
    h = np.asarray(hours, dtype=float)[:, None]
    amp = np.asarray(p["amp0"]) * (1 + np.asarray(p["amp_var"]) * np.sin(2 * np.pi * h / np.asarray(p["period_h"]) + np.asarray(p["amp_phase_rad"])))
    ph = np.asarray(p["phase0_rad"]) + np.asarray(p["phase_rate_rad_per_h"]) * h
    return amp * np.exp(1j * ph)


def jones(truth: dict, ant: int, *, epoch: int, hours: np.ndarray, freqs_hz: np.ndarray) -> np.ndarray:
    """Full antenna gain J of station ``ant`` in epoch ``epoch`` at ``hours`` since the run
    start and ``freqs_hz``, shape (Nt, Nfreq, 2), CASA convention (see module doc)."""
    if truth["dead_antenna"] == ant:  # None when no antenna is dead
        return np.zeros((len(hours), len(freqs_hz), 2), dtype=np.complex128)
    tau = np.asarray(truth["delays_ns"][str(ant)]) * 1e-9
    kd = np.exp(-2j * np.pi * np.outer(freqs_hz, tau))  # (Nf, 2)
    b = bandpass(truth, ant, freqs_hz)
    g = gain(truth, ant, hours)
    return np.sqrt(truth["flux_scale"][epoch]) * g[:, None, :] * (b * kd)[None, :, :]


def draw_rfi(*, simulation: Simulation, group_index: int) -> dict:
    """RFI injected into group ``group_index``: channel indices (file order, all 16 subbands
    at ``nchan_per_subband``) and integrations (0..ntimes-1).

    Returns ``{"channels": [...], "times": [...], "channel_amp_jy": x, "impulse_amp_jy": y}``.
    """
    sim = simulation
    c = sim.corruptions
    if not c.rfi:
        return {"channels": [], "times": [], "channel_amp_jy": 0.0, "impulse_amp_jy": 0.0}
    ntimes = sim.ntimes
    nchan_total = N_SUBBANDS * sim.nchan_per_subband
    rng = np.random.default_rng([sim.seed, 4, group_index])
    nline = min(c.rfi_lines, nchan_total)
    chans = sorted(int(x) for x in rng.choice(nchan_total, nline, replace=False))
    times = sorted(int(x) for x in rng.choice(ntimes, min(c.rfi_impulses, ntimes), replace=False))
    return {"channels": chans, "times": times, "channel_amp_jy": c.rfi_line_jy, "impulse_amp_jy": c.rfi_impulse_jy}
