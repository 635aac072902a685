"""Measurement Set skeleton and column helpers (python-casacore).

The main table uses fixed-shape tiled columns, one data-manager group per column,
with tiles that hold whole subbands (``[npol, nchan_subband, rows]``), so writing one
subband's channel slice for all rows touches each tile once.  Subtables are written
with pyuvdata's MS utilities from a metadata-only UVData object.
"""

from __future__ import annotations

import json

import numpy as np
from casacore import tables

from ..settings import Telescope

DATA_COLUMNS = ("DATA", "MODEL_DATA", "CORRECTED_DATA")


def _tile_rows(npol: int, nchan_tile: int, bytes_per: int, target: int = 1 << 20) -> int:
    return int(max(64, min(1 << 16, target // max(1, npol * nchan_tile * bytes_per))))


def _tiled_column(name: str, value, *, vtype: str, shape: list[int], tile: list[int]) -> tuple[dict, dict]:
    """(column description, data-manager spec) of a fixed-shape TiledColumnStMan column."""
    cd = tables.makearrcoldesc(name, value, valuetype=vtype, ndim=2, shape=shape, datamanagertype="TiledColumnStMan", datamanagergroup=f"Tiled{name}", options=4)
    dm = {"TYPE": "TiledColumnStMan", "NAME": f"Tiled{name}", "SPEC": {"DEFAULTTILESHAPE": np.array(tile, dtype=np.int32)}, "COLUMNS": [name]}
    return cd, dm


def create_main(path: str, *, nrows: int, nchan: int, npol: int, nchan_tile: int):
    """Create an MS (main + empty required subtables) with ``nrows`` rows of ``nchan`` x ``npol``
    cells, tiles of ``nchan_tile`` channels (one subband); return the open table."""
    desc = tables.required_ms_desc("MAIN")
    dm = []
    rows_c = _tile_rows(npol, nchan_tile, 8)
    rows_f = _tile_rows(npol, nchan_tile, 4)

    def tiled(name, value, vtype, tile):
        cd, spec = _tiled_column(name, value, vtype=vtype, shape=[nchan, npol], tile=tile)
        dm.append(spec)
        return cd

    cols = [
        tiled("DATA", 0j, "complex", [npol, nchan_tile, rows_c]),
        tiled("MODEL_DATA", 0j, "complex", [npol, nchan_tile, rows_c]),
        tiled("CORRECTED_DATA", 0j, "complex", [npol, nchan_tile, rows_c]),
        tiled("WEIGHT_SPECTRUM", 0.0, "float", [npol, nchan_tile, rows_f]),
    ]
    desc["FLAG"].update(shape=np.array([nchan, npol], dtype=np.int32), option=4, dataManagerType="TiledColumnStMan", dataManagerGroup="TiledFLAG")
    dm.append({"TYPE": "TiledColumnStMan", "NAME": "TiledFLAG", "SPEC": {"DEFAULTTILESHAPE": np.array([npol, nchan_tile, rows_f * 4], dtype=np.int32)}, "COLUMNS": ["FLAG"]})
    desc["UVW"].update(dataManagerType="TiledColumnStMan", dataManagerGroup="TiledUVW")
    dm.append({"TYPE": "TiledColumnStMan", "NAME": "TiledUVW", "SPEC": {"DEFAULTTILESHAPE": np.array([3, 4096], dtype=np.int32)}, "COLUMNS": ["UVW"]})
    for name in ("WEIGHT", "SIGMA"):
        desc[name].update(shape=np.array([npol], dtype=np.int32), option=4)
    for c in cols:
        desc.update(tables.maketabdesc(c))
    dminfo = tables.makedminfo(desc)
    # apply the tile specs for our groups
    by_name = {d["NAME"]: d for d in dm}
    for key, spec in dminfo.items():
        if spec["NAME"] in by_name:
            dminfo[key] = {**spec, **by_name[spec["NAME"]]}
    ms = tables.default_ms(path, desc, dminfo)
    # bound casacore's tile caches (unbounded by default: a column written over all
    # rows would otherwise stay in memory)
    for col in ("DATA", "CORRECTED_DATA", "MODEL_DATA", "FLAG", "WEIGHT_SPECTRUM"):
        ms.setmaxcachesize(col, 32 << 20)
    ms.addrows(nrows)
    return ms


def write_subtables(path: str, uv, *, telescope: Telescope, provenance: dict) -> None:
    """Write ANTENNA, SPW, FIELD, ... from metadata-only ``uv``; stamp mount, telescope, provenance."""
    from pyuvdata.utils.io import ms as ms_utils  # noqa: PLC0415

    ms_utils.write_ms_antenna(path, uvobj=uv)
    ms_utils.write_ms_data_description(path, uvobj=uv)
    ms_utils.write_ms_feed(path, uvobj=uv)
    ms_utils.write_ms_field(path, uvobj=uv)
    ms_utils.write_ms_history(path, uvobj=uv)
    ms_utils.write_ms_observation(path, uvobj=uv)
    ms_utils.write_ms_pointing(path, uvobj=uv)
    ms_utils.write_ms_polarization(path, uvobj=uv)
    ms_utils.write_ms_source(path, uvobj=uv)
    ms_utils.write_ms_spectral_window(path, uvobj=uv)
    stamp_identity(path, telescope=telescope, provenance=provenance)


def stamp_identity(path: str, *, telescope: Telescope, provenance: dict) -> None:
    """Set ANTENNA::MOUNT, OBSERVATION::TELESCOPE_NAME (from ``telescope``) and the
    ``DSA110_PROVENANCE`` keyword (JSON of ``provenance``) on the MS."""
    with tables.table(f"{path}::ANTENNA", readonly=False, ack=False) as t:
        t.putcol("MOUNT", [telescope.mount] * t.nrows())
    with tables.table(f"{path}::OBSERVATION", readonly=False, ack=False) as t:
        t.putcol("TELESCOPE_NAME", [telescope.name] * t.nrows())
    with tables.table(path, readonly=False, ack=False) as t:
        t.putkeyword("DSA110_PROVENANCE", json.dumps(provenance, sort_keys=True))


def ensure_model_corrected(path: str, chunk_rows: int = 20000) -> None:
    """Add MODEL_DATA (= 1+0j, CASA's default model) and CORRECTED_DATA (= DATA) to every row if absent."""
    with tables.table(path, readonly=False, ack=False) as t:
        have = set(t.colnames())
        shape = t.getcell("DATA", 0).shape
        for name in ("MODEL_DATA", "CORRECTED_DATA"):
            if name in have:
                continue
            cd, spec = _tiled_column(name, 0j, vtype="complex", shape=list(shape), tile=[shape[1], shape[0], _tile_rows(shape[1], shape[0], 8)])
            t.addcols(tables.maketabdesc(cd), spec)
        for r0 in range(0, t.nrows(), chunk_rows):
            n = min(chunk_rows, t.nrows() - r0)
            if "CORRECTED_DATA" not in have:
                t.putcol("CORRECTED_DATA", t.getcol("DATA", r0, n), r0, n)
            if "MODEL_DATA" not in have:
                t.putcol("MODEL_DATA", np.ones((n,) + shape, np.complex64), r0, n)
