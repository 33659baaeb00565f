"""Wrong and right fixes of every kata, and the test that proves the kata's tests judge them.

The catalogue is one TOML file per kata, ``dayNN/NN_slug.toml`` (format: docs/authoring.md,
"Wrong fixes"); ``_catalogue.py`` loads and applies it, ``_driver.py`` runs a kata's tests over
its fixed versions in a process of its own, ``test_wrong_fixes.py`` judges the outcomes.
"""
