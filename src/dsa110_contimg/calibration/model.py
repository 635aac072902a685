"""MODEL_DATA for a calibrator: CASA ft() of a point-source component list, times the beam.

``ft`` predicts the calibrator's visibilities (flux density and spectral index at its
position, relative to the MS phase centre).  The calibrator drifts through the fixed
primary beam during a 5-minute group, so MODEL_DATA is then multiplied by the Airy
power pattern A(t, nu) of the dish at the calibrator's direction relative to the
pointing (meridian at each integration, pointing declination).  Gain solutions against
this model carry the true flux scale.

Sources are :class:`~dsa110_contimg.sky.PointSource` (flux at 1.4 GHz, spectral index);
MS metadata come from :mod:`dsa110_contimg.msmeta`, the fringe from
:func:`dsa110_contimg.kernels.fringe_sum` (CASA ft's sign).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile

import numpy as np
from casacore import tables

from .. import astrometry, msmeta
from ..casa_env import configure_casa
from ..geometry import airy_power, angular_separation
from ..kernels import fringe_sum
from ..settings import Telescope
from ..sky import REF_FREQ_HZ, PointSource
from .casa_calls import predict_components

log = logging.getLogger(__name__)


def beam_factors(ms_path: str, source: PointSource, *, telescope: Telescope) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unique MJD-second times, channel frequencies (Hz), A[t, nu]) of ``source`` for this MS.

    A is the Airy power pattern of a ``telescope.dish_diameter_m`` dish at the angle between
    the source and the pointing (apparent meridian at the MS pointing declination).
    """
    loc = telescope.location
    times = msmeta.unique_times_s(ms_path)
    freqs = msmeta.channel_freqs_hz(ms_path)
    jd = msmeta.mjd_s_to_jd(times)
    dec_p = msmeta.pointing_dec_rad(ms_path)
    lst = astrometry.last_rad(jd, loc)
    s0 = astrometry.direction_itrs(lst, np.full(lst.shape, dec_p), jd, loc, frame="apparent")
    s = astrometry.direction_itrs(np.full(jd.shape, math.radians(source.ra_deg)), np.full(jd.shape, math.radians(source.dec_deg)), jd, loc)
    sep = np.arccos(np.clip(np.sum(s * s0, axis=1), -1, 1))
    return times, freqs, airy_power(sep[:, None], freqs[None, :], telescope.dish_diameter_m)


def set_model(ms_path: str, sources: list[PointSource], *, telescope: Telescope, workdir: str | None = None) -> None:
    """MODEL_DATA = sum over ``sources`` of ft(point source) x its own beam A_s(t, nu).

    Each source is predicted alone with ``ft`` (its flux, spectral index, position),
    multiplied by the Airy power pattern at its direction per integration and channel,
    and accumulated; the sum is written once.  ``workdir`` holds the temporary component
    lists (default: the system's temporary directory).
    """
    if not sources:
        raise ValueError(f"{ms_path}: no model sources given")
    configure_casa()
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
            predict_components(ms_path, complist=cl_path)
            times, _freqs, beam = beam_factors(ms_path, src, telescope=telescope)
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
                predicted = dft_point_source(ms_path, src, telescope=telescope)
            part = predicted * beam[idx][:, :, None].astype(np.float32)
            total = part if total is None else total + part
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with tables.table(ms_path, readonly=False, ack=False) as t:
        t.putcol("MODEL_DATA", total)


def point_source_rows(source: PointSource, *, uvw_m: np.ndarray, time_s: np.ndarray, geo: msmeta.DriftGeometry) -> np.ndarray:
    """S(nu) K for rows with ``uvw_m`` (Nrow, 3; metres, MS convention) at ``time_s`` (MJD s):
    complex128 (Nrow, Nchan) over ``geo.freqs_hz``, relative to ``geo.phase_centre``.

    S(nu) = flux (nu / 1.4 GHz)^alpha; K = exp(+2 pi i nu/c (u l + v m + w (n - 1))) (CASA's sign,
    :mod:`dsa110_contimg.kernels`).
    """
    spec = source.flux_at(geo.freqs_hz)[None, :]
    return fringe_sum(uvw_m=uvw_m, freqs_hz=geo.freqs_hz, phase_centre_rad=geo.phase_centre,
                      terms=[(source, spec)], time_index=geo.time_index(time_s), n_times=geo.times.size)


def dft_point_source(ms_path: str, source: PointSource, *, telescope: Telescope, rows_per_chunk: int = 20000) -> np.ndarray:
    """What ``ft`` predicts for one point source, computed directly (:func:`point_source_rows`)
    on every row and correlation (XX = YY = S for an unpolarised source): complex64 (Nrow, Nchan, Npol)."""
    geo = msmeta.drift_geometry(ms_path, location=telescope.location)
    with tables.table(ms_path, ack=False) as t:
        npol = t.getcol("DATA", 0, 1).shape[-1]
        out = np.empty((t.nrows(), geo.freqs_hz.size, npol), np.complex64)
        for r0 in range(0, t.nrows(), rows_per_chunk):
            n = min(rows_per_chunk, t.nrows() - r0)
            rows = point_source_rows(source, uvw_m=t.getcol("UVW", r0, n), time_s=t.getcol("TIME", r0, n), geo=geo)
            out[r0:r0 + n] = rows[:, :, None]
    return out


def set_calibrator_model(ms_path: str, cal: PointSource, *, telescope: Telescope, workdir: str | None = None) -> None:
    """Fill MODEL_DATA with one calibrator's predicted visibilities (ft, then the beam)."""
    set_model(ms_path, [cal], telescope=telescope, workdir=workdir)


def model_sources(cal: PointSource | None, sky: list[PointSource], *, ra0_deg: float, dec0_deg: float,
                  radius_deg: float, min_flux_jy: float) -> list[PointSource]:
    """Which sources make the model (the seed's precedence).

    A calibrator in the field (given, and within ``radius_deg`` of the pointing centre
    (ra0, dec0), all degrees) wins: a single-component model.  Otherwise every catalog
    source within ``radius_deg`` with 1.4 GHz flux >= ``min_flux_jy`` (Jy).
    """
    def sep(s):
        return math.degrees(angular_separation(math.radians(s.ra_deg), math.radians(s.dec_deg), math.radians(ra0_deg), math.radians(dec0_deg)))

    if cal is not None and sep(cal) <= radius_deg:
        return [cal]
    return [s for s in sky if sep(s) <= radius_deg and s.flux_jy >= min_flux_jy]
