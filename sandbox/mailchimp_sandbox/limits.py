"""Throttling and injected failures.

``Limiter`` enforces Mailchimp's "10 simultaneous connections per API key":
the 11th request in flight is refused with 429 at once.  ``Faults`` lets a
test make the next N matching API requests fail the way Mailchimp (or its
CDN) does: 429/500/503 problem bodies, a 502 HTML page, a bare 403 with an
empty body, optionally after a hang and with a Retry-After header.
"""

import re
import threading

from .constants import MAX_CONNECTIONS

CDN_502_HTML = (
    "<html>\r\n<head><title>502 Bad "
    "Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
    "Gateway</h1></center>\r\n<p>The server encountered a temporary error and could "
    "not complete your "
    "request.</p>\r\n<hr><center>Akamai</center>\r\n</body>\r\n</html>\r\n"
)

FAULT_PROBLEMS = {
    429: (
        "Too Many Requests",
        "You have exceeded the limit of 10 simultaneous connections.",
    ),
    500: (
        "Internal Server Error",
        "An unexpected internal error has occurred. Please contact Support for more "
        "information.",
    ),
    503: (
        "Service Unavailable",
        "This service is temporarily unavailable. Please try again later.",
    ),
}


class Limiter:
    """Counts in-flight requests per API key."""

    def __init__(self, max_connections=MAX_CONNECTIONS):
        self.max_connections = max_connections
        self._lock = threading.Lock()
        self._inflight = {}

    def acquire(self, key):
        """Returns (admitted, in_flight_before)."""
        with self._lock:
            current = self._inflight.get(key, 0)
            if current >= self.max_connections:
                return False, current
            self._inflight[key] = current + 1
            return True, current

    def release(self, key):
        with self._lock:
            left = self._inflight.get(key, 1) - 1
            if left <= 0:
                self._inflight.pop(key, None)
            else:
                self._inflight[key] = left

    def in_flight(self, key):
        with self._lock:
            return self._inflight.get(key, 0)


class Faults:
    """Rules consumed by matching requests (first matching rule wins)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []
        self._next = 1

    def add(
        self,
        status,
        count=1,
        method=None,
        path_pattern=None,
        retry_after=None,
        hang=None,
    ):
        status = int(status)
        if path_pattern:
            re.compile(path_pattern)
        with self._lock:
            rule = {
                "id": self._next,
                "status": status,
                "count": int(count),
                "method": method.upper() if method else None,
                "path_pattern": path_pattern,
                "retry_after": retry_after,
                "hang": float(hang) if hang else 0.0,
            }
            self._next += 1
            self._rules.append(rule)
            return dict(rule)

    def clear(self):
        with self._lock:
            self._rules.clear()

    def list(self):
        with self._lock:
            return [dict(r) for r in self._rules]

    def take(self, method, api_path):
        """Consume and return the first rule matching this request, or None."""
        with self._lock:
            for rule in self._rules:
                if rule["method"] and rule["method"] != method:
                    continue
                if rule["path_pattern"] and not re.search(
                    rule["path_pattern"], api_path
                ):
                    continue
                rule["count"] -= 1
                if rule["count"] <= 0:
                    self._rules.remove(rule)
                return dict(rule)
        return None
