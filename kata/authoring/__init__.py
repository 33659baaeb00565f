"""Authoring the course: the course contract every kata must meet (``kata validate`` and the
project's tests) and the scaffold of a new kata (``kata new``).

Imports ``kata.running`` and ``kata.course``.
"""
