"""Fault operators: line-preserving edits of Python source, and the break operators that turn
a correct training script into a broken one (``kata break``, the drill's code rounds).

Imports nothing else of ``kata`` (layer 0).
"""
