"""The correlation id helpers: reading it from records, binding it to log lines, stamping it on the outbox."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest
import structlog

from tempen_shared.consumer import Record
from tempen_shared.correlation import (
    bound,
    correlation_id_of,
    shared_correlation_id,
    stamped,
    stamping,
    submission_correlation_id,
)
from tempen_shared.logs import configure_logging, redact_emails


def _record(correlation_id: str | None) -> Record:
    headers = (("correlation_id", correlation_id.encode()),) if correlation_id is not None else ()
    return Record("t", 0, 0, b"k", b"{}", (("ingested_at", b"2026-10-14T08:00:00+00:00"), *headers))


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The service log configuration, writing to a buffer; everything it changed is put back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    config = structlog.get_config()
    stream = io.StringIO()
    configure_logging("testing", stream=stream)
    try:
        yield stream
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.configure(**config)
        root.handlers[:], root.level = handlers, level


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_the_correlation_id_is_read_from_the_records_headers() -> None:
    assert correlation_id_of(_record("hjo:demo-1")) == "hjo:demo-1"
    assert correlation_id_of(_record(None)) is None
    assert submission_correlation_id("hjo", "demo-1") == "hjo:demo-1"


def test_a_batch_shares_a_correlation_id_only_when_every_record_carries_the_same() -> None:
    assert shared_correlation_id([_record("hjo:a"), _record("hjo:a")]) == "hjo:a"
    assert shared_correlation_id([_record("hjo:a"), _record("hjo:b")]) is None
    assert shared_correlation_id([_record("hjo:a"), _record(None)]) is None
    assert shared_correlation_id([]) is None


def test_lines_logged_inside_bound_carry_the_ids_and_lines_after_it_do_not(json_lines: io.StringIO) -> None:
    ours, theirs = structlog.get_logger("test.ours"), logging.getLogger("test.theirs")  # structlog and stdlib
    with bound("hjo:demo-1", alert_id="a1"):
        ours.info("inside", unit="hjo-klk-hr")
        theirs.warning("a library's line inside")
        with bound(None, alert_id="a2"):
            ours.info("nested")
        ours.info("back")
    ours.info("after")

    lines = {line["message"]: line for line in _lines(json_lines)}
    assert lines["inside"] == {
        "message": "inside",
        "unit": "hjo-klk-hr",
        "correlation_id": "hjo:demo-1",
        "alert_id": "a1",
        "service": "testing",
        "level": "info",
        "timestamp": lines["inside"]["timestamp"],
    }
    assert (lines["a library's line inside"]["correlation_id"], lines["a library's line inside"]["level"]) == (
        "hjo:demo-1",
        "warning",
    )
    assert (lines["nested"]["correlation_id"], lines["nested"]["alert_id"]) == ("hjo:demo-1", "a2")
    assert lines["back"]["alert_id"] == "a1"
    assert "correlation_id" not in lines["after"]
    assert "alert_id" not in lines["after"]


def test_stamping_gives_only_messages_of_its_topic_without_an_id_the_id_of_their_key() -> None:
    causes = {b"hjo:enhet-1": "hjo:s-9"}
    with stamping("scores", causes.get):
        assert stamped("scores", b"hjo:enhet-1", {"computed_at": "x"}) == {
            "computed_at": "x",
            "correlation_id": "hjo:s-9",
        }
        assert stamped("scores", b"hjo:enhet-2", {}) == {}  # nothing caused it
        assert stamped("scores", b"hjo:enhet-1", {"correlation_id": "own"}) == {"correlation_id": "own"}
        assert stamped("scores.dlq", b"hjo:enhet-1", {}) == {}
    assert stamped("scores", b"hjo:enhet-1", {}) == {}


def test_e_mail_addresses_are_redacted_from_errors_that_echo_them() -> None:
    reply = "SMTP 550: 5.1.1 <anna.andersson+hr@hjo.se>: Recipient address rejected"
    assert redact_emails(reply) == "SMTP 550: 5.1.1 <<e-mail>>: Recipient address rejected"
