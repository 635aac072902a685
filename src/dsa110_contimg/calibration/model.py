"""MODEL_DATA for a calibrator: CASA ft() of a point-source component list, times the beam.

``ft`` predicts the calibrator's visibilities (flux density and spectral index at its
position, relative to the MS phase centre).  The calibrator drifts through the fixed
primary beam during a 5-minute group, so MODEL_DATA is then multiplied by the Airy
power pattern A(t, nu) of the 4.65 m dish at the calibrator's direction relative to
the pointing (meridian at each integration, pointing declination).  Gain solutions
against this model carry the true flux scale.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile

import numpy as np
from casacore import tables

from .. import astrometry
from ..casa_env import configure_casa
from ..geometry import airy_power
from .calibrators import REF_FREQ_HZ, Calibrator

log = logging.getLogger(__name__)


def ms_pointing_dec(ms_path: str) -> float:
    """Pointing declination (radians): the raw files' ``phase_center_dec``, kept by the converter."""
    import json  # noqa: PLC0415

    with tables.table(ms_path, ack=False) as t:
        kw = t.getkeywords()
    if "DSA110_PROVENANCE" in kw:
        prov = json.loads(kw["DSA110_PROVENANCE"])
        if "pointing_dec_rad" in prov:
            return float(prov["pointing_dec_rad"])
    with tables.table(f"{ms_path}::FIELD", ack=False) as t:
        return float(t.getcol("PHASE_DIR")[0, 0, 1])


def beam_factors(ms_path: str, cal: Calibrator, tel: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unique MJD-second times, channel frequencies, A[t, nu]) of the calibrator for this MS."""
    loc = astrometry.location(tel["lon_deg"], tel["lat_deg"], tel["height_m"])
    with tables.table(ms_path, ack=False) as t:
        times = np.unique(t.getcol("TIME"))
    with tables.table(f"{ms_path}::SPECTRAL_WINDOW", ack=False) as t:
        freqs = t.getcol("CHAN_FREQ")[0]
    jd = times / 86400.0 + 2400000.5
    dec_p = ms_pointing_dec(ms_path)
    lst = astrometry.last_rad(jd, loc)
    s0 = astrometry.direction_itrs(lst, np.full(lst.shape, dec_p), jd, loc, frame="apparent")
    s = astrometry.direction_itrs(np.full(jd.shape, math.radians(cal.ra_deg)), np.full(jd.shape, math.radians(cal.dec_deg)), jd, loc)
    sep = np.arccos(np.clip(np.sum(s * s0, axis=1), -1, 1))
    return times, freqs, airy_power(sep[:, None], freqs[None, :], tel["dish_diameter_m"])


def set_model(ms_path: str, sources: list[Calibrator], tel: dict, workdir: str | None = None) -> None:
    """MODEL_DATA = sum over ``sources`` of ft(point source) x its own beam A_s(t, nu).

    Each source is predicted alone with ``ft`` (its flux, spectral index, position),
    multiplied by the Airy power pattern at its direction per integration and channel,
    and accumulated; the sum is written once.
    """
    if not sources:
        raise ValueError(f"{ms_path}: no model sources given")
    configure_casa()
    from casatasks import ft  # noqa: PLC0415
    from casatools import componentlist  # noqa: PLC0415

    total = None
    tmp = tempfile.mkdtemp(prefix="cl.", dir=workdir)
    try:
        for k, src in enumerate(sources):
            cl_path = os.path.join(tmp, f"src{k}.cl")
            cl = componentlist()
            cl.addcomponent(
                dir=f"J2000 {src.ra_deg}deg {src.dec_deg}deg",
                flux=src.flux_jy,
                fluxunit="Jy",
                freq=f"{REF_FREQ_HZ / 1e9}GHz",
                shape="point",
                spectrumtype="spectral index",
                index=src.alpha,
            )
            cl.rename(cl_path)
            cl.close()
            ft(vis=ms_path, complist=cl_path, usescratch=True)
            times, _freqs, beam = beam_factors(ms_path, src, tel)
            if not np.isfinite(beam).all():
                raise ValueError(f"{ms_path}: non-finite primary-beam factors for {src.name} (check the MS times and the telescope position)")
            with tables.table(ms_path, ack=False) as t:
                idx = np.searchsorted(times, t.getcol("TIME"))
                predicted = t.getcol("MODEL_DATA")
            bad = ~np.isfinite(predicted)
            if bad.any():
                # seen sporadically from ft in long test runs on fresh installs; the package's
                # own DFT has the same convention (checked against ft in test_model_dft_matches_ft)
                log.warning("%s: CASA ft returned %d non-finite values for %s; using the package's own DFT instead",
                            ms_path, int(bad.sum()), src.name)
                predicted = dft_point_source(ms_path, src, tel)
            part = predicted * beam[idx][:, :, None].astype(np.float32)
            total = part if total is None else total + part
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with tables.table(ms_path, readonly=False, ack=False) as t:
        t.putcol("MODEL_DATA", total)


def dft_point_source(ms_path: str, src: Calibrator, tel: dict, rows_per_chunk: int = 20000) -> np.ndarray:
    """What ``ft`` predicts for one point source, computed directly: S(nu) K on every row and
    correlation (XX = YY = S for an unpolarised source), complex64 (Nrow, Nchan, Npol).

    S(nu) = flux (nu / 1.4 GHz)^alpha; K = exp(+2 pi i nu/c (u l + v m + w (n - 1))) with
    (l, m, n) the source's direction cosines relative to the phase centre (CASA's sign).
    """
    from ..imaging.beam_equalize import fringe_sum, ms_geometry  # noqa: PLC0415

    geo = ms_geometry(ms_path, tel)
    spec = src.flux_at(geo.freqs_hz)[None, :]
    with tables.table(ms_path, ack=False) as t:
        npol = t.getcol("DATA", 0, 1).shape[-1]
        out = np.empty((t.nrows(), geo.freqs_hz.size, npol), np.complex64)
        for r0 in range(0, t.nrows(), rows_per_chunk):
            n = min(rows_per_chunk, t.nrows() - r0)
            tidx = np.clip(np.searchsorted(geo.times, t.getcol("TIME", r0, n)), 0, geo.times.size - 1)
            out[r0:r0 + n] = fringe_sum(t.getcol("UVW", r0, n), tidx, [(src, spec)], geo)[:, :, None]
    return out


def set_calibrator_model(ms_path: str, cal: Calibrator, tel: dict, workdir: str | None = None) -> None:
    """Fill MODEL_DATA with one calibrator's predicted visibilities (ft, then the beam)."""
    set_model(ms_path, [cal], tel, workdir)


def model_sources(cal: Calibrator | None, sky: list[Calibrator], ra0_deg: float, dec0_deg: float,
                  radius_deg: float, min_flux_jy: float) -> list[Calibrator]:
    """Which sources make the model (the seed's precedence).

    A calibrator in the field (given, and within ``radius_deg`` of the pointing centre)
    wins: a single-component model.  Otherwise every catalog source within
    ``radius_deg`` with 1.4 GHz flux >= ``min_flux_jy``.
    """
    from ..geometry import angular_separation  # noqa: PLC0415

    def sep(s):
        return math.degrees(angular_separation(math.radians(s.ra_deg), math.radians(s.dec_deg), math.radians(ra0_deg), math.radians(dec0_deg)))

    if cal is not None and sep(cal) <= radius_deg:
        return [cal]
    return [s for s in sky if sep(s) <= radius_deg and s.flux_jy >= min_flux_jy]
