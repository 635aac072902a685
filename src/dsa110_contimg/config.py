"""Load and validate the workflow configuration (config/config.yaml + JSON schema).

The schema fills every default, so a partial config (or none) is complete after
:func:`load_config`.  The workflow validates the same way at start.
"""

from __future__ import annotations

import copy
import os

import jsonschema
import yaml

REPO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCHEMA_PATH = os.path.join(REPO_ROOT, "config", "config.schema.yaml")
DEFAULT_CONFIG_PATH = os.path.join(REPO_ROOT, "config", "config.yaml")


class ConfigError(ValueError):
    """The configuration does not validate against the schema."""


def _with_defaults(cls):
    validate_props = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_props(validator, properties, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": set_defaults})


def validate(config: dict, schema_path: str = SCHEMA_PATH) -> dict:
    """Validate ``config`` in place against the schema, filling defaults; return it."""
    with open(schema_path) as fh:
        schema = yaml.safe_load(fh)
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.path))
    if errors:
        lines = [f"  {'/'.join(map(str, e.path)) or '<top>'}: {e.message}" for e in errors]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))
    return config


def load_config(path: str | None = None, overrides: dict | None = None) -> dict:
    """Read a YAML config (default: config/config.yaml), apply ``overrides``, validate."""
    with open(path or DEFAULT_CONFIG_PATH) as fh:
        cfg = yaml.safe_load(fh) or {}
    for key, val in (overrides or {}).items():
        _set_dotted(cfg, key, val)
    return validate(cfg)


def _set_dotted(cfg: dict, dotted: str, val) -> None:
    node = cfg
    parts = dotted.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = val
