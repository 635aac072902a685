# Input functions and shared helpers.  All logic lives in the dsa110_contimg package.
import os

from dsa110_contimg.provenance import config_hash
from dsa110_contimg.selection import calibration_plan, discover_groups, raw_dir


OUT = config["output_dir"]
SIMULATE = not config["input_dir"]
SIM_DIR = f"{OUT}/sim"
RAW_DIR = raw_dir(config)
GROUP_RE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"


wildcard_constraints:
    group=GROUP_RE,


GROUPS = {g.group_id: g for g in discover_groups(config)}


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
    """Real data: the files themselves; simulated: the simulator's group directory."""
    if SIMULATE:
        return {"raw": f"{RAW_DIR}/{wildcards.group}"}
    return {"raw": group_files(wildcards)}


def convert_threads(wildcards):
    """Workers (and threads) of one conversion: conversion.workers, or 1 for a small group."""
    from dsa110_contimg.conversion.workers import conversion_workers, files_mb, simulated_group_mb

    size = simulated_group_mb(config["simulation"]) if SIMULATE else files_mb(group_files(wildcards))
    return conversion_workers(size, config["conversion"])


def ledger_inputs(wildcards):
    """Simulated mode: the ledger waits for the simulator (it lists what was written)."""
    if SIMULATE:
        return [f"{RAW_DIR}/{gid}" for gid in sorted(GROUPS)]
    return []


def ms_targets():
    return [f"{OUT}/ms/{gid}.ms" for gid in complete_groups()]


CAL_PLAN = calibration_plan(config, list(GROUPS.values()))


def calibrator_groups():
    """Complete groups holding a usable calibrator transit."""
    return sorted(gid for gid, v in CAL_PLAN.items() if v["calibrator"])


def calibratable_groups():
    """Complete groups that valid tables cover (calibrator groups included)."""
    return sorted(gid for gid, v in CAL_PLAN.items() if "tables_from" in v)


def science_groups():
    """Calibrated groups without a calibrator transit: the fields to image."""
    return [g for g in calibratable_groups() if not CAL_PLAN[g]["calibrator"]]


def uncalibratable_digest():
    return ";".join(f"{gid}|{v['skip']}" for gid, v in sorted(CAL_PLAN.items()) if "skip" in v)


def apply_inputs(wildcards):
    """The solution summaries of the calibrator groups chosen for this group (K, B, G)."""
    chosen = CAL_PLAN[wildcards.group]["tables_from"]
    return {
        "ms": f"{OUT}/ms/{wildcards.group}.ms",
        "flags": f"{OUT}/flags/{wildcards.group}.json",
        "solutions": sorted({f"{OUT}/caltables/{cal}.json" for cal in chosen.values()}),
    }


def calibrator_of(wildcards):
    return CAL_PLAN[wildcards.group]["calibrator"]


def beam_h5():
    """The H5 beam model: imaging.beam_h5, or the simulator's (demo)."""
    return config["imaging"]["beam_h5"] or f"{SIM_DIR}/beam.h5"


def sky_catalog():
    """Catalog positions overlaid on thumbnails: the simulator's sky (demo) or none."""
    return [f"{SIM_DIR}/sky.csv"] if SIMULATE else []


def survey_tables():
    """NVSS (required), VLASS and FIRST tables for the master catalog: from config, or
    the simulator's tables in the demo."""
    cat = config["catalog"]
    if SIMULATE and not cat["nvss"]:
        return {s: f"{SIM_DIR}/surveys/{s}.{'tsv' if s == 'first' else 'csv'}" for s in ("nvss", "vlass", "first")}
    return {s: cat[s] for s in ("nvss", "vlass", "first") if cat[s]}


MASTER_DB = f"{OUT}/catalog/master_sources.sqlite3"


def static_beam_catalog():
    """The master catalog, when imaging gives its bright sources a static beam (imaging.static_beam)."""
    return [MASTER_DB] if config["imaging"]["static_beam"] else []


def photometry_csvs():
    """One forced-photometry CSV per imaged science group of the range."""
    return [f"{OUT}/photometry/{g}.csv" for g in science_groups()]


def missing_epochs():
    """Groups of the range that never reach an image (incomplete or uncalibratable):
    gaps in every light curve."""
    ok = set(complete_groups())
    gaps = [g for g in sorted(GROUPS) if g not in ok]
    gaps += [g for g, v in sorted(CAL_PLAN.items()) if "skip" in v and not v.get("calibrator")]
    return sorted(set(gaps))
