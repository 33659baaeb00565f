"""The packages' architecture: no import cycle, no upward arrow, no reach-in, short modules.

Imports are read from the source with ``ast``, every one of them: at the top of a module,
inside functions (a deferred import is still an arrow) and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from diagnostics import CATALOGUE

ROOT = Path(__file__).resolve().parent.parent
# The packages held to these rules: the diagnostics, and the course tooling built on them.
PACKAGES = ["diagnostics", "kata"]
# The project's own top-level packages: their private names are theirs alone.
FIRST_PARTY = ("diagnostics", "kata", "fixtures", "kata_fixtures")
MAX_LINES = 700

# Each package's layers, lowest first: a module imports only from its own layer or lower ones.
# A name ending in ".*" covers a subpackage. A package without an entry is held to the other
# rules only.
LAYERS: dict[str, list[list[str]]] = {
    "diagnostics": [
        ["diagnostics.files", "diagnostics._catalogue"],  # the standard library only
        ["diagnostics._findings"],  # the data
        ["diagnostics._location", "diagnostics._render"],  # places in code; rendering
        ["diagnostics._checks.*"],  # the families of checks
        # what the engine's patches need to stay out of the way; where a thread's events go
        ["diagnostics._patching", "diagnostics._routes"],
        ["diagnostics._engine"],  # the global hooks, fed by the watches
        ["diagnostics._watch"],  # a watch: composes the checks and the engine
        ["diagnostics._processes", "diagnostics._ipython"],
        ["diagnostics._cli", "diagnostics._pytest_plugin"],
        ["diagnostics", "diagnostics.__main__"],  # the public face
    ],
    # The rooms of kata/ (docs/architecture.md): a new room goes on the lowest layer its
    # imports allow.
    "kata": [
        ["kata.atomic", "kata.accelerator.*", "kata.faults.*"],
        ["kata.course.*", "kata.report"],
        ["kata.plugin.*", "kata.drill.*"],
        ["kata.running.*"],
        ["kata.grading.*", "kata.authoring.*"],
        ["kata.cli.*"],
        ["kata"],  # the package's door, on top
    ],
}


@dataclass(frozen=True)
class Arrow:
    source: str  # the importing module
    target: str  # the imported module
    name: str | None  # the name imported from it (``from target import name``)
    line: int

    def __str__(self) -> str:
        what = f"{self.target}.{self.name}" if self.name else self.target
        return f"{self.source} line {self.line} imports {what}"


def modules(package: str) -> dict[str, Path]:
    """Every module of ``package``: dotted name -> file."""
    base = ROOT / package
    out = {}
    for path in sorted(base.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(source: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = source.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def arrows(package: str) -> Iterator[Arrow]:
    """Every import of every module of ``package``, wherever it sits in the module."""
    mods = modules(package)
    for source, path in mods.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield Arrow(source, alias.name, None, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(source, is_package, node)
                for alias in node.names:
                    if f"{target}.{alias.name}" in mods:  # a submodule, not a name
                        yield Arrow(source, f"{target}.{alias.name}", None, node.lineno)
                    else:
                        yield Arrow(source, target, alias.name, node.lineno)


def internal_graph(package: str) -> dict[str, set[str]]:
    mods = modules(package)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for arrow in arrows(package):
        if arrow.target in mods and arrow.target != arrow.source:
            graph[arrow.source].add(arrow.target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (its modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def layer_of(package: str, module: str) -> int | None:
    for i, layer in enumerate(LAYERS[package]):
        for pattern in layer:
            if module == pattern or (
                pattern.endswith(".*")
                and (module == pattern[:-2] or module.startswith(pattern[:-1]))
            ):
                return i
    return None


# -- the rules -------------------------------------------------------------------------------------


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_one_that_imports_it_back(package):
    cycle = find_cycle(internal_graph(package))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_from_a_layer_above_its_own(package):
    if package not in LAYERS:
        pytest.skip(f"no layers declared for {package}")
    unplaced = [m for m in modules(package) if layer_of(package, m) is None]
    assert not unplaced, f"place these modules in LAYERS[{package!r}]: {unplaced}"
    mods = modules(package)
    upward = [
        str(a)
        for a in arrows(package)
        if a.target in mods
        and a.target != a.source
        and layer_of(package, a.target) > layer_of(package, a.source)  # type: ignore[operator]
    ]
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_another_modules_private_name(package):
    reach_ins = [
        str(a)
        for a in arrows(package)
        if a.name is not None
        and a.name.startswith("_")
        and not a.name.startswith("__")
        and a.target.split(".")[0] in FIRST_PARTY
        and a.target != a.source
    ]
    assert not reach_ins, "private names imported across modules:\n" + "\n".join(reach_ins)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_is_under_the_line_limit(package):
    long = {
        m: n
        for m, path in modules(package).items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


# -- the rules catch what they are for -----------------------------------------------------------


def test_the_cycle_finder_finds_a_cycle_and_passes_a_tree():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_imports_inside_functions_and_type_checking_blocks_are_arrows(tmp_path, monkeypatch):
    pkg = tmp_path / "probe_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .high import Thing\n"
        "def f():\n    from .high import _secret\n"
    )
    (pkg / "high.py").write_text("from . import low\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    found = {(a.source, a.target, a.name) for a in arrows("probe_pkg")}
    assert ("probe_pkg.low", "probe_pkg.high", "Thing") in found
    assert ("probe_pkg.low", "probe_pkg.high", "_secret") in found
    assert ("probe_pkg.high", "probe_pkg.low", None) in found
    assert find_cycle(internal_graph("probe_pkg")) is not None


# -- each finding code lives in the module of its family -----------------------------------------

CHECKS = ROOT / "diagnostics" / "_checks"


def _family_of(path: Path) -> str:
    """The family a module of diagnostics/_checks belongs to: its name, or its subpackage's."""
    return path.relative_to(CHECKS).parts[0].removesuffix(".py")


