"""Gains of groups outside a transit's gain window: solved on the field against the catalog
sky, checked against the injected gains; the graded fallback chain and its record."""

from __future__ import annotations

import copy
import dataclasses
import json
import os

import pytest
from conftest import small_config, solved_run

from dsa110_contimg.beam.h5model import write_airy_model
from dsa110_contimg.calibration import pipeline, validity
from dsa110_contimg.calibration.gain_chain import choose_gains
from dsa110_contimg.selection import FIELD, calibration_ledger_rows, calibration_plan, discover_groups
from dsa110_contimg.settings import Settings
from dsa110_contimg.sky import PointSource
from dsa110_contimg.validation.calibration import check_gains

# -- pure planning and decisions ---------------------------------------------------------


def _settings(tmp_path, **cal) -> Settings:
    cfg = small_config(str(tmp_path), science_groups_per_epoch=5, science_offset_min=15.0, ntimes=24)
    cfg["calibration"].update(cal)
    return Settings.from_config(cfg)


def test_plan_puts_groups_outside_the_gain_window_on_the_field_path(tmp_path):
    """Science groups 15-40 min after the transit: those within +-30 min use the transit's G,
    the rest are solved on the field, each with the preceding field groups as fallback."""
    s = _settings(tmp_path, fallback_lookback_groups=2)
    plan = calibration_plan(s, discover_groups(s, read=False))
    rows = sorted(plan.items(), key=lambda kv: kv[1]["mid_mjd"])
    transit_mid = rows[0][1]["mid_mjd"]
    field = []
    for gid, v in rows:
        dt_h = (v["mid_mjd"] - transit_mid) * 24
        assert v["path"] == ("transit" if dt_h <= 0.5 else "field"), (gid, dt_h)
        assert v["tables_from"]["K"] == v["tables_from"]["B"] == rows[0][0]
        if v["path"] == "field":
            assert v["tables_from"]["G"] == FIELD
            assert v["lookback"] == field[::-1][:2]
            field.append(gid)
    assert len(field) >= 2


def test_plan_without_field_gains_skips_with_the_reason(tmp_path):
    s = _settings(tmp_path, field_gains={"enabled": False})
    plan = calibration_plan(s, discover_groups(s, read=False))
    skipped = [v for v in plan.values() if "skip" in v]
    assert skipped and all("no G table valid" in v["skip"] and "field_gains.enabled is false" in v["skip"] for v in skipped)
    rows = calibration_ledger_rows(plan, {})
    assert {r["path"] for r in rows if r["group"] in {g for g, v in plan.items() if "skip" in v}} == {"skipped"}


@pytest.mark.parametrize("age_h, expected", [(0.0, "fresh"), (6.0, "fresh"), (6.1, "aging"), (12.0, "aging"),
                                             (23.9, "stale"), (24.5, "expired")])
def test_age_grades(age_h, expected):
    assert validity.grade(age_h, (6.0, 12.0, 24.0)) == expected


def _transit(mid):
    return {"ms": "t.ms", "mid_mjd": mid, "tables": {"K": "t.K", "B": "t.B", "G": "t.G"}, "refant": "DSA-001"}


def _field(mid, ok=True, name="f"):
    return {"ms": f"{name}.ms", "mid_mjd": mid, "ok": ok, "reason": None if ok else "model flux 0.01 Jy below ...",
            "applied": ["t.K", "t.B", "t.G"], "tables": {"p": f"{name}/p.G", "ap": f"{name}/ap.G"}}


def test_gain_chain_order_and_grades(tmp_path):
    cc = _settings(tmp_path).calibration  # fallback within 12 h, lookback 3, grades 6/12/24 h
    t0 = 61000.0
    good = choose_gains(mid_mjd=t0 + 2 / 24, transit=_transit(t0), field=_field(t0 + 2 / 24), previous=[], calibration=cc)
    assert good["path"] == "field" and good["tables"] == ["t.K", "t.B", "t.G", "f/p.G", "f/ap.G"]
    assert good["interp"] == ["nearest", "nearest,linear", "linear", "linear", "linear"]
    assert good["gain"]["grade"] == "fresh" and good["field"]["ok"]
    poor = _field(t0 + 8 / 24, ok=False)
    fb = choose_gains(mid_mjd=t0 + 8 / 24, transit=_transit(t0), field=poor, previous=[], calibration=cc)
    assert fb["path"] == "fallback_transit" and fb["tables"] == ["t.K", "t.B", "t.G"]
    assert fb["gain"]["grade"] == "aging" and fb["gain"]["age_h"] == pytest.approx(8.0)
    assert "model flux" in fb["fallback_reason"] and fb["field"]["ok"] is False
    # transit gains too old: the nearest good preceding field solve, with its own tables
    cc_short = dataclasses.replace(cc, gain_fallback_max_age_h=4.0)
    prev = [_field(t0 + 7.5 / 24, name="p1"), _field(t0 + 7.9 / 24, ok=False, name="p2"), _field(t0 + 7.0 / 24, name="p3")]
    fp = choose_gains(mid_mjd=t0 + 8 / 24, transit=_transit(t0), field=poor, previous=prev, calibration=cc_short)
    assert fp["path"] == "fallback_previous" and fp["tables"][-2:] == ["p1/p.G", "p1/ap.G"]
    assert fp["gain"]["age_h"] == pytest.approx(0.5) and fp["gain"]["grade"] == "fresh"
    assert "8.0 h old" in fp["fallback_reason"]
    with pytest.raises(validity.ApplyError, match="no gain table can calibrate.*model flux.*8.0 h old.*no good field solve"):
        choose_gains(mid_mjd=t0 + 8 / 24, transit=_transit(t0), field=poor, previous=[prev[1]], calibration=cc_short)


