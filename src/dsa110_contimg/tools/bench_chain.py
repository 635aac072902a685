"""Benchmark: one full-size calibrator transit and one science group through the workflow's rules.

    python -m dsa110_contimg.tools.bench_chain [--work bench/chain] [--station-file PATH]
                                               [--imagers default wsclean tclean] [--cores 2]

1. Writes ``<work>/config.yaml`` (the default config, full size: 96 active antennas,
   16 x 48 channels, 24 integrations; one day with the transit and one science group 20
   min later; the real station layout when the station file exists, else the built-in
   one, and says which) and runs ``snakemake`` on it up to the science group's forced
   photometry -- the workflow's own rules, with their ``benchmark:`` files.
2. Prints per stage (from the stage records the jobs write: ``stages`` in the conversion
   summary, the image QA and the photometry sidecar; each job's total from its
   ``benchmark:`` file): wall time, CPU time, peak RSS, and the science group's end-to-end
   total (its convert and image jobs + its share of the date's photometry job) against the
   309 s a group takes to arrive.
3. Images the same calibrated science group again with each of ``--imagers`` through the
   ``image`` rule (``--forcerun image`` with ``imaging.*`` overrides): ``default`` (the
   config as shipped), ``tclean`` (the seed's imager: tclean with the static beam,
   self-calibration and the catalog mask) and ``wsclean`` (plain WSClean, no static beam,
   self-cal or mask); side by side: time, peak RSS, residual rms, the brightest source's
   pbcor peak against its injected flux, and how many sources with SNR > 50 and pb > 0.5
   are within 3 % of theirs (:mod:`dsa110_contimg.validation.imaging`).

Every figure is written to ``<work>/bench.json`` too.  Snakemake's benchmark files give
``s`` (wall), ``cpu_time`` and ``max_rss`` (MB) per job; a stage's RSS is the job's peak up
to the end of that stage.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import shutil
import subprocess
import sys
import time

import yaml

from .. import layout as paths
from ..simulate.scenario import sim_day

REAL_TIME_S = 309.0
"""A DSA-110 group arrives every 309 s."""
STATION_FILE_DEFAULT = os.path.join("..", "shared", "data", "DSA110_Station_Coordinates.csv")
IMAGER_CONFIGS = {
    "default": {},  # the config as shipped
    "tclean": {"backend": "tclean", "static_beam": True, "selfcal": True, "clean_mask": "catalog"},
    "wsclean": {"backend": "wsclean", "static_beam": False, "selfcal": False, "clean_mask": "none"},
}
JOBS = ("convert", "solve", "image")


def bench_config(*, out_dir: str, station_file: str) -> dict:
    """The config overrides of the benchmark (merged over config/config.yaml by snakemake)."""
    simulation = {"n_epochs": 1, "n_active": 96, "active_antennas": [], "nchan_per_subband": 48, "ntimes": 24,
                  "science_groups_per_epoch": 1, "incomplete_groups": [], "ese": {"enabled": False}}
    telescope = {"telescope": {"station_file": os.path.abspath(station_file)}} if station_file else {}
    return {"output_dir": out_dir, "simulation": simulation, **telescope}


def read_benchmark(path: str) -> dict:
    """One snakemake benchmark TSV: {"wall_s", "cpu_s", "max_rss_mb"} (first row)."""
    with open(path) as fh:
        row = next(csv.DictReader(fh, delimiter="\t"))

    def num(key):
        try:
            return float(row[key])
        except (KeyError, ValueError):
            return float("nan")

    return {"wall_s": num("s"), "cpu_s": num("cpu_time"), "max_rss_mb": num("max_rss")}


def _json(path: str) -> dict:
    with open(path) as fh:
        return json.load(fh)


def group_stages(results: str, group: str) -> dict:
    """Per stage of one group (convert, flag, solve_field, solve, apply, image, photometry):
    wall, CPU, peak RSS; and per job (``jobs``: convert, solve, image) from its benchmark file."""
    stages = dict(_json(paths.path(results, "ms_summary", group))["stages"])
    stages.pop("job", None)
    solve = os.path.join(results, "benchmarks", "solve", paths.day(group), f"{group}.tsv")
    if os.path.exists(solve):
        stages["solve"] = read_benchmark(solve)
    qa = paths.image(results, group, ".qa.json")
    if os.path.exists(qa):
        stages.update(_json(qa)["stages"])
    phot = paths.photometry_day(results, paths.day(group), "json")
    if os.path.exists(phot) and "wall_s" in _json(phot)["groups"].get(group, {}):
        stages["photometry"] = {k: _json(phot)["groups"][group][k] for k in ("wall_s", "cpu_s", "max_rss_mb")}
    jobs = {}
    for job in JOBS:
        p = os.path.join(results, "benchmarks", job, paths.day(group), f"{group}.tsv")
        if os.path.exists(p):
            jobs[job] = read_benchmark(p)
    return {"stages": stages, "jobs": jobs}


def snakemake(args: list[str], *, configs: list[str], cores: int, log: str) -> float:
    """Run snakemake (the repository's Snakefile) with ``configs``; returns wall seconds."""
    cmd = [os.path.join(os.path.dirname(sys.executable), "snakemake"), "--cores", str(cores), "--configfile",
           "config/config.yaml", *configs, "--rerun-incomplete", *args]
    t = time.perf_counter()
    with open(log, "a") as fh:
        fh.write("\n$ " + " ".join(cmd) + "\n")
        fh.flush()
        res = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False)
    if res.returncode:
        raise SystemExit(f"snakemake failed (exit {res.returncode}); see {log}")
    return time.perf_counter() - t


