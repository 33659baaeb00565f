"""The katas' pytest plugin, by concern: the ``kata`` fixture and the hooks (``hooks``, the
module registered as the plugin named ``kata``), the failure block (``failure``) and the
results of a run: summary, JSON report, progress (``results``).

Imports ``kata.course``, ``kata.report`` and ``kata.atomic``; ``kata.accelerator`` by name.
"""
