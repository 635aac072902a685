"""Benchmark: convert one full-size DSA-110 group and compare with baselines in the same run.

Full size: 16 subbands x 48 channels, 96 active antennas (4,656 baselines with autos),
24 integrations.  Cases, each in its own process (peak RSS = the process tree's summed
RSS, sampled every 50 ms):

  ours-parallel   dsa110_contimg parallel writer (the workflow default for 16 subbands)
  ours-monolithic dsa110_contimg monolithic writer (pyuvdata I/O)
  (a) pyuvdata    plain pyuvdata: read the 16 files, phase(), write_ms()
  (b) copy        a plain copy of the input bytes (cp of the 16 files)

    python -m dsa110_contimg.tools.bench_conversion --out-dir bench/work [--n-active 96] [--skip monolithic]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time

import psutil

PYUVDATA_BASELINE = r"""
import sys, warnings, numpy as np
from pyuvdata import UVData
warnings.simplefilter("ignore")
files, out, ra, dec = sys.argv[1:-3], sys.argv[-3], float(sys.argv[-2]), float(sys.argv[-1])
uvs = []
for f in files:
    u = UVData.from_file(f, file_type="uvh5", run_check=False)
    u.uvw_array = u.uvw_array.astype(np.float64)
    uvs.append(u)
uv = uvs[0]
uv.fast_concat(uvs[1:], axis="freq", inplace=True, run_check=False)
uv.phase(lon=ra, lat=dec, epoch="J2000", phase_frame="icrs", cat_name="meridian")
uv.reorder_freqs(channel_order="freq")
uv.write_ms(out, clobber=True, run_check=False)
"""


def run_measured(cmd: list[str], env=None) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS of the process tree in MB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc = psutil.Process(p.pid)
    peak = 0
    while p.poll() is None:
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed:\n{p.stderr.read()[-3000:]}")
    return wall, peak / 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dsa110_contimg.tools.bench_conversion", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default="bench/work")
    ap.add_argument("--n-active", type=int, default=96)
    ap.add_argument("--nchan", type=int, default=48)
    ap.add_argument("--ntimes", type=int, default=24)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip", action="append", default=[], help="case to skip: monolithic, pyuvdata, copy")
    args = ap.parse_args(argv)
    py = sys.executable
    out = os.path.abspath(args.out_dir)
    raw = os.path.join(out, "raw")
    sets = [
        f"simulation.n_active={args.n_active}", f"simulation.nchan_per_subband={args.nchan}",
        f"simulation.ntimes={args.ntimes}", "simulation.n_epochs=1", "simulation.science_groups_per_epoch=0",
        "simulation.incomplete_groups=[]", "simulation.n_field_sources=0", f"conversion.workers={args.workers}",
    ]
    setargs = [a for s in sets for a in ("--set", s)]
    stamp = os.path.join(out, "raw.json")
    want = json.dumps(sets)
    if not (os.path.exists(stamp) and open(stamp).read() == want):
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        print(f"simulating a full-size group ({args.n_active} antennas, 16x{args.nchan} channels, {args.ntimes} integrations)...", flush=True)
        t = time.perf_counter()
        subprocess.run([py, "-m", "dsa110_contimg.simulate.cli", "all", "--out-dir", out, *setargs], check=True, stderr=subprocess.DEVNULL)
        print(f"  simulated in {time.perf_counter() - t:.0f} s", flush=True)
        open(stamp, "w").write(want)
    files = sorted(glob.glob(os.path.join(raw, "*.hdf5")))
    in_bytes = sum(os.path.getsize(f) for f in files)
    results = {}

    def case(name, cmd, cleanup):
        for p in cleanup:
            shutil.rmtree(p, ignore_errors=True)
        wall, rss = run_measured(cmd)
        results[name] = {"wall_s": round(wall, 2), "peak_rss_mb": round(rss)}
        print(f"  {name:16s} {wall:7.1f} s  {rss:7.0f} MB", flush=True)

    print(f"input: {len(files)} files, {in_bytes / 1e9:.2f} GB; {psutil.cpu_count()} cores", flush=True)
    ms = os.path.join(out, "ours.ms")
    case("ours-parallel", [py, "-m", "dsa110_contimg.conversion.cli", "--out", ms, "--writer", "parallel", *setargs, *files], [ms])
    if "monolithic" not in args.skip:
        case("ours-monolithic", [py, "-m", "dsa110_contimg.conversion.cli", "--out", ms, "--writer", "monolithic", *setargs, *files], [ms])
    if "pyuvdata" not in args.skip:
        from casacore import tables

        ms_ours = ms if os.path.exists(ms) else None
        if ms_ours is None:
            subprocess.run([py, "-m", "dsa110_contimg.conversion.cli", "--out", ms, *setargs, *files], check=True, stdout=subprocess.DEVNULL)
        with tables.table(f"{ms}::FIELD", ack=False) as t:
            ra, dec = t.getcol("PHASE_DIR")[0, 0]
        pms = os.path.join(out, "pyuvdata.ms")
        case("pyuvdata", [py, "-c", PYUVDATA_BASELINE, *files, pms, repr(float(ra)), repr(float(dec))], [pms])
    if "copy" not in args.skip:
        cdir = os.path.join(out, "copy")
        os.makedirs(cdir, exist_ok=True)
        case("copy", ["cp", *files, cdir], [])
        shutil.rmtree(cdir, ignore_errors=True)
    base = results["ours-parallel"]["wall_s"]
    print("\nratios (baseline time / ours-parallel time):")
    for k in ("pyuvdata", "copy", "ours-monolithic"):
        if k in results:
            print(f"  {k:16s} {results[k]['wall_s'] / base:6.2f}x")
    results["input_gb"] = round(in_bytes / 1e9, 3)
    results["config"] = sets
    with open(os.path.join(out, "bench.json"), "w") as fh:
        json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
