"""Calibration solutions and flags of a simulated run against the simulator's truth.

Conventions: caltable dicts as returned by :func:`dsa110_contimg.calibration.qa.read_caltable`
(antenna = station - 1); ``truth`` is the simulator's truth dict (``<run>/sim/truth.json``);
``ref`` the reference antenna's station number.  The dead antenna is always skipped.
Delays in ns, bandpass amplitude residuals fractional, phases in degrees.
"""

from __future__ import annotations

import glob
import json
import os

import numpy as np
from casacore import tables

from ..calibration import qa
from ..simulate import corruptions


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


def check_transit(summary: dict, truth: dict, *, k: dict, b: dict) -> dict:
    """One calibrator transit: ``summary`` is its caltable JSON (refant, stats, dead_antennas),
    ``k``/``b`` its K and B tables (caltable dicts).

    Returns refant, delay_rms_ns (unflagged solutions), bandpass_amp_rms_pct,
    bandpass_phase_rms_deg, b_flagged_working_pct (and ``..._usable_pct``: outside
    RFI-flagged channels; NaN when the QA has no such figure), dead_antenna_flagged (the
    dead antenna and no other was flagged dead).
    """
    ref = int(summary["refant"].split("-")[1])
    dres, dflag = delay_residuals(k, truth, ref)
    dres = dres[~dflag]
    amp, ph = bandpass_residuals(b, truth, ref)
    bs = summary["stats"]["B"]["summary"]
    return {
        "refant": summary["refant"],
        "delay_rms_ns": np.sqrt(np.mean(np.square(dres))),
        "bandpass_amp_rms_pct": 100 * np.sqrt(np.mean(amp**2)),
        "bandpass_phase_rms_deg": np.sqrt(np.mean(ph**2)),
        "b_flagged_working_pct": 100 * bs["flagged_fraction_working"],
        "b_flagged_working_usable_pct": 100 * bs.get("flagged_fraction_working_usable_channels", float("nan")),
        "dead_antenna_flagged": summary["dead_antennas"] == [f"DSA-{truth['dead_antenna']:03d}"],
    }


def _solution_near(ct: dict, ant: int, time_s: float) -> tuple[np.ndarray, float] | None:
    """(complex gain per polarisation, its time in MJD s) of antenna index ``ant`` in caltable
    dict ``ct`` at the solution nearest ``time_s`` (what applycal's linear interpolation gives
    outside the solutions' span), or None when that solution is flagged or absent."""
    rows = np.flatnonzero(ct["antenna"] == ant)
    if rows.size == 0:
        return None
    r = rows[np.argmin(np.abs(ct["time"][rows] - time_s))]
    if ct["flags"][r, 0].any():
        return None
    return ct["values"][r, 0, :], float(ct["time"][r])


def check_gains(sidecar: dict, truth: dict) -> dict:
    """One calibrated group's gains against the injected ones (``sidecar``: its apply JSON).

    The gain tables applied after K and B are the transit's G, then (field path) the field
    solve's phase and amplitude tables.  K and B are the transit's for both the transit and
    the group, so what the field tables must undo is the gains' drift since the transit:
    D_a = g_a(t_group) / g_a(t_transit), with t_transit the time of the transit G solution
    applycal uses.  Solved drift: the product of the field tables (1 on the transit
    path).  Their ratio per antenna and polarisation, after removing the array's mean phase
    and mean amplitude per polarisation (the overall reference), gives ``phase_rms_deg``
    and ``amp_rms_pct``; ``hours_from_transit`` and ``path`` say what was compared.
    Antennas without a solution, and the dead antenna, are left out.
    """
    applied = sidecar["applied"]
    transit_g = qa.read_caltable(applied[2])
    extra = [qa.read_caltable(p) for p in applied[3:]]
    t_mid = sidecar["mid_mjd"] * 86400.0
    run_start = truth["run_start_jd"]
    ratios = []
    for a in np.unique(transit_g["antenna"]):
        st = int(a) + 1
        if str(st) not in truth["gains"] or st == truth["dead_antenna"]:
            continue
        tg = _solution_near(transit_g, a, t_mid)
        sol = [_solution_near(ct, a, t_mid) for ct in extra]
        if tg is None or any(x is None for x in sol):
            continue
        solved = np.prod([x[0] for x in sol], axis=0) if sol else np.ones(2, complex)
        hours = (np.array([t_mid, tg[1]]) / 86400.0 + 2400000.5 - run_start) * 24.0
        g = corruptions.gain(truth, st, hours)  # (2 times, 2 pols)
        drift = g[0] / g[1]
        ratios.append(solved / drift)
    r = np.array(ratios)  # (Nant, 2)
    ph = np.angle(r / np.exp(1j * np.angle(np.mean(r / np.abs(r), axis=0)))[None, :])
    amp = np.abs(r) / np.mean(np.abs(r), axis=0)[None, :]
    hours_from_transit = abs(sidecar["mid_mjd"] - sidecar["tables"]["B"]["cal_mid_mjd"]) * 24.0
    return {"path": sidecar["path"], "hours_from_transit": hours_from_transit, "n_antennas": len(r),
            "phase_rms_deg": float(np.degrees(np.sqrt(np.mean(ph**2)))), "amp_rms_pct": float(100 * np.sqrt(np.mean((amp - 1) ** 2)))}


