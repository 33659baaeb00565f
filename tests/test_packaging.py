"""What the project installs: every package of the source tree, and no top-level name that
shadows a well-known PyPI package (the fixtures/ folder installs as ``kata_fixtures``)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"
]


def _source_packages(name: str, folder: Path) -> set[str]:
    """``name`` and its subpackages: the folders under ``folder`` that hold an __init__.py."""
    return {
        ".".join([name, *init.parent.relative_to(folder).parts])
        for init in folder.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }


def test_every_package_of_the_source_tree_is_listed_for_the_wheel():
    # The list in pyproject.toml is explicit (a folder installs under another name, which
    # packages.find cannot do): a new subpackage left out of it would be missing from a wheel.
    expected = set()
    for name in SETUPTOOLS["packages"]:
        if "." not in name:
            folder = REPO / SETUPTOOLS.get("package-dir", {}).get(name, name)
            expected |= _source_packages(name, folder)
    assert set(SETUPTOOLS["packages"]) == expected, (
        "pyproject.toml [tool.setuptools] packages must list every package of the source tree: "
        f"add {sorted(expected - set(SETUPTOOLS['packages']))}, "
        f"remove {sorted(set(SETUPTOOLS['packages']) - expected)}"
    )


def test_the_fixtures_folder_installs_as_kata_fixtures_with_its_data():
    assert SETUPTOOLS["package-dir"] == {"kata_fixtures": "fixtures"}
    assert "fixtures" not in SETUPTOOLS["packages"]
    data = SETUPTOOLS["package-data"]["kata_fixtures"]
    for path in (REPO / "fixtures" / "data").iterdir():
        assert any(path.match(pattern) for pattern in data), f"{path.name} is not packaged"


def test_kata_fixtures_imports_from_anywhere_and_fixtures_does_not(tmp_path):
    # From a folder that holds no fixtures/ of its own, as a learner's course elsewhere would.
    code = (
        "import importlib.util, kata_fixtures\n"
        "print(kata_fixtures.digits().x_train.shape[1:])\n"
        "print(importlib.util.find_spec('fixtures'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["torch.Size([1, 8, 8])", "None"]
    assert importlib.util.find_spec("kata_fixtures") is not None