# -- solved on simulated data --------------------------------------------------------------


@pytest.fixture(scope="module")
def field_run(tmp_path_factory):
    """A calibrator transit and two contiguous field groups ~1.5 h later (gains drift 10 deg/h
    per antenna), a field of 40 sources; transit solved, field groups flagged."""
    d = str(tmp_path_factory.mktemp("fieldrun"))
    cfg = small_config(d, n_active=24, nchan_per_subband=4, ntimes=12, science_groups_per_epoch=2,
                       science_offset_min=90.0, n_field_sources=40, field_flux_mjy=[50.0, 1500.0], field_radius_deg=1.6)
    run = solved_run(cfg, d)
    settings, truth, mss, summary = run["settings"], run["truth"], run["ms"], run["summary"]
    with open(f"{d}/transit.json", "w") as fh:
        json.dump(summary, fh)
    write_airy_model(f"{d}/beam.h5", [1.35e9, 1.4e9, 1.45e9], 4.65, telescope="OVRO_DSA")
    sky = [PointSource(x["name"], x["ra_deg"], x["dec_deg"], x["flux_jy"], x["alpha"]) for x in truth["sky"][1:]]
    return {"d": d, "settings": settings, "truth": truth, "ms": mss, "sky": sky}


def _solve(field_run, ms, tag, settings):
    d = field_run["d"]
    with open(f"{d}/transit.json") as fh:
        transit = json.load(fh)
    from dsa110_contimg.calibration.field_gains import solve_field

    s = solve_field(ms, caldir=f"{d}/{tag}", applied=[transit["tables"][k] for k in "KBG"], transit_refant=transit["refant"],
                    sources=field_run["sky"], beam_h5=f"{d}/beam.h5", telescope=settings.telescope,
                    calibration=settings.calibration)
    with open(f"{d}/{tag}.json", "w") as fh:
        json.dump(s, fh)
    return f"{d}/{tag}.json", s


def test_field_gains_match_the_injected_drift(field_run):
    """Groups 1.5 h after the transit: the field solve undoes the gains' drift to <= 2 deg rms in
    phase and <= 1% in amplitude, where the transit's gains alone leave it (> 5 deg)."""
    settings, d = field_run["settings"], field_run["d"]
    for k, ms in enumerate(field_run["ms"][1:]):
        path, s = _solve(field_run, ms, f"field{k}", settings)
        assert s["ok"], s
        assert s["model"]["n_sources"] >= 5
        sc = pipeline.apply_group(ms, solutions=[f"{d}/transit.json"], settings=settings, sidecar_path=f"{d}/cal{k}.json",
                                  field=path, previous=[])
        assert sc["path"] == "field" and sc["gain"]["grade"] == "fresh" and len(sc["applied"]) == 5
        got = check_gains(sc, field_run["truth"])
        assert 1.4 < got["hours_from_transit"] < 2.0
        assert got["phase_rms_deg"] <= 2.0 and got["amp_rms_pct"] <= 1.0, got
        transit_only = check_gains({**sc, "applied": sc["applied"][:3]}, field_run["truth"])
        assert transit_only["phase_rms_deg"] > 5.0, transit_only


