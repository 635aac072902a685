# Input functions and shared helpers.  All logic lives in the dsa110_contimg package.
#
# Everything that depends on the calibration plan is an input/params function, so it is
# evaluated only when a requested target needs it: `snakemake ms` on real data needs no
# calibrator catalog, and a target that does names the missing key in its error.
import functools

from snakemake.logging import logger

from dsa110_contimg.imaging.backends import BACKENDS
from dsa110_contimg.provenance import config_hash
from dsa110_contimg.selection import FIELD, calibration_plan, discover_groups, raw_dir, sim_day
from dsa110_contimg.settings import Settings


SETTINGS = Settings.from_config(config)
OUT = SETTINGS.output_dir
SIMULATE = SETTINGS.simulate
SIM_DIR = f"{OUT}/sim"
RAW_DIR = raw_dir(SETTINGS)
MASTER_DB = f"{OUT}/catalog/master_sources.sqlite3"
GROUP_RE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"


wildcard_constraints:
    group=GROUP_RE,


GROUPS = {g.group_id: g for g in discover_groups(SETTINGS)}


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
    """Real data: the files themselves; simulated: the simulator's directory of the group's UTC date."""
    if SIMULATE:
        return {"raw": f"{RAW_DIR}/{sim_day(wildcards.group)}"}
    return {"raw": group_files(wildcards)}


def group_mb(wildcards):
    """UVH5 size (MB) of one group: the files on disk, or the simulation's shape (known before they exist)."""
    return _group_mb(wildcards.group)


@functools.cache
def _group_mb(group):
    """group_mb by group id, once per group (convert and image both ask; a month has 8,640 groups)."""
    from dsa110_contimg.conversion.workers import files_mb, simulated_group_mb

    if SIMULATE:
        return simulated_group_mb(SETTINGS.simulation)
    return files_mb([p for _, p in sorted(GROUPS[group].files.items())])


def convert_threads(wildcards):
    """Workers (and threads) of one conversion: conversion.workers, or 1 for a small group."""
    from dsa110_contimg.conversion.workers import conversion_workers

    return conversion_workers(group_mb(wildcards), conversion=SETTINGS.conversion)


def image_threads(wildcards):
    """Threads of one image job: the backend's, or 1 for a group below conversion.parallel_min_mb
    (the demo's image jobs keep one core busy: static beam, self-cal and a small WSClean run)."""
    small = group_mb(wildcards) < SETTINGS.conversion.parallel_min_mb
    return 1 if small else BACKENDS[SETTINGS.imaging.backend].threads


def ledger_inputs(wildcards):
    """Simulated mode: the ledger waits for the simulator (it lists what was written)."""
    if SIMULATE:
        return sorted({f"{RAW_DIR}/{sim_day(gid)}" for gid in GROUPS})
    return []


def ms_targets(wildcards=None):
    """Every complete group's MS (with keep_ms: false its conversion summary, so the MS stays
    temporary), and the ledger."""
    ext = "ms" if SETTINGS.keep_ms else "json"
    return [f"{OUT}/ms/{gid}.{ext}" for gid in complete_groups()] + [f"{OUT}/ledger/groups.csv"]


def ms_output(path):
    """The convert rule's MS output: a directory, temporary unless keep_ms."""
    return directory(path) if SETTINGS.keep_ms else temp(directory(path))


@functools.cache
def cal_plan():
    """The calibration plan of the range (built on first use: it needs the calibrator catalog)."""
    return calibration_plan(SETTINGS, list(GROUPS.values()))


def calibrator_groups():
    """Complete groups holding a usable calibrator transit."""
    return sorted(gid for gid, v in cal_plan().items() if v["calibrator"])


def calibratable_groups():
    """Complete groups that valid tables cover (calibrator groups included)."""
    return sorted(gid for gid, v in cal_plan().items() if "tables_from" in v)


def science_groups():
    """Calibrated groups without a calibrator transit: the fields to image."""
    return [g for g in calibratable_groups() if not cal_plan()[g]["calibrator"]]


def uncalibratable_digest(wildcards=None):
    return ";".join(f"{gid}|{v['skip']}" for gid, v in sorted(cal_plan().items()) if "skip" in v)


def apply_inputs(wildcards):
    """The solution summaries of the calibrator groups chosen for this group (K, B, G); on
    the field path also the group's own field solve and the preceding groups' (fallback)."""
    plan = cal_plan()[wildcards.group]
    chosen = plan["tables_from"]
    out = {
        "ms": f"{OUT}/ms/{wildcards.group}.ms",
        "flags": f"{OUT}/flags/{wildcards.group}.json",
        "solutions": sorted({f"{OUT}/caltables/{cal}.json" for kind, cal in chosen.items() if cal != FIELD}),
    }
    if plan["path"] == "field":
        out["field"] = field_solution(wildcards.group)
        out["previous"] = [field_solution(g) for g in plan["lookback"]]
    return out


def field_solution(group):
    """The field-gain solve summary of one group (rule solve_field)."""
    return f"{OUT}/caltables/field/{group}.json"


def solve_field_inputs(wildcards):
    """A field group's MS and flags, its K/B transit's solutions, the master catalog, the beam."""
    chosen = cal_plan()[wildcards.group]["tables_from"]
    return {
        "ms": f"{OUT}/ms/{wildcards.group}.ms",
        "flags": f"{OUT}/flags/{wildcards.group}.json",
        "transit": f"{OUT}/caltables/{chosen['B']}.json",
        "catalog": MASTER_DB,
        "beam": beam_h5(),
    }


def calibrator_of(wildcards):
    return cal_plan()[wildcards.group]["calibrator"]


def caltable_targets(wildcards=None):
    return [f"{OUT}/caltables/{g}.json" for g in calibrator_groups()]


def calibrated_sidecars(wildcards=None):
    """The apply sidecar of every calibratable group."""
    return [f"{OUT}/calibrated/{g}.json" for g in calibratable_groups()]


def calibrated_targets(wildcards=None):
    return calibrated_sidecars() + [f"{OUT}/ledger/calibration.csv"]


NOTHING_TO_IMAGE = (
    "no group of the range can be imaged ({complete} complete of {found} found; {calibrated} calibratable, "
    "{calibrators} of them calibrator transits): see {out}/ledger/groups.csv and {out}/ledger/calibration.csv "
    "for each group's reason. Only the MS, calibration and ledgers are made; no images or light curves."
)


def photometry_targets(wildcards=None):
    """The light-curve products, when some group of the range can be imaged; else nothing,
    and one message that says why (the ledgers hold each group's reason)."""
    if science_groups():
        return rules.lightcurves.output
    logger.warning(NOTHING_TO_IMAGE.format(complete=len(complete_groups()), found=len(GROUPS), out=OUT,
                                           calibrated=len(calibratable_groups()), calibrators=len(calibrator_groups())))
    return []


def image_targets(wildcards=None):
    return [f"{OUT}/images/{g}.image.pbcor.fits" for g in science_groups()]


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


def photometry_csvs(wildcards=None):
    """One forced-photometry CSV per imaged science group of the range."""
    return [f"{OUT}/photometry/{g}.csv" for g in science_groups()]


def missing_epochs(wildcards=None):
    """Groups of the range that never reach an image (incomplete or uncalibratable):
    gaps in every light curve."""
    ok = set(complete_groups())
    gaps = [g for g in sorted(GROUPS) if g not in ok]
    gaps += [g for g, v in sorted(cal_plan().items()) if "skip" in v and not v.get("calibrator")]
    return sorted(set(gaps))
