"""``kata new``: a kata folder, its solution folder and its shipped copy, from the template.

The template is the course's own ``katas/_template/`` (commented kata.toml, a correct
train.py, a test_kata.py). A course without one gets the small built-in files below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kata.course import shipped as _shipped
from kata.course.course import CommandError, Course
from kata.course.meta import META_FILE, TEST_FILE, load

__all__ = ["scaffold", "template_texts"]

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TEMPLATE_DIR = "katas/_template"
_SLUG = re.compile(r"[a-z][a-z0-9_]*")
_NUMBERED = re.compile(r"(\d+)_(.+)")

_BUILTIN = {
    META_FILE: """\
schema = 1
title = "Write the symptom here"
concept = "What the learner understands once the kata is solved"
codes = []  # the finding codes diagnostics report on the broken version
files = ["train.py"]
accelerator = false
hints = [
  "Gentle: where to look, as a question.",
  "Precise: what goes wrong there, and what it does to the training.",
  "Explicit: nearly the fix, in words (not the code).",
]

[interview]
question = "The question an interviewer would ask about this concept?"
answer = "A short, complete answer: the rule, why it holds, and what breaks without it."
""",
    "train.py": '''\
"""One line on what this script trains, and on what data."""

import torch
from torch import nn

import kata_fixtures as fixtures


def train(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    data = fixtures.regression(n=256, features=8, seed=seed)
    model = fixtures.MLP(8, 1, hidden=(16,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = loss_fn(model(data.x_train), data.y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"model": model, "losses": losses}


if __name__ == "__main__":
    print(train()["losses"][-1])
''',
    TEST_FILE: '''\
"""The kata's tests: what a correct training run achieves, checked in plain words."""


def test_the_training_loss_falls(kata):
    losses = kata.load("train.py").train(seed=kata.seed)["losses"]
    assert losses[-1] < 0.5 * losses[0], (
        f"The training loss went from {losses[0]:.3g} to {losses[-1]:.3g}; it should halve."
    )
''',
}


@dataclass
class Created:
    id: str
    kata_dir: Path
    solution: Path
    new_day: bool
    files: list[Path] = field(default_factory=list)


def normalize_slug(text: str) -> str:
    slug = text.strip().lower().replace("-", "_").replace(" ", "_")
    if not _SLUG.fullmatch(slug):
        raise CommandError(
            f"SLUG must be lower-case letters, digits and underscores, starting with a letter "
            f"(e.g. lr_too_high), not {text!r}."
        )
    return slug


def template_files(course: Course) -> dict[str, str]:
    """The template's files: the course's katas/_template/ or the built-in ones."""
    folder = course.root / TEMPLATE_DIR
    names = (META_FILE, "train.py", TEST_FILE)
    if all((folder / n).is_file() for n in names):
        return {n: (folder / n).read_text(encoding="utf-8") for n in names}
    return dict(_BUILTIN)


def template_texts(course: Course) -> dict[str, str]:
    """The template's placeholder texts, to spot a kata that still carries them."""
    try:
        data = tomllib.loads(template_files(course)[META_FILE])
    except tomllib.TOMLDecodeError:
        return {}
    texts: dict[str, str] = {k: str(data[k]).strip() for k in ("title", "concept") if k in data}
    texts.update({f"hints[{i}]": str(h).strip() for i, h in enumerate(data.get("hints", []))})
    interview = data.get("interview", {})
    for key in ("question", "answer"):
        if key in interview:
            texts[f"interview.{key}"] = str(interview[key]).strip()
    return texts


def scaffold(course: Course, day: int, slug_text: str) -> Created:
    """Create the kata's folders and files; refuses to touch an existing kata."""
    slug = normalize_slug(slug_text)
    day_name = f"day{day:02d}"
    day_dir = course.katas_dir / day_name
    solutions_day = course.root / "solutions" / day_name
    numbers = []
    for folder in (day_dir, solutions_day):
        for child in sorted(folder.iterdir()) if folder.is_dir() else []:
            match = _NUMBERED.fullmatch(child.name)
            if not match:
                continue
            if match.group(2) == slug:
                raise CommandError(
                    f"A kata named {slug!r} already exists: {course.relative(child)}. Pick another "
                    "slug; nothing was written."
                )
            numbers.append(int(match.group(1)))
    name = f"{max(numbers, default=0) + 1:02d}_{slug}"
    kata_dir, solution_dir = day_dir / name, solutions_day / name
    files = template_files(course)
    created = Created(
        f"{day_name}/{name}", kata_dir, solution_dir / "train.py", new_day=not day_dir.is_dir()
    )
    kata_dir.mkdir(parents=True)  # fails if a race created it: never overwrite
    solution_dir.mkdir(parents=True, exist_ok=True)
    for file_name, text in files.items():
        created.files.append(_write_new(kata_dir / file_name, text))
    created.files.append(_write_new(created.solution, files["train.py"]))
    if created.new_day and not (day_dir / "README.md").exists():
        created.files.append(_write_new(day_dir / "README.md", f"# Day {day}\n\n"))
    created.files.extend(_shipped.ship(load(kata_dir)))
    return created


def _write_new(path: Path, text: str) -> Path:
    with path.open("x", encoding="utf-8") as fh:  # "x": never overwrite a file
        fh.write(text)
    return path
