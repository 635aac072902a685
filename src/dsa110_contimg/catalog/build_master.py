"""Build the master source catalog (SQLite) from NVSS plus optional VLASS and FIRST.

Command line::

    python -m dsa110_contimg.catalog.build_master --nvss nvss.csv [--vlass v.csv] \
        [--first f.tsv] --out master.sqlite3 [--nvss-flux-unit mjy] \
        [--nvss-column ra=RAJ2000] [--finalref-ids id1,id2] ...

Database layout (fluxes Jy, angles degrees, sizes/separations arcsec):

- ``sources``: one row per NVSS entry (see :func:`.crossmatch.crossmatch`);
  ``source_id`` is the NVSS name, or ``NVSS_J{ra:08.4f}{dec:+08.4f}``.
- view ``good_references``: ``snr_nvss >= goodref_snr_min`` AND (``alpha`` IS NULL OR
  ``goodref_alpha_min <= alpha <= goodref_alpha_max``) AND ``resolved_flag`` is 0 or NULL
  AND ``confusion_flag = 0``.  A NULL alpha (no VLASS match or no VLASS table) is
  *allowed*: the spectral-index cut only rejects sources known to be too steep/inverted.
- view ``final_references``: ``good_references`` with ``snr_nvss >= finalref_snr_min``
  and, when ``finalref_ids`` is non-empty, ``source_id`` among them (table
  ``finalref_ids``).  An empty/None list means no restriction.
- ``meta(key, value)``: thresholds, match radius, build time (UTC ISO), software
  version and, per input, ``input.<survey>.{path,sha256,size_bytes,rows_read,
  rows_dropped,columns_used,flux_unit}``.

The database is written to a temporary file and renamed into place.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import sqlite3
import sys

import pandas as pd

from .. import __version__
from ..atomic import atomic_path, write_json
from ..settings import Catalog, Settings
from ..sky import REF_FREQ_HZ, PointSource, alpha_or_default
from .crossmatch import NU_VLASS_HZ, NVSS_DEFAULT_ERROR_JY, crossmatch
from .readers import SURVEYS, read_survey

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
VIEWS = ("sources", "good_references", "final_references")

SOURCE_COLUMNS = [
    ("source_id", "TEXT PRIMARY KEY"),
    ("ra_deg", "REAL NOT NULL"),
    ("dec_deg", "REAL NOT NULL"),
    ("s_nvss", "REAL NOT NULL"),
    ("e_s_nvss", "REAL NOT NULL"),
    ("snr_nvss", "REAL NOT NULL"),
    ("s_vlass", "REAL"),
    ("e_s_vlass", "REAL"),
    ("sep_vlass_arcsec", "REAL"),
    ("alpha", "REAL"),
    ("s_first", "REAL"),
    ("sep_first_arcsec", "REAL"),
    ("first_major_arcsec", "REAL"),
    ("resolved_flag", "INTEGER"),
    ("confusion_flag", "INTEGER NOT NULL"),
    ("n_neighbours_nvss", "INTEGER NOT NULL"),
    ("n_matches_vlass", "INTEGER"),
    ("n_matches_first", "INTEGER"),
]
_INT_COLUMNS = {c for c, t in SOURCE_COLUMNS if t.startswith("INTEGER")}


def sha256_file(path: str) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _finite(name: str, value) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return v


def _sql_value(col: str, v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if col in _INT_COLUMNS:
        return int(v)
    if col == "source_id":
        return str(v)
    return float(v)


def _view_sql(th: dict, restrict_ids: bool) -> list[str]:
    good = (
        "CREATE VIEW good_references AS SELECT * FROM sources WHERE "
        f"snr_nvss >= {th['goodref_snr_min']!r} "
        f"AND (alpha IS NULL OR (alpha >= {th['goodref_alpha_min']!r} AND alpha <= {th['goodref_alpha_max']!r})) "
        "AND COALESCE(resolved_flag, 0) = 0 AND confusion_flag = 0"
    )
    final = f"CREATE VIEW final_references AS SELECT * FROM good_references WHERE snr_nvss >= {th['finalref_snr_min']!r}"
    if restrict_ids:
        final += " AND source_id IN (SELECT source_id FROM finalref_ids)"
    return [good, final]


def _write_db(path: str, sources: pd.DataFrame, meta: dict[str, str], th: dict, finalref_ids: list[str]) -> None:
    con = sqlite3.connect(path)
    try:
        cols = [c for c, _ in SOURCE_COLUMNS]
        con.execute(f"CREATE TABLE sources ({', '.join(f'{c} {t}' for c, t in SOURCE_COLUMNS)})")
        rows = ([_sql_value(c, v) for c, v in zip(cols, rec, strict=True)] for rec in sources[cols].itertuples(index=False))
        con.executemany(f"INSERT INTO sources ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
        con.execute("CREATE TABLE finalref_ids (source_id TEXT PRIMARY KEY)")
        con.executemany("INSERT OR IGNORE INTO finalref_ids VALUES (?)", [(i,) for i in finalref_ids])
        for sql in _view_sql(th, bool(finalref_ids)):
            con.execute(sql)
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        con.commit()
    finally:
        con.close()


def _count(db: str, view: str) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute(f"SELECT COUNT(*) FROM {view}").fetchone()[0])
    finally:
        con.close()


def build_master(nvss: str, out: str, *, catalog: Catalog, vlass: str | None = None, first: str | None = None) -> dict:
    """Read the surveys, cross-match, write the SQLite catalog ``out`` atomically.

    ``nvss``, ``vlass``, ``first``: survey table paths (``vlass``/``first`` None or ""
    = not given; the paths in ``catalog`` are not used, the workflow resolves them).
    ``catalog``: column mappings (``catalog.columns.<survey>``: standard key -> file
    column, overriding alias detection), flux units (``catalog.flux_units.<survey>``:
    jy | mjy | ujy), the match radius (arcsec), the resolved-size limit (arcsec) and
    the reference-view thresholds; ``catalog.finalref_ids`` empty = no restriction.

    Returns a summary: n_sources, n_good_references, n_final_references,
    n_vlass_matched, n_first_matched, n_confused, n_resolved, rows_read/rows_dropped
    per survey, finalref_ids_missing, out.
    """
    th = {
        "match_radius_arcsec": _finite("match_radius_arcsec", catalog.match_radius_arcsec),
        "resolved_major_arcsec": _finite("resolved_major_arcsec", catalog.resolved_major_arcsec),
        "goodref_snr_min": _finite("goodref_snr_min", catalog.goodref_snr_min),
        "goodref_alpha_min": _finite("goodref_alpha_min", catalog.goodref_alpha_min),
        "goodref_alpha_max": _finite("goodref_alpha_max", catalog.goodref_alpha_max),
        "finalref_snr_min": _finite("finalref_snr_min", catalog.finalref_snr_min),
    }
    if th["goodref_alpha_min"] > th["goodref_alpha_max"]:
        raise ValueError(f"goodref_alpha_min ({catalog.goodref_alpha_min}) is larger than "
                         f"goodref_alpha_max ({catalog.goodref_alpha_max})")
    ids = [str(i).strip() for i in catalog.finalref_ids if str(i).strip()]

    paths = {"nvss": nvss, "vlass": vlass or None, "first": first or None}
    tables = {
        s: read_survey(p, s, unit=getattr(catalog.flux_units, s), mapping=getattr(catalog.columns, s))
        for s, p in paths.items() if p
    }
    for t in tables.values():
        if t.rows_dropped:
            log.warning("%s: dropped %d of %d rows with non-finite RA/Dec/flux", t.path, t.rows_dropped, t.rows_read)
    src = crossmatch(
        tables["nvss"].data,
        tables["vlass"].data if "vlass" in tables else None,
        tables["first"].data if "first" in tables else None,
        match_radius_arcsec=th["match_radius_arcsec"],
        resolved_major_arcsec=th["resolved_major_arcsec"],
    )
    missing = sorted(set(ids) - set(src["source_id"]))
    if missing:
        log.warning("finalref_ids not in the NVSS table (ignored): %s", ", ".join(missing))

    meta = {k: repr(v) for k, v in th.items()}
    meta.update(
        {
            "schema_version": SCHEMA_VERSION,
            "build_time_iso": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "software_version": __version__,
            "finalref_ids": json.dumps(ids),
            "finalref_ids_missing": json.dumps(missing),
            "nvss_default_error_jy": repr(NVSS_DEFAULT_ERROR_JY),
            "spectral_index_freqs_hz": json.dumps([REF_FREQ_HZ, NU_VLASS_HZ]),
            "conventions": "fluxes Jy; angles deg; sizes arcsec; alpha: S ~ nu^alpha; resolved_flag NULL = no FIRST information",
        }
    )
    for s in SURVEYS:
        t = tables.get(s)
        meta[f"input.{s}.path"] = os.path.abspath(t.path) if t else ""
        if t:
            meta[f"input.{s}.sha256"] = sha256_file(t.path)
            meta[f"input.{s}.size_bytes"] = str(os.path.getsize(t.path))
            meta[f"input.{s}.rows_read"] = str(t.rows_read)
            meta[f"input.{s}.rows_dropped"] = str(t.rows_dropped)
            meta[f"input.{s}.columns_used"] = json.dumps(t.columns_used, sort_keys=True)
            meta[f"input.{s}.flux_unit"] = t.flux_unit

    with atomic_path(out) as tmp:
        _write_db(tmp, src, meta, th, ids)
    summary = {
        "out": os.path.abspath(out),
        "n_sources": len(src),
        "n_good_references": _count(out, "good_references"),
        "n_final_references": _count(out, "final_references"),
        "n_vlass_matched": int(src["s_vlass"].notna().sum()),
        "n_first_matched": int(src["sep_first_arcsec"].notna().sum()),
        "n_confused": int(src["confusion_flag"].sum()),
        "n_resolved": int((src["resolved_flag"] == 1).sum()),
        "rows_read": {s: t.rows_read for s, t in tables.items()},
        "rows_dropped": {s: t.rows_dropped for s, t in tables.items()},
        "finalref_ids_missing": missing,
    }
    log.info("master catalog %s: %s", out, summary)
    return summary


def write_master_catalog(
    *, nvss: str, vlass: str | None, first: str | None, db_path: str, summary_path: str, catalog: Catalog, provenance: dict
) -> dict:
    """The master_catalog rule: :func:`build_master` into ``db_path``, then its summary
    plus ``provenance`` as JSON at ``summary_path`` (both written atomically).  Returns the summary."""
    summary = build_master(nvss, db_path, catalog=catalog, vlass=vlass, first=first)
    summary["provenance"] = provenance
    write_json(summary_path, summary, default=str)
    return summary


def read_references(db_path: str, view: str) -> pd.DataFrame:
    """Rows of ``view`` (``final_references``, ``good_references`` or ``sources``), by source_id.

    The workflow's reference view is ``photometry.reference_view``.

    Numeric columns are float/int; NULL is NaN.
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
    if not os.path.isfile(db_path):
        raise FileNotFoundError(f"{db_path}: master catalog not found")
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        df = pd.read_sql_query(f"SELECT * FROM {view} ORDER BY source_id", con)
    finally:
        con.close()
    for col in df.columns:  # an all-NULL column comes back as object: make it float NaN
        if col != "source_id":
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def read_sources(db_path: str) -> pd.DataFrame:
    """The whole ``sources`` table."""
    return read_references(db_path, "sources")


