"""``python -m melody``: the command line (``melody.cli``)."""
import sys

from .cli import main

sys.exit(main())
