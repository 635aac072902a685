"""Observing plan and sky model of a simulated DSA-110 run.

Everything here is a pure function of the ``simulation`` and ``telescope`` config
sections, so the workflow can list every file the simulator will write before it
runs (dry runs stay cheap), and a given seed always gives the same run.

Plan: ``n_epochs`` days.  Each epoch holds one calibrator-transit group (the
calibrator crosses the meridian at the group's mid-time) and
``science_groups_per_epoch`` science groups starting ``science_offset_min`` minutes
later, contiguous or, with ``science_spacing_min``, one every that many minutes (a long
strip sampled sparsely).  Epoch e starts e sidereal days after epoch 0,
so every epoch sees the same fields at the same LST.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
from astropy.time import Time

from .. import astrometry
from ..bands import N_SUBBANDS
from ..settings import Simulation, Telescope

SIDEREAL_DAY_S = 86164.0905
TIMESTAMP_FMT = "%Y-%m-%dT%H:%M:%S"


@dataclass
class PlannedGroup:
    """One simulated ~5-minute group."""

    index: int
    epoch: int
    kind: str  # "calibrator" | "science"
    start_jd: float  # start of the first integration (UTC JD)
    file_times: dict[int, str]  # subband -> file timestamp (YYYY-MM-DDTHH:MM:SS)
    dropped: list[int] = field(default_factory=list)  # subbands deliberately not written

    @property
    def group_id(self) -> str:
        """Group id = earliest file timestamp among all 16 planned subbands."""
        return min(self.file_times.values())

    def filenames(self) -> dict[int, str]:
        """subband -> file name, for the subbands actually written."""
        return {sb: f"{ts}_sb{sb:02d}.hdf5" for sb, ts in sorted(self.file_times.items()) if sb not in self.dropped}


def transit_jd(ra_icrs_deg: float, dec_deg: float, date: str, *, telescope: Telescope) -> float:
    """UTC JD on ``date`` (YYYY-MM-DD) when the ICRS source crosses the local meridian."""
    loc = telescope.location
    jd = Time(f"{date}T00:00:00", scale="utc").jd
    for _ in range(4):
        ha, _dec = astrometry.hadec_of(math.radians(ra_icrs_deg), math.radians(dec_deg), jd, loc)
        jd -= float(ha[0]) / (2 * math.pi) * SIDEREAL_DAY_S / 86400.0
    return jd


def group_duration_s(*, simulation: Simulation) -> float:
    """Length of a group (s): integrations x integration time."""
    return simulation.ntimes * simulation.integration_s


def sim_day(group_id: str) -> str:
    """The UTC date (``YYYY-MM-DD``) of a group id (ISO time): the simulator writes one directory per date."""
    return group_id[:10]


def plan(*, simulation: Simulation, telescope: Telescope) -> list[PlannedGroup]:
    """The list of groups the simulator writes, with per-subband file timestamps
    (jitter drawn from ``default_rng([seed, 1])``, uniform in 0..``jitter_s`` s)."""
    sim = simulation
    rng = np.random.default_rng([sim.seed, 1])
    cal = sim.calibrator
    dur = group_duration_s(simulation=sim)
    step = sim.science_spacing_min * 60.0 if sim.science_spacing_min else dur  # s between science group starts
    if step < dur:
        raise ValueError(f"simulation.science_spacing_min = {sim.science_spacing_min}: groups would overlap; "
                         f"use 0 (contiguous) or at least {dur / 60:.2f} min (one group)")
    t0 = transit_jd(cal.ra_deg, sim.pointing_dec_deg, sim.start_date, telescope=telescope)
    # (epoch, kind, index) -> subbands not written; a group not listed here is complete
    drops = {(d.epoch, d.kind, d.index): list(d.drop_subbands) for d in sim.incomplete_groups}
    starts = []  # (epoch, kind, index within the epoch, start JD), in time order per epoch
    for e in range(sim.n_epochs):
        base = t0 + e * SIDEREAL_DAY_S / 86400.0
        starts.append((e, "calibrator", 0, base - dur / 2 / 86400.0))
        sci0 = base + sim.science_offset_min * 60.0 / 86400.0
        starts += [(e, "science", k, sci0 + k * step / 86400.0) for k in range(sim.science_groups_per_epoch)]
    utc = [jd_to_datetime(s[3]) for s in starts]
    groups: list[PlannedGroup] = []
    for (e, kind, k, start), t in zip(starts, utc):
        jit = rng.uniform(0.0, sim.jitter_s, N_SUBBANDS)
        ftimes = {sb: (t + timedelta(seconds=float(jit[sb]))).strftime(TIMESTAMP_FMT) for sb in range(N_SUBBANDS)}
        groups.append(PlannedGroup(len(groups), e, kind, start, ftimes, drops.get((e, kind, k), [])))
    return groups


UNIX_EPOCH_JD = 2440587.5


def jd_to_datetime(jd: float) -> datetime:
    """UTC JD -> timezone-aware datetime, to the microsecond (as astropy's ``to_datetime``, which
    takes ~0.3 ms per time: a month's 8,640 groups cost seconds; no leap second falls in a group)."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=round((jd - UNIX_EPOCH_JD) * 86400e6))


def group_times_jd(g: PlannedGroup, *, simulation: Simulation) -> np.ndarray:
    """Integration centres (UTC JD) of a planned group."""
    sim = simulation
    dt = sim.integration_s / 86400.0
    return g.start_jd + (np.arange(sim.ntimes) + 0.5) * dt


def sky_model(*, simulation: Simulation, telescope: Telescope, groups: list[PlannedGroup]) -> list[dict]:
    """Point sources: the calibrator plus ``n_field_sources`` around each science field
    of the first epoch, or (``field_density_per_deg2`` > 0) a strip sky (:func:`strip_sources`).

    Each source: name, ra_deg, dec_deg (ICRS), flux_jy at 1.4 GHz, alpha
    (S ~ nu^alpha), kind.  Field sources fall within ``field_radius_deg`` of the
    meridian point at the science group's mid-time; fluxes follow dN/dS ~ S^-1.8
    between ``field_flux_mjy`` limits.
    """
    sim = simulation
    rng = np.random.default_rng([sim.seed, 2])
    cal = sim.calibrator
    out = [
        {
            "name": cal.name,
            "ra_deg": float(cal.ra_deg),
            "dec_deg": float(sim.pointing_dec_deg + cal.dec_offset_deg),
            "flux_jy": float(cal.flux_jy),
            "alpha": float(cal.alpha),
            "kind": "calibrator",
        }
    ]
    loc = telescope.location
    lo, hi = (x / 1000.0 for x in sim.field_flux_mjy)
    g_exp = 1.0 - 1.8
    if sim.field_density_per_deg2 > 0:
        return out + strip_sources(simulation=sim, telescope=telescope, groups=groups, rng=rng)
    for g in groups:
        if g.epoch != 0 or g.kind != "science":
            continue
        mid = float(group_times_jd(g, simulation=sim).mean())
        ra0, dec0 = astrometry.meridian_icrs(mid, math.radians(sim.pointing_dec_deg), loc)
        for _ in range(sim.n_field_sources):
            r = sim.field_radius_deg * math.sqrt(rng.uniform())
            th = rng.uniform(0, 2 * math.pi)
            dec = math.degrees(dec0) + r * math.sin(th)
            ra = math.degrees(ra0) + r * math.cos(th) / math.cos(math.radians(dec))
            uq = rng.uniform()
            flux = (lo**g_exp + uq * (hi**g_exp - lo**g_exp)) ** (1 / g_exp)
            out.append(
                {
                    "name": f"SIM_J{ra % 360:08.4f}{dec:+08.4f}",
                    "ra_deg": ra % 360.0,
                    "dec_deg": dec,
                    "flux_jy": float(flux),
                    "alpha": float(rng.normal(-0.7, 0.2)),
                    "kind": "field",
                }
            )
    return out


def _field_source(ra: float, dec: float, flux: float, rng: np.random.Generator) -> dict:
    return {"name": f"SIM_J{ra % 360:08.4f}{dec:+08.4f}", "ra_deg": ra % 360.0, "dec_deg": dec, "flux_jy": float(flux),
            "alpha": float(rng.normal(-0.7, 0.2)), "kind": "field"}


def strip_sources(*, simulation: Simulation, telescope: Telescope, groups: list[PlannedGroup],
                  rng: np.random.Generator) -> list[dict]:
    """The sky of a drift-scan strip: field sources at ``field_density_per_deg2`` (a Poisson
    number) uniform on the sphere over the RA the first epoch's groups cover (their meridian
    RAs at mid-time, padded by ``field_radius_deg`` on the sky) and within
    ``field_radius_deg`` of the pointing declination; fluxes dN/dS ~ S^-1.8 between
    ``field_flux_mjy``.  Every epoch sees the same strip (epochs are sidereal days apart).
    RA is measured from the strip's start and wrapped into [0, 360), so a strip may cross 0h."""
    sim = simulation
    first = [g for g in groups if g.epoch == 0] or groups
    mids = [float(group_times_jd(g, simulation=sim).mean()) for g in first]
    ras = np.degrees(astrometry.meridian_icrs_many(mids, math.radians(sim.pointing_dec_deg), telescope.location)[0]).tolist()
    # unwrap the meridian RAs (they increase with time) so the span is continuous across 0h
    span = [ras[0] + ((r - ras[0]) % 360.0) for r in ras]
    lo_dec, hi_dec = sim.pointing_dec_deg - sim.field_radius_deg, sim.pointing_dec_deg + sim.field_radius_deg
    pad = sim.field_radius_deg / math.cos(math.radians(max(abs(lo_dec), abs(hi_dec))))
    ra0, ra1 = min(span) - pad, max(span) + pad
    s_lo, s_hi = math.sin(math.radians(lo_dec)), math.sin(math.radians(hi_dec))
    area_deg2 = math.radians(ra1 - ra0) * (s_hi - s_lo) * (180.0 / math.pi) ** 2
    n = int(rng.poisson(sim.field_density_per_deg2 * area_deg2))
    lo, hi = (x / 1000.0 for x in sim.field_flux_mjy)
    g_exp = 1.0 - 1.8
    out = []
    for _ in range(n):
        ra = ra0 + (ra1 - ra0) * rng.uniform()
        dec = math.degrees(math.asin(s_lo + (s_hi - s_lo) * rng.uniform()))
        flux = (lo**g_exp + rng.uniform() * (hi**g_exp - lo**g_exp)) ** (1 / g_exp)
        out.append(_field_source(ra, dec, flux, rng))
    return out


def ese_lightcurve(epochs: np.ndarray, *, center: float, half_width: float, depth: float, spike: float,
                   spike_width: float) -> np.ndarray:
    """Flux factor of an extreme-scattering-event light curve at the given epochs (days).

    A plasma lens crossing the line of sight defocuses the source (a dip of fractional
    ``depth``) between two caustics, where it focuses light (brief brightenings of
    fractional ``spike``).  With ``x = (epoch - center) / half_width``::

        f(x) = 1 - depth * s(x) + spike * (exp(-((|x| - 1) / w)^2 / 2))

    where ``s`` is a smooth top hat (1 for |x| < 1 - w, 0 beyond 1, cosine edges) and
    ``w = spike_width``.  f = 1 far from the event; the shape is achromatic.
    """
    x = np.abs((np.asarray(epochs, dtype=float) - center) / half_width)
    w = spike_width
    edge = np.clip((x - (1.0 - w)) / w, 0.0, 1.0)
    s = np.where(x < 1.0, 0.5 * (1.0 + np.cos(np.pi * edge)), 0.0)
    return 1.0 - depth * s + spike * np.exp(-0.5 * ((x - 1.0) / w) ** 2)


def pick_ese_source(sky: list[dict], *, min_flux_mjy: float) -> int | None:
    """Index in ``sky`` of the ESE source: the field source at or above ``min_flux_mjy``
    (mJy at 1.4 GHz) closest to the centroid of the field sources (so it sits high in the primary beam)."""
    field = [k for k, s in enumerate(sky) if s["kind"] == "field"]
    bright = [k for k in field if sky[k]["flux_jy"] * 1000.0 >= min_flux_mjy]
    if not bright:
        return None
    ra = np.radians([sky[k]["ra_deg"] for k in field])
    dec = np.array([sky[k]["dec_deg"] for k in field])
    # the circular mean of RA: a field or strip may straddle 0h
    ra0, dec0 = math.degrees(math.atan2(np.sin(ra).mean(), np.cos(ra).mean())), float(np.median(dec))
    dist = [math.hypot(((sky[k]["ra_deg"] - ra0 + 180.0) % 360.0 - 180.0) * math.cos(math.radians(dec0)), sky[k]["dec_deg"] - dec0)
            for k in bright]
    return bright[int(np.argmin(dist))]
