"""The frozen app's entry point: the app with no arguments, the CLI with them."""

import multiprocessing
import sys

from app.entry import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
