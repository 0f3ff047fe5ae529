"""Run the whole pipeline, stage after stage, through spark-submit (see flightpipe.tools.pipeline)."""

import sys

from flightpipe.tools.pipeline import main

if __name__ == "__main__":
    sys.exit(main())
