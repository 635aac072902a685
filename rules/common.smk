# Input functions and shared helpers.  All logic lives in the dsa110_contimg package.
#
# Everything that depends on the calibration plan is an input/params function, so it is
# evaluated only when a requested target needs it: `snakemake ms` on real data needs no
# calibrator catalog, and a target that does names the missing key in its error.
import functools

from snakemake.logging import logger

from dsa110_contimg import layout
from dsa110_contimg.imaging.backends import BACKENDS
from dsa110_contimg.manifest import manifest_path, write_manifest
from dsa110_contimg.provenance import config_hash
from dsa110_contimg.selection import FIELD, CalibratorCatalogError, calibration_plan, discover_groups, raw_dir, sim_day
from dsa110_contimg.settings import Settings
from dsa110_contimg.simulate.scenario import plan as sim_plan


SETTINGS = Settings.from_config(config)
OUT = SETTINGS.output_dir
SIMULATE = SETTINGS.simulate
SIM_DIR = f"{OUT}/sim"
RAW_DIR = raw_dir(SETTINGS)
MASTER_DB = f"{OUT}/catalog/master_sources.sqlite3"
GROUP_RE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"


wildcard_constraints:
    group=GROUP_RE,
    date=r"\d{4}-\d{2}-\d{2}",


def P(product):
    """A product's path pattern with the {date} and {group} wildcards (dsa110_contimg.layout)."""
    return layout.pattern(OUT, product)


def gpath(product, group):
    """A product's path for one group (in its date directory)."""
    return layout.path(OUT, product, group)


PLANNED = sim_plan(simulation=SETTINGS.simulation, telescope=SETTINGS.telescope) if SIMULATE else None
GROUPS = {g.group_id: g for g in discover_groups(SETTINGS, planned=PLANNED)}


def is_activated(key):
    """A boolean switch of the imaging section (e.g. static_beam)."""
    return bool(getattr(SETTINGS.imaging, key))


def complete_groups():
    """Ids of the groups in range that are complete (and readable, for real data)."""
    return sorted(gid for gid, g in GROUPS.items() if g.ok)


def skipped_groups_digest():
    """Text that changes whenever the set of skipped groups (or their reasons) changes."""
    return ";".join(f"{gid}|{g.reason}|{len(g.files)}" for gid, g in sorted(GROUPS.items()) if not g.ok)


def group_files(wildcards):
    """The subband files of one group, subband order."""
    return [p for _, p in sorted(GROUPS[wildcards.group].files.items())]


def convert_inputs(wildcards):
    """Real data: the group's manifest (its files, sizes and mtimes; mtime = the newest file's);
    simulated: the simulator's directory of the group's UTC date.  A group on the field path also needs its transit's solution, the master catalog and
    the beam (its gains are solved in the same job)."""
    if SIMULATE:
        out = {"raw": f"{RAW_DIR}/{sim_day(wildcards.group)}"}
    else:  # the group's manifest stands for its 16 files (dsa110_contimg.manifest)
        out = {"raw": write_manifest(manifest_path(f"{OUT}/.cache", wildcards.group), group_files(wildcards))}
    transit = field_transit(wildcards.group)
    if transit:
        # the transit's solve takes the master catalog and the beam as inputs too, so its
        # summary stands for all three (each input file of 8,640 jobs a month costs planning time)
        out["transit"] = gpath("transit", transit)
    return out


def field_transit(group):
    """The transit whose K and B a field-path group's gain solve applies, or None."""
    plan = _plan_or_none()
    v = plan.get(group) if plan else None
    return v["tables_from"]["B"] if v and v.get("path") == "field" else None


def field_not_solved(wildcards):
    """Why a group's gains are not solved on the field (recorded in its field-gain record), or
    empty when they are."""
    plan = _plan_or_none()
    if plan is None:
        return "no calibration plan: calibration.catalog is not set (conversion only)"
    v = plan.get(wildcards.group, {})
    if v.get("path") == "field":
        return ""
    if "skip" in v:
        return f"not calibratable: {v['skip']}"
    return f"the gains of transit {v['tables_from']['G']} are valid for this group (path {v.get('path')})"


def _plan_or_none():
    """The calibration plan, or None when real data have no calibrator catalog (`snakemake ms`)."""
    try:
        return cal_plan()
    except CalibratorCatalogError:
        return None


def _range_group_mb():
    """UVH5 size (MB) of the range's groups: the simulation's shape, or the first complete group's
    files (a range's groups share one shape; a month has 8,640 groups, so this is asked once)."""
    from dsa110_contimg.conversion.workers import files_mb, simulated_group_mb

    if SIMULATE:
        return simulated_group_mb(SETTINGS.simulation)
    first = next((g for _, g in sorted(GROUPS.items()) if g.ok), None)
    return files_mb(list(first.files.values())) if first else 0.0


GROUP_MB = _range_group_mb()


def _convert_threads():
    """Workers (and threads) of one conversion: conversion.workers, or 1 for a small group."""
    from dsa110_contimg.conversion.workers import conversion_workers

    return conversion_workers(GROUP_MB, conversion=SETTINGS.conversion)


CONVERT_THREADS = _convert_threads()
# threads of one image job: the backend's, or 1 for a group below conversion.parallel_min_mb
# (the demo's image jobs keep one core busy: static beam, self-cal and a small WSClean run)
IMAGE_THREADS = 1 if GROUP_MB < SETTINGS.conversion.parallel_min_mb else BACKENDS[SETTINGS.imaging.backend].threads


def ledger_inputs(wildcards):
    """Simulated mode: the ledger waits for the simulator (it lists what was written)."""
    if SIMULATE:
        return sorted({f"{RAW_DIR}/{sim_day(gid)}" for gid in GROUPS})
    return []


