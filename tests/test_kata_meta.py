"""kata.toml: loading, validation messages that name the file and the field, discovery, lookup."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import kata
from kata import KataMetaError, KataNotFoundError

REPO = Path(__file__).resolve().parents[1]

VALID: dict[str, Any] = {
    "schema": 1,
    "title": "Gradients that pile up",
    "concept": "optimizer.zero_grad() clears the previous batch's gradients",
    "codes": ["grad-accumulation"],
    "files": ["train.py"],
    "accelerator": False,
    "hints": ["gentle", "precise", "explicit"],
    "interview": {"question": "Why zero_grad?", "answer": "backward() accumulates."},
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # JSON strings, numbers and lists of strings are valid TOML


def write_kata(root: Path, kata_id: str, *, drop: tuple[str, ...] = (), **changes: Any) -> Path:
    """A kata folder under root/katas with VALID metadata, changed as asked."""
    data = {**VALID, **changes}
    folder = root / "katas" / kata_id
    folder.mkdir(parents=True)
    lines, tables = [], []
    for key, value in data.items():
        if key in drop:
            continue
        if isinstance(value, dict):
            tables.append(f"[{key}]")
            tables += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    (folder / "kata.toml").write_text("\n".join(lines + tables) + "\n")
    (folder / "train.py").write_text("def train(seed=0):\n    return {}\n")
    (folder / "test_kata.py").write_text("def test_it(kata):\n    pass\n")
    return folder


def error_of(folder: Path) -> KataMetaError:
    with pytest.raises(KataMetaError) as info:
        kata.load_meta(folder)
    return info.value


# -- loading -----------------------------------------------------------------------------------


def test_a_valid_kata_loads_with_its_id_day_number_and_slug(tmp_path):
    folder = write_kata(tmp_path, "day11/01_zero_grad")
    meta = kata.load_meta(folder)
    assert (meta.id, meta.day, meta.number, meta.slug) == ("day11/01_zero_grad", 11, 1, "zero_grad")
    assert meta.codes == ("grad-accumulation",)
    assert meta.files == ("train.py",)
    assert meta.hints == ("gentle", "precise", "explicit")
    assert meta.interview_question == "Why zero_grad?"
    assert meta.accelerator is False
    assert meta.dir == folder
    assert meta.solution_dir == tmp_path / "solutions" / "day11" / "01_zero_grad"


def test_loading_accepts_the_kata_toml_path_as_well_as_the_folder(tmp_path):
    folder = write_kata(tmp_path, "day11/01_zero_grad")
    assert kata.load_meta(folder / "kata.toml") == kata.load_meta(folder)


def test_accelerator_is_optional_and_false_by_default(tmp_path):
    meta = kata.load_meta(write_kata(tmp_path, "day11/01_zero_grad", drop=("accelerator",)))
    assert meta.accelerator is False


def test_the_time_budget_is_60_seconds_unless_the_kata_says_otherwise(tmp_path):
    assert kata.load_meta(write_kata(tmp_path, "day11/01_zero_grad")).timeout == 60.0
    assert kata.load_meta(write_kata(tmp_path, "day11/02_slow", timeout=120)).timeout == 120.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("60", "expected a number of seconds, got '60'"), (0, "more than 0"), (-1, "more than 0"),
     (True, "expected a number of seconds, got True"), (7200, "at most 3600 seconds")],
)  # fmt: skip
def test_the_time_budget_is_a_positive_number_of_seconds(tmp_path, value, expected):
    error = error_of(write_kata(tmp_path, "day11/01_zero_grad", timeout=value))
    assert error.field == "timeout"
    assert expected in str(error)


def test_an_error_names_the_file_and_the_field(tmp_path):
    folder = write_kata(tmp_path, "day11/01_zero_grad", drop=("title",))
    error = error_of(folder)
    assert error.path == folder / "kata.toml"
    assert error.field == "title"
    assert str(error).startswith(f"{folder / 'kata.toml'}: field 'title': missing")


def test_an_unknown_finding_code_suggests_the_closest_one(tmp_path):
    error = error_of(write_kata(tmp_path, "day11/01_zero_grad", codes=["grad-acumulation"]))
    assert error.field == "codes"
    assert "unknown finding code 'grad-acumulation'" in str(error)
    assert "Did you mean 'grad-accumulation'?" in str(error)


def test_a_misspelt_field_suggests_the_right_name(tmp_path):
    folder = write_kata(tmp_path, "day11/01_zero_grad", drop=("hints",), hint=["a", "b", "c"])
    error = error_of(folder)
    assert error.field == "hint"
    assert "Did you mean 'hints'?" in str(error)


def test_a_misspelt_interview_field_is_named_with_its_table(tmp_path):
    folder = write_kata(
        tmp_path, "day11/01_zero_grad", interview={"question": "Q?", "anwser": "A."}
    )
    error = error_of(folder)
    assert error.field == "interview.anwser"
    assert "Did you mean 'answer'?" in str(error)


@pytest.mark.parametrize(
    ("hints", "expected"),
    [
        (["one", "two"], "expected exactly 3 hints"),
        (["one", "two", "three", "four"], "expected exactly 3 hints"),
        (["one", "  ", "three"], "hint 2 is empty"),
    ],
)
def test_a_kata_has_exactly_three_non_empty_hints(tmp_path, hints, expected):
    error = error_of(write_kata(tmp_path, "day11/01_zero_grad", hints=hints))
    assert error.field == "hints"
    assert expected in str(error)


def test_a_declared_file_must_exist_in_the_kata_folder(tmp_path):
    error = error_of(write_kata(tmp_path, "day11/01_zero_grad", files=["train.py", "model.py"]))
    assert error.field == "files"
    assert "'model.py' does not exist" in str(error)


@pytest.mark.parametrize("name", ["../train.py", "test_kata.py", "kata.toml"])
def test_a_declared_file_is_a_learner_file_of_the_folder(tmp_path, name):
    error = error_of(write_kata(tmp_path, "day11/01_zero_grad", files=[name]))
    assert error.field == "files"
    assert "is not a learner file" in str(error)


def test_a_newer_schema_asks_for_a_newer_torch_katas(tmp_path):
    error = error_of(write_kata(tmp_path, "day11/01_zero_grad", schema=2))
    assert error.field == "schema"
    assert "newer than this torch-katas understands" in str(error)


def test_a_missing_schema_says_what_to_write(tmp_path):
    error = error_of(write_kata(tmp_path, "day11/01_zero_grad", drop=("schema",)))
    assert error.field == "schema"
    assert "schema = 1" in str(error)


def test_accelerator_must_be_true_or_false(tmp_path):
    error = error_of(write_kata(tmp_path, "day11/01_zero_grad", accelerator="yes"))
    assert error.field == "accelerator"
    assert "expected true or false, got 'yes'" in str(error)


def test_invalid_toml_is_reported_with_the_file(tmp_path):
    folder = write_kata(tmp_path, "day11/01_zero_grad")
    (folder / "kata.toml").write_text('schema = 1\ntitle = "unclosed\n')
    error = error_of(folder)
    assert error.field == "file"
    assert "not valid TOML" in str(error)


@pytest.mark.parametrize("kata_id", ["week1/01_zero_grad", "day11/zero_grad", "day11/01-Zero"])
def test_a_kata_folder_is_named_day_nn_slash_nn_slug(tmp_path, kata_id):
    error = error_of(write_kata(tmp_path, kata_id))
    assert error.field == "location"
    assert "dayNN/NN_slug" in str(error)


# -- discovery and lookup -------------------------------------------------------------------------


def test_discover_sorts_katas_by_day_then_number(tmp_path):
    for kata_id in ("day12/01_dropout", "day11/10_late", "day09/01_first", "day11/02_early"):
        write_kata(tmp_path, kata_id)
    ids = [meta.id for meta in kata.discover(tmp_path)]
    assert ids == ["day09/01_first", "day11/02_early", "day11/10_late", "day12/01_dropout"]


def test_discover_skips_folders_starting_with_an_underscore_or_a_dot(tmp_path):
    write_kata(tmp_path, "day11/01_zero_grad")
    write_kata(tmp_path, "day11/_02_draft")
    write_kata(tmp_path, "_template/01_template")
    write_kata(tmp_path, "day11/.03_hidden")
    assert [meta.id for meta in kata.discover(tmp_path)] == ["day11/01_zero_grad"]


def test_discover_accepts_the_katas_folder_itself(tmp_path):
    write_kata(tmp_path, "day11/01_zero_grad")
    assert [m.id for m in kata.discover(tmp_path / "katas")] == ["day11/01_zero_grad"]


def test_discover_reports_the_first_invalid_kata(tmp_path):
    write_kata(tmp_path, "day11/01_zero_grad")
    write_kata(tmp_path, "day11/02_broken", hints=["only one"])
    with pytest.raises(KataMetaError, match="02_broken"):
        kata.discover(tmp_path)


@pytest.fixture
def course(tmp_path):
    write_kata(tmp_path, "day11/01_zero_grad")
    write_kata(tmp_path, "day11/02_scheduler_order")
    write_kata(tmp_path, "day12/01_dropout_in_eval")
    return tmp_path


@pytest.mark.parametrize(
    "name",
    ["day11/01_zero_grad", "day11/01", "01_zero_grad", "zero_grad", "katas/day11/01_zero_grad/"],
)
def test_find_accepts_an_id_a_day_and_number_a_folder_name_or_a_slug(course, name):
    assert kata.find(course, name).id == "day11/01_zero_grad"


def test_find_accepts_a_path_to_the_kata_or_a_file_in_it(course):
    folder = course / "katas" / "day12" / "01_dropout_in_eval"
    assert kata.find(course, folder).id == "day12/01_dropout_in_eval"
    assert kata.find(course, folder / "train.py").id == "day12/01_dropout_in_eval"


def test_find_suggests_close_names_when_nothing_matches(course):
    with pytest.raises(KataNotFoundError, match=r"Did you mean day11/01_zero_grad\?"):
        kata.find(course, "zero_gard")


def test_find_says_when_a_name_matches_several_katas(course):
    write_kata(course, "day12/02_zero_grad")
    with pytest.raises(KataNotFoundError, match="names several katas") as info:
        kata.find(course, "zero_grad")
    assert "day11/01_zero_grad, day12/02_zero_grad" in str(info.value)


# -- the template ---------------------------------------------------------------------------------


def test_the_template_is_a_valid_kata_once_copied_into_a_day_folder(tmp_path):
    target = tmp_path / "katas" / "day99" / "01_template"
    shutil.copytree(REPO / "katas" / "_template", target)
    meta = kata.load_meta(target)
    assert meta.id == "day99/01_template"
    assert len(meta.hints) == 3
    assert meta.files == ("train.py",)


def test_the_template_folder_is_not_discovered_as_a_kata(tmp_path):
    shutil.copytree(REPO / "katas" / "_template", tmp_path / "katas" / "_template")
    write_kata(tmp_path, "day11/01_zero_grad")
    assert [meta.id for meta in kata.discover(tmp_path)] == ["day11/01_zero_grad"]


# -- solution_may_change ------------------------------------------------------------------------
def test_a_kata_allows_no_changed_constant_unless_it_says_so(tmp_path):
    assert kata.load_meta(write_kata(tmp_path, "day11/01_x")).solution_may_change == ()
    allowed = write_kata(tmp_path, "day11/02_y", solution_may_change=["lr", "EPOCHS"])
    assert kata.load_meta(allowed).solution_may_change == ("lr", "EPOCHS")
    anything = write_kata(tmp_path, "day11/03_z", solution_may_change=["*"])
    assert kata.load_meta(anything).solution_may_change == ("*",)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("lr", "expected a list of strings, got 'lr'"),
        (["learning rate"], "'learning rate' is not a name"),
        (["0.1"], "'0.1' is not a name"),
    ],
)
def test_solution_may_change_names_constants(tmp_path, value, words):
    error = error_of(write_kata(tmp_path, "day11/01_x", solution_may_change=value))
    assert error.field == "solution_may_change"
    assert words in str(error)
