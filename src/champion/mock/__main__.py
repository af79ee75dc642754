"""`python -m champion.mock SCRIPT [ARGS...]` (or `-m MODULE [ARGS...]`): run a script with the
real Azure ML SDKs pointed at the local workspace, in this process and in the Python processes
it starts (`champion.mock`). The workspace is `$CHAMPION_WORKSPACE`, else the nearest
`.champion/` up from the working directory, else a new `./.champion`. Exit status: the
script's."""

from __future__ import annotations

import sys

from champion.mock._run import main

if __name__ == "__main__":
    sys.exit(main())
