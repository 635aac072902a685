"""The static-beam plan: which catalog sources get which beam (pure numpy, no MS writes).

Why: DSA-110 dishes stay on the meridian, so during a 5-minute group the pointing slides
~1.3 deg of RA through the image's phase centre, and the primary-beam gain towards an
off-axis source changes by up to +-20 % within the group and by ~13 % across the band.
The source's response in the dirty image is then not one PSF times one flux but a sum
of slightly different PSFs with different weights.  Single-PSF Hogbom clean (tclean
``wproject``, nterms = 1) cannot model that part; it stays in the residual as a
structured floor (~0.6 mJy on the demo) that moves the peaks of 50-100 mJy sources by
several per cent.

What: for every catalog source whose apparent flux is at least
``imaging.static_beam_min_mjy``, the predicted visibilities of the source under the true
drift-scan beam A_s(t, nu) are exchanged for the same source under the constant beam
A_s-bar (the beam averaged over the group's pointing drift, at the image's reference
frequency -- the beam the pbcor divides by):

    V'(t, nu) = V(t, nu) - [S_s(nu) A_s(t, nu) - T_s(nu) A_s-bar] K_s(u, v, w, nu)

with S_s(nu) = S_1.4 (nu / 1.4 GHz)^alpha the catalog spectrum, T_s = S_s (or, with
``imaging.flat_spectrum`` for the bright sources, S_s(nu_ref) on every channel: a flat
spectrum, since nterms = 1 clean models flat spectra only) and K_s the point-source
fringe of :func:`dsa110_contimg.kernels.fringe_sum` (CASA ``ft``'s sign).  Only the
*difference* of the two beams times the catalog flux is subtracted, so a catalog flux
that is off by x % leaves x % of an effect that was a few per cent: second order.

The beam A_s(t, nu) is the H5 beam model's Stokes-I power pattern at the source's offset
from the pointing (meridian at each integration, pointing declination), with the offset
scaled by nu / nu_model from the nearest model frequency (a dish pattern scales with
frequency).  Offsets are direction cosines (east, north) of the source relative to the
pointing; the H5 pattern's phi is measured from north through east, as in the VP table.

:func:`plan_static_beam` decides (sources, A_s, A_s-bar, flat spectra, whether to
self-calibrate); :mod:`.beam_equalize` writes the plan into a copy of the MS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..beam.drift_beam import source_beam
from ..kernels import direction_cosines, fringe_sum
from ..msmeta import DriftGeometry
from ..settings import Imaging
from ..sky import REF_FREQ_HZ, PointSource


@dataclass(frozen=True)
class TreatedSource:
    """One source of the plan: its drift-scan beam A_s[t, chan], the beam it is given
    (A_s-bar; 0 = removed from the data), and whether its target spectrum is flat."""

    source: PointSource
    beam: np.ndarray
    static_beam: float
    flat_spectrum: bool

    def target_spectrum(self, nu: np.ndarray, ref_freq_hz: float) -> np.ndarray:
        """T_s(nu): the catalog spectrum, or (flat) the catalog flux at ``ref_freq_hz`` on every channel."""
        if self.flat_spectrum:
            return np.full(nu.shape, self.source.flux_at(np.asarray(ref_freq_hz)))
        return self.source.flux_at(nu)


@dataclass(frozen=True)
class StaticBeamPlan:
    """What the static beam does to one MS (see the module docstring)."""

    geometry: DriftGeometry
    ref_freq_hz: float
    treated: tuple[TreatedSource, ...]
    selfcal: bool  # phase self-calibration against the static catalog model
    qa: dict  # the summary for the QA record (selfcal results are added by the writer)

    def beam_difference_vis(self, uvw_m: np.ndarray, time_s: np.ndarray, *, threads: int = 1) -> np.ndarray:
        """sum_s [S_s(nu) A_s(t, nu) - T_s(nu) A_s-bar] K_s, complex64 (Nrow, Nchan), for rows
        with ``uvw_m`` (metres, the MS's UVW) at ``time_s`` (MS TIME), on ``threads`` threads."""
        nu = self.geometry.freqs_hz
        return self._fringes(uvw_m, time_s, threads, [(e.source, e.beam * e.source.flux_at(nu)[None, :]
                                              - e.static_beam * e.target_spectrum(nu, self.ref_freq_hz)[None, :])
                                             for e in self.treated])

    def static_model_vis(self, uvw_m: np.ndarray, time_s: np.ndarray, *, threads: int = 1,
                         freqs_hz: np.ndarray | None = None) -> np.ndarray:
        """sum_s T_s(nu) A_s-bar K_s: the catalog sky as the equalized data should show it, at
        the MS's channels or at ``freqs_hz`` (Hz; e.g. those of a channel-averaged copy)."""
        nu = self.geometry.freqs_hz if freqs_hz is None else np.asarray(freqs_hz, float)
        return self._fringes(uvw_m, time_s, threads, [(e.source, e.static_beam * e.target_spectrum(nu, self.ref_freq_hz)[None, :])
                                             for e in self.treated if e.static_beam > 0], freqs_hz=nu)

    def _fringes(self, uvw_m, time_s, threads, terms, freqs_hz=None):
        geo = self.geometry
        freqs = geo.freqs_hz if freqs_hz is None else freqs_hz
        return fringe_sum(uvw_m=uvw_m, freqs_hz=freqs, phase_centre_rad=geo.phase_centre, terms=terms,
                          time_index=geo.time_index(time_s), n_times=geo.times.size, dtype=np.complex64,
                          threads=threads)


def select_sources(sources, geo: DriftGeometry, beams: dict[float, dict], *, ref_freq_hz: float, half_width_deg: float,
                   min_apparent_mjy: float, max_radius_deg: float) -> list[tuple[PointSource, np.ndarray, float]]:
    """The sources to treat: (source, its beam A_s[t, chan], the beam it is given A_s-bar).

    A source inside the image (|l|, |m| <= ``half_width_deg`` from the phase centre) gets
    A_s-bar, the beam averaged over the integrations at ``ref_freq_hz``, and is kept in
    the data.  A source outside the image cannot be cleaned, so it is removed
    (A_s-bar = 0).  Either is done only where the catalog flux at the lowest frequency
    times the largest beam gain over the group reaches ``min_apparent_mjy``, and within
    ``max_radius_deg`` of the phase centre.
    """
    out = []
    for s in sources:
        if s.flux_jy * 1e3 * (geo.freqs_hz.min() / REF_FREQ_HZ) ** min(s.alpha, 0.0) < min_apparent_mjy:
            continue  # too faint even on axis (the beam gain is at most 1)
        l, m, n = direction_cosines(math.radians(s.ra_deg), math.radians(s.dec_deg), geo.ra0, geo.dec0)
        if math.degrees(math.acos(min(1.0, float(n)))) > max_radius_deg:
            continue
        a = source_beam(beams, s, geo)
        if s.flux_jy * (geo.freqs_hz.min() / REF_FREQ_HZ) ** min(s.alpha, 0.0) * float(a.max()) * 1e3 < min_apparent_mjy:
            continue
        inside = max(abs(math.degrees(math.asin(l))), abs(math.degrees(math.asin(m)))) <= half_width_deg
        out.append((s, a, float(np.mean(source_beam(beams, s, geo, ref_freq_hz))) if inside else 0.0))
    return out


def plan_static_beam(*, sources, geometry: DriftGeometry, beams: dict[float, dict], imaging: Imaging,
                     ref_freq_hz: float, half_width_deg: float) -> StaticBeamPlan:
    """The static-beam plan for one MS.

    ``sources``: catalog :class:`~dsa110_contimg.sky.PointSource` s; ``geometry``: the MS's
    :class:`~dsa110_contimg.msmeta.DriftGeometry`; ``beams``: :func:`load_beams`;
    ``ref_freq_hz``: the image's reference frequency (the beam pbcor divides by);
    ``half_width_deg``: half the image's field (sources beyond it, or within
    ``static_beam_edge_fraction`` of it from the edge, are removed: CLEAN cannot model a
    source at the image edge).
    From ``imaging``: ``static_beam_min_mjy``, ``static_beam_max_radius_deg`` (which
    sources), ``flat_spectrum`` and ``flat_spectrum_min_mjy`` (kept sources whose catalog
    flux x largest beam gain reaches this get a flat spectrum at ``ref_freq_hz``: nterms
    = 1 clean models a flat spectrum only, and the band-dependent rest of a bright
    steep-spectrum source otherwise stays in the residual along its sidelobes; for
    fainter sources the catalog's spectral-index error can outweigh the gain, hence the
    cut), ``selfcal`` and ``selfcal_min_model_mjy`` (self-calibrate only when some source
    is kept and the catalog model, flux x A_s-bar, holds at least this).
    """
    chosen = select_sources(sources, geometry, beams, ref_freq_hz=ref_freq_hz,
                            half_width_deg=half_width_deg * (1.0 - imaging.static_beam_edge_fraction),
                            min_apparent_mjy=imaging.static_beam_min_mjy, max_radius_deg=imaging.static_beam_max_radius_deg)
    treated = tuple(TreatedSource(s, a, abar, imaging.flat_spectrum and abar > 0
                                  and s.flux_jy * 1e3 * float(a.max()) >= imaging.flat_spectrum_min_mjy)
                    for s, a, abar in chosen)
    qa = {"n_sources": len(treated), "n_removed_outside_image": sum(e.static_beam == 0 for e in treated),
          "min_apparent_mjy": imaging.static_beam_min_mjy, "ref_freq_hz": ref_freq_hz,
          "flat_spectrum": imaging.flat_spectrum, "flat_min_mjy": imaging.flat_spectrum_min_mjy,
          "sources": [{"name": e.source.name, "flux_jy": e.source.flux_jy, "static_beam": e.static_beam,
                       "flat_spectrum": e.flat_spectrum} for e in treated]}
    selfcal = imaging.selfcal and any(e.static_beam > 0 for e in treated)
    if selfcal:
        model_jy = sum(e.source.flux_jy * e.static_beam for e in treated)
        min_jy = imaging.selfcal_min_model_mjy / 1e3
        if model_jy < min_jy:
            qa["selfcal"] = {"skipped": f"model flux {model_jy:.3g} Jy below {min_jy:.3g} Jy"}
            selfcal = False
    return StaticBeamPlan(geometry, ref_freq_hz, treated, selfcal, qa)
