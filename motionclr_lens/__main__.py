"""`python -m motionclr_lens ...` is the `motionclr-lens` command."""

import sys

from .cli import main

sys.exit(main())
