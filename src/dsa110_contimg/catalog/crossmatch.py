"""Positional cross-match of VLASS and FIRST to the NVSS master list; derived quantities.

Conventions:

- positions are ICRS degrees, separations and radii arcsec, fluxes Jy;
- spectral index ``alpha`` with ``S ~ nu^alpha``:
  ``alpha = ln(S_vlass / S_nvss) / ln(3.0 GHz / 1.4 GHz)`` from the *nearest* VLASS
  match; NULL (NaN) without a match or when either flux is <= 0;
- ``resolved_flag`` = 1 when the nearest FIRST match has a deconvolved major axis
  > ``resolved_major_arcsec``, 0 when it has a smaller one, NULL (NaN) when there is no
  FIRST match, no FIRST table, or no major-axis column (unknown, *not* "unresolved";
  reference selection treats NULL as not resolved);
- ``confusion_flag`` = 1 when another NVSS source lies within the match radius, or
  more than one VLASS or more than one FIRST component does; else 0;
- ``snr_nvss = S_nvss / e_S_nvss``; rows without a usable (finite, > 0) error get
  :data:`NVSS_DEFAULT_ERROR_JY` = 0.45 mJy, the NVSS image rms (Condon et al. 1998).
  It is thus the detection significance, *not* including NVSS's 3 % scale error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..sky import REF_FREQ_HZ

NU_VLASS_HZ = 3.0e9
NVSS_DEFAULT_ERROR_JY = 0.45e-3


def spectral_index(s_hi, s_lo, nu_hi: float = NU_VLASS_HZ, nu_lo: float = REF_FREQ_HZ) -> np.ndarray:
    """``ln(s_hi/s_lo) / ln(nu_hi/nu_lo)``; NaN where a flux is missing or <= 0.

    Defaults: VLASS (3 GHz) over NVSS (:data:`~dsa110_contimg.sky.REF_FREQ_HZ`, 1.4 GHz).
    """
    s_hi = np.asarray(s_hi, dtype=float)
    s_lo = np.asarray(s_lo, dtype=float)
    ok = np.isfinite(s_hi) & np.isfinite(s_lo) & (s_hi > 0) & (s_lo > 0)
    out = np.full(np.broadcast(s_hi, s_lo).shape, np.nan)
    out[ok] = np.log(s_hi[ok] / s_lo[ok]) / np.log(nu_hi / nu_lo)
    return out


def _coords(ra_deg, dec_deg):
    from astropy.coordinates import SkyCoord  # noqa: PLC0415

    return SkyCoord(np.asarray(ra_deg, dtype=float), np.asarray(dec_deg, dtype=float), unit="deg", frame="icrs")


def _pairs(ra1, dec1, ra2, dec2, radius_arcsec: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs (i into set 1, j into set 2, separation arcsec) within the radius."""
    import astropy.units as u  # noqa: PLC0415
    from astropy.coordinates import search_around_sky  # noqa: PLC0415

    if len(ra1) == 0 or len(ra2) == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    i, j, sep, _ = search_around_sky(_coords(ra1, dec1), _coords(ra2, dec2), radius_arcsec * u.arcsec)
    return np.asarray(i), np.asarray(j), sep.to_value(u.arcsec)


def match_to_master(master_ra, master_dec, other_ra, other_dec, radius_arcsec: float) -> dict[str, np.ndarray]:
    """For each master source: number of ``other`` entries within the radius, index of the
    nearest (-1 if none) and its separation (arcsec; NaN if none)."""
    n = len(master_ra)
    i, j, sep = _pairs(master_ra, master_dec, other_ra, other_dec, radius_arcsec)
    count = np.bincount(i, minlength=n).astype(int)
    nearest = np.full(n, -1, dtype=int)
    nearest_sep = np.full(n, np.nan)
    if len(i):
        order = np.lexsort((sep, i))
        first_i, first_pos = np.unique(i[order], return_index=True)
        nearest[first_i] = j[order][first_pos]
        nearest_sep[first_i] = sep[order][first_pos]
    return {"count": count, "nearest": nearest, "sep_arcsec": nearest_sep}


def neighbour_counts(ra, dec, radius_arcsec: float) -> np.ndarray:
    """Number of *other* entries of the same list within the radius of each entry."""
    i, _, _ = _pairs(ra, dec, ra, dec, radius_arcsec)
    return np.bincount(i, minlength=len(ra)).astype(int) - 1


