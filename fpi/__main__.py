"""``python -m fpi`` = ``fpi``."""

import sys

from .cli import main

sys.exit(main())
