"""Deliberately invalid katas, one per case kata validate must reject (tests/test_kata_validate.py).

Their tests run only when a test copies the course and points ``kata validate`` at the copy;
the project's own test run walks past them."""

collect_ignore = ["katas", "solutions"]
