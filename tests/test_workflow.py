"""The Snakemake workflow, driven as a user would: subprocesses of the venv's snakemake.

Every run uses ``cwd`` = the repository (the Snakefile's directory) and writes its
products under a pytest tmp dir via ``output_dir``.
"""

from __future__ import annotations

import copy
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from dsa110_contimg import layout
from dsa110_contimg.selection import discover_groups
from dsa110_contimg.settings import load_settings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNAKEMAKE = os.path.join(os.path.dirname(sys.executable), "snakemake")
if not os.path.isfile(SNAKEMAKE):
    SNAKEMAKE = os.path.join(REPO, ".venv", "bin", "snakemake")
CONFIG = os.path.join(REPO, "config", "config.yaml")

pytestmark = pytest.mark.skipif(not os.path.isfile(SNAKEMAKE), reason=f"snakemake not found at {SNAKEMAKE}")


def env(extra_pythonpath: str | None = None) -> dict:
    e = dict(os.environ)
    e["CASASITECONFIG"] = os.path.join(REPO, "config", "casa", "casasiteconfig.py")
    e.setdefault("MPLBACKEND", "Agg")
    if extra_pythonpath:
        e["PYTHONPATH"] = os.pathsep.join(p for p in (extra_pythonpath, e.get("PYTHONPATH", "")) if p)
    return e