def make_source_ids(names, ra_deg, dec_deg) -> list[str]:
    """Stable ids: the NVSS name where given, else ``NVSS_J{ra:08.4f}{dec:+08.4f}``.

    Repeated ids (duplicate names, or two sources within ~0.2") get ``_2``, ``_3``, ...
    in input order, so a rebuild from the same table gives the same ids.
    """
    ids = []
    seen: dict[str, int] = {}
    for name, ra, dec in zip(names, ra_deg, dec_deg, strict=True):
        text = "" if name is None else str(name).strip()
        base = text if text and text.lower() not in ("nan", "none") else f"NVSS_J{ra:08.4f}{dec:+08.4f}"
        k = seen.get(base, 0) + 1
        seen[base] = k
        ids.append(base if k == 1 else f"{base}_{k}")
    return ids


def crossmatch(
    nvss: pd.DataFrame,
    vlass: pd.DataFrame | None = None,
    first: pd.DataFrame | None = None,
    *,
    match_radius_arcsec: float,
    resolved_major_arcsec: float,
) -> pd.DataFrame:
    """The ``sources`` table: one row per NVSS entry (standard reader columns in).

    ``match_radius_arcsec`` and ``resolved_major_arcsec`` are the ``catalog`` settings of
    the same names.

    Output columns: source_id, ra_deg, dec_deg, s_nvss, e_s_nvss, snr_nvss, s_vlass,
    e_s_vlass, sep_vlass_arcsec, alpha, s_first, sep_first_arcsec, first_major_arcsec,
    resolved_flag, confusion_flag, n_neighbours_nvss, n_matches_vlass, n_matches_first.
    Counts for a survey not given are NaN (NULL: not searched), flags follow the module doc.
    """
    if not match_radius_arcsec > 0:
        raise ValueError(f"match_radius_arcsec must be > 0, got {match_radius_arcsec}")
    n = len(nvss)
    ra, dec = nvss["ra_deg"].to_numpy(float), nvss["dec_deg"].to_numpy(float)
    s = nvss["flux_jy"].to_numpy(float)
    e = nvss["e_flux_jy"].to_numpy(float)
    e = np.where(np.isfinite(e) & (e > 0), e, NVSS_DEFAULT_ERROR_JY)
    out = pd.DataFrame(
        {
            "source_id": make_source_ids(nvss["name"].tolist(), ra, dec),
            "ra_deg": ra,
            "dec_deg": dec,
            "s_nvss": s,
            "e_s_nvss": e,
            "snr_nvss": s / e,
        }
    )
    nb = neighbour_counts(ra, dec, match_radius_arcsec)
    confused = nb > 0
    out["n_neighbours_nvss"] = nb

    nan = np.full(n, np.nan)
    out["s_vlass"], out["e_s_vlass"], out["sep_vlass_arcsec"], out["n_matches_vlass"] = nan, nan, nan, nan
    if vlass is not None:
        m = match_to_master(ra, dec, vlass["ra_deg"], vlass["dec_deg"], match_radius_arcsec)
        hit = m["nearest"] >= 0
        out.loc[hit, "s_vlass"] = vlass["flux_jy"].to_numpy(float)[m["nearest"][hit]]
        out.loc[hit, "e_s_vlass"] = vlass["e_flux_jy"].to_numpy(float)[m["nearest"][hit]]
        out["sep_vlass_arcsec"] = m["sep_arcsec"]
        out["n_matches_vlass"] = m["count"]
        confused |= m["count"] > 1
    out["alpha"] = spectral_index(out["s_vlass"], out["s_nvss"])

    out["s_first"], out["sep_first_arcsec"], out["first_major_arcsec"], out["n_matches_first"] = nan, nan, nan, nan
    resolved = np.full(n, np.nan)
    if first is not None:
        m = match_to_master(ra, dec, first["ra_deg"], first["dec_deg"], match_radius_arcsec)
        hit = m["nearest"] >= 0
        major = first["major_arcsec"].to_numpy(float)[m["nearest"][hit]]
        out.loc[hit, "s_first"] = first["flux_jy"].to_numpy(float)[m["nearest"][hit]]
        out.loc[hit, "first_major_arcsec"] = major
        out["sep_first_arcsec"] = m["sep_arcsec"]
        out["n_matches_first"] = m["count"]
        resolved[hit] = np.where(np.isfinite(major), (major > resolved_major_arcsec).astype(float), np.nan)
        confused |= m["count"] > 1
    out["resolved_flag"] = resolved
    out["confusion_flag"] = confused.astype(int)
    return out
