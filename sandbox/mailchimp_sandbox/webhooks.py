"""Audience webhooks: URL validation on create and form-encoded deliveries.

Mailchimp checks a new webhook URL with a GET (User-Agent "MailChimp.com
WebHook Validator") and later POSTs ``application/x-www-form-urlencoded``
bodies with bracket keys (``data[merges][FNAME]``), waiting 10 s.  A webhook
only fires when its ``events`` include the type and its ``sources`` include
who made the change (user, admin, api) - which is how a connector avoids
echoes of its own writes (``sources.api = false``).
"""

import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque

from .clock import webhook_time
from .constants import WEBHOOK_DELIVERY_UA, WEBHOOK_TIMEOUT, WEBHOOK_VALIDATOR_UA

EVENT_TYPES = ("subscribe", "unsubscribe", "profile", "cleaned", "upemail", "campaign")
SOURCES = ("user", "admin", "api")


def _merges(lst, m):
    out = [("data[merges][EMAIL]", m["email"])]
    for field in lst.merge_fields.values():
        value = m["merge_fields"].get(field["tag"], "")
        if isinstance(value, dict):
            for k, v in value.items():
                out.append((f"data[merges][{field['tag']}][{k}]", str(v)))
        else:
            out.append(
                (f"data[merges][{field['tag']}]", "" if value is None else str(value))
            )
    names = []
    groupings = []
    for cat in lst.categories.values():
        chosen = [
            i["name"] for iid, i in cat["interests"].items() if m["interests"].get(iid)
        ]
        names += chosen
        groupings.append((cat, chosen))
    out.append(("data[merges][INTERESTS]", ", ".join(names)))
    for n, (cat, chosen) in enumerate(groupings):
        out.append((f"data[merges][GROUPINGS][{n}][id]", cat["id"]))
        out.append((f"data[merges][GROUPINGS][{n}][name]", cat["title"]))
        out.append((f"data[merges][GROUPINGS][{n}][groups]", ", ".join(chosen)))
    return out


class Event:
    """A change to deliver; the payload is captured when the change happens."""

    def __init__(self, type, lst, m, **extra):
        from time import time as _now

        self.type = type
        self.list_id = lst.id
        fields = [("type", type), ("fired_at", webhook_time(int(_now() * 1_000_000)))]
        if type == "upemail":
            fields += [
                ("data[list_id]", lst.id),
                ("data[new_id]", m["unique_email_id"]),
                ("data[new_email]", extra["new_email"]),
                ("data[old_email]", extra["old_email"]),
            ]
        elif type == "cleaned":
            fields += [
                ("data[list_id]", lst.id),
                ("data[campaign_id]", extra.get("campaign_id", "")),
                ("data[reason]", extra.get("reason", "hard")),
                ("data[email]", m["email"]),
            ]
        else:
            fields += [
                ("data[id]", m["unique_email_id"]),
                ("data[list_id]", lst.id),
                ("data[email]", m["email"]),
                ("data[email_type]", m["email_type"]),
                ("data[ip_opt]", m.get("ip_opt") or ""),
                ("data[ip_signup]", m.get("ip_signup") or ""),
                ("data[web_id]", str(m["web_id"])),
            ]
            if type == "unsubscribe":
                fields += [
                    ("data[action]", extra.get("action", "unsub")),
                    ("data[reason]", extra.get("reason", "manual")),
                    ("data[campaign_id]", extra.get("campaign_id", "")),
                ]
            fields += _merges(lst, m)
        self.fields = fields

    @classmethod
    def campaign(cls, lst, camp):
        """The ``campaign`` event (sent); not filtered by source."""
        from time import time as _now

        ev = cls.__new__(cls)
        ev.type = "campaign"
        ev.list_id = lst.id
        ev.fields = [
            ("type", "campaign"),
            ("fired_at", webhook_time(int(_now() * 1_000_000))),
            ("data[id]", camp.id),
            ("data[subject]", camp.subject),
            ("data[status]", "sent"),
            ("data[reason]", ""),
            ("data[list_id]", lst.id),
        ]
        return ev

    def as_dict(self):
        return dict(self.fields)


def validate_url(url, timeout=WEBHOOK_TIMEOUT):
    """GET the URL like Mailchimp's validator. Returns (ok, message)."""
    req = urllib.request.Request(
        url, method="GET", headers={"User-Agent": WEBHOOK_VALIDATOR_UA}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            code = resp.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except Exception as exc:  # refused, timeout, DNS...: all mean "not validated"
        return (
            False,
            "We couldn't verify the URL is working. Please double check and try "
            f"again. ({exc.__class__.__name__})",
        )
    if code != 200:
        return (
            False,
            "We couldn't verify the URL is working. Please double check and try "
            f"again. HTTP Code: {code}",
        )
    return True, ""


def post_form(url, fields, timeout=WEBHOOK_TIMEOUT):
    data = urllib.parse.urlencode(fields).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "User-Agent": WEBHOOK_DELIVERY_UA,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, error = resp.status, ""
    except urllib.error.HTTPError as exc:
        status, error = exc.code, ""
    except Exception as exc:  # any failure is a failed delivery, reported
        status, error = 0, f"{exc.__class__.__name__}: {exc}"
    return status, error, round(time.perf_counter() - t0, 3)


class WebhookDispatcher:
    """Selects matching webhooks and POSTs events; keeps a delivery log.

    Background deliveries (API writes) go through one FIFO worker so they
    arrive in the order the changes happened (Mailchimp does not promise
    that; a receiver should still be idempotent).
    """

    def __init__(self, state):
        self.state = state
        self._log = deque(maxlen=10000)
        self._lock = threading.Condition()
        self._queue = deque()
        self._busy = False
        self._thread = None

    def clear_log(self):
        with self._lock:
            self._log.clear()

    def log(self):
        with self._lock:
            return list(self._log)

    def _targets(self, list_id, event_type, source):
        with self.state.lock:
            lst = self.state.lists.get(list_id)
            if lst is None:
                return []
            return [
                dict(w)
                for w in lst.webhooks.values()
                if w["events"].get(event_type)
                and (event_type == "campaign" or w["sources"].get(source))
            ]

    def deliver(self, events, source, wait=False):
        """Deliver ``events`` made by ``source``. With wait=False they are queued
        for the background worker; with wait=True the results are returned."""
        jobs = []
        for ev in events:
            for hook in self._targets(ev.list_id, ev.type, source):
                jobs.append((hook, ev, source))
        if not jobs:
            return []
        if wait:
            return [self._send(*job) for job in jobs]
        with self._lock:
            self._queue.extend(jobs)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="mailchimp-sandbox-webhooks", daemon=True
                )
                self._thread.start()
            self._lock.notify_all()
        return []

    def _work(self):
        while True:
            with self._lock:
                if not self._queue:
                    self._lock.wait(1.0)
                    if not self._queue:
                        self._thread = None  # idle: let the thread end
                        self._lock.notify_all()
                        return
                job = self._queue.popleft()
                self._busy = True
            try:
                self._send(*job)
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()

    def _send(self, hook, ev, source):
        status, error, seconds = post_form(hook["url"], ev.fields)
        result = {
            "webhook_id": hook["id"],
            "url": hook["url"],
            "type": ev.type,
            "source": source,
            "list_id": ev.list_id,
            "status": status,
            "error": error,
            "seconds": seconds,
            "data": ev.as_dict(),
        }
        with self._lock:
            self._log.append(result)
        return result

    def wait_idle(self, timeout=10.0):
        """Block until queued deliveries are done (tests)."""
        deadline = time.time() + timeout
        with self._lock:
            while self._queue or self._busy:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.05))
        return True