def test_poor_field_solve_falls_back_with_its_record(field_run):
    """A field solve forced to fail (model flux below min_model_jy) falls back to the transit's
    gains, graded by age, and the sidecar and ledger row say so; with the transit too old and
    no good earlier solve, nothing calibrates the group and the error says why."""
    settings, d = field_run["settings"], field_run["d"]
    cc = settings.calibration
    strict = dataclasses.replace(settings, calibration=dataclasses.replace(
        cc, field_gains=dataclasses.replace(cc.field_gains, min_model_jy=1e6)))
    ms = field_run["ms"][2]
    path, s = _solve(field_run, ms, "poor", strict)
    assert not s["ok"] and "field_gains.min_model_jy" in s["reason"]
    sc = pipeline.apply_group(ms, solutions=[f"{d}/transit.json"], settings=settings, sidecar_path=f"{d}/poor_cal.json",
                              field=path, previous=[])
    assert sc["path"] == "fallback_transit" and sc["gain"]["source"] == "transit"
    assert sc["gain"]["grade"] == "fresh" and 1.4 < sc["gain"]["age_h"] < 2.0
    assert "min_model_jy" in sc["fallback_reason"]
    gid = os.path.basename(ms)[:-3]
    row = calibration_ledger_rows({gid: {"mid_mjd": sc["mid_mjd"]}}, {gid: sc})[0]
    assert row["path"] == "fallback_transit" and row["field_solve"] == "poor" and "min_model_jy" in row["note"]
    # the transit's gains beyond the allowed age, no earlier solve: the reason names each link
    old = dataclasses.replace(settings, calibration=dataclasses.replace(cc, gain_fallback_max_age_h=0.5))
    with pytest.raises(validity.ApplyError, match="field solve: model flux.*gain_fallback_max_age_h 0.5 h.*no good field solve"):
        pipeline.apply_group(ms, solutions=[f"{d}/transit.json"], settings=old, sidecar_path=f"{d}/none.json", field=path,
                             previous=[])
    assert not os.path.exists(f"{d}/none.json")
    # ... but an earlier group's good solve (previous) calibrates it, graded by its age
    good, _ = _solve(field_run, field_run["ms"][1], "prev", settings)
    sc2 = pipeline.apply_group(ms, solutions=[f"{d}/transit.json"], settings=old, sidecar_path=f"{d}/prev_cal.json",
                               field=path, previous=[good])
    assert sc2["path"] == "fallback_previous" and sc2["gain"]["grade"] == "fresh" and 0.02 < sc2["gain"]["age_h"] < 0.2
    assert check_gains(sc2, field_run["truth"])["phase_rms_deg"] < 3.0
    assert copy.deepcopy(sc2)["applied"][-2:] == [f"{d}/prev/p.G", f"{d}/prev/ap.G"]


def test_one_calibrator_group_per_transit(tmp_path):
    """Contiguous groups through a transit: the calibrator is above min_beam_flux_jy in several,
    but only the group nearest the meridian crossing is solved; the others are fields within
    its gain window."""
    cfg = small_config(str(tmp_path), science_groups_per_epoch=5, science_offset_min=5.2, ntimes=24, n_epochs=2)
    s = Settings.from_config(cfg)
    groups = discover_groups(s, read=False)
    plan = calibration_plan(s, groups)
    cal_groups = [g for g, v in plan.items() if v["calibrator"]]
    transits = sorted(p.group_id for p in _planned(s) if p.kind == "calibrator")
    assert cal_groups == transits and len(cal_groups) == 2
    assert {v["path"] for g, v in plan.items() if g not in cal_groups} == {"transit"}  # 5-30 min away: G window


def _planned(s):
    from dsa110_contimg.simulate.scenario import plan

    return plan(simulation=s.simulation, telescope=s.telescope)


def test_transit_model_with_the_catalog_sky(tmp_path):
    """A transit in a crowded field (a strip sky: 15 sources per deg2 of 50-1500 mJy around the
    calibrator): with the master catalog's other sources under the beam in the model, the
    bandpass amplitudes come closer to the injected ones than with the calibrator alone,
    whose model misses the field's share of the visibilities."""
    from dsa110_contimg.calibration import qa
    from dsa110_contimg.validation.calibration import check_transit

    d = str(tmp_path)
    cfg = small_config(d, n_active=24, nchan_per_subband=4, ntimes=12, field_density_per_deg2=15.0,
                       field_flux_mjy=[50.0, 1500.0], field_radius_deg=3.0)
    cfg["calibration"]["transit_catalog_model"] = False
    run = solved_run(cfg, d)  # the calibrator alone
    truth, ms, cal = run["truth"], run["ms"][0], run["cal"]

    def bandpass_error(summary):
        return check_transit(summary, truth, k=qa.read_caltable(summary["tables"]["K"]),
                             b=qa.read_caltable(summary["tables"]["B"]))["bandpass_amp_rms_pct"]

    alone = bandpass_error(run["summary"])
    assert run["summary"]["model"]["n_catalog_sources"] == 0
    write_airy_model(f"{d}/beam.h5", [1.35e9, 1.4e9, 1.45e9], 4.65, telescope="OVRO_DSA")
    sky = [PointSource(x["name"], x["ra_deg"], x["dec_deg"], x["flux_jy"], x["alpha"]) for x in truth["sky"]]
    settings = Settings.from_config({**cfg, "calibration": {**cfg["calibration"], "transit_catalog_model": True}})
    with_sky = pipeline.solve_calibrator_group(ms, calibrator=cal, caldir=f"{d}/cal_sky", telescope=settings.telescope,
                                               calibration=settings.calibration, catalog_sources=sky, beam_h5=f"{d}/beam.h5")
    m = with_sky["model"]
    assert m["n_catalog_sources"] >= 10 and m["catalog_apparent_jy"] > 0.5, m  # the calibrator itself is not counted twice
    assert bandpass_error(with_sky) < 0.6 * alone, (bandpass_error(with_sky), alone)
