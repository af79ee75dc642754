"""`python -m champion.cli`: the same as the `champion` console script."""

import sys

from champion.cli import main

sys.exit(main())
