"""Reading and validating DSA-110 UVH5 subband files with h5py.

The files follow the UVH5 layout written by pyuvdata: ``Header/`` metadata and
``Data/visdata`` (Nblts, Nfreqs, Npols) complex, ``Data/flags``, ``Data/nsamples``.
Frequencies descend within a file (negative channel width).  Antenna numbers in the
files are 0-based (station number - 1); names are ``DSA-NNN``.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

import h5py
import numpy as np

SUBBAND_RE = re.compile(r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})_sb(?P<sb>\d{2})\.hdf5$")
REQUIRED_HEADER = (
    "Nblts", "Nfreqs", "Npols", "Ntimes", "Nbls", "freq_array", "time_array", "ant_1_array",
    "ant_2_array", "uvw_array", "polarization_array", "antenna_numbers", "antenna_names",
    "antenna_positions", "integration_time", "channel_width",
)


class UVH5Error(ValueError):
    """A UVH5 subband file (or a set of them) cannot be converted; the message says why."""


@dataclass
class SubbandHeader:
    """What the converter needs to know about one subband file before reading its data."""

    path: str
    nblts: int
    nfreqs: int
    npols: int
    ntimes: int
    nbls: int
    freqs_hz: np.ndarray  # file order (descending for DSA-110)
    channel_width_hz: np.ndarray
    pols: np.ndarray
    time_first_jd: float
    time_last_jd: float
    blt_digest: str  # sha1 of the (ant_1, ant_2) ordering; times are compared with a tolerance
    extra_keywords: dict


def parse_name(path: str) -> tuple[str, int] | None:
    """``(timestamp, subband)`` from a ``YYYY-MM-DDTHH:MM:SS_sbNN.hdf5`` name, else None."""
    m = SUBBAND_RE.match(os.path.basename(path))
    return (m["ts"], int(m["sb"])) if m else None


def read_header(path: str, *, digest: bool = True) -> SubbandHeader:
    """Open ``path`` and check it is a complete UVH5 subband file; raise :class:`UVH5Error` if not."""
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise UVH5Error(f"{path}: cannot be opened as HDF5 ({err}); the file is truncated or corrupt - re-copy it") from None
    with f:
        if "Header" not in f or "Data" not in f:
            raise UVH5Error(f"{path}: not a UVH5 file (no Header/ or Data/ group)")
        h = f["Header"]
        missing = [k for k in REQUIRED_HEADER if k not in h]
        if missing:
            raise UVH5Error(f"{path}: Header lacks {', '.join(missing)}; not a complete UVH5 file")
        try:
            nblts, nfreqs, npols = int(h["Nblts"][()]), int(h["Nfreqs"][()]), int(h["Npols"][()])
            for name in ("visdata", "flags", "nsamples"):
                if name not in f["Data"]:
                    raise UVH5Error(f"{path}: Data/{name} is missing")
                shape = f["Data"][name].shape
                if shape != (nblts, nfreqs, npols):
                    raise UVH5Error(f"{path}: Data/{name} has shape {shape}, header says ({nblts}, {nfreqs}, {npols})")
            t = h["time_array"]
            dg = ""
            if digest:
                sha = hashlib.sha1()
                for k in ("ant_1_array", "ant_2_array"):
                    sha.update(np.ascontiguousarray(h[k][()]).tobytes())
                dg = sha.hexdigest()
            extra = {}
            if "extra_keywords" in h:
                for k, v in h["extra_keywords"].items():
                    val = v[()]
                    extra[k] = val.decode() if isinstance(val, bytes) else (val.item() if hasattr(val, "item") else val)
            return SubbandHeader(
                path=path,
                nblts=nblts,
                nfreqs=nfreqs,
                npols=npols,
                ntimes=int(h["Ntimes"][()]),
                nbls=int(h["Nbls"][()]),
                freqs_hz=np.asarray(h["freq_array"][()], dtype=float).ravel(),
                channel_width_hz=np.broadcast_to(np.asarray(h["channel_width"][()], dtype=float), (nfreqs,)).copy(),
                pols=np.asarray(h["polarization_array"][()]),
                time_first_jd=float(t[0]),
                time_last_jd=float(t[-1]),
                blt_digest=dg,
                extra_keywords=extra,
            )
        except UVH5Error:
            raise
        except (OSError, KeyError, ValueError) as err:
            raise UVH5Error(f"{path}: unreadable UVH5 header ({err}); the file is corrupt - re-copy it") from None


def read_visibilities(path: str, rows: slice = slice(None)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data complex64, flags bool, nsamples float32), each (Nrows, Nfreqs, Npols), file order.

    ``rows`` selects a range of baseline-times (default: all).
    """
    try:
        with h5py.File(path, "r") as f:
            raw = f["Data/visdata"][rows]
            flags = f["Data/flags"][rows]
            nsamp = f["Data/nsamples"][rows].astype(np.float32, copy=False)
    except OSError as err:
        raise UVH5Error(f"{path}: reading the visibilities failed ({err}); the file is truncated or corrupt") from None
    if raw.dtype.names:
        data = np.empty(raw.shape, np.complex64)
        data.real = raw["r"]
        data.imag = raw["i"]
    else:
        data = raw.astype(np.complex64, copy=False)
    return data, flags, nsamp


def read_visdata_into(f: h5py.File, rows: slice, out: np.ndarray) -> None:
    """Read ``Data/visdata[rows]`` of an open file into complex64 ``out`` (no temporaries)."""
    ds = f["Data/visdata"]
    if ds.dtype.names:
        ds.read_direct(out.view(np.dtype([("r", "<f4"), ("i", "<f4")])).reshape(out.shape), source_sel=np.s_[rows])
    else:
        out[...] = ds[rows]


def read_baseline_metadata(path: str) -> dict[str, np.ndarray]:
    """Per-blt metadata: ant_1_array, ant_2_array, time_array, uvw_array (float64), integration_time."""
    with h5py.File(path, "r") as f:
        h = f["Header"]
        return {
            "ant_1_array": h["ant_1_array"][()].astype(np.int32),
            "ant_2_array": h["ant_2_array"][()].astype(np.int32),
            "time_array": h["time_array"][()].astype(np.float64),
            "uvw_array": h["uvw_array"][()].astype(np.float64),
            "integration_time": np.broadcast_to(h["integration_time"][()], h["time_array"].shape).astype(np.float64),
            "antenna_numbers": h["antenna_numbers"][()].astype(np.int32),
            "antenna_names": np.array([n.decode() if isinstance(n, bytes) else str(n) for n in h["antenna_names"][()]]),
        }
