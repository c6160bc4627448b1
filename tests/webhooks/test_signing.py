"""Signatures and headers, against a vector computed with `openssl dgst -hmac`."""

from __future__ import annotations

from datetime import UTC, datetime

from zaphubd.event_types import CATALOGUE
from zaphubd.webhooks import envelope
from zaphubd.webhooks.signing import request_headers, signature

# printf '%s' '1700000000.{"event":"x"}' | openssl dgst -sha256 -hmac 'whsec-0123456789abcdef'
VECTOR = "039eaf01e0296fbf02bd712182b50db2eb5d98f9b05b7f87bc8cef39ff05a1d2"


def test_signature_matches_an_independent_hmac() -> None:
    assert signature("whsec-0123456789abcdef", 1700000000, b'{"event":"x"}') == "sha256=" + VECTOR


def test_headers_carry_the_signature_only_with_a_secret() -> None:
    common = {"event": "x", "session_id": "s", "delivery_id": "d", "body": b"{}", "timestamp": 5}
    signed = request_headers(secret="k" * 16, **common)  # type: ignore[arg-type]
    unsigned = request_headers(secret=None, **common)  # type: ignore[arg-type]
    assert signed["X-ZapHub-Timestamp"] == "5" and signed["X-ZapHub-Signature"].startswith(
        "sha256="
    )
    assert "X-ZapHub-Signature" not in unsigned and unsigned["X-ZapHub-Delivery"] == "d"


def test_envelope_timestamps_are_utc_milliseconds() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert envelope.iso_ms(moment) == "2026-01-02T03:04:05.678Z"


def test_sample_payloads_follow_the_catalogue() -> None:
    now = datetime.now(UTC)
    for kind in CATALOGUE.values():
        sample = envelope.sample_payload(kind, now)
        assert set(sample) == set(kind.payload)
        for name, type_name in kind.payload.items():
            assert (sample[name] is None) == type_name.endswith("?")
