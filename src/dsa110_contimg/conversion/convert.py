"""Convert one group of UVH5 subband files to a CASA Measurement Set.

Steps (both writers): validate the group (every file readable, same baselines and
times), stamp the telescope identity and station positions from the config, phase
to the meridian at the group's midpoint with UVW recomputed from the station
positions, write frequencies ascending in one spectral window, initialise
MODEL_DATA (1+0j) and CORRECTED_DATA (= DATA) in every row, stamp
OBSERVATION::TELESCOPE_NAME, ANTENNA::MOUNT and a provenance keyword.  The MS is
built in a staging directory (RAM in /dev/shm when it has room) and moved into
place atomically: the final path never holds a half-written MS.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from functools import partial

import numpy as np
from astropy.time import Time
from pyuvdata import UVData

from ..atomic import move_into_place, write_json
from ..geometry import geodetic_to_ecef, load_stations
from ..grouping import consistency_problem
from ..provenance import provenance_record
from ..settings import Conversion, Telescope, as_plain
from ..startup_cache import cache_pyuvdata_jit
from ..uvh5_io import SubbandHeader, UVH5Error, parse_name, read_baseline_metadata, read_header
from . import ms_table
from .monolithic import phase_and_write, read_group
from .parallel import band_layout, write_main_data
from .phasing import PhaseCentre, phase_center, uvw_to_center

cache_pyuvdata_jit()  # pyuvdata's numba kernels compiled once, not in every job

log = logging.getLogger(__name__)

WRITERS = ("auto", "monolithic", "parallel")


class ConversionError(RuntimeError):
    """A group cannot be converted; the message names the file and the problem."""


def choose_writer(writer: str, n_subbands: int, *, max_mono: int) -> str:
    """``auto`` -> ``monolithic`` for <= ``max_mono`` subbands, else ``parallel``."""
    if writer not in WRITERS:
        raise ConversionError(f"unknown writer {writer!r}; choose one of {', '.join(WRITERS)}")
    if writer == "auto":
        return "monolithic" if n_subbands <= max_mono else "parallel"
    return writer


def estimate_ms_bytes(h, n_sub: int) -> int:
    """Rough MS size: 3 complex data columns + weights + flags."""
    cells = h.nblts * h.nfreqs * n_sub * h.npols
    return int(cells * (3 * 8 + 4 + 1) * 1.05) + (64 << 20)


def staging_dir(stage: str, need_bytes: int, out_dir: str) -> str:
    """Where to build the MS: /dev/shm when ``stage == 'auto'`` and it has 2x room, else beside the output."""
    if stage == "none":
        return out_dir
    if stage == "auto":
        shm = "/dev/shm"
        if os.path.isdir(shm) and os.access(shm, os.W_OK):
            st = os.statvfs(shm)
            if st.f_bavail * st.f_frsize > 2 * need_bytes:
                return shm
        return out_dir
    os.makedirs(stage, exist_ok=True)
    return stage


def _validate(paths: list[str]):
    headers = []
    for p in paths:
        try:
            headers.append(read_header(p))
        except UVH5Error as err:
            raise ConversionError(str(err)) from None
    problem = consistency_problem(headers)
    if problem:
        raise ConversionError(f"group of {os.path.basename(paths[0])}: {problem}; the subbands cannot be merged")
    ek = headers[0].extra_keywords
    if "phase_center_dec" not in ek:
        raise ConversionError(f"{paths[0]}: extra_keywords lack phase_center_dec (the pointing declination, radians); not a DSA-110 file?")
    ha0 = float(ek.get("ha_phase_center", 0.0))  # a file without the keyword is meridian fringe-stopped
    if abs(ha0) > 1e-9:
        raise ConversionError(f"{paths[0]}: ha_phase_center = {ha0} rad; only meridian (HA = 0) fringe-stopping is supported")
    return headers


def _antenna_positions(meta: dict, *, telescope: Telescope) -> dict[int, np.ndarray]:
    """Antenna number -> ITRF position (m), from the configured stations matched by name."""
    stations = load_stations(telescope.station_file)
    ecef = stations.ecef()
    by_name = {n: ecef[k] for k, n in enumerate(stations.names)}
    out = {}
    for num, name in zip(meta["antenna_numbers"], meta["antenna_names"], strict=True):
        if name not in by_name:
            raise ConversionError(
                f"antenna {name!r} (number {num}) of the UVH5 files is not in the station table "
                f"({telescope.station_file or 'built-in layout'})"
            )
        out[int(num)] = by_name[name]
    return out


def convert_group(paths: list[str], out_ms: str, *, telescope: Telescope, conversion: Conversion,
                  workers: int | None = None, finish: Callable[[str], dict] | None = None) -> dict:
    """Convert the subband files ``paths`` (one group) to ``out_ms``; return a summary dict.

    The writer is ``conversion.writer``; ``workers`` overrides ``conversion.workers`` (the
    parallel writer's processes; the workflow passes the rule's threads).  ``finish``, when
    given, is called with the staged MS before it is moved into place (the workflow flags it
    there, so a flagged MS appears at once or not at all); its dict joins the summary.
    Raises :class:`ConversionError` with the offending file and reason on bad input.
    """
    t_start = time.perf_counter()
    if not paths:
        raise ConversionError("no subband files given")
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise ConversionError(f"subband file(s) not found: {', '.join(missing)}")
    sbs = [parse_name(p) for p in paths]
    paths = [p for _, p in sorted(zip([s[1] if s else 99 for s in sbs], paths, strict=True))]
    headers = _validate(paths)
    writer = choose_writer(conversion.writer, len(paths), max_mono=conversion.auto_monolithic_max_subbands)
    meta = read_baseline_metadata(paths[0])
    loc = telescope.location
    ant_pos = _antenna_positions(meta, telescope=telescope)
    dec_p = float(headers[0].extra_keywords["phase_center_dec"])
    ra_c, dec_c, mid_jd = phase_center(meta["time_array"], dec_p, loc)
    group_id = (parse_name(paths[0]) or (os.path.basename(paths[0]), 0))[0]
    centre = PhaseCentre(ra_c, dec_c, f"MERIDIAN_{group_id}")
    prov = provenance_record(
        {"telescope": as_plain(telescope), "conversion": as_plain(conversion)},
        inputs=[os.path.abspath(p) for p in paths],
        writer=writer,
        phase_center_icrs_deg=[math.degrees(ra_c), math.degrees(dec_c)],
        mid_mjd=mid_jd - 2400000.5,
        pointing_dec_rad=dec_p,
    )
    out_ms = os.path.abspath(out_ms.rstrip("/"))
    out_dir = os.path.dirname(out_ms)
    os.makedirs(out_dir, exist_ok=True)
    stage_root = staging_dir(conversion.stage_dir, estimate_ms_bytes(headers[0], len(paths)), out_dir)
    work = tempfile.mkdtemp(prefix=f".{os.path.basename(out_ms)}.", dir=stage_root)
    tmp_ms = os.path.join(work, os.path.basename(out_ms))
    try:
        if writer == "monolithic":
            uv = read_group(paths)
            _set_identity(uv, telescope=telescope, ant_pos=ant_pos)
            uvw_new = uvw_to_center(ant_pos, uv.ant_1_array, uv.ant_2_array, uv.time_array,
                                    ra_icrs=ra_c, dec_icrs=dec_c, location=loc)
            phase_and_write(uv, tmp_ms, centre=centre, uvw_new=uvw_new)
            del uv
            ms_table.ensure_model_corrected(tmp_ms)
            ms_table.stamp_identity(tmp_ms, telescope=telescope, provenance=prov)
        else:
            _write_parallel(tmp_ms, headers=headers, meta=meta, telescope=telescope, ant_pos=ant_pos, centre=centre,
                            workers=workers or conversion.workers, provenance=prov)
        extra = finish(tmp_ms) if finish is not None else {}
        move_into_place(tmp_ms, out_ms)
    except UVH5Error as err:
        raise ConversionError(str(err)) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {
        "ms": out_ms,
        "writer": writer,
        "n_subbands": len(paths),
        "staged_in": stage_root,
        "seconds": round(time.perf_counter() - t_start, 2),
        "phase_center_icrs_deg": [math.degrees(ra_c), math.degrees(dec_c)],
        **extra,
    }
    log.info("converted %d subbands -> %s with %s writer in %.1f s", len(paths), out_ms, writer, summary["seconds"])
    return summary


def convert_group_to(paths: list[str], *, out_ms: str, summary_path: str, telescope: Telescope, conversion: Conversion,
                     workers: int | None = None) -> dict:
    """Rule ``convert``: :func:`convert_group`, and its summary JSON written atomically to ``summary_path``."""
    summary = convert_group(paths, out_ms, telescope=telescope, conversion=conversion, workers=workers)
    write_json(summary_path, summary)
    return summary


def _set_identity(uv, *, telescope: Telescope, ant_pos: dict[int, np.ndarray]) -> None:
    """Telescope name/location from the config; antenna positions from the station table."""
    uv.telescope.name = telescope.name
    uv.telescope.location = telescope.location
    ref = geodetic_to_ecef(telescope.lat_deg, telescope.lon_deg, telescope.height_m)
    nums = uv.telescope.antenna_numbers
    uv.telescope.antenna_positions = np.array([ant_pos[int(n)] for n in nums]) - ref
    uv.telescope.mount_type = [telescope.mount.lower()] * len(nums)


def _write_parallel(tmp_ms: str, *, headers: list[SubbandHeader], meta: dict, telescope: Telescope,
                    ant_pos: dict[int, np.ndarray], centre: PhaseCentre, workers: int, provenance: dict) -> None:
    """The parallel writer: main table from row blocks in ``workers`` processes, then the subtables."""
    a1, a2, tjd = meta["ant_1_array"], meta["ant_2_array"], meta["time_array"]
    uvw_new = uvw_to_center(ant_pos, a1, a2, tjd, ra_icrs=centre.ra_rad, dec_icrs=centre.dec_rad, location=telescope.location)
    dw = uvw_new[:, 2] - meta["uvw_array"][:, 2]
    swap = a1 > a2
    paths = [h.path for h in headers]
    npol, nrows = headers[0].npols, headers[0].nblts
    layout = band_layout(paths=paths, freqs_file=[h.freqs_hz for h in headers], dw_m=dw, swap=swap, npol=npol)
    freqs_all = layout["freqs"]
    widths = np.concatenate([np.abs(headers[paths.index(p)].channel_width_hz[o]) for p, o, _c0 in layout["files"]])
    nchan_tile = headers[0].nfreqs
    ms = ms_table.create_main(tmp_ms, nrows=nrows, nchan=len(freqs_all), npol=npol, nchan_tile=nchan_tile)
    try:
        mjd_s = Time(tjd, format="jd", scale="utc").mjd * 86400.0
        ms.putcol("ANTENNA1", np.where(swap, a2, a1))
        ms.putcol("ANTENNA2", np.where(swap, a1, a2))
        ms.putcol("UVW", np.where(swap[:, None], uvw_new, -uvw_new))
        ms.putcol("TIME", mjd_s)
        ms.putcol("TIME_CENTROID", mjd_s)
        ms.putcol("INTERVAL", meta["integration_time"])
        ms.putcol("EXPOSURE", meta["integration_time"])
        for col in ("DATA_DESC_ID", "FIELD_ID", "ARRAY_ID", "OBSERVATION_ID", "PROCESSOR_ID", "STATE_ID", "FEED1", "FEED2"):
            ms.putcol(col, np.zeros(nrows, np.int32))
        ms.putcol("SCAN_NUMBER", np.ones(nrows, np.int32))
        ms.putcol("FLAG_ROW", np.zeros(nrows, bool))
        # the subtables' metadata (pyuvdata header read, ~1 s) is built in a worker meanwhile
        side = partial(subtable_metadata, paths[0], telescope=telescope, ant_pos=ant_pos, freqs_hz=freqs_all,
                       widths_hz=widths, centre=centre)
        weight, uv = write_main_data(ms, layout, workers=workers, side=side)
        ms.putcol("WEIGHT", weight)
        ms.putcol("SIGMA", np.where(weight > 0, 1.0 / np.sqrt(np.maximum(weight, 1e-30)), 0.0))
        ms.putcolkeyword("DATA", "QuantumUnits", ["Jy"])
        ms.flush()
    finally:
        ms.close()
    ms_table.write_subtables(tmp_ms, uv, telescope=telescope, provenance=provenance)


def subtable_metadata(path: str, *, telescope: Telescope, ant_pos: dict[int, np.ndarray], freqs_hz: np.ndarray,
                      widths_hz: np.ndarray, centre: PhaseCentre):
    """Metadata-only UVData describing the MS subtables (telescope, antennas, SPW, field, pols):
    one spectral window of ``freqs_hz`` (ascending) with ``widths_hz``, phased to ``centre``."""
    uv = UVData()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The uvw_array does not match")
        uv.read(path, file_type="uvh5", read_data=False, run_check=False)
    _set_identity(uv, telescope=telescope, ant_pos=ant_pos)
    uv.freq_array = freqs_hz
    uv.channel_width = widths_hz
    uv.Nfreqs = freqs_hz.size
    uv.flex_spw_id_array = np.zeros(freqs_hz.size, dtype=int)
    uv.spw_array = np.array([0])
    uv.Nspws = 1
    uv.vis_units = "Jy"
    uv.phase(lon=centre.ra_rad, lat=centre.dec_rad, epoch="J2000", phase_frame="icrs", cat_name=centre.name, use_ant_pos=True)
    return uv