def image_figures(results: str, group: str) -> dict:
    """The science image against the truth: rms, thermal ratio, brightest source, counts within 3 %."""
    from ..validation.calibration import read_truth
    from ..validation.imaging import WITHIN, check_image

    qa = _json(paths.image(results, group, ".qa.json"))
    im = check_image(qa, group=group, truth=read_truth(results))
    src = im["sources"]
    out = {"rms_mjy": 1e3 * im["rms_jy"], "rms_over_thermal": im["rms_jy"] / im["briggs_jy"], "n_checked": len(src),
           "n_within_3pct": sum(abs(s["peak_jy"] / s["expect_jy"] - 1) <= WITHIN for s in src),
           "max_error_pct": max((100 * abs(s["peak_jy"] / s["expect_jy"] - 1) for s in src), default=float("nan"))}
    if src:
        b = max(src, key=lambda s: s["expect_jy"] * s["pb"])
        out["brightest"] = {"name": b["name"], "injected_jy": b["expect_jy"], "peak_jy": b["peak_jy"],
                            "error_pct": 100 * (b["peak_jy"] / b["expect_jy"] - 1)}
    return out


def fmt_stage(name: str, b: dict) -> str:
    return f"  {name:22s} {b['wall_s']:8.1f} {b['cpu_s']:8.1f} {b['max_rss_mb'] / 1e3:7.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dsa110_contimg.tools.bench_chain", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="bench/chain")
    ap.add_argument("--station-file", default=STATION_FILE_DEFAULT,
                    help="real station coordinates (default %(default)s); absent = the built-in layout")
    ap.add_argument("--imagers", nargs="*", default=["default", "wsclean", "tclean"], choices=sorted(IMAGER_CONFIGS))
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args(argv)
    # the imagers' "wall s"/"CPU s" are the image stage's (applycal excluded); RSS the image job's peak
    work = os.path.abspath(args.work)
    results = os.path.join(work, "results")
    os.makedirs(work, exist_ok=True)
    station = args.station_file if os.path.isfile(args.station_file) else ""
    layout = f"real station layout ({station})" if station else f"built-in T layout ({args.station_file} not found)"
    cfg_path = os.path.join(work, "config.yaml")
    with open(cfg_path, "w") as fh:
        yaml.safe_dump(bench_config(out_dir=results, station_file=station), fh)
    log = os.path.join(work, "snakemake.log")
    print(f"full-size pair (96 antennas, 768 channels, 24 integrations), {layout}; log: {log}", flush=True)

    # plan: the calibrator and the science group
    snakemake(["--until", "simulate_truth"], configs=[cfg_path], cores=args.cores, log=log)
    with open(os.path.join(results, "sim", "truth.json")) as fh:
        truth = json.load(fh)
    cal = next(g["group_id"] for g in truth["groups"] if g["kind"] == "calibrator")
    sci = next(g["group_id"] for g in truth["groups"] if g["kind"] == "science")
    print(f"calibrator transit {cal}, science group {sci}", flush=True)
    # (re)run the chain from the raw files: the MS, flags, tables, images are made again
    for d in ("ms", "caltables", "caltables/field", "calibrated", "images"):
        for g in (cal, sci):
            for p in glob.glob(os.path.join(results, d, paths.day(g), f"{g}*")):
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
    for date in {paths.day(cal), paths.day(sci)}:
        for ext in ("csv", "json"):
            if os.path.exists(paths.photometry_day(results, date, ext)):
                os.unlink(paths.photometry_day(results, date, ext))
    snakemake(sorted({f"{results}/sim/raw/{sim_day(cal)}", f"{results}/sim/raw/{sim_day(sci)}"}), configs=[cfg_path], cores=args.cores, log=log)
    wall = snakemake(sorted({paths.photometry_day(results, paths.day(g)) for g in (cal, sci)}), configs=[cfg_path],
                     cores=args.cores, log=log)
    report = {"layout": layout, "calibrator": cal, "science": sci, "snakemake_wall_s": wall,
              "groups": {"calibrator": group_stages(results, cal), "science": group_stages(results, sci)}}
    sci_fig = report["groups"]["science"]
    sci_total = sum(sci_fig["jobs"][j]["wall_s"] for j in ("convert", "image")) + sci_fig["stages"]["photometry"]["wall_s"]
    report["science_total_s"] = sci_total
    report["science_over_real_time"] = sci_total / REAL_TIME_S
    print(f"\n  {'stage':22s} {'wall s':>8s} {'CPU s':>8s} {'RSS GB':>7s}   (RSS: the job's peak up to the stage's end)")
    for who in ("calibrator", "science"):
        for s, b in report["groups"][who]["stages"].items():
            print(fmt_stage(f"{who} {s}", b))
        for j, b in report["groups"][who]["jobs"].items():
            print(fmt_stage(f"{who} job {j}", b))
    print(f"  science group end to end {sci_total:6.1f} s = {report['science_over_real_time']:.2f} x the {REAL_TIME_S:.0f} s "
          f"a group takes to arrive  (snakemake wall for both groups: {wall:.0f} s)", flush=True)
    report["default_image"] = image_figures(results, sci)

    # side by side: the same calibrated science group through the image rule
    side = {}
    for name in args.imagers:
        # every imager (the default too) images the same calibrated group again, one after the
        # other, so the side-by-side figures are taken alike
        over = os.path.join(work, f"imaging-{name}.yaml")
        with open(over, "w") as fh:
            yaml.safe_dump({"imaging": IMAGER_CONFIGS[name]}, fh)
        snakemake(["--forcerun", "image", "--until", "image", paths.path(results, "images", sci)],
                  configs=[cfg_path, over], cores=args.cores, log=log)
        figures = group_stages(results, sci)
        side[name] = {**figures["stages"]["image"], "job_max_rss_mb": figures["jobs"]["image"]["max_rss_mb"],
                      **image_figures(results, sci)}
        keep = os.path.join(work, "imagers", name)
        os.makedirs(keep, exist_ok=True)
        for p in glob.glob(paths.image(results, sci, ".*")):
            shutil.copy2(p, keep)
    report["imagers"] = side
    print(f"\n  {'imager':10s} {'wall s':>7s} {'CPU s':>7s} {'RSS GB':>7s} {'rms mJy':>8s} {'/therm':>6s} "
          f"{'brightest: injected -> peak':>30s} {'within 3%':>10s}")
    for name, f in side.items():
        b = f.get("brightest", {})
        bright = f"{b['injected_jy']:.3f} -> {b['peak_jy']:.3f} Jy ({b['error_pct']:+.1f}%)" if b else "-"
        print(f"  {name:10s} {f['wall_s']:7.1f} {f['cpu_s']:7.1f} {f['max_rss_mb'] / 1e3:7.2f} {f['rms_mjy']:8.3f} "
              f"{f['rms_over_thermal']:6.2f} {bright:>30s} {f['n_within_3pct']:>4d}/{f['n_checked']:<4d}")
    if "default" in side and len(side) > 1:
        print("  ratios (imager wall / default wall): " + ", ".join(
            f"{n} {f['wall_s'] / side['default']['wall_s']:.1f}x" for n, f in side.items() if n != "default"))
    with open(os.path.join(work, "bench.json"), "w") as fh:
        json.dump(report, fh, indent=1, default=float)
    print(f"\nfigures: {os.path.join(work, 'bench.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
