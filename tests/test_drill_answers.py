"""Answers as people give them (kata/drill/answers.py), interview key points (kata/drill/)."""

from __future__ import annotations

import pytest

from diagnostics import CATALOGUE
from kata.drill.answers import ALIASES, EXAMPLES, NOTHING, read_answer
from kata.drill.interview import QUESTIONS, covered

CHOICES = {"a": "grad-accumulation", "b": NOTHING, "c": "device-mismatch", "d": "shape-mismatch"}


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("a", "grad-accumulation"),
        ("B)", NOTHING),
        ("grad-accumulation", "grad-accumulation"),
        ("Grad accumulation", "grad-accumulation"),
        ("zero_grad missing", "grad-accumulation"),
        ("forgot zero_grad", "grad-accumulation"),
        ("gradients accumulate across batches", "grad-accumulation"),
        ("zero_grad() is called after backward()", "grads-cleared-before-step"),
        ("forgot model.eval()", "train-mode-in-eval"),
        ("missing model.eval()", "train-mode-in-eval"),
        ("dropout on during validation", "train-mode-in-eval"),
        ("model.train() is never called again", "eval-mode-in-training"),
        ("training under no_grad", "no-grad-training"),
        ("evaluation without no_grad builds graphs", "eval-without-no-grad"),
        ("the lr is way too high, loss goes NaN", "non-finite-loss"),
        ("scheduler.step() before optimizer.step()", "scheduler-before-optimizer"),
        ("the scheduler steps every batch", "scheduler-per-batch"),
        ("Adam with weight_decay instead of AdamW", "adam-weight-decay"),
        ("best state dict is a reference, not a copy", "state-dict-alias"),
        ("the batch is left on the CPU", "device-mismatch"),
        ("forgot to call optimizer.zero_grad()", "grad-accumulation"),
        ("forgot to move the batch to the device", "device-mismatch"),
        ("lr scheduler called first", "scheduler-before-optimizer"),
        ("BatchNorm statistics updated on validation data", "train-mode-in-eval"),
        ("the eval is not under no_grad", "eval-without-no-grad"),
        ("the model is fine but the scheduler steps every batch", "scheduler-per-batch"),
        ("nothing is wrong", NOTHING),
        ("it's correct", NOTHING),
        ("nothing", NOTHING),
    ],
)
def test_a_letter_a_code_or_a_phrase_is_read_as_its_code(said, code):
    assert read_answer(said, CHOICES).codes == (code,)


def test_an_answer_naming_two_faults_is_ambiguous():
    reading = read_answer("zero_grad and model.eval() are both missing", CHOICES)
    assert set(reading.codes) == {"grad-accumulation", "train-mode-in-eval"}
    assert reading.code is None


@pytest.mark.parametrize("said", ["", "zz", "blah blah", "I have no idea", "the eval"])
def test_an_answer_that_names_no_fault_is_not_read(said):
    assert read_answer(said, CHOICES).codes == ()


def test_a_phrase_is_read_against_the_whole_catalogue_not_only_the_choices():
    # A guess of a code that is not among the choices stays that code: it is not a right answer.
    assert read_answer("softmax before cross entropy", CHOICES).codes == (
        "softmax-before-cross-entropy",
    )


def test_every_finding_code_has_phrasings_and_examples_that_read_as_it():
    assert set(ALIASES) == set(EXAMPLES) == {NOTHING, *CATALOGUE}
    for code, examples in EXAMPLES.items():
        for example in examples:
            assert read_answer(example, {}).codes == (code,), example


# -- interview questions ------------------------------------------------------------------------
def test_each_question_has_three_to_six_key_points_and_its_model_answer_covers_them_all():
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    for question in QUESTIONS:
        assert 3 <= len(question.points) <= 6
        assert all(covered(question, question.answer)), question.id


def test_the_outline_checkpoints_and_the_staples_are_asked():
    ids = {q.id: q.day for q in QUESTIONS}
    assert ids["optimizers-in-pytorch"] == 11 and ids["regularization-in-pytorch"] == 12
    assert ids["common-bug-optimizers"] == 11 and ids["common-bug-regularization"] == 12
    staples = {
        "adam-bias-correction", "momentum", "sgd-vs-adam", "warmup", "adamw-vs-l2",
        "dropout-scaling", "batchnorm-train-vs-eval", "batchnorm-vs-layernorm",
        "early-stopping", "exploding-gradients",
    }  # fmt: skip
    assert staples <= set(ids)


def _question(qid):
    return next(q for q in QUESTIONS if q.id == qid)


def test_key_points_are_matched_whatever_the_phrasing():
    question = _question("adam-bias-correction")
    one = "m and v are initialised at 0, so early on they underestimate; Adam divides by 1-beta^t"
    two = "The moving averages start at zero and are biased towards zero. You divide by " \
          "one minus beta1 to the power t, which only matters in the first few steps."  # fmt: skip
    assert covered(question, one) == [True, True, True, False]
    assert covered(question, two) == [True, True, True, True]


def test_an_answer_that_misses_the_point_covers_no_key_point():
    question = _question("dropout-scaling")
    assert not any(covered(question, "It makes training better and the model is regularized."))
    assert not any(covered(question, ""))


def test_the_katas_questions_have_key_points_their_model_answers_cover():
    from pathlib import Path

    from kata.course.meta import discover
    from kata.drill.interview import Question
    from kata.drill.kata_points import KATA_POINTS

    metas = {m.id: m for m in discover(Path(__file__).resolve().parent.parent)}
    assert set(KATA_POINTS) <= set(metas)  # no key points for a kata that is gone
    for kata_id, points in KATA_POINTS.items():
        meta = metas[kata_id]
        assert 3 <= len(points) <= 6
        question = Question(kata_id, meta.day, "", meta.interview_question,
                            meta.interview_answer, points)  # fmt: skip
        assert all(covered(question, meta.interview_answer)), kata_id
        vague = covered(question, "I am not sure, it is something about the training.")
        assert sum(vague) < question.needed, kata_id
