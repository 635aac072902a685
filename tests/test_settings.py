"""Typed settings: one dataclass field per schema key, defaults only in the schema."""

from __future__ import annotations

import dataclasses
import typing

import pytest
import yaml

from dsa110_contimg.config import SCHEMA_PATH, ConfigError, load_config
from dsa110_contimg.provenance import config_hash
from dsa110_contimg.settings import Settings, load_settings


def _walk(cls, schema: dict, where: str = ""):
    """Yield (where, schema property names, dataclass field names) for every nested section."""
    props = schema.get("properties", {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    yield where or "<top>", set(props), set(fields)
    hints = typing.get_type_hints(cls)
    for name, sub in props.items():
        hint = hints.get(name)
        if hint is not None and dataclasses.is_dataclass(hint):
            yield from _walk(hint, sub, f"{where}.{name}".lstrip("."))
        elif sub.get("type") == "array" and isinstance(sub.get("items"), dict) and "properties" in sub["items"]:
            (item,) = {typing.get_args(hint)[0]}
            yield from _walk(item, sub["items"], f"{where}.{name}[]".lstrip("."))


def test_every_schema_key_is_a_typed_field_and_back():
    with open(SCHEMA_PATH) as fh:
        schema = yaml.safe_load(fh)
    for where, props, fields in _walk(Settings, schema):
        assert props == fields, f"{where}: schema-only {sorted(props - fields)}, settings-only {sorted(fields - props)}"


def test_no_default_outside_the_schema():
    def check(cls):
        for f in dataclasses.fields(cls):
            assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, f"{cls.__name__}.{f.name}"
            hint = typing.get_type_hints(cls)[f.name]
            if dataclasses.is_dataclass(hint):
                check(hint)

    check(Settings)


def test_settings_from_config_matches_the_dict():
    cfg = load_config(overrides={"imaging.robust": -0.3, "telescope.lat_deg": 37.0})
    s = Settings.from_config(cfg)
    assert s.imaging.robust == -0.3 and s.telescope.lat_deg == 37.0
    assert s.imaging.scales == tuple(cfg["imaging"]["scales"])
    assert config_hash(s.as_dict()) == config_hash(cfg)  # the same provenance hash as the dict
    assert abs(s.telescope.location.lat.deg - 37.0) < 1e-9
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.imaging.robust = 1.0  # type: ignore[misc]
    assert dataclasses.replace(s.imaging, nsigma=3.0).nsigma == 3.0 and s.imaging.nsigma == cfg["imaging"]["nsigma"]


def test_partial_config_is_completed_from_the_schema_and_bad_values_refused():
    s = Settings.from_config({"input_dir": "/data", "imaging": {"backend": "wsclean"}})
    assert s.imaging.backend == "wsclean" and not s.simulate
    assert s.calibration.fast_uvrange == ">100m"  # the schema's default, nowhere else
    with pytest.raises(ConfigError, match="imaging/backend"):
        Settings.from_config({"imaging": {"backend": "difmap"}})
    assert load_settings().simulate