def check_flags(flag: np.ndarray, ant1: np.ndarray, ant2: np.ndarray, time: np.ndarray, *, rfi: dict,
                dead_antenna: int) -> dict:
    """Flags of one group's MS (main-table columns FLAG (Nrow, Nchan, 2), ANTENNA1/2 and TIME,
    rows time-major) against its injected RFI (``rfi``: ``channels`` counted from the top of
    the band, ``times`` indices) over the cross-correlations of working antennas;
    ``dead_antenna`` is a station number.  Returns rfi_flagged_pct, clean_flagged_pct."""
    nch, dead = flag.shape[1], dead_antenna - 1
    good = (ant1 != ant2) & (ant1 != dead) & (ant2 != dead)  # rows are time-major
    ff = flag[good].reshape(len(np.unique(time)), -1, nch, 2)
    mask = np.zeros(ff.shape, bool)
    mask[:, :, [nch - 1 - c for c in rfi["channels"]]] = True
    mask[rfi["times"]] = True
    return {"rfi_flagged_pct": 100 * ff[mask].mean(), "clean_flagged_pct": 100 * ff[~mask].mean()}


def read_truth(run: str) -> dict:
    """The simulator's truth of a run directory (``<run>/sim/truth.json``)."""
    with open(os.path.join(run, "sim", "truth.json")) as fh:
        return json.load(fh)


def check_calibration(run: str) -> dict:
    """Every calibrator transit (``<run>/caltables/<date>/*.json``), every flagged group (the
    ``flags`` of ``<run>/ms/<date>/*.json``, whose MS still exists) and every calibrated group
    (``<run>/calibrated/<date>/*.json``) of a run against its truth.

    Returns ``{"transits": {name: check_transit(...)}, "flagging": {group: {"kind": ...,
    **check_flags(...)}}}``, both in file-name order.
    """
    truth = read_truth(run)
    by_gid = {g["group_id"]: g for g in truth["groups"]}
    transits = {}
    for path in sorted(glob.glob(os.path.join(run, "caltables", "*", "*.json"))):
        with open(path) as fh:
            s = json.load(fh)
        transits[os.path.basename(path)[:-5]] = check_transit(
            s, truth, k=qa.read_caltable(s["tables"]["K"]), b=qa.read_caltable(s["tables"]["B"]))
    flagging = {}
    for path in sorted(glob.glob(os.path.join(run, "ms", "*", "*.json"))):
        gid = os.path.basename(path)[:-5]
        g = by_gid[gid]
        if not os.path.isdir(path[:-5] + ".ms"):  # keep_ms: false
            continue
        with tables.table(path[:-5] + ".ms", ack=False) as t:
            f, a1, a2, tm = t.getcol("FLAG"), t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("TIME")
        flagging[gid] = {"kind": g["kind"], **check_flags(f, a1, a2, tm, rfi=truth["rfi"][str(g["index"])],
                                                          dead_antenna=truth["dead_antenna"])}
    gains = {}
    for path in sorted(glob.glob(os.path.join(run, "calibrated", "*", "*.json"))):
        with open(path) as fh:
            sc = json.load(fh)
        if "gain" in sc and len(sc.get("applied", [])) >= 3:  # sidecars of this version
            gains[os.path.basename(path)[:-5]] = check_gains(sc, truth)
    return {"transits": transits, "flagging": flagging, "gains": gains}


def format_calibration(report: dict) -> list[str]:
    """The printed lines of :func:`check_calibration`."""
    lines = ["calibrator transits:"]
    for name, c in report["transits"].items():
        lines.append(f"  {name}: refant {c['refant']}, delay rms {c['delay_rms_ns']:.3f} ns, "
                     f"bandpass amp {c['bandpass_amp_rms_pct']:.2f}% / phase {c['bandpass_phase_rms_deg']:.2f} deg rms, "
                     f"B flagged on working antennas {c['b_flagged_working_pct']:.1f}% "
                     f"({c['b_flagged_working_usable_pct']:.1f}% outside RFI-flagged channels), "
                     f"dead antenna flagged: {c['dead_antenna_flagged']}")
    gains = report.get("gains", {})
    if gains:
        lines.append("gains of every calibrated group against the injected ones (drift since the transit; "
                     "mean phase and amplitude removed):")
        for gid, c in gains.items():
            lines.append(f"  {gid}: {c['path']:17s} {c['hours_from_transit']:5.2f} h from the transit: "
                         f"phase {c['phase_rms_deg']:5.2f} deg rms, amplitude {c['amp_rms_pct']:5.2f}% rms ({c['n_antennas']} antennas)")
        for label, sel in (("1-12 h from the transit", lambda c: 1.0 <= c["hours_from_transit"] <= 12.0),
                           ("within 1 h", lambda c: c["hours_from_transit"] < 1.0)):
            for path in sorted({c["path"] for c in gains.values()}):
                cs = [c for c in gains.values() if c["path"] == path and sel(c)]
                if cs:
                    lines.append(f"  {label}, {path}: {len(cs)} groups, phase rms max {max(c['phase_rms_deg'] for c in cs):.2f} deg "
                                 f"(goal <= 2), amplitude rms max {max(c['amp_rms_pct'] for c in cs):.2f}% (goal <= 1)")
    lines.append("flagging:")
    for gid, c in report["flagging"].items():
        lines.append(f"  {gid} ({c['kind']}): injected RFI flagged {c['rfi_flagged_pct']:.1f}%, "
                     f"clean data flagged {c['clean_flagged_pct']:.2f}%")
    return lines
