"""`python -m tokenbytes` runs the command line."""

import sys

from tokenbytes.cli import main

sys.exit(main())
