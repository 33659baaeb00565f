"""The ``kata`` command: learn, drill and author the katas.

    kata list                 every kata and its status
    kata check [KATA]         run a kata and show its diagnosis
    kata watch [KATA]         re-run it on every save, move on when it passes
    kata hint KATA            the next hint
    kata solution KATA        the reference solution, as a diff against your file
    kata reset KATA           restore the kata as shipped (your version is backed up)
    kata drill                interview rounds: spot the fault in a broken loop
    kata lab DAY              the break-it lab: break a working loop, predict the finding
    kata mystery              a loop with one hidden fault: fix it blind
    kata new DAY SLUG         scaffold a kata (instructors)
    kata break FILE --fault   make a broken script from a correct one (instructors)
    kata validate             check every kata: metadata, broken and solved runs (instructors)
    kata ship [KATA]          record the katas' files as shipped, for reset (instructors)
    kata grade [KATA|DAY]     run the course's tests on a learner's files (instructors)
    kata summary REPORT...    a class's grade reports as one grid (instructors)

Every command accepts ``--root`` (the folder holding katas/ and solutions/; by default the
nearest one above the current folder) and ``--help``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console

from kata.course.course import CommandError
from kata.course.meta import KataMetaError
from kata.faults.breaking import BreakError

__all__ = ["main"]

_INTERRUPTED = "Interrupted. Nothing was lost: your files are as you last saved them."


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already explained
        return int(exc.code or 0)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        return int(args.handler(args, out, err) or 0)
    except (CommandError, BreakError, KataMetaError) as exc:
        err.print(f"kata: error: {exc}", style="red", markup=False)
        return 1
    except KeyboardInterrupt:
        err.print(f"kata: {getattr(args, 'interrupt_message', _INTERRUPTED)}", markup=False)
        return 130


# -- the parser -----------------------------------------------------------------------------------
Handler = Callable[[argparse.Namespace, Console, Console], int]


def _parser() -> argparse.ArgumentParser:
    from . import author, drill, grade, lab, learn, mystery, watch

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root",
        metavar="DIR",
        default=None,
        help="the course folder (holding katas/ and solutions/); "
        "default: the nearest one above the current folder",
    )
    parser = argparse.ArgumentParser(
        prog="kata",
        description="Break-it-and-diagnose katas for PyTorch training loops.",
        epilog="Start with 'kata list', then 'kata watch'. 'kata COMMAND --help' for details.",
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, handler: Handler, summary: str, *details: str) -> Any:
        p = sub.add_parser(
            name,
            parents=[common],
            help=summary,
            description="\n".join((summary, "", *details)),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(handler=handler)
        return p

    p = command(
        "list",
        learn.run_list,
        "List every kata with its status.",
        "Status comes from your progress file (.kata/progress.json): solved, failing or not tried.",
        "example: kata list day11",
    )
    p.add_argument("day", nargs="?", metavar="DAY", help="only this day, e.g. 11 or day11")

    p = command(
        "check",
        learn.run_check,
        "Run one kata and show its diagnosis.",
        "KATA is a path (katas/day11/01_gradients_pile_up), day11/01, or a slug.",
        "Without KATA: the first kata you have not solved.",
        "example: kata check day11/01",
    )
    p.add_argument("kata", nargs="?", metavar="KATA", help="the kata (default: first unsolved)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="the run's seed (default 0)")
    p.add_argument(
        "--blind",
        action="store_true",
        help="withhold the diagnosis: only the test's symptom is shown; once solved, the "
        "diagnosis is revealed and the solve counts as blind in 'kata list'",
    )
    _timeout_option(p)

    p = command(
        "watch",
        watch.run_watch,
        "Re-run a kata every time you save a file.",
        "Runs the kata at once, then again after each save; when it passes, moves on to",
        "the next unsolved kata. Ctrl-C stops.",
        "example: kata watch day11/01",
    )
    p.add_argument("kata", nargs="?", metavar="KATA", help="where to start (default: unsolved)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="the runs' seed (default 0)")
    _timeout_option(p)

    p = command(
        "hint",
        learn.run_hint,
        "Show the next hint of a kata.",
        "Hints go from a question to the mechanism to where to look; kata remembers how many",
        "you have seen. After the last hint comes the fix the diagnosis gives for your code.",
        "example: kata hint day11/01",
    )
    p.add_argument("kata", metavar="KATA")
    p.add_argument("--all", action="store_true", help="show every hint at once, then the fix")

    p = command(
        "solution",
        learn.run_solution,
        "Show the reference solution as a diff against your file.",
        "Shown once the kata is solved; --force shows it before.",
        "example: kata solution day11/01",
    )
    p.add_argument("kata", metavar="KATA")
    p.add_argument("--force", action="store_true", help="show it even if the kata is not solved")

    p = command(
        "reset",
        learn.run_reset,
        "Restore a kata's files as shipped.",
        "Your current files are first copied to .kata/backups/<kata>/<time>/: nothing is lost.",
        "With --tests: its test_kata.py and kata.toml instead of your files.",
        "example: kata reset day11/01",
    )
    p.add_argument("kata", metavar="KATA")
    p.add_argument(
        "--tests",
        action="store_true",
        help="restore the kata's test_kata.py and kata.toml (your train.py is left alone)",
    )

    p = command(
        "drill",
        drill.run_drill,
        "Interview drill: spot the fault in broken training loops.",
        drill.DETAILS,
    )
    p.add_argument(
        "--day", metavar="N", help="draw only what day N teaches: its katas, codes and questions"
    )
    p.add_argument("--count", type=int, default=5, metavar="K", help="rounds (default 5)")
    p.add_argument(
        "--timed",
        action="store_true",
        help=f"a {drill.TIME_LIMIT:.0f} s countdown per question; slower answers count as wrong",
    )
    p.add_argument(
        "--answers",
        metavar="LIST|FILE",
        help="answers for a non-interactive run: 'b,a,c' or a file, one per line",
    )
    p.add_argument("--report", metavar="PATH", help="write each question's result as JSON")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="draw the same rounds again (default: a new draw each time)",
    )
    p.add_argument(
        "--no-interview", action="store_true", help="code rounds only, no interview questions"
    )
    p.add_argument(
        "--weakest",
        action="store_true",
        help="draw from the topics you miss most (from .kata/drill-history.json)",
    )
    p.add_argument(
        "--pool",
        action="store_true",
        help="verify every round under the diagnostics and show the pool per day; no drill",
    )

    p = command(
        "lab",
        lab.run_lab,
        "The break-it lab: break a working loop on purpose and predict the finding.",
        "kata lab DAY copies a working training loop to lab/dayNN/train.py and lists the",
        "day's challenges. Break your copy, then kata lab check DAY --expect CODE runs it under",
        "the diagnostics and says whether your prediction and a challenge were met; completed",
        "challenges are kept in .kata/lab.json.",
        "example: kata lab 11    then    kata lab check 11 --expect scheduler-per-batch",
    )
    p.add_argument(
        "words", nargs="*", metavar="[check] DAY", help="the day; 'check DAY' runs your copy"
    )
    p.add_argument("--expect", metavar="CODE", help="with check: the finding you predict")
    p.add_argument(
        "--reset", action="store_true", help="restore the working loop (your copy is backed up)"
    )

    p = command(
        "mystery",
        mystery.run_mystery,
        "Mystery rounds: a clean loop with one hidden, verified fault, fixed blind.",
        "kata mystery draws a solution of the course with one fault that the diagnostics really",
        "report on it, into mystery/train.py. kata mystery check runs your fix without showing",
        "the diagnosis and reveals the fault once it runs clean; kata mystery reveal gives up.",
        "Rounds are kept in .kata/mystery.json.",
        "example: kata mystery --day 12",
    )
    p.add_argument("action", nargs="?", metavar="check|reveal", help="default: draw a mystery")
    p.add_argument("--day", metavar="N", help="draw from day N's katas only")
    p.add_argument("--seed", type=int, default=None, metavar="N", help="draw the same again")
    p.add_argument("--new", action="store_true", help="draw another while one is in progress")

    p = command(
        "new",
        author.run_new,
        "Scaffold a new kata (instructors).",
        "Creates katas/dayNN/NN_slug/ (kata.toml, train.py, test_kata.py) from",
        "katas/_template/, its solution folder and its shipped copy, then says what to fill in.",
        "example: kata new 11 lr_too_high",
    )
    p.add_argument("day", metavar="DAY", help="the day, e.g. 11 or day11")
    p.add_argument("slug", metavar="SLUG", help="lower-case name, e.g. lr_too_high")

    p = command(
        "break",
        author.run_break,
        "Make a broken version of a correct training script (instructors).",
        "Rewrites the script with a fault operator, keeping comments and layout. FAULT is an",
        "operator name or a finding code (its operators are tried in turn).",
        "example: kata break solutions/day11/01_x/train.py --fault grad-accumulation \\",
        "             -o katas/day11/01_x/train.py",
    )
    p.add_argument("file", nargs="?", metavar="SOLUTION_FILE")
    p.add_argument("--fault", metavar="FAULT", help="operator name or finding code")
    p.add_argument("-o", "--output", metavar="OUT", help="write here (default: print it)")
    p.add_argument("--list", action="store_true", help="list the operators and their codes")

    p = command(
        "validate",
        author.run_validate,
        "Check every kata: metadata, files, broken and solved runs (instructors).",
        "Each kata must fail its own asserts as shipped (the diagnosis gate off), not by a",
        "typo, with exactly its declared finding codes; pass with its solution, whose diff",
        "to the shipped file changes no constant beyond the fault; and run within its time",
        "budget, for every seed. Each kata's time and solution diff are shown.",
        "example: kata validate day11 --seeds 3",
    )
    p.add_argument("katas", nargs="*", metavar="KATA|DAY", help="what to check (default: all)")
    p.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds 0..N-1 (default 3)")
    p.add_argument("--no-run", action="store_true", help="check metadata and files only")
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="S",
        help="seconds a kata's run may take, for every kata (default: its own, or 60)",
    )
    p.add_argument("--diff", action="store_true", help="show each solution's full diff")
    p.add_argument("--json", metavar="PATH", help="also write the findings as JSON")

    p = command(
        "ship",
        author.run_ship,
        "Record the katas' learner files as shipped (instructors).",
        "kata reset restores these copies (solutions/dayNN/NN_slug/shipped/). Run it after",
        "editing a kata's broken files.",
        "example: kata ship day11/01",
    )
    p.add_argument("katas", nargs="*", metavar="KATA|DAY", help="what to record (default: all)")

    p = command(
        "grade",
        grade.run_grade,
        "Grade a learner's katas with the course's own tests (instructors).",
        "Runs the shipped tests (never the learner's copies) against the learner's files, one",
        "fresh process per kata with its time budget. Exit code 0 only when every kata graded",
        "is solved, so it drops into CI-based autograding. Format: docs/kata-report.md.",
        "example: kata grade day11 --learner alice --report grades/alice.json",
    )
    p.add_argument("katas", nargs="*", metavar="KATA|DAY", help="what to grade (default: all)")
    p.add_argument("--learner", metavar="NAME", help="the learner's name in the report "
                   "(default: $GITHUB_ACTOR or your user name)")  # fmt: skip
    p.add_argument("--report", metavar="PATH", help="write the report here (JSON); "
                   f"with --format exercism the default is {grade.EXERCISM_FILE}")  # fmt: skip
    p.add_argument(
        "--format",
        choices=grade.FORMATS,
        default="torch-katas",
        help="the report's format (default torch-katas; exercism: an Exercism results.json)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="N", help="the runs' seed (default 0)")
    _timeout_option(p)

    p = command(
        "summary",
        grade.run_summary,
        "Sum up a class's grade reports: a kata x learner grid (instructors).",
        "Each kata's solve rate, and the finding codes most common among failing attempts.",
        "example: kata summary grades/*.json --csv class.csv",
    )
    p.add_argument("reports", nargs="+", metavar="REPORT", help="grade reports ('kata grade')")
    p.add_argument("--csv", metavar="PATH", help="also write one row per kata and learner")
    p.add_argument("--json", metavar="PATH", help="also write the summary as JSON")
    return parser


def _timeout_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time budget of a kata's run (default: the kata's 'timeout', 60 s unless it says "
        "otherwise); past it the run is stopped and shows where it was",
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
