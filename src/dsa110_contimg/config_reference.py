"""The configuration reference (docs/config.md), generated from config/config.schema.yaml.

``python -m dsa110_contimg.config_reference`` prints it; ``--out docs/config.md`` writes
it.  ``tests/test_docs.py`` regenerates it and fails when docs/config.md differs, so the
reference cannot drift from the schema: edit the schema, then regenerate.

One table per section (nested sections get their own, e.g. ``simulation.calibrator``):
key, type, default, allowed values or range, and the schema's description.
"""

from __future__ import annotations

import argparse
import json

import yaml

from .config import SCHEMA_PATH

HEADER = """\
# Configuration reference

Generated from `config/config.schema.yaml` by `python -m dsa110_contimg.config_reference`;
do not edit by hand (`tests/test_docs.py` checks that this file matches the schema).

Every key is optional: a missing key takes the default below. `config/config.yaml` holds
the values the workflow runs with (the demo's, which differ from some defaults here). A
key `a.b` lives in section `a`. Override a top-level key with `snakemake --config key=value`;
for a key inside a section, write the changed keys into a small YAML file (`imaging: {robust: 0}`)
and pass it with `--configfile`: it is merged over `config/config.yaml`.
Units are in the key names (`_deg`, `_hz`, `_mjy`, `_s`, `_h`).
"""


def _fmt(value) -> str:
    """A default as it would be written in YAML/JSON, in backticks."""
    return f"`{json.dumps(value, ensure_ascii=False)}`"


def _type(prop: dict) -> str:
    t = prop.get("type", "")
    if t == "array":
        item = prop.get("items", {})
        return f"list of {'object' if 'properties' in item else item.get('type', 'any')}"
    if t == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"map of {prop['additionalProperties'].get('type', 'any')}"
    return t


def _range(prop: dict) -> str:
    """Enum, numeric bounds, pattern and list-length constraints of one property."""
    if "enum" in prop:
        return ", ".join(f"`{v}`" for v in prop["enum"])
    lo = (f"{prop['minimum']} <=" if "minimum" in prop
          else f"{prop['exclusiveMinimum']} <" if "exclusiveMinimum" in prop else "")
    hi = (f"<= {prop['maximum']}" if "maximum" in prop
          else f"< {prop['exclusiveMaximum']}" if "exclusiveMaximum" in prop else "")
    flip = {"<=": ">=", "<": ">"}
    if lo and hi:
        parts = [f"{lo} x {hi}"]
    elif lo:  # "0 <" reads better as "> 0"
        value, op = lo.rsplit(" ", 1)
        parts = [f"{flip[op]} {value}"]
    else:
        parts = [hi] if hi else []
    if "pattern" in prop:
        parts.append(f"pattern `{prop['pattern']}`")
    if prop.get("type") == "array":
        n_min, n_max = prop.get("minItems"), prop.get("maxItems")
        if n_min is not None and n_min == n_max:
            parts.append(f"{n_min} items")
        item = _range(prop.get("items", {}))
        if item and "properties" not in prop.get("items", {}):
            parts.append(f"each {item}")
    return "; ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(props: dict, required=()) -> list[str]:
    lines = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for name, prop in props.items():
        default = _fmt(prop["default"]) if "default" in prop else ("required" if name in required else "")
        lines.append(f"| `{name}` | {_type(prop)} | {default} | {_cell(_range(prop))} | {_cell(prop.get('description', ''))} |")
    return lines


def _sections(props: dict, path: str = "", desc: str = "", required=()) -> list[tuple]:
    """(title, description, leaf properties, required names) of this level, then of every nested object."""
    leaves = {k: v for k, v in props.items() if "properties" not in v and "properties" not in v.get("items", {})}
    out = [(path, desc, leaves, tuple(required))]
    for name, prop in props.items():
        sub = f"{path}.{name}" if path else name
        if "properties" in prop:
            out += _sections(prop["properties"], sub, prop.get("description", ""), prop.get("required", ()))
        elif "properties" in prop.get("items", {}):
            item = prop["items"]
            text = prop.get("description") or "A list of objects with the keys below"
            text += f" (default {_fmt(prop.get('default', []))})."
            out += _sections(item["properties"], f"{sub}[]", text, item.get("required", ()))
    return out


def reference(schema: dict) -> str:
    """The Markdown reference of a loaded schema dict (every key, nested by section)."""
    lines = [HEADER]
    for title, desc, leaves, required in _sections(schema["properties"]):
        lines.append(f"## `{title}`" if title else "## Top level")
        lines.append("")
        if desc:
            lines += [desc, ""]
        if leaves:
            lines += _table(leaves, required) + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def load_schema(path: str = SCHEMA_PATH) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schema", default=SCHEMA_PATH, help="schema YAML (default: config/config.schema.yaml)")
    ap.add_argument("--out", help="write here (e.g. docs/config.md) instead of printing")
    args = ap.parse_args(argv)
    text = reference(load_schema(args.schema))
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
