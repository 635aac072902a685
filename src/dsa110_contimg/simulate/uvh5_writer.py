"""Write one simulated group as real-format DSA-110 UVH5 subband files.

Format points (see the project's reference notes): ``YYYY-MM-DDTHH:MM:SS_sbNN.hdf5``;
16 subbands, sb00 highest, channels descending (negative channel width); XX, YY
(-5, -6); autocorrelations; an antenna table of all 117 stations with data for the
active ones; 12.884902 s integrations; unprojected phase type with DSA-110
``extra_keywords``; uvw float32, visibilities complex64, nsamples float32.
"""

from __future__ import annotations

import logging
import math
import os

import h5py
import numpy as np
from pyuvdata import Telescope, UVData

from ..atomic import atomic_path
from ..bands import N_SUBBANDS, channel_width_hz, subband_freqs
from ..geometry import Stations, geodetic_to_ecef
from ..settings import Simulation
from ..settings import Telescope as TelescopeSettings
from ..startup_cache import cache_pyuvdata_jit
from . import corruptions
from .scenario import PlannedGroup, group_times_jd
from .visibilities import fringestop_basis, source_directions, true_visibilities

cache_pyuvdata_jit()  # pyuvdata's numba kernels compiled once, not in every job

log = logging.getLogger(__name__)


def _array_centre_ecef(telescope: TelescopeSettings) -> np.ndarray:
    """ITRF position (m) of the array reference, the origin of the files' antenna positions."""
    return geodetic_to_ecef(telescope.lat_deg, telescope.lon_deg, telescope.height_m)


def _uv_telescope(*, telescope: TelescopeSettings, stations: Stations) -> Telescope:
    """pyuvdata ``Telescope`` of all stations (positions relative to the array reference)."""
    tel = telescope
    ref = _array_centre_ecef(tel)
    return Telescope.new(
        name=tel.name,
        location=tel.location,
        antenna_positions=stations.ecef() - ref,
        antenna_names=list(stations.names),
        antenna_numbers=stations.numbers - 1,  # file antenna number = station number - 1
        antenna_diameters=np.full(len(stations), tel.dish_diameter_m),
        instrument="DSA-110",
        feeds=["x", "y"],
        x_orientation="east",
        update_from_known=False,
    )


