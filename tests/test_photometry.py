"""Forced photometry on synthetic images with known sources and beam-correlated noise,
and the light-curve stage on per-image CSVs (gaps, references, candidates)."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from conftest import sin_wcs

from dsa110_contimg.photometry.forced import PhotometryError, load_image, measure
from dsa110_contimg.settings import Settings

CELL_DEG = 10.0 / 3600
BMAJ, BMIN, BPA = 80.0 / 3600, 50.0 / 3600, 30.0
N = 256
SCHEMA = Settings.from_config({})  # the schema's defaults
PHOT, PBLIMIT = SCHEMA.photometry, SCHEMA.imaging.pblimit


def _wcs() -> WCS:
    return sin_wcs(N, CELL_DEG)


def _beam(dx, dy, bmaj=BMAJ, bmin=BMIN, bpa=BPA):
    """Independent elliptical Gaussian (peak 1): major axis at PA from north (+y) through east (-x)."""
    s = 1 / math.sqrt(8 * math.log(2))
    pa = math.radians(bpa)
    along = dy * math.cos(pa) - dx * math.sin(pa)
    across = dx * math.cos(pa) + dy * math.sin(pa)
    return np.exp(-0.5 * ((along / (bmaj / CELL_DEG * s)) ** 2 + (across / (bmin / CELL_DEG * s)) ** 2))


def _pb(w):
    yy, xx = np.mgrid[0:N, 0:N]
    r = np.hypot(xx - N / 2, yy - N / 2) * CELL_DEG
    return np.exp(-0.5 * (r / 0.35) ** 2)  # 1 at the centre, ~0.3 at the corners


def _image(sources, noise_jy, seed, tmp_path, name="img", beam_keys=True):
    """Write pbcor + pb FITS: flat image = sum S pb B + beam-smoothed noise of rms ``noise_jy``."""
    w = _wcs()
    pb = _pb(w)
    yy, xx = np.mgrid[0:N, 0:N].astype(float)
    flat = np.zeros((N, N))
    for ra, dec, s in sources:
        x, y = w.world_to_pixel_values(ra, dec)
        flat += s * pb[int(round(float(y))), int(round(float(x)))] * _beam(xx - x, yy - y)
    rng = np.random.default_rng(seed)
    white = rng.normal(size=(N, N))
    k = np.fft.fft2(np.fft.ifftshift(_beam(xx - N / 2, yy - N / 2)))
    corr = np.real(np.fft.ifft2(np.fft.fft2(white) * np.sqrt(np.abs(k))))  # noise correlated like the beam
    flat += noise_jy * corr / corr.std()
    h = w.to_header()
    h["DATE-OBS"] = "2026-01-15T09:00:00"
    if beam_keys:
        h["BMAJ"], h["BMIN"], h["BPA"] = BMAJ, BMIN, BPA
    h["BUNIT"] = "Jy/beam"
    paths = str(tmp_path / f"{name}.pbcor.fits"), str(tmp_path / f"{name}.pb.fits")
    fits.PrimaryHDU((flat / pb)[None, None].astype(np.float32), h).writeto(paths[0], overwrite=True)
    fits.PrimaryHDU(pb[None, None].astype(np.float32), h).writeto(paths[1], overwrite=True)
    return paths


def _cat(rows):
    return pd.DataFrame(rows, columns=["source_id", "ra_deg", "dec_deg"])


def _pos(dx_pix, dy_pix):
    return tuple(float(v) for v in _wcs().pixel_to_world_values(N / 2 + dx_pix, N / 2 + dy_pix))


def test_fluxes_and_errors_match_truth(tmp_path):
    """Isolated sources at sub-pixel positions: flux recovered; errors match the scatter
    over noise realisations (chi2 ~ 1)."""
    specs = [(-60.3, 10.7, 0.5), (40.2, -50.6, 0.05), (20.5, 60.1, 0.02), (-30.0, -70.4, 0.2)]
    cat = _cat([(f"S{k}", *_pos(dx, dy)) for k, (dx, dy, _) in enumerate(specs)])
    truth = np.array([s for *_, s in specs])
    z = []
    for seed in range(12):
        pbcor, pb = _image([(*_pos(dx, dy), s) for dx, dy, s in specs], 1e-3, seed, tmp_path)
        t = measure(load_image(pbcor, pb), cat, "g", photometry=dataclasses.replace(PHOT, pb_min=0.2), pblimit=PBLIMIT)
        assert list(t["source_id"]) == ["S0", "S1", "S2", "S3"]
        assert (t["flags"] == "").all()
        z.append((t["flux_jy"].to_numpy() - truth) / t["flux_err_jy"].to_numpy())
        # the quoted rms is the flat-image rms over pb
        assert np.allclose(t["rms_jy"] * t["pb"], 1e-3, rtol=0.25)
    z = np.array(z)
    assert abs(np.mean(z)) < 0.5  # unbiased
    assert 0.6 < np.std(z) < 1.5  # errors honest for beam-correlated noise
    # noiseless: exact
    pbcor, pb = _image([(*_pos(dx, dy), s) for dx, dy, s in specs], 0.0, 0, tmp_path)
    t = measure(load_image(pbcor, pb), cat, "g", photometry=dataclasses.replace(PHOT, pb_min=0.2), pblimit=PBLIMIT)
    assert np.allclose(t["flux_jy"], truth, rtol=2e-3)


def test_blend_fitted_jointly(tmp_path):
    """Two sources one beam apart: fitted jointly, both fluxes right, flagged blended."""
    a, b = _pos(0.0, 0.0), _pos(5.0, 4.0)  # 6.4 px = 64 arcsec < 1.5 BMAJ
    pbcor, pb = _image([(*a, 0.3), (*b, 0.1)], 1e-4, 3, tmp_path)
    t = measure(load_image(pbcor, pb), _cat([("A", *a), ("B", *b)]), "g", photometry=PHOT, pblimit=PBLIMIT)
    assert (t["flags"] == "blended").all()
    assert t["flux_jy"].to_numpy() == pytest.approx([0.3, 0.1], rel=0.02)


def test_edge_and_outside_beam(tmp_path):
    """A source whose box leaves the image is flagged edge; one below pb_min is not measured."""
    edge, far = _pos(N / 2 - 3, 0.0), _pos(-N / 2 + 30, N / 2 - 30)
    pbcor, pb = _image([(*edge, 0.2), (*far, 0.2)], 1e-3, 4, tmp_path)
    t = measure(load_image(pbcor, pb), _cat([("E", *edge), ("F", *far)]), "g",
                photometry=dataclasses.replace(PHOT, pb_min=0.58), pblimit=0.01)  # pb: E 0.61, F 0.55
    assert list(t["source_id"]) == ["E"]
    assert "edge" in t["flags"].iloc[0]


def test_fits_without_beam_keywords(tmp_path):
    pbcor, pb = _image([], 1e-3, 5, tmp_path, beam_keys=False)
    with pytest.raises(PhotometryError, match="BMAJ.*beam"):
        load_image(pbcor, pb)


def test_lightcurves_stage_with_a_missing_epoch(tmp_path):
    """Per-image CSVs -> normalised light curves: drift removed, the dip source is the only
    candidate, the missing epoch is a gap (flagged rows, uncorrected), plots written."""
    from dsa110_contimg.catalog.build_master import build_master
    from dsa110_contimg.config import load_config
    from dsa110_contimg.photometry.pipeline import PLOT_FILES, TABLE_FILES, lightcurves, plot_all, write_csv, write_lightcurves
    from dsa110_contimg.settings import Settings

    rng = np.random.default_rng(11)
    n_src, n_ep = 10, 14
    flux = np.linspace(0.06, 0.5, n_src)
    ra, dec = 150.0 + 0.1 * np.arange(n_src), np.full(n_src, 55.0)
    ids = [f"J{k:02d}" for k in range(n_src)]
    nvss = tmp_path / "nvss.csv"
    pd.DataFrame({"NVSS": ids, "RAJ2000": ra, "DEJ2000": dec, "S1.4": flux * 1e3, "e_S1.4": 0.45}).to_csv(nvss, index=False)
    db = str(tmp_path / "master.sqlite3")
    build_master(str(nvss), db, catalog=Settings.from_config({}).catalog)
    drift = 1 + rng.normal(0, 0.03, n_ep)
    dip = np.ones(n_ep)
    dip[9:12] = 0.7
    groups = [f"2026-01-{15 + e:02d}T09:00:00" for e in range(n_ep)]
    missing = groups[4]
    csvs = []
    for e, g in enumerate(groups):
        if g == missing:
            continue
        true = flux * drift[e] * np.where(np.arange(n_src) == 3, dip[e], 1.0)
        err = np.full(n_src, 1e-3)
        t = pd.DataFrame({"source_id": ids, "ra_deg": ra, "dec_deg": dec, "mjd": 61055.0 + e, "group": g,
                          "flux_jy": true + rng.normal(0, 1e-3, n_src), "flux_err_jy": err, "rms_jy": err, "pb": 1.0,
                          "snr": true / err, "flags": ""})
        path = str(tmp_path / f"{g}.csv")
        write_csv(t, path)
        csvs.append(path)
    phot = Settings.from_config(load_config()).photometry
    imaged = [g for g in groups if g != missing]
    prod = lightcurves(csvs, db, photometry=phot, imaged_groups=imaged, missing_groups=[missing])
    lc, corr = prod["lightcurves"], prod["corrections"]
    gap = lc[lc["group"] == missing]
    assert len(gap) == n_src and (gap["flags"] == "missing").all() and gap["flux_jy"].isna().all()
    row = corr.set_index("group").loc[missing]
    assert not row["corrected"] and "references" in row["reason"]
    ok = corr[corr["corrected"]]
    assert len(ok) == n_ep - 1
    inj = np.array([drift[groups.index(g)] for g in ok["group"]])
    ratio = ok["correction"].to_numpy() / inj
    assert np.std(ratio / np.median(ratio)) < 0.005
    assert prod["candidates"]["source_id"].tolist() == ["J03"]
    assert "J03" in set(prod["dropped_references"]["source_id"])  # the dip source was a reference
    plots = plot_all(prod, str(tmp_path / "plots"), photometry=phot)
    assert all(os.path.getsize(p) > 1000 for p in plots.values())
    # the rule's products: every CSV, plot and the summary, from one call
    out = tmp_path / "products"
    summary = write_lightcurves(csvs, db, photometry=phot, imaged_groups=imaged, missing_groups=[missing], out_dir=str(out),
                                provenance={"x": 1})
    for name in TABLE_FILES.values():
        assert (out / name).is_file()
    assert all((out / "plots" / f).stat().st_size > 1000 for f in PLOT_FILES.values())
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary, default=float))
    assert on_disk["n_images"] == n_ep - 1 and on_disk["missing_groups"] == [missing]
    assert [c["source_id"] for c in on_disk["candidates"]] == ["J03"] and on_disk["provenance"] == {"x": 1}
    assert on_disk["epochs_corrected"] == n_ep - 1 and on_disk["epochs_uncorrected"] == 1
    assert on_disk["settings"]["min_refs"] == phot.min_refs
    assert pd.read_csv(out / "candidates.csv")["source_id"].tolist() == ["J03"]


def test_forced_photometry_rule_products(tmp_path):
    """The rule's one call over a date's images: catalog sources in the beam measured with the
    photometry and imaging sections' values, one CSV for the date and a JSON sidecar with
    each image's count (an image with nothing measurable counts 0)."""
    from dsa110_contimg.catalog.build_master import build_master
    from dsa110_contimg.jobs import photometry_job
    from dsa110_contimg.settings import Settings, as_plain

    specs = {"A": (_pos(-60.3, 10.7), 0.5), "B": (_pos(40.2, -50.6), 0.05), "FAR": (_pos(-N / 2 + 30, N / 2 - 30), 0.2)}
    nvss = tmp_path / "nvss.csv"
    pd.DataFrame({"NVSS": list(specs), "RAJ2000": [p[0] for p, _ in specs.values()], "DEJ2000": [p[1] for p, _ in specs.values()],
                  "S1.4": [1e3 * s for _, s in specs.values()], "e_S1.4": 0.45}).to_csv(nvss, index=False)
    settings = Settings.from_config({})
    db = str(tmp_path / "master.sqlite3")
    build_master(str(nvss), db, catalog=settings.catalog)
    pbcor, pb = _image([(*p, s) for p, s in specs.values()], 1e-4, 7, tmp_path)
    phot = dataclasses.replace(settings.photometry, pb_min=0.58)  # FAR (pb 0.55) is outside
    settings = dataclasses.replace(settings, photometry=phot, imaging=dataclasses.replace(settings.imaging, pblimit=0.01))
    empty_pbcor, empty_pb = _image([], 1e-4, 8, tmp_path, name="empty")  # no source within pb_min of this one
    with fits.open(empty_pb, mode="update") as h:
        h[0].data[...] = 0.2
    csv, side = str(tmp_path / "2026-01-15.csv"), str(tmp_path / "2026-01-15.json")
    images = {"2026-01-15T09:00:00": (pbcor, pb), "2026-01-15T09:05:09": (empty_pbcor, empty_pb)}
    meta = photometry_job(images, db_path=db, settings=settings, csv_path=csv, sidecar_path=side, provenance={"p": 2})
    t = pd.read_csv(csv, dtype={"source_id": str, "group": str})
    assert sorted(t["source_id"]) == ["A", "B"] and set(t["group"]) == {"2026-01-15T09:00:00"}
    assert t.set_index("source_id")["flux_jy"].to_numpy() == pytest.approx([0.5, 0.05], rel=0.05)
    assert json.loads(open(side).read()) == meta
    assert {g: (c["n_sources"], c["n_flagged"]) for g, c in meta["groups"].items()} == {
        "2026-01-15T09:00:00": (2, 0), "2026-01-15T09:05:09": (0, 0)}
    assert meta["provenance"] == {"p": 2} and meta["settings"] == as_plain(phot) and meta["columns"] == list(t.columns)
    assert meta["stages"]["photometry"]["wall_s"] > 0


