"""Give bright catalog sources a static, achromatic primary beam in the visibilities.

Why: DSA-110 dishes stay on the meridian, so during a 5-minute group the pointing slides
~1.3 deg of RA through the image's phase centre, and the primary-beam gain towards an
off-axis source changes by up to +-20 % within the group and by ~13 % across the band.
The source's response in the dirty image is then not one PSF times one flux but a sum
of slightly different PSFs with different weights.  Single-PSF Hogbom clean (tclean
``wproject``, nterms = 1) cannot model that part; it stays in the residual as a
structured floor (~0.6 mJy on the demo) that moves the peaks of 50-100 mJy sources by
several per cent.

What: for every catalog source whose apparent flux is at least ``min_apparent_mjy``,
the predicted visibilities of the source under the true drift-scan beam A_s(t, nu) are
exchanged for the same source under the constant beam A_s-bar (the beam averaged over
the group's pointing drift, at the image's reference frequency -- the beam tclean's
pbcor divides by):

    V'(t, nu) = V(t, nu) - S_s(nu) [A_s(t, nu) - A_s-bar] K_s(u, v, w, nu)

with S_s(nu) = S_1.4 (nu / 1.4 GHz)^alpha the catalog spectrum and K_s the point-source
fringe exp(+2 pi i nu/c (u l + v m + w (n - 1))) (the sign CASA ``ft`` uses;
l, m, n the direction cosines of the source relative to the phase centre,
UVW in metres in the frame of the phase centre).  Only the *difference* of the two beams
times the catalog flux is subtracted, so a catalog flux that is off by x % (a variable
source, a survey's error or scale) leaves x % of an effect that was a few per cent:
second order.  The source's own flux in the data is never replaced by the catalog's.
Optionally (``flat_spectrum``, for bright sources) the target is also achromatic:
S_s(nu) A_s-bar is replaced by S_s(nu_ref) A_s-bar, which takes the catalog spectral
slope out of the data (see :func:`equalize_beam`).

The beam A_s(t, nu) is the H5 beam model's Stokes-I power pattern at the source's offset
from the pointing (meridian at each integration, pointing declination), with the offset
scaled by nu / nu_model from the nearest model frequency (a dish pattern scales with
frequency).  Offsets are tangent-plane (east, north) in radians; the H5 pattern's phi is
measured from north through east, as in the VP table.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass

import numpy as np
from casacore import tables

from .. import astrometry
from ..atomic import atomic_path
from ..beam.h5model import read_model
from ..geometry import C_M_S

log = logging.getLogger(__name__)

REF_FREQ_HZ = 1.4e9


@dataclass(frozen=True)
class SkySource:
    """A catalog source: ICRS position (degrees), flux density at 1.4 GHz (Jy), spectral index."""

    name: str
    ra_deg: float
    dec_deg: float
    flux_jy: float
    alpha: float = -0.7


def power_at(model: dict, theta_rad: np.ndarray, phi_rad: np.ndarray) -> np.ndarray:
    """Stokes-I power pattern 0.5 sum |J|^2 of an H5 beam model at (theta, phi), radians.

    Bilinear in theta and (periodically) in phi; 0 beyond the model's theta range.
    """
    from ..beam.vptable import jones_at

    j = jones_at(model, np.asarray(theta_rad, float), np.asarray(phi_rad, float))
    return 0.5 * np.sum(np.abs(j) ** 2, axis=0)


def tangent_offsets(ra_rad, dec_rad, ra0_rad, dec0_rad):
    """(l, m, n) direction cosines of (ra, dec) relative to (ra0, dec0); l east, m north."""
    dra = np.asarray(ra_rad) - ra0_rad
    cd = np.cos(dec_rad)
    l = cd * np.sin(dra)
    m = np.sin(dec_rad) * np.cos(dec0_rad) - cd * np.sin(dec0_rad) * np.cos(dra)
    n = np.sin(dec_rad) * np.sin(dec0_rad) + cd * np.cos(dec0_rad) * np.cos(dra)
    return l, m, n


@dataclass
class MSGeometry:
    times: np.ndarray  # unique TIME values (MJD seconds), ascending
    freqs_hz: np.ndarray  # channel frequencies as stored (any order)
    ra0: float  # phase centre, ICRS radians
    dec0: float
    pointing_ra: np.ndarray  # ICRS RA of the pointing (meridian) at each time, radians
    pointing_dec: np.ndarray  # ICRS Dec of the pointing at each time, radians


def ms_geometry(ms_path: str, tel: dict) -> MSGeometry:
    """Times, frequencies, phase centre and drift-scan pointing (meridian at each integration)."""
    from ..calibration.model import ms_pointing_dec

    with tables.table(ms_path, ack=False) as t:
        times = np.unique(t.getcol("TIME"))
    with tables.table(f"{ms_path}::SPECTRAL_WINDOW", ack=False) as t:
        freqs = t.getcol("CHAN_FREQ")[0]
    with tables.table(f"{ms_path}::FIELD", ack=False) as t:
        ra0, dec0 = t.getcol("PHASE_DIR")[0, 0]
    loc = astrometry.location(tel["lon_deg"], tel["lat_deg"], tel["height_m"])
    dec_p = ms_pointing_dec(ms_path)
    jd = times / 86400.0 + 2400000.5
    lst = astrometry.last_rad(jd, loc)
    pra, pdec = np.empty_like(jd), np.empty_like(jd)
    for k, (j, s) in enumerate(zip(jd, lst)):
        pra[k], pdec[k] = astrometry.apparent_to_icrs(float(s), dec_p, float(j), loc)
    return MSGeometry(times, freqs, float(ra0), float(dec0), pra, pdec)


def load_beams(beam_h5: str) -> dict[float, dict]:
    """Every frequency of the H5 beam model: {model frequency (Hz): model}, read once."""
    import h5py

    with h5py.File(beam_h5, "r") as f:
        mf = np.asarray(f["freq_hz"][()], float)
    return {float(nu): read_model(beam_h5, float(nu)) for nu in mf}


def source_beam(beams: dict[float, dict], src: SkySource, geo: MSGeometry, freqs_hz: np.ndarray | None = None) -> np.ndarray:
    """A_s[t, chan]: the power beam towards ``src`` at each integration and frequency
    (``freqs_hz``, default the MS channels), from the nearest model frequency with the
    angle scaled by nu / nu_model (a dish pattern scales with frequency)."""
    freqs = geo.freqs_hz if freqs_hz is None else np.atleast_1d(np.asarray(freqs_hz, float))
    ra, dec = math.radians(src.ra_deg), math.radians(src.dec_deg)
    l, m, _ = tangent_offsets(ra, dec, geo.pointing_ra, geo.pointing_dec)  # (Nt,) east, north of the pointing
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


def select_sources(sources: list[SkySource], geo: MSGeometry, beams: dict[float, dict], ref_freq_hz: float,
                   half_width_deg: float, min_apparent_mjy: float, max_radius_deg: float
                   ) -> list[tuple[SkySource, np.ndarray, float]]:
    """The sources to treat: (source, its beam A_s[t, chan], the beam it is given A_s-bar).

    A source inside the image (|l|, |m| <= ``half_width_deg`` from the phase centre) gets
    A_s-bar, the beam averaged over the integrations at ``ref_freq_hz``, and is kept in
    the data.  A source outside the image cannot be cleaned, so it is removed
    (A_s-bar = 0).  Either is done only where the catalog flux times the largest beam
    gain over the group reaches ``min_apparent_mjy``, and within ``max_radius_deg`` of the
    phase centre.
    """
    out = []
    for s in sources:
        if s.flux_jy * 1e3 * (geo.freqs_hz.min() / REF_FREQ_HZ) ** min(s.alpha, 0.0) < min_apparent_mjy:
            continue  # too faint even on axis (the beam gain is at most 1)
        l, m, n = tangent_offsets(math.radians(s.ra_deg), math.radians(s.dec_deg), geo.ra0, geo.dec0)
        if math.degrees(math.acos(min(1.0, float(n)))) > max_radius_deg:
            continue
        a = source_beam(beams, s, geo)
        if s.flux_jy * (geo.freqs_hz.min() / REF_FREQ_HZ) ** min(s.alpha, 0.0) * float(a.max()) * 1e3 < min_apparent_mjy:
            continue
        inside = max(abs(math.degrees(math.asin(l))), abs(math.degrees(math.asin(m)))) <= half_width_deg
        out.append((s, a, float(np.mean(source_beam(beams, s, geo, ref_freq_hz))) if inside else 0.0))
    return out


def fringe_sum(uvw_m: np.ndarray, tidx: np.ndarray, terms: list[tuple[SkySource, np.ndarray]], geo: MSGeometry) -> np.ndarray:
    """sum over (source, W[t, chan]) of W K_s: complex128 (Nrow, Nchan) for rows at time index ``tidx``.

    Only the sources' ``ra_deg``/``dec_deg`` are used (a SkySource or a Calibrator);
    K_s = exp(+2 pi i nu/c (u l + v m + w (n - 1))), CASA ``ft``'s sign."""
    nu = geo.freqs_hz
    out = np.zeros((uvw_m.shape[0], nu.size), np.complex128)
    for s, weight in terms:
        l, m, n = tangent_offsets(math.radians(s.ra_deg), math.radians(s.dec_deg), geo.ra0, geo.dec0)
        path = uvw_m[:, 0] * l + uvw_m[:, 1] * m + uvw_m[:, 2] * (n - 1.0)  # metres
        w = np.broadcast_to(weight, (geo.times.size, nu.size))
        for c0 in range(0, nu.size, 48):
            sl = slice(c0, min(nu.size, c0 + 48))
            out[:, sl] += np.exp(2j * np.pi * path[:, None] * (nu[sl] / C_M_S)[None, :]) * w[tidx, sl]
    return out


