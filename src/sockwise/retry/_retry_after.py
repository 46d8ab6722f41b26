"""``Retry-After`` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date, read against a given wall time."""

from __future__ import annotations

import math

__all__ = ["parse_retry_after"]


def parse_retry_after(value: str | None, now: float) -> float | None:
    """The seconds a ``Retry-After`` header asks to wait.

    Args:
        value: the header value: delta-seconds (``"120"``) or an HTTP-date
            (``"Wed, 21 Oct 2015 07:28:00 GMT"``; the obsolete RFC 850 and asctime forms too).
        now: the current wall-clock time (seconds since the epoch), as the date is absolute.

    Returns:
        Seconds to wait (0 for a date in the past), or None when the value is missing or
        malformed: a header that cannot be read is ignored, as RFC 9110 lets a client do.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text[0].isdigit():
        try:
            seconds = float(text)
        except ValueError:
            return None
        return seconds if math.isfinite(seconds) else None
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # asctime dates carry no zone; HTTP-dates are always GMT.
        import datetime

        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - now)
