"""The workflow's per-group and per-date jobs, each a short sequence of stages.

A month is 8,640 groups; Snakemake spends ~2.5 ms planning each job, so every group is two
jobs, not six (a month's dry run in well under a minute):

- :func:`convert_job` (rule ``convert``): UVH5 subbands -> MS in a staging directory ->
  flags -> field gains (a group outside every transit's gain window) -> the MS moved into
  place.  A flagged MS appears at once or not at all.
- :func:`image_job` (rule ``image``): the gains chosen for the group (transit, field or a
  graded fallback) applied, then the image with its FITS, QA and thumbnail.
- :func:`photometry_job` (rule ``forced_photometry``): forced photometry of one UTC date's
  images into one CSV.

Every job records each stage's wall time, CPU time (this process and its children) and
peak RSS so far under ``stages`` in its JSON record (``make bench`` prints them).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import resource
import time

from .atomic import write_json
from .provenance import provenance_record
from .settings import Settings, as_plain

log = logging.getLogger(__name__)


@contextlib.contextmanager
def stage_clock(record: dict, stage: str):
    """Time the block into ``record[stage]``: ``wall_s``, ``cpu_s`` (user + system of this
    process and its waited-for children) and ``max_rss_mb`` (this process's or a child's peak
    so far: the peak of the job up to the end of the stage)."""

    def cpu() -> float:
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    t0, c0 = time.perf_counter(), cpu()
    try:
        yield
    finally:
        rss_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        record[stage] = {"wall_s": round(time.perf_counter() - t0, 3), "cpu_s": round(cpu() - c0, 3),
                         "max_rss_mb": round(rss_kb / 1024.0, 1)}


@dataclasses.dataclass(frozen=True)
class FieldInputs:
    """What a field-gain solve needs: the transit's solve summary (JSON), the master catalog
    (SQLite) and the H5 beam model."""

    transit: str
    catalog: str
    beam_h5: str


FIELD_RECORD = "solve.json"
"""The field-gain record inside each group's field-gain directory (always written)."""


def field_record(field_dir: str) -> str:
    """The JSON record of a group's field-gain solve (``<field_dir>/solve.json``)."""
    return os.path.join(field_dir, FIELD_RECORD)


def convert_job(paths: list[str], *, out_ms: str, summary_path: str, field_dir: str, field: FieldInputs | None,
                not_solved: str, settings: Settings, workers: int) -> dict:
    """Rule ``convert``: the group's subband files ``paths`` -> ``out_ms``, flagged, and its
    field gains solved when ``field`` is given (else ``not_solved`` says why not), all on the
    staged MS before it is moved into place.  The summary (conversion, ``flags`` statistics,
    ``stages``, provenance) goes to ``summary_path``; the field gains' tables and record
    (:func:`field_record`: ``ok``, ``reason``, quality) to ``field_dir``."""
    from .calibration.flagging import flag_ms
    from .calibration.pipeline import solve_field_group
    from .conversion.convert import convert_group

    stages: dict = {}
    solved: dict = {}
    os.makedirs(field_dir, exist_ok=True)

    def finish(staged_ms: str) -> dict:
        with stage_clock(stages, "flag"):
            flags = flag_ms(staged_ms, calibration=settings.calibration)
        if field is not None:
            with stage_clock(stages, "solve_field"):
                solved.update(solve_field_group(staged_ms, transit_path=field.transit, catalog=field.catalog,
                                                beam_h5=field.beam_h5, settings=settings, caldir=field_dir,
                                                threads=workers, ms_name=os.path.abspath(out_ms)))
        return {"flags": flags}

    with stage_clock(stages, "job"):
        summary = convert_group(paths, out_ms, telescope=settings.telescope, conversion=settings.conversion,
                                workers=workers, finish=finish)
    stages["convert"] = _remainder(stages, "job", ("flag", "solve_field"))
    if not solved:
        solved = {"ms": summary["ms"], "ok": False, "solved": False, "reason": not_solved, "tables": {}}
    write_json(field_record(field_dir), solved)
    summary["stages"] = stages
    summary["provenance"] = provenance_record({"conversion": as_plain(settings.conversion),
                                               "telescope": as_plain(settings.telescope),
                                               "calibration": as_plain(settings.calibration)}, inputs=list(paths))
    write_json(summary_path, summary)
    return summary


