"""Grading for instructors: the course's own tests run against a learner's files
(``kata grade``) and a class's grade reports read together (``kata summary``).

Imports ``kata.running`` and ``kata.course``.
"""