def ms_targets(wildcards=None):
    """Every complete group's MS (with keep_ms: false its conversion summary, so the MS stays
    temporary), and the ledger."""
    product = "ms" if SETTINGS.keep_ms else "ms_summary"
    return [gpath(product, gid) for gid in complete_groups()] + [f"{OUT}/ledger/groups.csv"]


def ms_output(path):
    """The convert rule's MS output: a directory, temporary unless keep_ms."""
    return directory(path) if SETTINGS.keep_ms else temp(directory(path))


@functools.cache
def cal_plan():
    """The calibration plan of the range (built on first use: it needs the calibrator catalog)."""
    return calibration_plan(SETTINGS, list(GROUPS.values()), planned=PLANNED)


def calibrator_groups():
    """Complete groups holding a usable calibrator transit."""
    return sorted(gid for gid, v in cal_plan().items() if v["calibrator"])


def calibratable_groups():
    """Complete groups that valid tables cover (calibrator groups included)."""
    return sorted(gid for gid, v in cal_plan().items() if "tables_from" in v)


def uncalibratable_digest(wildcards=None):
    return ";".join(f"{gid}|{v['skip']}" for gid, v in sorted(cal_plan().items()) if "skip" in v)


def image_inputs(wildcards):
    """The group's MS, the solution summaries of the transits chosen for it (K, B, G); on the
    field path its field gains and the preceding groups' (the fallback)."""
    plan = cal_plan()[wildcards.group]
    chosen = plan["tables_from"]
    out = {
        "ms": gpath("ms", wildcards.group),
        "solutions": sorted({gpath("transit", cal) for kind, cal in chosen.items() if cal != FIELD}),
    }
    if plan["path"] == "field":  # this group's field gains come with its MS (rule convert)
        out["previous"] = [gpath("field_tables", g) for g in plan["lookback"]]
    return out


def field_dir(wildcards):
    """The group's field-gain directory (an output of the job that made its MS), or empty on the transit path."""
    return gpath("field_tables", wildcards.group) if cal_plan()[wildcards.group]["path"] == "field" else ""


def calibrator_of(wildcards):
    return cal_plan()[wildcards.group]["calibrator"]


def caltable_targets(wildcards=None):
    """Every transit's solution and every field group's gains."""
    fields = [g for g, v in cal_plan().items() if v.get("path") == "field"]
    return [gpath("transit", g) for g in calibrator_groups()] + [gpath("field_tables", g) for g in sorted(fields)]


def calibrated_sidecars(wildcards=None):
    """The apply sidecar of every calibratable group (written by its image job)."""
    return [gpath("calibrated", g) for g in calibratable_groups()]


NOTHING_TO_IMAGE = (
    "no group of the range can be imaged ({complete} complete of {found} found; {calibrated} calibratable, "
    "{calibrators} of them calibrator transits): see {out}/ledger/groups.csv and {out}/ledger/calibration.csv "
    "for each group's reason. Only the MS, calibration and ledgers are made; no images or light curves."
)


def photometry_targets(wildcards=None):
    """The light-curve products, when some group of the range can be imaged; else nothing,
    and one message that says why (the ledgers hold each group's reason)."""
    if calibratable_groups():
        return rules.lightcurves.output
    logger.warning(NOTHING_TO_IMAGE.format(complete=len(complete_groups()), found=len(GROUPS), out=OUT,
                                           calibrated=len(calibratable_groups()), calibrators=len(calibrator_groups())))
    return []


def image_targets(wildcards=None):
    """Every calibratable group's pbcor image (transits too: a drift scan images every group),
    and the calibration ledger."""
    return [gpath("images", g) for g in calibratable_groups()] + [f"{OUT}/ledger/calibration.csv"]


def beam_h5():
    """The H5 beam model: imaging.beam_h5, or the simulator's (demo)."""
    return SETTINGS.imaging.beam_h5 or f"{SIM_DIR}/beam.h5"


def sky_catalog():
    """Catalog positions overlaid on thumbnails: the simulator's sky (demo) or none."""
    return [f"{SIM_DIR}/sky.csv"] if SIMULATE else []


def survey_tables():
    """NVSS (required), VLASS and FIRST tables for the master catalog: from config, or
    the simulator's tables in the demo."""
    cat = SETTINGS.catalog
    if SIMULATE and not cat.nvss:
        return {s: f"{SIM_DIR}/surveys/{s}.{'tsv' if s == 'first' else 'csv'}" for s in ("nvss", "vlass", "first")}
    return {s: getattr(cat, s) for s in ("nvss", "vlass", "first") if getattr(cat, s)}


def static_beam_catalog():
    """The master catalog, when imaging gives its bright sources a static beam (imaging.static_beam)."""
    return [MASTER_DB] if is_activated("static_beam") else []


def photometry_dates():
    """UTC dates of the range that hold an imaged group."""
    return sorted({layout.day(g) for g in calibratable_groups()})


def photometry_csvs(wildcards=None):
    """One forced-photometry CSV per date of the range with images."""
    return [layout.photometry_day(OUT, d) for d in photometry_dates()]


def images_of_date(wildcards):
    """The image directory of every group imaged on one date."""
    return [gpath("images", g) for g in calibratable_groups() if layout.day(g) == wildcards.date]


def missing_epochs(wildcards=None):
    """Groups of the range that never reach an image (incomplete or uncalibratable):
    gaps in every light curve."""
    ok = set(complete_groups())
    gaps = [g for g in sorted(GROUPS) if g not in ok]
    gaps += [g for g, v in sorted(cal_plan().items()) if "skip" in v]
    return sorted(set(gaps))
