"""What the interview drill asks and accepts: answers as people give them, the interview
questions and their key points, the rounds drawn from the course, and the answer key that
confirms a code round does what it claims. ``kata drill`` and ``kata mystery`` (in
``kata.cli``) run them.

Imports ``kata.course``, ``kata.faults``, ``kata.accelerator`` and ``kata.report``.
"""
