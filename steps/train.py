"""Azure ML snapshot entry point for the packaged sample training step (`champion.steps.train`)."""

import sys

from champion.steps.train import main

sys.exit(main())
