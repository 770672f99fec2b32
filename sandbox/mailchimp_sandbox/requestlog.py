"""Log of API requests for assertions (GET /_sandbox/requests).

Only the last four characters of the key's secret part are kept: the log may
be dumped in CI output, so a full key must never appear in it.
"""

import threading
from collections import deque


def key_last4(api_key):
    if not api_key:
        return ""
    return str(api_key).rsplit("-", 1)[0][-4:]


class RequestLog:
    def __init__(self, maxlen=20000):
        self._lock = threading.Lock()
        self._entries = deque(maxlen=maxlen)
        self._seq = 0

    def add(self, **entry):
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)

    def entries(self):
        with self._lock:
            return [dict(e) for e in self._entries]

    def clear(self):
        with self._lock:
            self._entries.clear()