def _spectrum(s: SkySource, nu: np.ndarray) -> np.ndarray:
    return s.flux_jy * (nu / REF_FREQ_HZ) ** s.alpha


def _target_spectrum(s: SkySource, nu: np.ndarray, flat_at: dict[str, float] | None) -> np.ndarray:
    """The spectrum the source is given: its catalog spectrum, or (a source named in
    ``flat_at``) its catalog flux at that frequency (Hz) on every channel."""
    if flat_at and s.name in flat_at:
        return np.full(nu.shape, _spectrum(s, np.asarray(flat_at[s.name])))
    return _spectrum(s, nu)


def beam_difference_vis(uvw_m: np.ndarray, time_s: np.ndarray, chosen: list[tuple[SkySource, np.ndarray, float]],
                        geo: MSGeometry, flat_at: dict[str, float] | None = None) -> np.ndarray:
    """sum_s [S_s(nu) A_s(t, nu) - T_s(nu) A_s-bar] K_s, complex128 (Nrow, Nchan), for rows
    with ``uvw_m`` (metres, the MS's UVW) at ``time_s`` (MS TIME).  ``chosen`` holds
    (source, A_s[t, chan] from :func:`source_beam`, A_s-bar).  T_s = S_s (the catalog
    spectrum), or for the sources named in ``flat_at`` S_s(flat_at[name]) on every
    channel (a flat spectrum)."""
    tidx = np.clip(np.searchsorted(geo.times, time_s), 0, geo.times.size - 1)
    nu = geo.freqs_hz
    return fringe_sum(uvw_m, tidx, [(s, a * _spectrum(s, nu)[None, :] - abar * _target_spectrum(s, nu, flat_at)[None, :])
                                     for s, a, abar in chosen], geo)


