"""Exit codes scripts can rely on, one meaning each; handlers return them up to `main`, which alone exits."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
#: A mistake in the command line or its input (argparse uses 2 too).
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_NO_MODEL = 4
#: 128 + SIGINT, what a shell reports for Ctrl+C.
EXIT_CANCELLED = 130