def test_per_transit_inverse_variance_combination():
    """Four consecutive groups per transit, three daily transits: each transit's flux is the
    inverse-variance mean of its usable measurements (flagged and NaN ones left out), a
    transit with none is a gap, and the variability metrics count transits, not images."""
    import numpy as np
    import pandas as pd

    from dsa110_contimg.photometry.transits import per_transit
    from dsa110_contimg.photometry.variability import variability_table
    from dsa110_contimg.settings import load_settings

    rng = np.random.default_rng(5)
    rows = []
    for day in range(4):
        for k in range(4):
            mjd = 61000.0 + day * 0.99727 + k * 309.0 / 86400.0
            err = 0.01 * (1 + k)
            flags = "edge" if (day == 1 and k == 3) else ""
            flux = np.nan if day == 3 else 1.0 + rng.normal(0, err)  # day 3: the image was not normalised
            rows.append({"source_id": "S", "mjd": mjd, "group": f"g{day}{k}", "ra_deg": 10.0, "dec_deg": 54.0,
                         "norm_flux_jy": flux, "norm_err_jy": err, "flags": flags, "is_reference": True})
    lc = pd.DataFrame(rows)
    tr = per_transit(lc, gap_h=6.0)
    assert len(tr) == 4 and list(tr["n_measurements"]) == [4, 3, 4, 0]
    for day in range(3):
        g = lc[(lc["group"].str[1] == str(day)) & (lc["flags"] == "")]
        w = 1 / g["norm_err_jy"] ** 2
        assert tr.loc[day, "norm_flux_jy"] == pytest.approx((w * g["norm_flux_jy"]).sum() / w.sum(), rel=1e-12)
        assert tr.loc[day, "norm_err_jy"] == pytest.approx(w.sum() ** -0.5, rel=1e-12)
        assert tr.loc[day, "groups"] == ";".join(g["group"])
    assert tr.loc[3, "flags"] == "missing" and np.isnan(tr.loc[3, "norm_flux_jy"])
    assert list(tr["transit"]) == sorted(set(tr["transit"])) and tr["is_reference"].all()
    var = variability_table(tr.assign(group=tr["transit"]), photometry=load_settings().photometry)
    assert int(var.loc[0, "n_epochs"]) == 3


def test_variability_of_an_empty_table():
    """No measurement at all (a range with no image): an empty verdict table, not a KeyError."""
    import pandas as pd

    from dsa110_contimg.photometry.transits import COLUMNS, per_transit
    from dsa110_contimg.photometry.variability import variability_table
    from dsa110_contimg.settings import load_settings

    empty = pd.DataFrame(columns=["source_id", "mjd", "group", "ra_deg", "dec_deg", "norm_flux_jy", "norm_err_jy", "flags",
                                  "is_reference"])
    tr = per_transit(empty, gap_h=6.0)
    assert list(tr.columns) == COLUMNS and tr.empty
    var = variability_table(tr.assign(group=tr["transit"]), photometry=load_settings().photometry)
    assert var.empty and {"source_id", "significance", "ese_candidate"} <= set(var.columns)
