"""Master source catalog: readers, cross-match, SQLite views, CLI, simulator survey tables.

The truth is a small synthetic sky written through the simulator's NVSS/VLASS/FIRST
error models; results are checked against that truth and against independent
computations from the database columns.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import sqlite3

import numpy as np
import pandas as pd
import pytest

from dsa110_contimg.catalog.build_master import build_master, main, read_meta, read_references, read_sources
from dsa110_contimg.catalog.readers import flux_unit_factor, parse_dec, parse_ra, read_survey
from dsa110_contimg.settings import Settings, SurveyColumns
from dsa110_contimg.simulate.catalogs import NVSS_LIMIT_MJY, write_survey_tables

CATALOG = Settings.from_config({}).catalog  # the schema's defaults

RA0, DEC0 = 150.0, 40.0
SPACING_DEG = 3.0 / 60.0  # sources on a 3' grid: no accidental confusion
PAIR_SEP_ARCSEC = 4.0
ALPHA_LN = math.log(3.0 / 1.4)


def _sky() -> list[dict]:
    """~30 sources with known alpha, a close pair, an extended one, one below the NVSS limit."""
    rng = np.random.default_rng(11)
    sky = []
    for k in range(26):
        ra = RA0 + (k % 6) * SPACING_DEG / math.cos(math.radians(DEC0))
        dec = DEC0 + (k // 6) * SPACING_DEG
        flux = 10 ** rng.uniform(-2.0, 0.0)  # 10 mJy .. 1 Jy
        sky.append({"name": f"F{k:02d}", "ra_deg": ra, "dec_deg": dec, "flux_jy": flux, "alpha": float(rng.normal(-0.7, 0.3)), "kind": "field"})
    sky[0].update(flux_jy=12.0, alpha=-0.5, kind="calibrator")
    sky[1].update(flux_jy=0.3, alpha=1.0)  # inverted: fails the alpha cut
    sky[2].update(flux_jy=0.3, alpha=-0.7, major_arcsec=20.0)  # resolved in FIRST
    sky[3].update(flux_jy=0.0015)  # below the NVSS limit
    dec_p = DEC0 - 2 * SPACING_DEG
    sky.append({"name": "PAIR_A", "ra_deg": RA0, "dec_deg": dec_p, "flux_jy": 0.2, "alpha": -0.8, "kind": "field"})
    sky.append({"name": "PAIR_B", "ra_deg": RA0, "dec_deg": dec_p + PAIR_SEP_ARCSEC / 3600, "flux_jy": 0.15, "alpha": -0.6, "kind": "field"})
    return sky


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("catalog")
    sky = _sky()
    paths = write_survey_tables(sky, seed=5, out_dir=str(d))
    db = str(d / "master.sqlite3")
    summary = build_master(paths["nvss"], db, catalog=CATALOG, vlass=paths["vlass"], first=paths["first"])
    return {"sky": sky, "paths": paths, "db": db, "summary": summary, "dir": d}


def _nearest(df: pd.DataFrame, ra: float, dec: float) -> tuple[int, float]:
    """Index and separation (arcsec) of the nearest row (small-angle, fine at arcsec scales)."""
    dx = (df["ra_deg"].to_numpy() - ra) * math.cos(math.radians(dec))
    dy = df["dec_deg"].to_numpy() - dec
    r = np.hypot(dx, dy) * 3600
    i = int(np.argmin(r))
    return i, float(r[i])


def _truth_rows(built) -> dict[str, pd.Series]:
    """Sky name -> its sources row (each sky source above the limit matched once)."""
    src = read_sources(built["db"])
    out = {}
    for s in built["sky"]:
        if s["flux_jy"] * 1e3 > NVSS_LIMIT_MJY:
            i, _ = _nearest(src, s["ra_deg"], s["dec_deg"])
            out[s["name"]] = src.iloc[i]
    return out


def test_every_sky_source_once(built):
    src = read_sources(built["db"])
    bright = [s for s in built["sky"] if s["flux_jy"] * 1e3 > NVSS_LIMIT_MJY]
    assert len(src) == len(bright) == built["summary"]["n_sources"]
    assert src["source_id"].is_unique
    hits = set()
    for s in bright:
        i, r = _nearest(src, s["ra_deg"], s["dec_deg"])
        assert r < 3.0, (s["name"], r)  # bright sources: NVSS position error ~0.5-1.5"
        hits.add(i)
    assert len(hits) == len(bright)
    # fluxes in Jy, within the NVSS error model
    for name, row in _truth_rows(built).items():
        s = next(x for x in built["sky"] if x["name"] == name)
        sig = math.hypot(0.03 * s["flux_jy"], 0.45e-3)
        assert abs(row["s_nvss"] - s["flux_jy"]) < 5 * sig


def test_matches_within_radius_and_alpha(built):
    src = read_sources(built["db"])
    assert (src["sep_vlass_arcsec"].dropna() <= 7.5).all()
    assert (src["sep_first_arcsec"].dropna() <= 7.5).all()
    assert src["s_vlass"].notna().all()  # every source here is above the VLASS limit
    # alpha is exactly the documented formula of the stored fluxes
    indep = np.log(src["s_vlass"] / src["s_nvss"]) / ALPHA_LN
    np.testing.assert_allclose(src["alpha"], indep, rtol=0, atol=1e-12)
    # ... and recovers the injected alpha within what 10 % VLASS scatter allows
    rows = _truth_rows(built)
    err = np.array([rows[s["name"]]["alpha"] - s["alpha"] for s in built["sky"] if s["name"] in rows])
    assert np.median(np.abs(err)) < 0.2
    assert np.max(np.abs(err)) < 0.6  # ~4 sigma of ln(1.1)/ln(3/1.4)


def test_close_pair_confused_and_flags(built):
    rows = _truth_rows(built)
    assert rows["PAIR_A"]["source_id"] != rows["PAIR_B"]["source_id"]
    for name in ("PAIR_A", "PAIR_B"):
        assert rows[name]["confusion_flag"] == 1
        assert rows[name]["n_neighbours_nvss"] >= 1 or rows[name]["n_matches_vlass"] > 1
    others = [r for n, r in rows.items() if not n.startswith("PAIR")]
    assert all(r["confusion_flag"] == 0 for r in others)
    assert rows["F02"]["resolved_flag"] == 1 and rows["F02"]["first_major_arcsec"] > 10
    assert all(r["resolved_flag"] == 0 for n, r in rows.items() if n != "F02")
    good = set(read_references(built["db"], "good_references")["source_id"])
    assert rows["F02"]["source_id"] not in good
    assert rows["F01"]["source_id"] not in good  # inverted spectrum
    assert rows["F00"]["source_id"] in good  # the 12 Jy calibrator


def _expected_views(src: pd.DataFrame, snr=50.0, amin=-1.5, amax=0.5, final_snr=100.0):
    ok_alpha = src["alpha"].isna() | ((src["alpha"] >= amin) & (src["alpha"] <= amax))
    good = src[(src["snr_nvss"] >= snr) & ok_alpha & (src["resolved_flag"].fillna(0) == 0) & (src["confusion_flag"] == 0)]
    return set(good["source_id"]), set(good[good["snr_nvss"] >= final_snr]["source_id"])


def test_views_match_pandas_filtering(built):
    src = read_sources(built["db"])
    good, final = _expected_views(src)
    got_good = set(read_references(built["db"], "good_references")["source_id"])
    got_final = set(read_references(built["db"], "final_references")["source_id"])
    assert got_good == good and got_final == final
    assert 0 < len(final) < len(good) < len(src)
    assert built["summary"]["n_good_references"] == len(good)
    assert built["summary"]["n_final_references"] == len(final)


def test_thresholds_and_finalref_ids(built, tmp_path):
    p = built["paths"]
    db = str(tmp_path / "m2.sqlite3")
    src = read_sources(built["db"])
    _, final = _expected_views(src, snr=200.0, amin=-1.0, amax=0.0, final_snr=400.0)
    pick = sorted(final)[:2]
    cat = dataclasses.replace(CATALOG, goodref_snr_min=200, goodref_alpha_min=-1.0, goodref_alpha_max=0.0,
                              finalref_snr_min=400, finalref_ids=(*pick, "NOT_A_SOURCE"))
    s = build_master(p["nvss"], db, catalog=cat, vlass=p["vlass"], first=p["first"])
    good2, _ = _expected_views(read_sources(db), snr=200.0, amin=-1.0, amax=0.0)
    assert set(read_references(db, "good_references")["source_id"]) == good2
    assert set(read_references(db, "final_references")["source_id"]) == set(pick)
    assert s["finalref_ids_missing"] == ["NOT_A_SOURCE"]
    assert read_sources(db)["source_id"].tolist() == src["source_id"].tolist()  # stable ids


def test_no_vlass_alpha_null_allowed(built, tmp_path):
    db = str(tmp_path / "nv.sqlite3")
    build_master(built["paths"]["nvss"], db, catalog=CATALOG)
    src = read_sources(db)
    assert src["alpha"].isna().all() and src["n_matches_vlass"].isna().all() and src["resolved_flag"].isna().all()
    good, _ = _expected_views(src)
    assert set(read_references(db, "good_references")["source_id"]) == good
    assert len(good) > 0


def test_meta_provenance(built):
    meta = read_meta(built["db"])
    for survey, path in built["paths"].items():
        with open(path, "rb") as fh:
            blob = fh.read()
        assert meta[f"input.{survey}.sha256"] == hashlib.sha256(blob).hexdigest()
        assert int(meta[f"input.{survey}.size_bytes"]) == len(blob)
        data_lines = [ln for ln in blob.decode().splitlines() if ln and not ln.startswith("#")]
        assert int(meta[f"input.{survey}.rows_read"]) == len(data_lines) - 1
        assert meta[f"input.{survey}.rows_dropped"] == "0"
        assert meta[f"input.{survey}.flux_unit"] == "mjy"
    assert float(meta["match_radius_arcsec"]) == 7.5 and float(meta["goodref_snr_min"]) == 50.0
    assert meta["build_time_iso"].endswith("+00:00")
    assert "S1.4" in meta["input.nvss.columns_used"]


def test_units_and_errors(tmp_path):
    assert flux_unit_factor("Jy") == 1.0 and flux_unit_factor("mJy") == 1e-3 and flux_unit_factor("uJy") == 1e-6
    f = tmp_path / "n.csv"
    f.write_text("ra,dec,flux\n10.0,20.0,5.0\n")
    with pytest.raises(ValueError, match="furlong") as e:
        read_survey(str(f), "nvss", unit="furlong")
    assert str(f) in str(e.value) and "mjy" in str(e.value)
    t = read_survey(str(f), "nvss", unit="Jy")
    assert t.data["flux_jy"].iloc[0] == 5.0
    assert read_survey(str(f), "nvss", unit="uJy").data["flux_jy"].iloc[0] == pytest.approx(5e-6)


def test_fits_and_tsv_inputs(tmp_path):
    import astropy.units as u
    from astropy.table import Table

    t = Table({"RAJ2000": [10.0, 200.5] * u.deg, "DEJ2000": [-5.0, 60.0] * u.deg, "S1.4": [12.0, 3.0] * u.mJy, "e_S1.4": [0.5, 0.4] * u.mJy})
    fits = str(tmp_path / "n.fits")
    t.write(fits)
    r = read_survey(fits, "nvss", unit="mjy")
    np.testing.assert_allclose(r.data["flux_jy"], [0.012, 0.003])
    np.testing.assert_allclose(r.data["ra_deg"], [10.0, 200.5])
    with pytest.raises(ValueError, match="mJy"):
        read_survey(fits, "nvss", unit="jy")  # contradicts the FITS unit
    t2 = Table({"RA": [1.0], "DEC": [2.0], "FPEAK": [1.0] * u.mJy / u.beam, "FINT": [2.0] * u.mJy})
    t2.write(str(tmp_path / "f.fits"))
    assert read_survey(str(tmp_path / "f.fits"), "first", unit="mJy").data["flux_jy"].iloc[0] == pytest.approx(2e-3)

    tsv = tmp_path / "f.tsv"
    tsv.write_text("# comment\nRA\tDEC\tFPEAK\tFINT\tRMS\tMAJ\tMIN\n10.5\t20.25\t3.0\t3.5\t0.15\t12.0\t2.0\n")
    r = read_survey(str(tsv), "first", unit="mjy")
    assert r.columns_used["flux"] == "FINT" and r.data["major_arcsec"].iloc[0] == 12.0
    assert r.data["flux_jy"].iloc[0] == pytest.approx(3.5e-3)


def test_sexagesimal_equals_degrees(tmp_path):
    hours = 12 + 34 / 60 + 56.7 / 3600
    np.testing.assert_allclose(parse_ra(["12 34 56.7", "12:34:56.7", "12h34m56.7s", f"{15 * hours}"]), 15 * hours, atol=1e-9)
    np.testing.assert_allclose(parse_dec(["-00 30 00", "-00:30:00", "+41 30 36.0", "-0.5"]), [-0.5, -0.5, 41.51, -0.5], atol=1e-9)
    assert np.isnan(parse_ra(["25 00 00"])[0]) and np.isnan(parse_dec(["10 75 00"])[0])
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text('NVSS,RAJ2000,DEJ2000,S1.4\nX,12 34 56.70,-05 06 07.8,10\nY,00:00:01.00,+89:00:00,4\n')
    b.write_text(f"NVSS,RA_deg,Dec_deg,S1.4\nX,{15 * hours},{-(5 + 6 / 60 + 7.8 / 3600)},10\nY,{15 / 3600},89.0,4\n")
    ra, rb = read_survey(str(a), "nvss", unit=CATALOG.flux_units.nvss), read_survey(str(b), "nvss", unit=CATALOG.flux_units.nvss)
    np.testing.assert_allclose(ra.data["ra_deg"], rb.data["ra_deg"], atol=1e-9)
    np.testing.assert_allclose(ra.data["dec_deg"], rb.data["dec_deg"], atol=1e-9)


def test_mapping_missing_and_dropped_rows(tmp_path):
    f = tmp_path / "odd.csv"
    f.write_text("Right_Asc,Declin,Flux_Density,Err\n10.0,20.0,5.0,0.5\nnan,20.0,5.0,0.5\n11.0,21.0,,0.5\nnotanangle,1,1,1\n12.0,22.0,7.0,0.5\n")
    with pytest.raises(ValueError) as e:
        read_survey(str(f), "nvss", unit=CATALOG.flux_units.nvss)
    msg = str(e.value)
    assert str(f) in msg and "'ra'" in msg and "Right_Asc" in msg and "--nvss-column" in msg and "catalog.columns.nvss" in msg
    m = {"ra": "right_asc", "dec": "Declin", "flux": "Flux_Density", "e_flux": "Err"}
    t = read_survey(str(f), "nvss", unit="mjy", mapping=m)
    assert t.rows_read == 5 and t.rows_dropped == 3 and len(t.data) == 2
    np.testing.assert_allclose(t.data["e_flux_jy"], 5e-4)
    with pytest.raises(ValueError, match="NoSuchCol"):
        read_survey(str(f), "nvss", unit="mjy", mapping={**m, "flux": "NoSuchCol"})
    db = str(tmp_path / "m.sqlite3")
    s = build_master(str(f), db, catalog=dataclasses.replace(CATALOG, columns=SurveyColumns(nvss=m, vlass={}, first={})))
    assert s["rows_dropped"]["nvss"] == 3
    ids = read_sources(db)["source_id"].tolist()
    assert ids == ["NVSS_J010.0000+20.0000", "NVSS_J012.0000+22.0000"]
    assert read_meta(db)["input.nvss.rows_dropped"] == "3"


def test_cli(built, tmp_path, capsys):
    p = built["paths"]
    out = str(tmp_path / "cli.sqlite3")
    rc = main(["--nvss", p["nvss"], "--vlass", p["vlass"], "--first", p["first"], "--out", out, "--match-radius-arcsec", "6", "--finalref-snr-min", "150"])
    assert rc == 0 and os.path.isfile(out)
    with sqlite3.connect(out) as con:
        assert con.execute("SELECT value FROM meta WHERE key='match_radius_arcsec'").fetchone()[0] == "6.0"
    capsys.readouterr()
    bad = str(tmp_path / "bad.sqlite3")
    rc = main(["--nvss", p["nvss"], "--out", bad, "--nvss-flux-unit", "kJy"])
    err = capsys.readouterr().err
    assert rc == 2 and not os.path.exists(bad)
    assert "kJy" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main(["--nvss", str(tmp_path / "missing.csv"), "--out", bad]) == 2

