"""The katas' pytest plugin, by concern: the ``kata`` fixture and the hooks (``hooks``, the
module registered as the plugin named ``kata``), the failure block (``failure``) and the
results of a run: summary, JSON report, progress (``results``).

Imports ``kata.course`` and ``kata.report``; ``kata.accelerator`` by name, for the device katas.
"""
