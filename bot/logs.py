"""Where the agent's log goes, at the level LOG_LEVEL sets.

At a terminal the console is for the person at it: the log goes to rotating files under
$DATA_DIR/logs, and only errors also reach the screen. Headless (a container, systemd, nohup)
the log goes to stderr, which those collect. Either way a secret from the settings is replaced
before a line is written, and other libraries stay at INFO even at DEBUG (a websocket library's
DEBUG lines carry whole frames, keys included).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from engine.clock import SEOUL
from engine.files import private_dir, private_file

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_FILE = "tradecord.log"
FILE_BYTES, FILE_COUNT = 5_000_000, 5
OWN_LOGGERS = ("engine", "bot", "__main__")


class SeoulFormatter(logging.Formatter):
    """Times in Seoul, with the offset, whatever the machine's time zone is."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, SEOUL).isoformat(timespec="milliseconds")


class Redact(logging.Filter):
    """Replaces each secret's text in a formatted line (and its traceback) with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self._clean(record.getMessage())
            record.args = None
            if record.exc_info:
                record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """Each file it opens, the first and every one after a rotation, is owner-only (0600)."""

    def _open(self):  # type: ignore[no-untyped-def]
        private_file(Path(self.baseFilename))
        return super()._open()


def setup(level: str, data_dir: Path, headless: bool, secrets: Iterable[str] = ()) -> Path | None:
    """Configure the root logger; returns the log file when logging to files."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    redact = Redact(secrets)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(max(numeric, logging.INFO))  # libraries: INFO at most verbose
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(numeric)
    screen = logging.StreamHandler(sys.stderr)
    screen.setFormatter(SeoulFormatter(FORMAT))
    screen.addFilter(redact)
    if headless:
        root.addHandler(screen)
        return None
    path = data_dir / "logs" / LOG_FILE
    private_dir(path.parent)
    files = PrivateRotatingFile(path, maxBytes=FILE_BYTES, backupCount=FILE_COUNT, encoding="utf-8")
    files.setFormatter(SeoulFormatter(FORMAT))
    files.addFilter(redact)
    screen.setLevel(logging.ERROR)
    root.addHandler(files)
    root.addHandler(screen)
    return path
