"""A strictly increasing clock and Mailchimp's timestamp formats.

Mailchimp renders timestamps to the second (``2015-10-21T15:41:36+00:00``).
Internally every change gets a distinct microsecond tick so ordering by
``last_changed`` is total even for two changes within one second; the
``since_*`` filters compare at second granularity and are inclusive, so an
incremental pull using the highest rendered ``last_changed`` never misses a row.
"""
import re
import threading
import time
from datetime import datetime, timezone

UTC = timezone.utc  # noqa: UP017  (datetime.UTC needs Python 3.11; the sandbox runs on 3.10+)

US = 1_000_000


class Clock:
    """Microsecond ticks (int, since the epoch), never repeating, never going back."""

    def __init__(self):
        self._last = 0
        self._lock = threading.Lock()

    def now_us(self) -> int:
        with self._lock:
            t = time.time_ns() // 1000
            if t <= self._last:
                t = self._last + 1
            self._last = t
            return t


def iso(us) -> str:
    """Render ticks like Mailchimp: seconds precision, explicit +00:00 offset."""
    if us is None or us == 0:
        return ""
    return datetime.fromtimestamp(us // US, UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def webhook_time(us) -> str:
    """``fired_at`` in webhooks: ``YYYY-MM-DD HH:MM:SS``, no timezone."""
    return datetime.fromtimestamp(us // US, UTC).strftime("%Y-%m-%d %H:%M:%S")


_SPACE_OFFSET = re.compile(r" (\d\d:?\d\d)$")


def parse_iso(value):
    """Parse an ISO 8601 timestamp from a query string into ticks (None if blank).

    A ``+`` sent unencoded in a query string arrives as a space; it is restored.
    Naive values are taken as UTC.  Raises ValueError on garbage.
    """
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    value = _SPACE_OFFSET.sub(r"+\1", value)
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    if len(value) == 10:
        value += "T00:00:00"
    dt = datetime.fromisoformat(value.replace(" ", "T", 1))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * US + dt.microsecond


def floor_second(us: int) -> int:
    return (us // US) * US
