"""Retry-After parsing: delta-seconds and HTTP-dates against a given wall time; junk ignored."""

from __future__ import annotations

import pytest

from sockwise.retry import parse_retry_after

# 2015-10-21 07:28:00 UTC
DATE_TS = 1445412480.0


def test_delta_seconds() -> None:
    """'120' asks for 120 seconds, whatever the time."""
    assert parse_retry_after("120", now=0.0) == 120.0
    assert parse_retry_after(" 3 ", now=5.0) == 3.0


def test_imf_fixdate_against_now() -> None:
    """An IMF-fixdate gives the seconds from now until it."""
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=DATE_TS - 30) == 30.0


@pytest.mark.parametrize("value", ["Wednesday, 21-Oct-15 07:28:00 GMT", "Wed Oct 21 07:28:00 2015"])
def test_obsolete_date_forms(value: str) -> None:
    """The RFC 850 and asctime forms (asctime has no zone: GMT) are read too."""
    assert parse_retry_after(value, now=DATE_TS - 10) == 10.0


def test_date_in_the_past_is_zero() -> None:
    """A date already passed means retry now."""
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=DATE_TS + 100) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "12abc", "nan", "inf"])
def test_malformed_is_ignored(value: str | None) -> None:
    """A missing or unreadable value gives None (the header is ignored)."""
    assert parse_retry_after(value, now=0.0) is None
