"""Log formats: journal priorities, JSON fields, secret masking."""

from __future__ import annotations

import logging

import orjson

from zaphubd.log import JournalFormatter, JsonFormatter, TextFormatter, priority_of


def record(level: int, msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("zaphubd.test", level, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_priorities_follow_syslog() -> None:
    assert [priority_of(lvl) for lvl in (10, 20, 30, 40, 50)] == [7, 6, 4, 3, 2]


def test_journal_lines_carry_the_priority_and_fields_and_no_timestamp() -> None:
    line = JournalFormatter([]).format(record(logging.WARNING, "lost %s", "x", session_id="s1"))
    assert line == "<4>zaphubd.test: lost x session_id=s1"


def test_journal_tracebacks_keep_the_prefix_on_every_line() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        import sys

        rec = record(logging.ERROR, "failed")
        rec.exc_info = sys.exc_info()
    lines = JournalFormatter([]).format(rec).splitlines()
    assert len(lines) > 2 and all(line.startswith("<3>") for line in lines)


def test_json_format_is_one_object_with_fields() -> None:
    doc = orjson.loads(JsonFormatter([]).format(record(logging.INFO, "hi", queue="q")))
    assert doc["level"] == "info" and doc["priority"] == 6 and doc["queue"] == "q"


def test_registered_secrets_are_masked_in_every_format() -> None:
    for formatter in (
        JournalFormatter(["topsecret"]),
        TextFormatter(["topsecret"]),
        JsonFormatter(["topsecret"]),
    ):
        out = formatter.format(record(logging.INFO, "key=%s", "topsecret"))
        assert "topsecret" not in out and "***" in out


def test_malformed_requests_become_one_warning_line() -> None:
    from aiohttp.http_exceptions import LineTooLong

    from zaphubd.log import MalformedRequests

    try:
        raise LineTooLong("request line", "8190")
    except LineTooLong:
        import sys

        rec = record(logging.ERROR, "Error handling request from %s", "127.0.0.1")
        rec.exc_info = sys.exc_info()
    assert MalformedRequests().filter(rec)
    line = JournalFormatter([]).format(rec)
    assert line.startswith("<4>") and "Traceback" not in line and "\n" not in line


def test_malformed_request_messages_with_percent_signs_still_format() -> None:
    from aiohttp.http_exceptions import LineTooLong

    from zaphubd.log import MalformedRequests

    try:
        raise LineTooLong("/x?q=100%25&r=%s%d", "8190")
    except LineTooLong:
        import sys

        rec = record(logging.ERROR, "Error handling request from %s", "127.0.0.1")
        rec.exc_info = sys.exc_info()
    MalformedRequests().filter(rec)
    assert "100%25" in TextFormatter([]).format(rec)
