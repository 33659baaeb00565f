"""diagnostics.files.write_atomically: whole or not at all, keeping the file's mode."""

from __future__ import annotations

import os
import stat

import pytest

import diagnostics
from diagnostics.files import write_atomically


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_text_and_bytes_are_written_whole(tmp_path):
    path = tmp_path / "out.json"
    write_atomically(path, "{}\n")
    assert path.read_text() == "{}\n"
    write_atomically(str(path), b"\x00\x01", durable=False)
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["out.json"]  # no temporary file left


@pytest.mark.skipif(os.name != "posix", reason="permission bits are POSIX")
def test_an_existing_files_mode_is_kept_and_a_new_one_follows_the_umask(tmp_path):
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o640)
    write_atomically(kept, "new")
    assert _mode(kept) == 0o640
    new = tmp_path / "new.txt"
    mask = os.umask(0o022)
    try:
        write_atomically(new, "x")
    finally:
        os.umask(mask)
    assert _mode(new) == 0o644  # not the 600 of a temporary file


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    path.write_text("old")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["progress.json"]


def test_a_missing_folder_is_an_error_not_a_new_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_atomically(tmp_path / "missing" / "out.json", "{}")
    assert not (tmp_path / "missing").exists()


def test_the_writer_is_exported_by_the_package():
    assert diagnostics.write_atomically is write_atomically
    assert diagnostics.files.write_atomically is write_atomically
