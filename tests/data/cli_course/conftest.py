"""A tiny fake course for the ``kata`` command's tests (tests/test_kata_cli.py).

Its katas run only when a test copies the course and points ``kata`` at the copy; the
project's own test run walks past them (one of them is broken on purpose).
"""

collect_ignore = ["katas", "solutions"]
