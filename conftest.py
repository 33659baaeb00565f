"""Run from a source checkout without installing: load the project's pytest plugins."""

import importlib.metadata
import importlib.util

# Installed, the entry points load these plugins; from a bare checkout they are loaded here.
_installed = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
pytest_plugins = ["pytester"] + [
    name
    for name in ("diagnostics._pytest_plugin", "kata.plugin.hooks")
    if name not in _installed and importlib.util.find_spec(name) is not None
]


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite golden output files")
    parser.addoption(
        "--course-seeds",
        type=int,
        default=1,
        metavar="N",
        help="check every kata's contract and wrong fixes with seeds 0..N-1 (default 1; CI and "
        "'kata validate' use 3)",
    )
