"""journald-friendly logging, configured once by the entry point.

Formats:
- journal: `<N>logger: message key=value` with a syslog priority prefix and no timestamp of
  our own (journald stamps every line), so `journalctl -p warning` filters correctly;
- text: timestamped human lines for a terminal;
- json: one object per line, for log shippers.
`auto` picks journal when stderr is the stream systemd set up (JOURNAL_STREAM), else text.

Extra attributes passed with `extra={...}` become structured fields. Secrets registered with
`configure` are masked in every formatted line as a last line of defence; code must still
never pass them to a logger.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable
from typing import Any

import orjson

# syslog priorities (RFC 5424) for the `<N>` prefix that journald understands on stdout/stderr.
PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
_RECORD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
QUIET_LOGGERS = ("neonize", "whatsmeow", "asyncio", "aiohttp.access")


def priority_of(levelno: int) -> int:
    for level in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= level:
            return PRIORITY[level]
    return PRIORITY[logging.DEBUG]


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a call passed through `extra=`."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS}


def _fields_text(fields: dict[str, Any]) -> str:
    return "".join(f" {key}={value}" for key, value in fields.items())


class _Redacting(logging.Formatter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def redact(self, line: str) -> str:
        for secret in self._secrets:
            line = line.replace(secret, "***")
        return line

    def _exception_text(self, record: logging.LogRecord) -> str:
        return "\n" + self.formatException(record.exc_info) if record.exc_info else ""


class JournalFormatter(_Redacting):
    """`<N>logger: message fields` lines; tracebacks keep the prefix on every line."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority_of(record.levelno)}>"
        text = f"{record.name}: {record.getMessage()}{_fields_text(record_fields(record))}"
        text += self._exception_text(record)
        return self.redact("\n".join(prefix + line for line in text.splitlines() or [""]))


class TextFormatter(_Redacting):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        millis = int(record.msecs)
        line = (
            f"{stamp}.{millis:03d} {record.levelname:<7} {record.name}: "
            f"{record.getMessage()}{_fields_text(record_fields(record))}"
        )
        return self.redact(line + self._exception_text(record))


class JsonFormatter(_Redacting):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": record.created,
            "level": record.levelname.lower(),
            "priority": priority_of(record.levelno),
            "logger": record.name,
            "msg": record.getMessage(),
            **record_fields(record),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return self.redact(orjson.dumps(doc, default=str).decode())


def under_journal() -> bool:
    """Whether stderr is the journal stream systemd connected (see systemd.exec(5))."""
    stream = os.environ.get("JOURNAL_STREAM")
    if not stream:
        return False
    try:
        dev, ino = (int(part) for part in stream.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


class MalformedRequests(logging.Filter):
    """aiohttp logs an HTTP request it cannot parse (a line beyond its limits, a bad header)
    at ERROR with a traceback. That is a client's mistake, not ours: keep one WARNING line,
    so journals are not flooded and `-p err` stays meaningful."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        err = record.exc_info[1] if record.exc_info else None
        if isinstance(err, HttpProcessingError) and 400 <= err.code < 500:
            # Formatted here: the parser's message may contain '%' (it echoes the request).
            record.msg = f"{record.getMessage()}: {err.code} {err.message}"
            record.args = ()
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = None
        return True


def make_formatter(fmt: str, secrets: Iterable[str] = ()) -> logging.Formatter:
    if fmt == "auto":
        fmt = "journal" if under_journal() else "text"
    formatters: dict[str, type[_Redacting]] = {
        "journal": JournalFormatter,
        "text": TextFormatter,
        "json": JsonFormatter,
    }
    return formatters[fmt](secrets)


def configure(level: str = "INFO", fmt: str = "auto", secrets: Iterable[str] = ()) -> None:
    """Install our one handler on the root logger, replacing any (neonize adds its own)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(fmt, secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.server").addFilter(MalformedRequests())
    quiet = logging.DEBUG if level == "DEBUG" else logging.WARNING
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    # neonize reads this logger's level when a client connects to set whatsmeow's.
    logging.getLogger("neonize.utils.log").setLevel(quiet)
