"""Whose frame is it: one rule (is_user_frame), library folders declared or added at run time."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap

import pytest

import diagnostics
from diagnostics import _location
from diagnostics._location import (
    ENTRY_POINT_GROUP,
    display_path,
    is_user_file,
    is_user_frame,
    user_location,
)


@pytest.fixture
def fresh_folders(monkeypatch):
    """Library folders recomputed for the test, and restored after it."""
    monkeypatch.setattr(_location, "_added", set())
    monkeypatch.setattr(_location, "_library", None)
    monkeypatch.setattr(_location, "_user_file", {})


def _helper_module(folder, name="helper"):
    """A module in ``folder`` whose function asks for the user's location."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from diagnostics._location import user_location

            def where():
                return user_location()
            """
        )
    )
    sys.path.insert(0, str(folder))
    try:
        module = __import__(name)
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop(name, None)
    return module


def test_a_frame_in_an_added_library_folder_is_not_the_users(tmp_path, fresh_folders):
    helper = _helper_module(tmp_path / "lib", "helper_added")
    assert helper.where().file == display_path(helper.__file__)  # the user's, by default
    diagnostics.add_library_folder(tmp_path / "lib")
    location = helper.where()
    assert location.file.endswith("test_location.py")  # the call into the library
    assert not is_user_file(helper.__file__)


def test_adding_a_folder_that_does_not_exist_says_so(tmp_path, fresh_folders):
    with pytest.raises(NotADirectoryError, match="no such folder"):
        diagnostics.add_library_folder(tmp_path / "nowhere")


def test_the_course_tooling_is_library_code_through_its_entry_point(fresh_folders):
    import kata

    declared = {e.name for e in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert "kata" in declared
    assert not is_user_file(kata.__file__)
    assert is_user_file(__file__)


def test_a_declared_package_that_is_missing_is_skipped(tmp_path, fresh_folders, monkeypatch):
    helper = _helper_module(tmp_path / "declared_pkg", "helper_declared")
    (tmp_path / "declared_pkg" / "__init__.py").write_text("")
    entries = [
        importlib.metadata.EntryPoint("gone", "no_such_package_anywhere", ENTRY_POINT_GROUP),
        importlib.metadata.EntryPoint("bad", "..relative", ENTRY_POINT_GROUP),
        importlib.metadata.EntryPoint("here", "declared_pkg", ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(_location, "entry_points", lambda group: entries)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not is_user_file(helper.__file__)  # the declared package's folder
    assert is_user_file(__file__)


def test_a_frame_that_hides_itself_is_not_the_users():
    def hidden():
        __tracebackhide__ = True
        return sys._getframe()

    def shown():
        return sys._getframe()

    assert not is_user_frame(hidden())
    assert is_user_frame(shown())
    assert user_location().file.endswith("test_location.py")
