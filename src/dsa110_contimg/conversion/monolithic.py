"""The ``monolithic`` writer: pyuvdata reads the whole group, phases it and writes the MS.

This is the reference path (and the benchmark baseline): every subband in memory at
once.  Before pyuvdata's ``phase()`` -- which treats unprojected data as having
``w = 0`` -- the DSA-110 fringe-stopping is undone with the file's own ``uvw_array``:
``V_unproj = V_raw * exp(+2 pi i nu w_raw / c)``.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from pyuvdata import UVData

from ..geometry import C_M_S
from ..startup_cache import cache_pyuvdata_jit
from ..uvh5_io import UVH5Error
from .phasing import PhaseCentre

cache_pyuvdata_jit()  # pyuvdata's numba kernels compiled once, not in every job

log = logging.getLogger(__name__)


def read_group(paths: list[str]) -> UVData:
    """Read the subband files into one UVData (frequency-concatenated, not yet ascending)."""
    uvs = []
    for p in paths:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The uvw_array does not match")
            try:
                u = UVData.from_file(p, file_type="uvh5", run_check=False)
            except (OSError, KeyError, ValueError) as err:
                raise UVH5Error(f"{p}: pyuvdata could not read it ({err}); the file is truncated or corrupt") from None
        u.uvw_array = u.uvw_array.astype(np.float64)  # DSA-110 stores float32
        uvs.append(u)
    uv = uvs[0]
    if len(uvs) > 1:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The uvw_array does not match")
            uv.fast_concat(uvs[1:], axis="freq", inplace=True, run_check=False)
    return uv


def undo_fringestop(uv: UVData) -> None:
    """Remove the raw data's fringe-stopping so the data are truly unprojected (in place)."""
    w = uv.uvw_array[:, 2]
    uv.data_array *= np.exp((2j * np.pi / C_M_S) * np.outer(w, uv.freq_array))[:, :, None].astype(uv.data_array.dtype)
    uv.uvw_array[:] = 0.0


def phase_and_write(uv: UVData, out_ms: str, *, centre: PhaseCentre, uvw_new: np.ndarray | None = None) -> None:
    """Phase ``uv`` to ``centre`` (ICRS), order channels ascending, write the MS.

    With ``uvw_new`` (pyuvdata convention, per blt) the result is moved from
    pyuvdata's UVW onto the project's geometry (:mod:`.phasing`), which differs from
    pyuvdata's astrometry by millimetres in w and ~9 arcsec in the (u, v) frame angle,
    so both writers produce the same MS.
    """
    undo_fringestop(uv)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The uvw_array does not match")
        uv.phase(lon=centre.ra_rad, lat=centre.dec_rad, epoch="J2000", phase_frame="icrs", cat_name=centre.name, use_ant_pos=True)
    if uvw_new is not None:
        dw = uvw_new[:, 2] - uv.uvw_array[:, 2]
        uv.data_array *= np.exp((-2j * np.pi / C_M_S) * np.outer(dw, uv.freq_array))[:, :, None].astype(uv.data_array.dtype)
        uv.uvw_array = uvw_new
    uv.reorder_freqs(channel_order="freq")
    uv.channel_width = np.abs(uv.channel_width)  # ascending now: positive widths
    uv.vis_units = "Jy"
    uv.write_ms(out_ms, clobber=True, run_check=False)
