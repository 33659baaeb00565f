"""The course model: a kata's metadata (``kata.toml``), the course folder a command works on,
the learner's progress, the shipped copies that ``kata reset`` restores, and loading a
learner's file.

Imports only ``kata.atomic`` (layer 0); every room above may import it.
"""