def _codes_named_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in CATALOGUE
    }


def _emitters() -> dict[str, set[Path]]:
    out: dict[str, set[Path]] = {}
    for path in CHECKS.rglob("*.py"):
        for code in _codes_named_in(path):
            out.setdefault(code, set()).add(path)
    return out


def test_each_code_is_emitted_by_the_module_of_its_catalogued_family():
    emitters = _emitters()
    wrong = {
        code: sorted(str(p.relative_to(ROOT)) for p in paths)
        for code, paths in emitters.items()
        if any(_family_of(p) != CATALOGUE[code].family for p in paths)
    }
    assert not wrong, f"codes named outside their family's module: {wrong}"
    assert set(emitters) == set(CATALOGUE), "codes no check module names: " + ", ".join(
        sorted(set(CATALOGUE) - set(emitters))
    )


def test_the_findings_doc_files_each_code_under_the_module_that_emits_it():
    """docs/findings.md sections name their modules: ``## gradients (`diagnostics/...`)``."""
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    documented: dict[str, list[str]] = {}
    paths: list[str] = []
    for line in text.splitlines():
        if line.startswith("## "):
            named = re.findall(r"`([^`]+)`", line)
            # "`diagnostics/_checks/devices.py`, `shapes.py`": a bare name is a sibling
            paths = [
                p if p.startswith("diagnostics/") else f"{Path(named[0]).parent.as_posix()}/{p}"
                for p in named
            ]
        for code in re.findall(r"^\*\*`([a-z-]+)`\*\*", line):
            documented[code] = paths
    assert set(documented) == set(CATALOGUE)
    emitters = _emitters()
    for code, where in documented.items():
        for path in emitters[code]:
            rel = path.relative_to(ROOT).as_posix()
            assert any(rel == w or rel.startswith(w.rstrip("/") + "/") for w in where), (
                f"{code} is emitted in {rel}, but docs/findings.md files it under {where}"
            )


def test_each_family_class_names_its_catalogue_family():
    from diagnostics import ALL_CHECKS

    families = {info.family for info in CATALOGUE.values()}
    assert {cls.family for cls in ALL_CHECKS} == families
    for cls in ALL_CHECKS:
        assert cls.__module__.split(".")[2] == cls.family, cls


# -- the watch is driven through its public API ------------------------------------------------

_WATCH_PRIVATES = {"_checks", "_broken", "_active", "_thread", "_families", "_internal_error"}


def test_only_the_watch_touches_its_own_state_and_nobody_calls_its_dunders():
    """The plugins, the CLI and the engine use start()/stop()/active/handlers(), not
    ``w.__enter__()`` or ``w._checks``."""
    found = []
    for module, path in modules("diagnostics").items():
        if module == "diagnostics._watch":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute):
                continue
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if node.attr in _WATCH_PRIVATES and owner not in ("self", "cls"):
                found.append(f"{module} line {node.lineno}: .{node.attr}")
            if node.attr in ("__enter__", "__exit__"):
                found.append(f"{module} line {node.lineno}: .{node.attr}")
    assert not found, "reach-ins into a watch:\n" + "\n".join(found)


def test_every_kata_room_says_what_it_holds_and_may_import():
    rooms = [p for p in (ROOT / "kata").glob("*/__init__.py")]
    assert len(rooms) >= 8
    for path in rooms:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert "import" in doc.lower(), (
            f"{path}: the docstring says what the room holds and imports"
        )
