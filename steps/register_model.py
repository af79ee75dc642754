"""Azure ML snapshot entry point for the packaged register step (`champion.steps.register`)."""

import sys

from champion.steps.register import main

sys.exit(main())