def snakemake(*args: str, timeout: float = 120, pythonpath: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [SNAKEMAKE, *args],
        cwd=REPO,
        env=env(pythonpath),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def output(res: subprocess.CompletedProcess) -> str:
    return res.stdout + "\n" + res.stderr


def job_counts(text: str) -> dict[str, int]:
    """Parse snakemake's 'Job stats' table (``rule   count`` lines)."""
    m = re.search(r"^job\s+count\s*$\n^[-\s]+$\n(?P<body>(?:^\S+\s+\d+\s*$\n?)+)", text, re.M)
    assert m, f"no job stats table in output:\n{text}"
    return {name: int(n) for name, n in re.findall(r"^(\S+)\s+(\d+)\s*$", m["body"], re.M)}


def default_counts() -> dict[str, int]:
    """Expected jobs of a dry run, from config/config.yaml's simulation section."""
    with open(CONFIG) as fh:
        sim = yaml.safe_load(fh)["simulation"]
    n_groups = sim["n_epochs"] * (1 + sim["science_groups_per_epoch"])
    n_incomplete = len(sim.get("incomplete_groups", []))
    n_conv = n_groups - n_incomplete
    # one calibrator transit per epoch; science groups start science_offset_min after it, all
    # within the default 1 h gain window, so every converted group is calibrated and imaged
    # (the transits too); the demo's epochs are one UTC date each: one simulate_day and one
    # forced_photometry job per epoch; two jobs per group (convert, image)
    return {"simulate_truth": 1, "simulate_day": sim["n_epochs"], "convert": n_conv, "ledger": 1,
            "solve": sim["n_epochs"], "calibration_ledger": 1, "simulate_beam": 1, "vptable": 1, "image": n_conv,
            "master_catalog": 1, "forced_photometry": sim["n_epochs"], "lightcurves": 1, "all": 1}


def sim_groups() -> int:
    with open(CONFIG) as fh:
        sim = yaml.safe_load(fh)["simulation"]
    return sim["n_epochs"] * (1 + sim["science_groups_per_epoch"])


@pytest.fixture
def no_casa(tmp_path):
    """A PYTHONPATH entry whose casatools/casatasks/casacore raise on import."""
    root = tmp_path / "no_casa"
    for mod in ("casatools", "casatasks", "casacore"):
        (root / mod).mkdir(parents=True)
        (root / mod / "__init__.py").write_text('raise ImportError("CASA touched during dry run")\n')
    # the trap works: the venv's python picks the fakes up first
    probe = subprocess.run(
        [sys.executable, "-c", "import casatools"], env=env(str(root)), capture_output=True, text=True, check=False
    )
    assert probe.returncode != 0 and "CASA touched during dry run" in probe.stderr
    return str(root)


def test_default_config_counts_match_plan():
    """The dry-run expectations below agree with the package's own plan of the default config."""
    groups = discover_groups(load_settings())
    counts = default_counts()
    assert len(groups) == sim_groups()
    assert len({g.group_id[:10] for g in groups}) == counts["simulate_day"]
    assert sum(g.ok for g in groups) == counts["convert"]


def test_dry_run_lists_jobs_without_casa(tmp_path, no_casa):
    out = tmp_path / "out"
    res = snakemake("-n", "--cores", "2", "--config", f"output_dir={out}", pythonpath=no_casa)
    text = output(res)
    assert res.returncode == 0, text
    assert "CASA touched" not in text
    counts = job_counts(res.stdout)
    expected = default_counts()
    for rule in expected:
        assert counts.get(rule) == expected[rule], (rule, counts)
    assert counts["total"] == sum(expected.values())
    assert "This was a dry-run" in text
    assert not out.exists(), "a dry run must not write products"


def test_dry_run_respects_time_range(tmp_path):
    """start/end on the command line select groups: only epoch 0 is planned."""
    with open(CONFIG) as fh:
        sim = yaml.safe_load(fh)["simulation"]
    per_epoch = 1 + sim["science_groups_per_epoch"]
    out = tmp_path / "out"
    res = snakemake("-n", "--cores", "1", "--config", f"output_dir={out}", "end=2026-01-15T23:59:59")
    assert res.returncode == 0, output(res)
    counts = job_counts(res.stdout)
    assert counts["simulate_day"] == 1
    assert counts["convert"] == per_epoch


def test_bad_config_value_is_rejected(tmp_path):
    res = snakemake("-n", "--cores", "1", "--config", f"output_dir={tmp_path}", "expected_subbands=0")
    assert res.returncode != 0
    assert "expected_subbands" in output(res)


def test_lint_clean(tmp_path):
    res = snakemake("--lint", "--config", f"output_dir={tmp_path / 'out'}")
    text = output(res)
    assert res.returncode == 0, text
    assert "Lints for" not in text, text
    assert "Congratulations" in text


def test_slurm_profile_parses(tmp_path):
    res = snakemake("-n", "--profile", "profiles/slurm", "--config", f"output_dir={tmp_path / 'out'}")
    text = output(res)
    assert res.returncode == 0, text
    assert job_counts(res.stdout)["convert"] == default_counts()["convert"]


def test_local_profile_parses(tmp_path):
    res = snakemake("-n", "--profile", "profiles/local", "--config", f"output_dir={tmp_path / 'out'}")
    assert res.returncode == 0, output(res)


def small_workflow_config(tmp_path) -> str:
    with open(CONFIG) as fh:
        cfg = yaml.safe_load(fh)
    cfg = copy.deepcopy(cfg)
    cfg["output_dir"] = str(tmp_path / "out")
    cfg["simulation"].update(
        n_active=10,
        active_antennas=[],
        n_field_sources=12,
        nchan_per_subband=2,
        ntimes=4,
        n_epochs=1,
        science_groups_per_epoch=2,
        incomplete_groups=[{"epoch": 0, "kind": "science", "index": 1, "drop_subbands": [3]}],
    )
    cfg["imaging"].update(quick=True, quick_imsize=256, quick_niter=50)
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return str(path)


@pytest.mark.slow
def test_end_to_end_small(tmp_path):
    cfgfile = small_workflow_config(tmp_path)
    settings = load_settings(cfgfile)
    out = settings.output_dir
    groups = discover_groups(settings)
    complete = sorted(g.group_id for g in groups if g.ok)
    skipped = [g for g in groups if not g.ok]
    assert len(groups) == 3 and len(complete) == 2 and len(skipped) == 1

    res = snakemake("all", "--cores", "2", "--configfile", cfgfile, timeout=300)
    assert res.returncode == 0, output(res)[-5000:]

    # one flagged MS per complete group (calibrator + first science group) in its date
    # directory, each with its summary (conversion, flags, each stage's time)
    ms = sorted(os.path.relpath(p, os.path.join(out, "ms")) for p in glob.glob(os.path.join(out, "ms", "*", "*.ms")))
    assert ms == [f"{gid[:10]}/{gid}.ms" for gid in complete]
    for gid in complete:
        ms_path = layout.path(out, "ms", gid)
        assert os.path.isdir(ms_path) and os.path.isfile(os.path.join(ms_path, "table.dat"))
        with open(layout.path(out, "ms_summary", gid)) as fh:
            summary = json.load(fh)
        assert summary["ms"] == os.path.abspath(ms_path)
        assert summary["n_subbands"] == 16
        assert summary["writer"] in ("monolithic", "parallel")
        assert summary["flags"]["method"] == "aoflagger" and set(summary["stages"]) >= {"convert", "flag"}
        with open(os.path.join(layout.path(out, "field_tables", gid), "solve.json")) as fh:
            assert not json.load(fh)["solved"]  # within the transit's gain window
    # no hidden temporaries beside the products
    assert [p for p in os.listdir(os.path.join(out, "ms", complete[0][:10])) if p.startswith(".")] == []

    # the ledger: exactly the incomplete group, missing sb03
    with open(os.path.join(out, "ledger", "groups.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    (row,) = rows
    assert row["group"] == skipped[0].group_id
    assert row["group"] not in complete
    assert int(row["n_files"]) == 15
    assert "sb03" in row["reason"] and row["reason"].startswith("incomplete")
    assert "sb03" not in row["files_present"].split()

    # the simulator wrote the incomplete group too (15 files), but it was not converted
    raw = sorted(glob.glob(os.path.join(out, "sim", "raw", row["group"][:10], row["group"], "*.hdf5")))
    assert len(raw) == 15

    # every complete group calibrated and imaged, the transit too: FITS with beam and provenance cards
    from astropy.io import fits

    for gid in complete:
        with open(layout.path(out, "calibrated", gid)) as fh:
            assert set(json.load(fh)["tables"]) == {"K", "B", "G"}
    science = complete[1:]  # the first group of the epoch is the calibrator transit
    for gid in complete:
        h = fits.getheader(layout.image(out, gid, ".image.pbcor.fits"))
        assert h["BMAJ"] > 0 and h["BUNIT"] == "Jy/beam" and h["INPUTMS"] == f"{gid}.ms" and len(h["CFGHASH"]) == 16
        assert "DATE-OBS" in h and h["CRVAL3"] > 1.3e9
    for gid in science:
        h = fits.getheader(layout.image(out, gid, ".image.pbcor.fits"))
        with open(layout.image(out, gid, ".qa.json")) as fh:
            qa = json.load(fh)
        assert qa["datacolumn"] == "corrected" and qa["rms_jy"] > 0 and qa["geometry"]["imsize"] == 256
        assert set(qa["stages"]) == {"apply", "image"}
        # the default path: master-catalog sources given the static beam, self-cal, catalog mask
        assert qa["static_beam"]["n_sources"] >= 1 and h["STATBEAM"] == qa["static_beam"]["n_sources"]
        assert qa["static_beam"]["selfcal"]["n_solutions"] == 2 * 10 and qa["clean_mask_circles"] >= 1
        assert h["CLNMASK"] == qa["clean_mask_circles"] and h["SELFCAL"] >= 0

    # photometry: master catalog, one CSV per date, light curves with the incomplete group as a gap
    import pandas as pd

    assert os.path.isfile(os.path.join(out, "catalog", "master_sources.sqlite3"))
    day = pd.read_csv(layout.photometry_day(out, complete[0][:10]), dtype={"group": str})
    assert set(day["group"]) == set(complete)
    with open(os.path.join(out, "photometry", "summary.json")) as fh:
        phot = json.load(fh)
    assert phot["n_images"] == len(complete) and phot["missing_groups"] == [skipped[0].group_id]
    lc = pd.read_csv(os.path.join(out, "photometry", "lightcurves.csv"), dtype={"group": str, "flags": str})
    gap = lc[lc["group"] == skipped[0].group_id]
    assert len(gap) and (gap["flags"] == "missing").all()

    # rerun: nothing is missing, nothing is redone
    again = snakemake("all", "--cores", "2", "--configfile", cfgfile, timeout=120)
    assert again.returncode == 0, output(again)
    assert "Nothing to be done" in output(again)

    # change an imaging setting: only the images are redone
    with open(cfgfile) as fh:
        changed = yaml.safe_load(fh)
    changed["imaging"]["quick_niter"] = 20
    cfg2 = os.path.join(os.path.dirname(cfgfile), "changed.yaml")
    with open(cfg2, "w") as fh:
        yaml.safe_dump(changed, fh)
    dry = snakemake("all", "-n", "--cores", "2", "--configfile", cfg2)
    assert dry.returncode == 0, output(dry)
    counts = job_counts(dry.stdout)
    assert counts.get("image") == len(complete) and "convert" not in counts and "solve" not in counts, counts

    # remove one MS: only that group is converted again (no re-simulation)
    shutil.rmtree(layout.path(out, "ms", complete[0]))
    dry = snakemake("all", "-n", "--cores", "2", "--configfile", cfgfile)
    assert dry.returncode == 0, output(dry)
    counts = job_counts(dry.stdout)
    assert counts.get("convert") == 1
    assert "simulate_day" not in counts and "simulate_truth" not in counts


def test_real_data_conversion_needs_no_calibration_settings(tmp_path):
    """Real-data mode: `snakemake ms` converts a directory of subband files with no
    calibrator catalog; a target that needs calibration fails naming the missing key."""
    from conftest import make_group, small_config

    sim_dir = tmp_path / "sim"
    sim_dir.mkdir()
    cfg = small_config(str(sim_dir), ntimes=4, n_active=8)
    _truth, files = make_group(str(sim_dir), cfg)
    assert len(files) == 16
    input_dir = os.path.dirname(files[0])
    out = tmp_path / "out"
    user = {"input_dir": input_dir, "output_dir": str(out), "telescope": {"station_file": cfg["telescope"]["station_file"]}}
    cfgfile = tmp_path / "real.yaml"
    cfgfile.write_text(yaml.safe_dump(user))
    common = ["--cores", "2", "--configfile", str(cfgfile)]
    res = snakemake("ms", *common, timeout=300)
    assert res.returncode == 0, output(res)[-4000:]
    (ms,) = glob.glob(str(out / "ms" / "*" / "*.ms"))
    assert os.path.isfile(os.path.join(ms, "table.dat")) and os.path.isfile(str(out / "ledger" / "groups.csv"))
    # flagged, no gains solved: the field-gain record says why
    (field,) = glob.glob(str(out / "caltables" / "field" / "*" / "*" / "solve.json"))
    assert "calibration.catalog is not set" in json.loads(open(field).read())["reason"]
    assert not glob.glob(str(out / "caltables" / "*" / "*.json"))

    res = snakemake("images", "-n", *common)
    text = output(res)
    assert res.returncode != 0
    assert "calibration.catalog must be set" in text and "snakemake ms" in text
    assert text.count("calibration.catalog must be set") <= 3, text  # one message, not one per rule


def test_range_with_nothing_to_image_ends_with_ledgers_and_one_message(tmp_path):
    """A range holding only a field group, its transit outside the range: nothing calibrates it;
    the run succeeds, writes both ledgers, says once why nothing is imaged, and makes no image
    or light curve (no job dies on an empty table)."""
    cfgfile = small_workflow_config(tmp_path)
    cfg = yaml.safe_load(open(cfgfile))
    cfg["simulation"].update(science_groups_per_epoch=1, science_offset_min=120.0, incomplete_groups=[])
    with open(cfgfile, "w") as fh:
        yaml.safe_dump(cfg, fh, sort_keys=False)
    transit, field = sorted(g.group_id for g in discover_groups(load_settings(cfgfile)))
    cfg["start"] = field
    with open(cfgfile, "w") as fh:
        yaml.safe_dump(cfg, fh, sort_keys=False)
    res = snakemake("all", "--cores", "2", "--configfile", cfgfile, timeout=300)
    text = output(res)
    assert res.returncode == 0, text[-5000:]
    assert text.count("no group of the range can be imaged") == 1, text[-3000:]
    out = cfg["output_dir"]
    with open(os.path.join(out, "ledger", "calibration.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["group"], r["path"]) for r in rows] == [(field, "skipped")] and rows[0]["note"], rows
    assert os.path.isfile(os.path.join(out, "ledger", "groups.csv"))
    assert not os.path.exists(os.path.join(out, "images")) and not os.path.exists(os.path.join(out, "photometry"))


def test_keep_ms_false_deletes_each_ms_once_its_products_exist(tmp_path):
    """keep_ms: false (a day of full-size MS is ~1.2 TB): after `all` the MS are gone, their
    conversion summaries, images and light curves stay, and a rerun has nothing to do."""
    cfgfile = small_workflow_config(tmp_path)
    cfg = yaml.safe_load(open(cfgfile))
    cfg["keep_ms"] = False
    with open(cfgfile, "w") as fh:
        yaml.safe_dump(cfg, fh, sort_keys=False)
    res = snakemake("all", "--cores", "2", "--configfile", cfgfile, timeout=300)
    assert res.returncode == 0, output(res)[-5000:]
    out = cfg["output_dir"]
    assert glob.glob(os.path.join(out, "ms", "*", "*.json")) and not glob.glob(os.path.join(out, "ms", "*", "*.ms"))
    assert glob.glob(os.path.join(out, "images", "*", "*", "*.image.pbcor.fits"))
    assert os.path.isfile(os.path.join(out, "photometry", "summary.json"))
    again = snakemake("-n", "all", "--cores", "2", "--configfile", cfgfile)
    assert again.returncode == 0 and "Nothing to be done" in output(again), output(again)[-3000:]