def static_model_vis(uvw_m: np.ndarray, time_s: np.ndarray, chosen: list[tuple[SkySource, np.ndarray, float]],
                     geo: MSGeometry, flat_at: dict[str, float] | None = None) -> np.ndarray:
    """sum_s T_s(nu) A_s-bar K_s: the catalog sky as the equalized data should show it."""
    tidx = np.clip(np.searchsorted(geo.times, time_s), 0, geo.times.size - 1)
    return fringe_sum(uvw_m, tidx, [(s, abar * _target_spectrum(s, geo.freqs_hz, flat_at)[None, :])
                                     for s, _a, abar in chosen if abar > 0], geo)


def equalize_beam(ms_in: str, ms_out: str, datacolumn: str, sources: list[SkySource], beam_h5: str, tel: dict,
                  ref_freq_hz: float, half_width_deg: float, min_apparent_mjy: float, max_radius_deg: float,
                  selfcal: bool = False, rows_per_chunk: int = 20000, selfcal_min_model_jy: float = 0.1,
                  flat_spectrum: bool = False, flat_min_mjy: float = 0.0) -> dict:
    """Copy ``ms_in`` to ``ms_out`` with the bright sources' beam made static in ``datacolumn``.

    ``datacolumn``: ``corrected`` or ``data`` (the column the imager will read).
    Autocorrelations are left untouched; flags are kept.  Rows are processed in chunks
    of ``rows_per_chunk`` to bound memory.  With ``selfcal``, the equalized data are then
    phase self-calibrated against the catalog sky (:mod:`.selfcal`): phases solved on the
    equalized data against the catalog sky under A-bar (if it holds at least
    ``selfcal_min_model_jy``), then applied to the original data before the beam
    difference is subtracted (the difference was predicted without the gains).
    With ``flat_spectrum`` the kept sources whose catalog flux x largest beam gain reaches
    ``flat_min_mjy`` are also given a flat spectrum at ``ref_freq_hz`` (their catalog
    flux there on every channel): nterms = 1 clean models a flat spectrum only, and the
    band-dependent rest of a bright steep-spectrum source otherwise stays in the
    residual along its sidelobes (a 0.68 Jy source with alpha -0.9 put -1.6 mJy at
    0.7 deg on its east-west sidelobe line and took 9% from a 41 mJy source there).
    What is left is the catalog's spectral-index error; for fainter sources, whose
    sidelobes are weak and whose survey spectral index is noisier, that error can
    outweigh the gain, hence the cut.
    Returns a summary for the QA record.
    """
    col = {"corrected": "CORRECTED_DATA", "data": "DATA"}[datacolumn]

    geo = ms_geometry(ms_in, tel)
    models = load_beams(beam_h5)
    beams = select_sources(sources, geo, models, ref_freq_hz, half_width_deg, min_apparent_mjy, max_radius_deg)
    chosen = [(s, abar) for s, _a, abar in beams]
    flat_at = {s.name: ref_freq_hz for s, a, abar in beams
               if flat_spectrum and abar > 0 and s.flux_jy * 1e3 * float(a.max()) >= flat_min_mjy}
    summary = {"n_sources": len(chosen), "n_removed_outside_image": sum(a == 0 for _, a in chosen),
               "min_apparent_mjy": min_apparent_mjy, "ref_freq_hz": ref_freq_hz, "flat_spectrum": flat_spectrum, "flat_min_mjy": flat_min_mjy,
               "sources": [{"name": s.name, "flux_jy": s.flux_jy, "static_beam": a, "flat_spectrum": s.name in flat_at}
                           for s, a in chosen]}
    selfcal = selfcal and any(abar > 0 for _s, abar in chosen)
    if selfcal:
        model_jy = sum(s.flux_jy * abar for s, abar in chosen)
        if model_jy < selfcal_min_model_jy:
            log.warning("%s: catalog model holds %.3g Jy (< %.3g Jy): no self-calibration", ms_in, model_jy, selfcal_min_model_jy)
            summary["selfcal"] = {"skipped": f"model flux {model_jy:.3g} Jy below {selfcal_min_model_jy:.3g} Jy"}
            selfcal = False
    with atomic_path(ms_out, is_dir=True) as tmp:
        shutil.copytree(ms_in, tmp, symlinks=True)
        if beams:
            with tables.table(tmp, readonly=False, ack=False) as t:
                if t.getcol(col, 0, 1).shape[-1] not in (1, 2):
                    raise ValueError(f"{ms_in}: static beam handles XX/YY data only")
                # pass 1: the equalized data -- the product, or (with self-cal) gaincal's DATA
                for r0 in range(0, t.nrows(), rows_per_chunk):
                    nr = min(rows_per_chunk, t.nrows() - r0)
                    cross = (t.getcol("ANTENNA1", r0, nr) != t.getcol("ANTENNA2", r0, nr))[:, None, None]
                    uvw, tm = t.getcol("UVW", r0, nr), t.getcol("TIME", r0, nr)
                    d = t.getcol(col, r0, nr)  # (Nrow, Nchan, Npol)
                    d -= np.where(cross, beam_difference_vis(uvw, tm, beams, geo, flat_at)[:, :, None], 0).astype(d.dtype)
                    if selfcal:
                        t.putcol("DATA", d, r0, nr)
                        model = static_model_vis(uvw, tm, beams, geo, flat_at)[:, :, None] * np.ones(d.shape[-1])
                        t.putcol("MODEL_DATA", model.astype(d.dtype), r0, nr)
                    else:
                        t.putcol(col, d, r0, nr)
            if selfcal:
                from .selfcal import SelfCalFailed, apply_phases, solve_phases  # noqa: PLC0415

                # the gains apply to the sky as observed, the beam difference was predicted
                # without them: result = original / (g_i g_j^*) - delta.  Solving on
                # original - delta leaves (g_i g_j^* - 1) delta unmodelled, so a second
                # solve on the corrected data refines the phases (large phases only).
                # delta is not predicted again: DATA holds (original / previous gains) - delta
                gains = have = None
                sc = None
                for it in range(2):
                    try:
                        g, h, sc_it = solve_phases(tmp, os.path.dirname(os.path.abspath(ms_out)))
                    except SelfCalFailed as err:
                        # keep what the previous pass gave (or the equalized data without
                        # self-cal): an image without self-cal is better than no image
                        log.warning("%s; self-calibration pass %d dropped, keeping %s", err, it + 1,
                                    f"pass {it}" if it else "the data without self-calibration")
                        if sc is None:
                            sc = {"failed": str(err)}
                            if col != "DATA":
                                with tables.table(tmp, readonly=False, ack=False) as t:
                                    for r0 in range(0, t.nrows(), rows_per_chunk):
                                        nr = min(rows_per_chunk, t.nrows() - r0)
                                        t.putcol(col, t.getcol("DATA", r0, nr), r0, nr)
                        else:
                            sc["failed_pass"] = it + 1
                        break
                    sc = sc_it
                    prev, prev_have = (np.ones_like(g), np.ones_like(h)) if have is None else (gains, have)
                    gains, have = g * prev, h & prev_have
                    n_new = 0
                    with tables.table(ms_in, ack=False) as src, tables.table(tmp, readonly=False, ack=False) as t:
                        for r0 in range(0, t.nrows(), rows_per_chunk):
                            nr = min(rows_per_chunk, t.nrows() - r0)
                            orig, flag = src.getcol(col, r0, nr), src.getcol("FLAG", r0, nr)
                            a1, a2 = t.getcol("ANTENNA1", r0, nr), t.getcol("ANTENNA2", r0, nr)
                            delta = orig.copy()
                            apply_phases(delta, flag.copy(), a1, a2, prev, prev_have)
                            delta -= t.getcol("DATA", r0, nr)
                            out = orig.copy()
                            n_new += apply_phases(out, flag, a1, a2, gains, have)
                            out -= delta
                            t.putcol("DATA", out, r0, nr)  # the next solve's input, and the product below
                            if col != "DATA":
                                t.putcol(col, out, r0, nr)
                            t.putcol("FLAG", flag, r0, nr)
                    sc["iteration"] = it + 1
                if gains is not None:
                    sc["phase_rms_deg"] = float(np.sqrt(np.mean(np.degrees(np.angle(gains[have])) ** 2))) if have.any() else 0.0
                    sc["n_samples_flagged"] = n_new
                summary["selfcal"] = sc
    log.info("%s: beam made static for %d catalog sources, %d outside the image removed (max apparent >= %g mJy)",
             os.path.basename(ms_in.rstrip("/")), sum(a > 0 for _, a in chosen), sum(a == 0 for _, a in chosen), min_apparent_mjy)
    return summary
