"""Azure ML snapshot entry point for the packaged score step (`champion.steps.score`)."""

import sys

from champion.steps.score import main

sys.exit(main())
