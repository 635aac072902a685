"""The package's shape: no import circle between subpackages, a neutral base layer,
no configuration read as a raw dict (defaults live only in the schema)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "dsa110_contimg")
# modules every stage may use; they import no subpackage
BASE = {"settings", "startup_cache", "config", "sky", "kernels", "msmeta", "geometry", "astrometry", "provenance", "atomic",
        "logutil", "bands", "casa_env", "uvh5_io"}
# names that held raw config dicts before the typed settings
CONFIG_NAMES = {"cfg", "config", "icfg", "pcfg", "cal_cfg", "conv", "tel", "sim", "cc", "cat_cfg"}


def _modules():
    for root, _dirs, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(root, f)
                rel = os.path.relpath(path, PKG)[:-3].replace(os.sep, ".")
                yield rel.removesuffix(".__init__"), path


def _unit(modname: str) -> str:
    """The subpackage (or top-level module) a module belongs to."""
    return modname.split(".")[0]


def _imports(modname: str, path: str) -> set[str]:
    """Package-internal modules ``modname`` imports (anywhere in the file, local imports included)."""
    with open(path) as fh:
        tree = ast.parse(fh.read())
    pkg_parts = modname.split(".")
    if not path.endswith("__init__.py"):
        pkg_parts = pkg_parts[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - (node.level - 1)] if node.level > 1 else pkg_parts
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import x
                    out.update(".".join(base + [a.name]) for a in node.names)
                    continue
            elif node.module and node.module.startswith("dsa110_contimg"):
                target = node.module.removeprefix("dsa110_contimg").lstrip(".")
            else:
                continue
            if target:
                out.add(target)
        elif isinstance(node, ast.Import):
            out.update(a.name.removeprefix("dsa110_contimg.") for a in node.names if a.name.startswith("dsa110_contimg."))
    return out


def _graph() -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    for mod, path in _modules():
        u = _unit(mod)
        g.setdefault(u, set()).update(_unit(t) for t in _imports(mod, path) if _unit(t) != u)
    return g


def _cycle(g: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        state[n] = 2
        stack.pop()
        return None

    for n in sorted(g):
        if n not in state and (c := visit(n)):
            return c
    return None


def test_cycle_detector_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_between_subpackages():
    g = _graph()
    assert "imaging" in g and "calibration" in g
    assert _cycle(g) is None, f"import cycle: {' -> '.join(_cycle(g))}"


def test_base_layer_imports_no_stage():
    g = _graph()
    for base in BASE:
        stages = {t for t in g.get(base, ()) if t not in BASE}
        assert not stages, f"base module {base} imports stage(s) {sorted(stages)}"


def test_stages_import_in_a_fresh_interpreter():
    res = subprocess.run([sys.executable, "-c", "import dsa110_contimg.imaging, dsa110_contimg.calibration, "
                          "dsa110_contimg.photometry, dsa110_contimg.conversion, dsa110_contimg.simulate, "
                          "dsa110_contimg.catalog, dsa110_contimg.selection"], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


def test_no_raw_config_dicts_in_the_package():
    """No ``cfg["key"]`` look-ups or ``cfg.get(key, default)`` in the package: sections are typed."""
    bad = []
    for mod, path in _modules():
        if mod in ("config", "settings"):
            continue
        with open(path) as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in CONFIG_NAMES \
                    and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                bad.append(f"{mod}:{node.lineno} {node.value.id}[{node.slice.value!r}]")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in CONFIG_NAMES and len(node.args) == 2:
                bad.append(f"{mod}:{node.lineno} {node.func.value.id}.get(...)")
    assert not bad, "raw config look-ups:\n" + "\n".join(bad)