def write_group(
    g: PlannedGroup,
    *,
    simulation: Simulation,
    telescope: TelescopeSettings,
    stations: Stations,
    truth: dict,
    out_dir: str,
    subbands: list[int] | None = None,
) -> list[str]:
    """Simulate and write the subband files of ``g`` (all but ``g.dropped``, only
    ``subbands`` if given) into ``out_dir``; returns paths.

    ``truth`` is the dict written by the truth rule: active antennas (station numbers),
    sky, corruptions, run start, per-group RFI.
    """
    sim, tel = simulation, telescope
    active, sky = truth["active_antennas"], truth["sky"]
    loc = tel.location
    dec_p = math.radians(sim.pointing_dec_deg)
    times = group_times_jd(g, simulation=sim)
    hours = (times - truth["run_start_jd"]) * 24.0
    nchan = sim.nchan_per_subband
    dnu = channel_width_hz(nchan)
    dt = sim.integration_s
    idx = {n: k for k, n in enumerate(stations.numbers)}
    act_idx = np.array([idx[a] for a in active])
    rel = stations.ecef()[act_idx] - _array_centre_ecef(tel)
    keep, s_src = source_directions(sky, times_jd=times, dec_p_rad=dec_p, location=loc)
    basis = fringestop_basis(times, dec_p_rad=dec_p, location=loc)  # (Nt, 3, 3)
    # intrinsic variability (the ESE source): a per-epoch factor on the 1.4 GHz flux
    # (.get on truth data, not config: only the variable source carries a "lightcurve")
    flux = np.array([sky[k]["flux_jy"] * sky[k].get("lightcurve", [1.0] * (g.epoch + 1))[g.epoch] for k in keep])
    alpha = np.array([sky[k]["alpha"] for k in keep])
    na = len(active)
    iu, ju = np.triu_indices(na)
    antpairs = [(int(active[i]) - 1, int(active[j]) - 1) for i, j in zip(iu, ju, strict=True)]
    nbl = len(antpairs)
    uvw_fs = np.einsum("bk,tjk->tbj", rel[ju] - rel[iu], basis).reshape(-1, 3)  # (Nt*Nbl, 3), time-major
    uv_telescope = _uv_telescope(telescope=tel, stations=stations)
    rfi = truth["rfi"][str(g.index)]
    sefd = sim.sefd_jy
    sigma = sefd / math.sqrt(2 * dnu * dt) if sim.corruptions.noise else 0.0
    sigma_auto = sefd / math.sqrt(dnu * dt) if sim.corruptions.noise else 0.0
    applied = " ".join(f"{v:.0f}" for a in active for v in truth["delays_ns"][str(a)])
    paths = []
    todo = [sb for sb in range(N_SUBBANDS) if sb not in g.dropped and (subbands is None or sb in subbands)]
    for sb in todo:
        freqs = subband_freqs(sb, nchan)
        vt = true_visibilities(ant_rel_ecef=rel, s_src=s_src, s_fs=basis[:, 2], freqs_hz=freqs, flux_jy=flux,
                               alpha=alpha, dish_m=tel.dish_diameter_m)
        jon = np.stack([corruptions.jones(truth, a, epoch=g.epoch, hours=hours, freqs_hz=freqs) for a in active])  # (Na, Nt, Nf, 2)
        if g.kind == "science":
            jon *= np.sqrt(truth["science_scale"][g.epoch])  # drift after the calibrator transit
        rng = np.random.default_rng([sim.seed, 5, g.index, sb])
        data = np.empty((len(times), nbl, nchan, 2), dtype=np.complex64)
        auto = iu == ju
        # system noise enters before the receiver gains, like the sky; a dead antenna's
        # receiver still adds noise (unit gain) but no sky signal (J = 0)
        jnoise = jon.copy()
        if truth["dead_antenna"] in active:  # None when no antenna is dead
            jnoise[active.index(truth["dead_antenna"])] = 1.0
        for p in range(2):
            jp = jon[..., p].transpose(1, 2, 0)  # (Nt, Nf, Na)
            jn = jnoise[..., p].transpose(1, 2, 0)
            v = vt[:, :, iu, ju] + 0  # (Nt, Nf, Nbl)
            v[:, :, auto] += sefd
            v *= np.conj(jp[:, :, iu]) * jp[:, :, ju]
            noise = rng.normal(0.0, 1.0, v.shape + (2,)).astype(np.float32)
            n = sigma * (noise[..., 0] + 1j * noise[..., 1])
            n[:, :, auto] = sigma_auto * noise[:, :, auto, 0]
            v += n * (np.conj(jn[:, :, iu]) * jn[:, :, ju])
            v[:, :, auto] = v[:, :, auto].real
            data[..., p] = v.transpose(0, 2, 1)
        _add_rfi(data, rfi=rfi, sb=sb, nchan=nchan, rng=rng, auto=auto)
        uv = UVData.new(
            freq_array=freqs,
            polarization_array=[-5, -6],
            times=times,
            telescope=uv_telescope,
            antpairs=antpairs,
            do_blt_outer=True,
            time_axis_faster_than_bls=False,
            integration_time=dt,
            channel_width=-dnu,
            data_array=data.reshape(len(times) * nbl, nchan, 2),
            flag_array=np.zeros((len(times) * nbl, nchan, 2), dtype=bool),
            nsample_array=np.ones((len(times) * nbl, nchan, 2), dtype=np.float32),
            vis_units="uncalib",
            history=f"dsa110_contimg simulator seed={sim.seed} group={g.group_id} sb={sb:02d}",
        )
        uv.uvw_array = uvw_fs.astype(np.float32).astype(np.float64)
        uv.extra_keywords = {
            "phase_center_dec": dec_p,
            "ha_phase_center": 0.0,
            "phase_center_epoch": "HADEC",
            "applied_delays_ns": applied,
            "fs_table": "fringestopping_table.npz",
        }
        name = os.path.join(out_dir, f"{g.file_times[sb]}_sb{sb:02d}.hdf5")
        with atomic_path(name) as tmp:
            uv.write_uvh5(tmp, clobber=True, run_check=False)
            _store_uvw_float32(tmp)
        paths.append(name)
        log.info("wrote %s", name)
    return paths


def _add_rfi(data: np.ndarray, *, rfi: dict, sb: int, nchan: int, rng: np.random.Generator, auto: np.ndarray) -> None:
    """Add RFI in place; data shape (Nt, Nbl, Nf, 2) of subband ``sb`` (``nchan`` channels);
    ``rfi`` is the group's entry of truth["rfi"]; ``auto`` marks the autocorrelation baselines."""
    lo = sb * nchan
    for ch in rfi["channels"]:
        if lo <= ch < lo + nchan:
            shape = data[:, :, ch - lo, :].shape
            data[:, :, ch - lo, :] += rfi["channel_amp_jy"] * (1.0 + 0.5 * rng.uniform(size=shape)) * np.exp(
                2j * np.pi * rng.uniform(size=shape)
            )
    for it in rfi["times"]:
        shape = data[it].shape
        data[it] += rfi["impulse_amp_jy"] * (1.0 + 0.5 * rng.uniform(size=shape)) * np.exp(2j * np.pi * rng.uniform(size=shape))
    # autocorrelations are real-valued
    data[:, auto] = data[:, auto].real


def _store_uvw_float32(path: str) -> None:
    """Rewrite Header/uvw_array as float32, as the DSA-110 correlator writes it."""
    with h5py.File(path, "r+") as f:
        uvw = f["Header/uvw_array"][()].astype(np.float32)
        del f["Header/uvw_array"]
        f["Header"].create_dataset("uvw_array", data=uvw, dtype=np.float32)