def sources_from_master(db_path: str) -> list[PointSource]:
    """Every source of the master catalog ``db_path`` as a point source: ``source_id``,
    ``ra_deg``/``dec_deg``, ``s_nvss`` (Jy at 1.4 GHz), ``alpha`` (missing: -0.7)."""
    df = read_sources(db_path)
    return [PointSource(r.source_id, r.ra_deg, r.dec_deg, r.s_nvss, alpha_or_default(r.alpha)) for r in df.itertuples()]


def read_meta(db_path: str) -> dict[str, str]:
    """The ``meta`` table as a dict."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return dict(con.execute("SELECT key, value FROM meta").fetchall())
    finally:
        con.close()


# --------------------------------------------------------------------------- CLI


def _mapping(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, col = item.partition("=")
        if not sep or not key.strip() or not col.strip():
            raise ValueError(f"{flag} expects STANDARD=COLUMN (e.g. ra=RAJ2000), got {item!r}")
        out[key.strip().lower()] = col.strip()
    return out


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m dsa110_contimg.catalog.build_master",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--nvss", required=True, help="NVSS table (CSV/TSV/FITS); the master list")
    ap.add_argument("--vlass", default="", help="VLASS table (optional): spectral index")
    ap.add_argument("--first", default="", help="FIRST table (optional): resolved flag")
    ap.add_argument("--out", required=True, help="output SQLite file")
    for s in SURVEYS:
        ap.add_argument(f"--{s}-flux-unit", metavar="{jy,mjy,ujy}", help=f"flux unit of the {s.upper()} table (default: the schema's, mjy)")
        ap.add_argument(
            f"--{s}-column", action="append", default=[], metavar="STD=COLUMN",
            help="map a standard column (name, ra, dec, flux, e_flux, major, minor) to a file column; repeatable",
        )
    for key in _THRESHOLDS:
        ap.add_argument(f"--{key.replace('_', '-')}", type=float, help="default: the schema's catalog." + key)
    ap.add_argument("--finalref-ids", default="", help="comma-separated source_ids the final references are restricted to")
    return ap


_THRESHOLDS = ("match_radius_arcsec", "resolved_major_arcsec", "goodref_snr_min", "goodref_alpha_min",
               "goodref_alpha_max", "finalref_snr_min")


def catalog_from_args(args: argparse.Namespace) -> Catalog:
    """The catalog settings of the command line (validated; unset options take the schema's defaults)."""
    cat = {
        "nvss": args.nvss, "vlass": args.vlass, "first": args.first,
        "columns": {s: _mapping(getattr(args, f"{s}_column"), f"--{s}-column") for s in SURVEYS},
        "finalref_ids": [i for i in args.finalref_ids.split(",") if i.strip()],
    }
    units = {s: getattr(args, f"{s}_flux_unit") for s in SURVEYS if getattr(args, f"{s}_flux_unit") is not None}
    if units:
        cat["flux_units"] = units
    cat.update({k: getattr(args, k) for k in _THRESHOLDS if getattr(args, k) is not None})
    return Settings.from_config({"catalog": cat}).catalog


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; a ValueError or missing file is one line on stderr and exit code 2."""
    args = _parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        summary = build_master(args.nvss, args.out, catalog=catalog_from_args(args),
                               vlass=args.vlass or None, first=args.first or None)
    except (ValueError, FileNotFoundError) as exc:
        print(f"build_master: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
