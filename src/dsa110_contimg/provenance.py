"""Provenance for products: software versions, config hash, inputs."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata

PACKAGES = ("dsa110-contimg", "numpy", "pyuvdata", "python-casacore", "casatools", "casatasks", "astropy", "h5py", "snakemake")


def software_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the products."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def config_hash(config: dict) -> str:
    """sha256 of the config as canonical JSON (sorted keys): identical configs, identical hash."""
    blob = json.dumps(config, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def provenance_record(config: dict | None = None, inputs: list[str] | None = None, **extra) -> dict:
    """A JSON-serialisable record: versions, config hash, inputs and any extra fields."""
    rec = {"software": software_versions()}
    if config is not None:
        rec["config_sha256"] = config_hash(config)
    if inputs is not None:
        rec["inputs"] = list(inputs)
    rec.update(extra)
    return rec
