"""The documentation stays true: the config reference matches the schema, the README is a
short manual whose `make` targets exist and whose links resolve."""

from __future__ import annotations

import glob
import os
import re

import pytest

from dsa110_contimg.config_reference import load_schema, reference

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")
DOCS = sorted(glob.glob(os.path.join(REPO, "docs", "*.md")))
REGENERATE = ".venv/bin/python -m dsa110_contimg.config_reference --out docs/config.md"


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def test_config_reference_matches_schema():
    path = os.path.join(REPO, "docs", "config.md")
    expected = reference(load_schema())
    assert os.path.isfile(path), f"docs/config.md is missing; generate it with: {REGENERATE}"
    assert _read(path) == expected, f"docs/config.md is out of date with config/config.schema.yaml; regenerate it with: {REGENERATE}"


def test_config_reference_names_every_key():
    """Every schema key at any depth: a table row for a value, a heading for a section."""
    text = reference(load_schema())

    def missing(props, path=""):
        for name, prop in props.items():
            sub = f"{path}.{name}" if path else name
            items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
            if "properties" in prop:
                yield from ([] if f"## `{sub}`" in text else [sub])
                yield from missing(prop["properties"], sub)
            elif "properties" in items:
                yield from ([] if f"## `{sub}[]`" in text else [sub])
                yield from missing(items["properties"], f"{sub}[]")
            elif f"| `{name}` |" not in text:
                yield sub

    assert not list(missing(load_schema()["properties"]))


def test_readme_is_short():
    n = len(_read(README).splitlines())
    assert n <= 160, f"README.md has {n} lines; keep it a short manual (<= 160) and move detail to docs/"


def _code_spans(markdown: str) -> list[str]:
    """Fenced code blocks and inline code spans."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.S | re.M)
    rest = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.S | re.M)
    return fenced + re.findall(r"`([^`\n]+)`", rest)


def _make_targets() -> set[str]:
    rule = re.compile(r"^([A-Za-z0-9_.-]+)\s*:(?!=)")
    return {m.group(1) for line in _read(os.path.join(REPO, "Makefile")).splitlines() if (m := rule.match(line))}


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: os.path.relpath(p, REPO))
def test_make_targets_named_in_docs_exist(path):
    targets = _make_targets()
    named = {t for span in _code_spans(_read(path)) for t in re.findall(r"(?<![\w./-])make\s+([a-z][\w-]*)(?![\w=])", span)}
    unknown = sorted(named - targets)
    assert not unknown, f"{os.path.relpath(path, REPO)} names make target(s) {unknown} that the Makefile lacks"


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: os.path.relpath(p, REPO))
def test_relative_links_resolve(path):
    text = re.sub(r"^```[^\n]*\n.*?^```", "", _read(path), flags=re.S | re.M)
    links = re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", text)
    broken = []
    for link in links:
        if re.match(r"^[a-z][a-z0-9+.-]*:", link) or link.startswith("#"):
            continue  # URL or in-page anchor
        target = os.path.normpath(os.path.join(os.path.dirname(path), link.split("#", 1)[0]))
        if not os.path.exists(target):
            broken.append(link)
    assert not broken, f"{os.path.relpath(path, REPO)}: links to missing files {broken}"
