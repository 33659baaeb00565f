"""The kata package's house rules, read from its source: rooms in layers, no import cycle, no
private name taken across modules, no module over 700 lines.

Every import counts, including those inside functions: a lazy import is still an arrow. The
rules are checked on kata/ itself and, both ways, on small packages made to break them.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

KATA = Path(__file__).resolve().parent.parent / "kata"
MAX_LINES = 700

# The rooms of kata/, bottom to top. A room imports only rooms of a lower layer (never one of
# its own layer, never one above); the package's own __init__ (``kata``) is the door on top.
# A new room is added here, on the lowest layer its imports allow.
LAYERS: list[set[str]] = [
    {"kata.atomic", "kata.accelerator", "kata.faults"},
    {"kata.course", "kata.report"},
    {"kata.plugin", "kata.drill"},
    {"kata.running"},
    {"kata.grading", "kata.authoring"},
    {"kata.cli"},
]


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (a submodule when the name is one)
    name: str | None  # the name taken from it, None for a whole module
    line: int

    def where(self, modules: dict[str, Path]) -> str:
        return f"{modules[self.source]}:{self.line}"


def modules_of(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``, by dotted name."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def imports_of(modules: dict[str, Path]) -> list[Import]:
    """Every import between the modules, wherever it sits in the file."""
    package = next(iter(modules)).split(".")[0]
    found = []
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [
                    Import(name, alias.name, None, node.lineno)
                    for alias in node.names
                    if alias.name.split(".")[0] == package
                ]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                if target.split(".")[0] != package:
                    continue
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    if submodule in modules:
                        found.append(Import(name, submodule, None, node.lineno))
                    else:
                        found.append(Import(name, target, alias.name, node.lineno))
    return found


def room_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def cycles(modules: dict[str, Path], imports: list[Import]) -> list[list[str]]:
    """The import cycles between modules, each as the path that closes it."""
    arrows: dict[str, set[str]] = {m: set() for m in modules}
    for imp in imports:
        if imp.target in modules and imp.target != imp.source:
            arrows[imp.source].add(imp.target)
    found, done, path = [], set(), []

    def visit(module: str) -> None:
        if module in path:
            found.append([*path[path.index(module) :], module])
            return
        if module in done:
            return
        path.append(module)
        for target in sorted(arrows[module]):
            visit(target)
        path.pop()
        done.add(module)

    for module in sorted(modules):
        visit(module)
    return found


def wrong_way(modules: dict[str, Path], imports: list[Import], layers: list[set[str]]) -> list[str]:
    """Imports between rooms that do not go down a layer; rooms missing from the layers."""
    package = next(iter(modules)).split(".")[0]
    level = {room: i for i, rooms in enumerate(layers) for room in rooms}
    level[package] = len(layers)  # the package's door sits on top
    problems = [
        f"{room}: a room missing from the layers; add it to LAYERS"
        for room in sorted({room_of(m) for m in modules} - set(level))
    ]
    for imp in imports:
        src, dst = room_of(imp.source), room_of(imp.target)
        if src == dst or src not in level or dst not in level:
            continue
        if level[dst] >= level[src]:
            how = "up" if level[dst] > level[src] else "across its layer"
            problems.append(f"{imp.where(modules)}: {imp.source} imports {imp.target} ({how})")
    return problems


def private_reaches(modules: dict[str, Path], imports: list[Import]) -> list[str]:
    """Private names (``_x``) one module takes from another, by import or by attribute."""
    problems = [
        f"{imp.where(modules)}: {imp.source} imports {imp.name} from {imp.target}"
        for imp in imports
        if imp.name and _private(imp.name) and imp.target != imp.source
    ]
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        aliases = {
            alias.asname or alias.name: alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
            if any(m.endswith("." + alias.name) for m in modules)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and _private(node.attr)
            ):
                problems.append(f"{path}:{node.lineno}: {name} reads {node.value.id}.{node.attr}")
    return problems


def long_modules(modules: dict[str, Path]) -> list[str]:
    return [
        f"{path}: {n} lines (at most {MAX_LINES}); cut it along a seam"
        for path in modules.values()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    ]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


# -- kata/ keeps the rules ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kata_modules() -> dict[str, Path]:
    return modules_of(KATA)


def test_kata_has_no_import_cycle(kata_modules):
    assert cycles(kata_modules, imports_of(kata_modules)) == []


def test_kata_rooms_import_only_rooms_below_them(kata_modules):
    assert wrong_way(kata_modules, imports_of(kata_modules), LAYERS) == []
    assert len(LAYERS) <= 6


def test_no_kata_module_takes_another_modules_private_names(kata_modules):
    assert private_reaches(kata_modules, imports_of(kata_modules)) == []


def test_no_kata_module_is_over_700_lines(kata_modules):
    assert long_modules(kata_modules) == []


def test_every_kata_room_says_what_it_holds_and_may_import(kata_modules):
    rooms = [p for n, p in kata_modules.items() if p.name == "__init__.py" and n.count(".") == 1]
    assert len(rooms) >= 8
    for path in rooms:
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert "import" in doc.lower(), (
            f"{path}: the docstring says what the room holds and imports"
        )


# -- the rules fire on a package that breaks them, and not on look-alikes -------------------------
def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    root = tmp_path / "pkg"
    for name, text in {"__init__.py": '"""Door."""\n', **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return modules_of(root)


def test_a_cycle_held_by_an_import_inside_a_function_is_found(tmp_path):
    modules = _package(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/a.py": "def f():\n    from .b import g\n    return g\n",
            "low/b.py": "from pkg.low.a import f\n\ndef g():\n    return f\n",
        },
    )
    assert cycles(modules, imports_of(modules)) == [["pkg.low.a", "pkg.low.b", "pkg.low.a"]]


def test_one_way_imports_are_no_cycle(tmp_path):
    modules = _package(
        tmp_path,
        {"a.py": "from . import b\nfrom .b import g\n", "b.py": "import os\n\ndef g(): ...\n"},
    )
    assert cycles(modules, imports_of(modules)) == []


def test_an_import_up_or_across_a_layer_is_named_with_its_line(tmp_path):
    modules = _package(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/x.py": "import os\n\ndef f():\n    from pkg.high.y import g\n",
            "mid/__init__.py": "from ..side import z\n",
            "side.py": "",
            "high/__init__.py": "",
            "high/y.py": "from pkg.low.x import f\n\ndef g(): ...\n",
        },
    )
    layers = [{"pkg.low"}, {"pkg.mid", "pkg.side"}, {"pkg.high"}]
    problems = wrong_way(modules, imports_of(modules), layers)
    assert problems == [
        f"{modules['pkg.low.x']}:4: pkg.low.x imports pkg.high.y (up)",
        f"{modules['pkg.mid']}:1: pkg.mid imports pkg.side (across its layer)",
    ]
    unlisted = wrong_way(modules, imports_of(modules), layers[:2])
    assert "pkg.high: a room missing from the layers; add it to LAYERS" in unlisted


def test_a_private_name_from_another_module_is_found_by_import_and_by_attribute(tmp_path):
    modules = _package(
        tmp_path,
        {
            "a.py": "_SECRET = 1\n__version__ = '1'\n\ndef shown(): ...\n",
            "b.py": "from .a import _SECRET, __version__, shown\n",
            "c.py": "from pkg import a\nfrom os import _exit\n\nx = a._SECRET + a.shown()\n",
        },
    )
    assert private_reaches(modules, imports_of(modules)) == [
        f"{modules['pkg.b']}:1: pkg.b imports _SECRET from pkg.a",
        f"{modules['pkg.c']}:4: pkg.c reads a._SECRET",
    ]


def test_a_module_over_700_lines_is_named(tmp_path):
    modules = _package(tmp_path, {"long.py": "x = 1\n" * 701, "fits.py": "x = 1\n" * 700})
    assert long_modules(modules) == [
        f"{modules['pkg.long']}: 701 lines (at most 700); cut it along a seam"
    ]
