"""``python -m kata.cli``: the ``kata`` command from a checkout that is not installed."""

import sys

from .app import main

sys.exit(main())