def _remainder(stages: dict, total: str, parts) -> dict:
    """The time of ``stages[total]`` not spent in ``parts`` (the stage that holds the others)."""
    out = dict(stages[total])
    for p in parts:
        if p in stages:
            out["wall_s"] = round(out["wall_s"] - stages[p]["wall_s"], 3)
            out["cpu_s"] = round(out["cpu_s"] - stages[p]["cpu_s"], 3)
    return out


def image_job(ms_path: str, *, solutions: list[str], field_dir: str | None, previous_dirs: list[str], settings: Settings,
              sidecar_path: str, fits_prefix: str, qa_path: str, vptable: str, beam_h5: str, catalog_db: str | None,
              overlay_csvs: list[str], config: dict, threads: int) -> dict:
    """Rule ``image``: :func:`.calibration.pipeline.apply_group` (the transit's tables, or the
    field gains from ``field_dir`` with the preceding groups' ``previous_dirs`` as fallback),
    the sidecar to ``sidecar_path``; then :func:`.imaging.pipeline.image_group` into
    ``fits_prefix`` (``catalog_db``: the master catalog for the static beam, or None), the QA
    record (with ``stages`` and provenance) to ``qa_path``.  Returns the QA record."""
    from .calibration.pipeline import apply_group
    from .catalog.build_master import sources_from_master
    from .imaging.pipeline import image_group
    from .provenance import config_hash
    from .sky import read_sky_csv

    stages: dict = {}
    with stage_clock(stages, "apply"):
        calibration = apply_group(ms_path, solutions=solutions, settings=settings, sidecar_path=sidecar_path,
                                  field=field_record(field_dir) if field_dir else None,
                                  previous=[field_record(d) for d in previous_dirs])
    with stage_clock(stages, "image"):
        qa = image_group(ms_path=ms_path, fits_prefix=fits_prefix, imaging=settings.imaging, telescope=settings.telescope,
                         config_hash=config_hash(config), threads=threads, vptable=os.path.abspath(vptable), beam_h5=beam_h5,
                         sky_sources=sources_from_master(catalog_db) if catalog_db else [],
                         overlay=[s for p in overlay_csvs for s in read_sky_csv(p)], calibration=calibration)
    qa["stages"] = stages
    qa["provenance"] = provenance_record(config, inputs=[ms_path, vptable, *([catalog_db] if catalog_db else [])])
    write_json(qa_path, qa)
    return qa


def photometry_job(images: dict[str, tuple[str, str]], *, db_path: str, settings: Settings, csv_path: str,
                   sidecar_path: str, provenance: dict) -> dict:
    """Rule ``forced_photometry``: :func:`.photometry.pipeline.photometry_of_image` of every
    image of one date (``images``: group -> (pbcor, pb) FITS), all rows into ``csv_path``; the
    sidecar (per group: source counts -- an image where nothing was measurable has 0 and is a
    gap in the light curves -- and its time; columns, units, settings, ``stages``,
    provenance) to ``sidecar_path``."""
    import pandas as pd

    from .photometry.forced import COLUMNS
    from .photometry.pipeline import photometry_of_image, write_csv

    stages: dict = {}
    frames, counts = [], {}
    with stage_clock(stages, "photometry"):
        for group, (pbcor, pb) in sorted(images.items()):
            clock: dict = {}
            with stage_clock(clock, group):
                t = photometry_of_image(pbcor, pb, db_path=db_path, group=group, photometry=settings.photometry,
                                        imaging=settings.imaging)
            counts[group] = {"n_sources": len(t), "n_flagged": int((t["flags"] != "").sum()), **clock[group]}
            frames.append(t)
    table = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) \
        else pd.DataFrame(columns=COLUMNS)
    write_csv(table, csv_path)
    side = {"groups": counts, "n_rows": len(table), "columns": list(table.columns),
            "units": {"flux_jy": "Jy", "flux_err_jy": "Jy", "rms_jy": "Jy/beam (pbcor)", "mjd": "MJD UTC",
                      "ra_deg": "deg ICRS"},
            "settings": as_plain(settings.photometry), "stages": stages, "provenance": provenance}
    write_json(sidecar_path, side)
    log.info("%s: %d rows from %d images", csv_path, len(table), len(images))
    return side
