"""Read radio survey tables (NVSS, VLASS, FIRST) into standard columns.

Input formats: CSV, TSV (or any delimiter-separated text; the delimiter is decided by
extension ``.csv`` -> comma, ``.tsv``/``.tab`` -> tab, otherwise sniffed) and FITS
binary tables (``.fits``, ``.fit``, ``.fts``, optionally ``.gz``).  Leading lines that
start with ``#`` are skipped in text tables.

Standard column names (what :func:`read_survey` returns):

==============  =====================================================================
``name``        source name (string; optional)
``ra_deg``      right ascension, ICRS/J2000 degrees in [0, 360)
``dec_deg``     declination, degrees
``flux_jy``     flux density, Jy (peak or integrated, whichever column is found first;
                integrated is preferred where both exist)
``e_flux_jy``   1-sigma flux-density error, Jy (NaN when the table has none)
``major_arcsec`` deconvolved major axis FWHM, arcsec (FIRST only; NaN when absent)
``minor_arcsec`` deconvolved minor axis FWHM, arcsec (FIRST only; NaN when absent)
==============  =====================================================================

Column detection is by case-insensitive known aliases (:data:`ALIASES`); an explicit
mapping ``{standard key: file column}`` with keys ``name, ra, dec, flux, e_flux, major,
minor`` overrides it.  RA/Dec may be numeric degrees or sexagesimal strings (RA in hours,
``"12 34 56.7"`` or ``"12:34:56.7"`` or ``"12h34m56.7s"``; Dec in degrees,
``"+12 34 56"``).  Flux units are *declared* by the caller (``jy``, ``mjy``, ``ujy``);
a FITS column unit that contradicts the declaration is an error.

Rows whose RA, Dec or flux is not finite (or whose Dec is outside [-90, 90]) are dropped
and counted.
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

SURVEYS = ("nvss", "vlass", "first")
STANDARD_KEYS = ("name", "ra", "dec", "flux", "e_flux", "major", "minor")
REQUIRED_KEYS = ("ra", "dec", "flux")

#: Multiplicative factor from a declared flux unit to Jy (keys are lower-case).
FLUX_UNITS = {"jy": 1.0, "mjy": 1e-3, "ujy": 1e-6}

_RA = ["ra", "ra_deg", "radeg", "raj2000", "ra_j2000", "_raj2000", "ra(deg)", "ra_icrs", "ra_hms", "alpha_j2000"]
_DEC = ["dec", "dec_deg", "decdeg", "dedeg", "dej2000", "decj2000", "dec_j2000", "_dej2000", "dec(deg)", "de_icrs", "dec_dms", "delta_j2000"]

#: Known aliases per survey and standard key, in order of preference (lower case).
ALIASES: dict[str, dict[str, list[str]]] = {
    "nvss": {
        "name": ["nvss", "name", "source_name", "source", "id"],
        "ra": _RA,
        "dec": _DEC,
        "flux": ["s1.4", "s_1.4", "s1400", "s1400_mjy", "s_nvss", "total_flux", "flux", "flux_mjy", "flux_jy", "peak_flux", "s"],
        "e_flux": ["e_s1.4", "e_s_1.4", "e_s1400", "e_s1400_mjy", "e_s_nvss", "e_total_flux", "e_flux", "flux_err", "e_flux_mjy", "e_peak_flux"],
    },
    "vlass": {
        "name": ["component_name", "name", "source_name", "vlass", "id"],
        "ra": _RA,
        "dec": _DEC,
        "flux": ["total_flux", "peak_flux", "flux", "flux_mjy", "s3000", "s_3.0"],
        "e_flux": ["e_total_flux", "e_peak_flux", "e_flux", "flux_err", "e_s3000"],
    },
    "first": {
        "name": ["first", "name", "source_name", "id"],
        "ra": _RA,
        "dec": _DEC,
        "flux": ["fint", "fpeak", "total_flux", "peak_flux", "flux"],
        "e_flux": ["rms", "e_fint", "e_fpeak", "e_flux"],
        "major": ["maj", "major", "deconv_maj", "maj_deconv", "dc_maj", "majax", "major_arcsec"],
        "minor": ["min", "minor", "deconv_min", "min_deconv", "dc_min", "minax", "minor_arcsec"],
    },
}

_FITS_EXT = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")


@dataclass(frozen=True)
class SurveyTable:
    """A survey table in standard columns plus what was read (for provenance)."""

    survey: str
    path: str
    data: pd.DataFrame
    rows_read: int
    rows_dropped: int
    columns_used: dict[str, str]
    flux_unit: str


def flux_unit_factor(unit: str, path: str = "", survey: str = "") -> float:
    """Factor converting the declared ``unit`` (``jy``/``mjy``/``ujy``, any case) to Jy."""
    key = str(unit).strip().lower().replace("µ", "u").replace("μ", "u")
    if key not in FLUX_UNITS:
        where = f"{path}: " if path else ""
        flag = f" (--{survey}-flux-unit / catalog.flux_units.{survey})" if survey else ""
        raise ValueError(f"{where}unknown flux unit {unit!r}{flag}; accepted units: {', '.join(FLUX_UNITS)} (any case, e.g. Jy, mJy, uJy)")
    return FLUX_UNITS[key]


# --------------------------------------------------------------------------- parsing


_SEXA = re.compile(
    r"""^\s*([+-]?)\s*(\d+(?:\.\d*)?)\s*[\s:hHdD°]\s*(\d+(?:\.\d*)?)\s*(?:[\s:mM']\s*(\d+(?:\.\d*)?)\s*[sS"]?)?\s*[mM']?\s*$"""
)


def parse_sexagesimal(text: str) -> float:
    """``"[+-]a b c"`` (separators space, ``:``, ``h/d m s``) -> signed ``a + b/60 + c/3600``.

    The sign applies to the whole value (``"-00 30 00"`` -> -0.5).  Returns NaN when the
    string is not sexagesimal or has minutes/seconds >= 60.
    """
    m = _SEXA.match(str(text))
    if not m:
        return math.nan
    sign, a, b, c = m.groups()
    b, c = float(b), float(c) if c else 0.0
    if b >= 60.0 or c >= 60.0:
        return math.nan
    v = float(a) + b / 60.0 + c / 3600.0
    return -v if sign == "-" else v


def _angles(values, *, hours: bool) -> np.ndarray:
    """Numbers (degrees) or sexagesimal strings (hours if ``hours`` else degrees) -> degrees."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fiu":
        return arr.astype(float)
    out = np.full(arr.shape, np.nan)
    for i, v in enumerate(arr):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        s = str(v).strip()
        try:
            out[i] = float(s)
            continue
        except ValueError:
            pass
        x = parse_sexagesimal(s)
        if hours and not (0.0 <= x < 24.0):
            x = math.nan
        out[i] = 15.0 * x if hours else x
    return out


def parse_ra(values) -> np.ndarray:
    """RA values -> degrees in [0, 360): numbers are degrees, sexagesimal strings are hours."""
    ra = _angles(values, hours=True)
    with np.errstate(invalid="ignore"):
        return np.mod(ra, 360.0)


def parse_dec(values) -> np.ndarray:
    """Dec values -> degrees: numbers are degrees, sexagesimal strings are ``±dd mm ss``."""
    return _angles(values, hours=False)


# --------------------------------------------------------------------------- raw tables


def _is_fits(path: str) -> bool:
    return path.lower().endswith(_FITS_EXT)


def _text_delimiter(path: str, lines: list[str]) -> str | None:
    """Delimiter by extension, else sniffed; None means 'runs of whitespace'."""
    ext = os.path.splitext(path.lower())[1]
    preferred = {".csv": ",", ".tsv": "\t", ".tab": "\t"}.get(ext)
    header = lines[0] if lines else ""
    if preferred and preferred in header:
        return preferred
    sample = "".join(lines[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return None


def _read_text(path: str) -> tuple[pd.DataFrame, dict[str, str]]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.readlines()
    skip = 0
    while skip < len(lines) and (lines[skip].lstrip().startswith("#") or not lines[skip].strip()):
        skip += 1
    body = lines[skip:]
    if not body:
        raise ValueError(f"{path}: empty table (no header line)")
    sep = _text_delimiter(path, body)
    kw = {"sep": sep} if sep else {"sep": r"\s+", "engine": "python"}
    df = pd.read_csv(path, skiprows=skip, dtype=str, keep_default_na=True, skipinitialspace=True, **kw)
    df.columns = [str(c).strip() for c in df.columns]
    return df, {}


def _read_fits(path: str) -> tuple[pd.DataFrame, dict[str, str]]:
    from astropy.table import Table  # noqa: PLC0415

    t = Table.read(path)
    cols: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    for name in t.colnames:
        col = t[name]
        if col.ndim > 1:
            continue
        if getattr(col, "mask", None) is not None and np.any(col.mask):
            masked = np.ma.asarray(col)
            arr = masked.astype(float).filled(np.nan) if col.dtype.kind in "iufb" else masked.astype(str).filled("")
        else:
            arr = np.asarray(col)
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "utf-8", "replace")
        cols[name] = arr
        if col.unit is not None:
            units[name] = col.unit.to_string()
    return pd.DataFrame(cols), units


def read_raw(path: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The table as read (text cells as strings) and FITS column units ``{column: unit}``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: catalog file not found")
    return _read_fits(path) if _is_fits(path) else _read_text(path)


# --------------------------------------------------------------------------- columns


def _how_to_map(survey: str, key: str) -> str:
    return f"map it with catalog.columns.{survey}.{key}: <column> in the config or --{survey}-column {key}=<column> on the command line"


def detect_columns(columns: list[str], survey: str, mapping: dict | None = None, path: str = "") -> dict[str, str]:
    """``{standard key: file column}`` for the keys found; required ones must be present.

    ``mapping`` (standard key -> column, exact or case-insensitive) takes precedence
    over the aliases.  The flux error column is preferably the one named after the
    chosen flux column (``e_<flux>``, ``<flux>_err``).
    """
    if survey not in ALIASES:
        raise ValueError(f"unknown survey {survey!r}; expected one of {', '.join(SURVEYS)}")
    lower = {}
    for c in columns:
        lower.setdefault(str(c).strip().lower(), c)
    used: dict[str, str] = {}
    for key, col in (mapping or {}).items():
        if key not in STANDARD_KEYS:
            raise ValueError(f"{path}: unknown standard column {key!r} in the {survey} column mapping; valid keys: {', '.join(STANDARD_KEYS)}")
        if not col:
            continue
        actual = col if col in columns else lower.get(str(col).strip().lower())
        if actual is None:
            raise ValueError(
                f"{path}: the {survey} column mapping {key} -> {col!r} names a column that is not in the file; columns present: {list(columns)}"
            )
        used[key] = actual
    aliases = ALIASES[survey]
    for key in STANDARD_KEYS:
        if key in used or key not in aliases:
            continue
        cands = list(aliases[key])
        if key == "e_flux" and "flux" in used:
            f = str(used["flux"]).lower()
            cands = [f"e_{f}", f"{f}_err", f"err_{f}", f"{f}_error", f"e{f}"] + cands
        for alias in cands:
            if alias in lower and lower[alias] not in used.values():
                used[key] = lower[alias]
                break
    for key in REQUIRED_KEYS:
        if key not in used:
            raise ValueError(
                f"{path}: no {survey.upper()} column for required '{key}' (known aliases: {', '.join(aliases[key])}); "
                f"columns present: {list(columns)}; {_how_to_map(survey, key)}"
            )
    return used


def _check_fits_unit(path: str, survey: str, column: str, unit: str | None, declared: str, factor: float) -> None:
    """Raise when a FITS flux column's unit contradicts the declared unit (``/beam`` ignored)."""
    if not unit:
        return
    import astropy.units as u  # noqa: PLC0415

    text = re.sub(r"\s*(/\s*beam|\.?\s*beam\s*(\*\*|\^)?\s*-1)\s*$", "", unit.strip(), flags=re.IGNORECASE)
    if not text:
        return
    parsed = u.Unit(text, parse_strict="silent")
    if isinstance(parsed, u.UnrecognizedUnit):
        return
    ok = parsed.is_equivalent(u.Jy) and math.isclose(parsed.to(u.Jy), factor, rel_tol=1e-9)
    if not ok:
        raise ValueError(
            f"{path}: column '{column}' carries unit '{unit}' but the {survey} flux unit was declared as '{declared}'; "
            f"declare the right one with --{survey}-flux-unit / catalog.flux_units.{survey} (accepted: {', '.join(FLUX_UNITS)})"
        )


def _numeric(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


def _fits_angle_factor(unit: str | None) -> float:
    """Degrees per unit of a FITS angle column (1 for deg or none; 15 for hourangle)."""
    if not unit:
        return 1.0
    import astropy.units as u  # noqa: PLC0415

    parsed = u.Unit(unit, parse_strict="silent")
    if isinstance(parsed, u.UnrecognizedUnit) or not parsed.is_equivalent(u.deg):
        return 1.0
    return float(parsed.to(u.deg))


def read_survey(path: str, survey: str, *, unit: str, mapping: dict | None = None) -> SurveyTable:
    """Read one survey table into standard columns with fluxes in Jy (see module doc).

    ``unit``: the declared flux unit (``catalog.flux_units.<survey>``); ``mapping``:
    standard key -> file column (``catalog.columns.<survey>``; None = alias detection only).

    Raises ValueError for an unknown unit, a missing required column, a FITS unit that
    contradicts ``unit``, or a table without a single valid row.
    """
    survey = survey.lower()
    factor = flux_unit_factor(unit, path, survey)
    raw, units = read_raw(path)
    used = detect_columns(list(raw.columns), survey, mapping, path)
    for key in ("flux", "e_flux"):
        if key in used:
            _check_fits_unit(path, survey, used[key], units.get(used[key]), unit, factor)
    n = len(raw)
    ra_vals, dec_vals = raw[used["ra"]].to_numpy(), raw[used["dec"]].to_numpy()
    ra = parse_ra(ra_vals * _fits_angle_factor(units.get(used["ra"])) if ra_vals.dtype.kind in "fiu" else ra_vals)
    dec = parse_dec(dec_vals * _fits_angle_factor(units.get(used["dec"])) if dec_vals.dtype.kind in "fiu" else dec_vals)
    out = pd.DataFrame(
        {
            "name": raw[used["name"]].astype(str).str.strip().to_numpy() if "name" in used else np.full(n, None, dtype=object),
            "ra_deg": ra,
            "dec_deg": dec,
            "flux_jy": _numeric(raw[used["flux"]]) * factor,
            "e_flux_jy": _numeric(raw[used["e_flux"]]) * factor if "e_flux" in used else np.full(n, np.nan),
            "major_arcsec": _numeric(raw[used["major"]]) if "major" in used else np.full(n, np.nan),
            "minor_arcsec": _numeric(raw[used["minor"]]) if "minor" in used else np.full(n, np.nan),
        }
    )
    with np.errstate(invalid="ignore"):
        good = np.isfinite(out["ra_deg"]) & np.isfinite(out["dec_deg"]) & np.isfinite(out["flux_jy"]) & (np.abs(out["dec_deg"]) <= 90.0)
    data = out[good.to_numpy()].reset_index(drop=True)
    if data.empty:
        raise ValueError(f"{path}: no {survey.upper()} row has finite RA, Dec and flux ({n} rows read; columns used: {used})")
    return SurveyTable(survey, path, data, n, int(n - len(data)), used, unit.strip().lower())
