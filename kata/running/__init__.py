"""Running a kata's tests: each run a fresh pytest process with the kata plugin, its report
read back (runner), what a run means (verdict), and the course check's probe plugin.

Imports ``kata.course`` and ``kata.atomic``; loads ``kata.plugin`` by name in the runs.
"""
