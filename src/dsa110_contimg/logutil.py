"""Logging set-up for workflow scripts: everything to the rule's log file."""

from __future__ import annotations

import logging
import sys
import warnings


def to_file(path: str | None, level: int = logging.INFO) -> None:
    """Send logging (and warnings) to ``path`` (append) or stderr when None."""
    handler = logging.FileHandler(path) if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    warnings.simplefilter("default")

    def _log_uncaught(exc_type, exc, tb):  # the traceback goes to the rule's log too
        logging.getLogger("dsa110_contimg").critical("failed: %s", exc, exc_info=(exc_type, exc, tb))
        sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = _log_uncaught
