"""A strictly increasing clock and Mailchimp's timestamp formats.

Mailchimp renders timestamps to the second (``2015-10-21T15:41:36+00:00``).
Internally every change gets a distinct microsecond tick so ordering by
``last_changed`` is total even for two changes within one second.  The
``since_*`` filters compare at second granularity; whether a time equal to
``since`` is kept is one of the sandbox's behaviour switches (``since_bound``).
"""

import re
import threading
import time
from datetime import datetime, timezone

UTC = timezone.utc  # datetime.UTC needs Python 3.11; the sandbox runs on 3.10+

US = 1_000_000


class Clock:
    """Microsecond ticks (int, since the epoch), never repeating, never going back."""

    def __init__(self):
        self._last = 0
        self._frozen = None
        self._lock = threading.Lock()

    def now_us(self) -> int:
        with self._lock:
            t = self._frozen if self._frozen is not None else time.time_ns() // 1000
            if t <= self._last:
                t = self._last + 1
            self._last = t
            return t

    def freeze(self, frozen=True):
        """Stamp every change with the current second (each a tick later than the
        one before), as Mailchimp does for an import or a burst of writes that
        fall in one second, until unfrozen; the real clock then goes on."""
        with self._lock:
            self._frozen = floor_second(time.time_ns() // 1000) if frozen else None
        return self._frozen is not None


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


def since_bound(since_us, exclusive):
    """The first tick a ``since_*`` filter keeps, as an inclusive lower bound.

    Inclusive: every time at or after ``since``.  Exclusive ("after the set
    time", the documentation's wording): only times whose rendered second is
    after it, i.e. from the second following ``since``'s own.
    """
    if since_us is None or not exclusive:
        return since_us
    return floor_second(since_us) + US
