"""Email-activity events: from Mailchimp's report pages to rows ready for the database.

Plain Python, no Odoo, so that it can run in the threads that fetch the next
pages while the current one is written (see ``MailchimpClient.pages_ahead``).

An event is a tuple ``Event(hash, action, stamp, url, bounce_type, key)``:
``stamp`` is the event time as naive UTC ISO text (``2025-01-31T10:00:00``),
which is both what the event key was always computed from and what
PostgreSQL reads as a ``timestamp``; ``key`` is the deterministic key that
makes a rerun store nothing twice.
"""

import hashlib
from collections import namedtuple

from .sync_rules import to_odoo_datetime

Event = namedtuple("Event", "hash action stamp url bounce_type key")

ACTION_LABELS = {
    "sent": "Sent",
    "open": "Opened",
    "click": "Clicked",
    "bounce": "Bounced",
    "unsubscribe": "Unsubscribed",
    "abuse": "Marked as Spam",
}
BOUNCE_LABELS = {"hard": "Hard", "soft": "Soft"}
# what markupsafe.escape (Odoo's Markup) writes, without needing it here
_HTML_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"}
)


def escape(text):
    """HTML-escape ``text`` exactly as ``markupsafe.escape`` does."""
    return str(text).translate(_HTML_ESCAPES)


def utc_stamp(value):
    """A Mailchimp timestamp -> naive UTC ISO text (``datetime.isoformat()`` of
    the naive UTC datetime), '' when empty.

    Mailchimp writes ``2025-01-31T10:00:00+00:00``: that common form is cut
    without building a datetime; anything else goes through the full parser.
    """
    if not value:
        return ""
    if (
        isinstance(value, str)
        and len(value) == 25
        and value.endswith("+00:00")
        and value[10] == "T"
    ):
        return value[:19]
    moment = to_odoo_datetime(value)
    return moment.isoformat() if moment else ""


def event_key(campaign_id, subscriber_hash, action, stamp, url, bounce_type):
    """The key of one event: md5 of campaign,
    recipient, action, time, URL, bounce type."""
    raw = (
        f"{campaign_id}|{subscriber_hash or ''}|{action}|{stamp}|"
        f"{url or ''}|{bounce_type or ''}"
    )
    return hashlib.md5(raw.encode("utf-8")).hexdigest()  # a key, not a secret


def make_event(campaign_id, subscriber_hash, action, stamp, url=None, bounce_type=None):
    return Event(
        subscriber_hash,
        action,
        stamp,
        url or None,
        bounce_type or None,
        event_key(campaign_id, subscriber_hash, action, stamp, url, bounce_type),
    )


def email_activity_events(campaign_id, items):
    """Events of one ``/reports/{id}/email-activity`` page and the latest event
    time seen on it (ISO text, '' when none)."""
    events, latest = [], ""
    for item in items:
        member = item.get("email_id")
        for act in item.get("activity") or ():
            stamp = utc_stamp(act.get("timestamp"))
            if stamp > latest:
                latest = stamp
            events.append(
                make_event(
                    campaign_id,
                    member,
                    act.get("action"),
                    stamp,
                    act.get("url"),
                    act.get("type"),
                )
            )
    return events, latest


def chatter_body(subject, action, bounce_type, url):
    """The HTML of the chatter line of one event (escaped)."""
    label = ACTION_LABELS.get(action, action)
    if action == "click" and url:
        return (
            f"Mailchimp: {escape(label)} <b>{escape(subject)}</b> — <a "
            f"href='{escape(url)}' target='_blank'>{escape(url)}</a>"
        )
    if action == "bounce" and bounce_type in BOUNCE_LABELS:
        return (
            f"Mailchimp: {escape(label)} "
            f"({escape(BOUNCE_LABELS[bounce_type].lower())}) <b>{escape(subject)}</b>"
        )
    return f"Mailchimp: {escape(label)} <b>{escape(subject)}</b>"


class ChatterBodies:
    """``chatter_body`` for one campaign, memoised: a page has a handful of
    distinct bodies (one per action, bounce type and link)."""

    def __init__(self, subject):
        self.subject = subject
        self._cache = {}

    def __call__(self, action, bounce_type, url):
        key = (action, bounce_type, url)
        body = self._cache.get(key)
        if body is None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            body = self._cache[key] = chatter_body(
                self.subject, action, bounce_type, url
            )
        return body


def no_bodies(_action, _bounce_type, _url):
    """The per-event body when the chatter has one line per contact and campaign
    (``summary_body``): none, nothing to build or copy."""
    return ""


# ----------------------------------------------------- one line per campaign
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
URL_SHOWN = 60
Summary = namedtuple(
    "Summary",
    "sent_date open_count last_open_date click_count last_click_date last_click_url "
    "bounce_type bounce_date unsubscribe_date abuse_date",
)


def short_date(moment):
    """``29 Nov`` (a datetime or ISO text; '' when empty)."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = to_odoo_datetime(moment)
    return f"{moment.day} {_MONTHS[moment.month - 1]}"


def short_url(url):
    """What a person reads of a link: no scheme, query or fragment, at most
    ``URL_SHOWN`` characters (``https://shop.example.com/chairs?utm=x`` ->
    ``shop.example.com/chairs``)."""
    shown = url.split("://", 1)[-1].split("#", 1)[0].split("?", 1)[0].rstrip("/")
    shown = shown or url
    return shown if len(shown) <= URL_SHOWN else shown[: URL_SHOWN - 1] + "…"


def summary_body(title, summary):
    """The HTML (escaped) of a contact's one chatter line for one campaign,
    rewritten as its events arrive: ``Mailchimp: <b>Winter sale</b> — sent 29 Nov
    · opened 2× · clicked shop.example.com/chairs``.  ``summary``: a ``Summary``
    (counts and dates computed from the stored events)."""
    parts = []
    if summary.sent_date:
        parts.append(f"sent {short_date(summary.sent_date)}")
    if summary.open_count:
        parts.append(
            f"opened {summary.open_count}×"
            if summary.open_count > 1
            else f"opened {short_date(summary.last_open_date)}"
        )
    if summary.click_count:
        times = f"{summary.click_count}× " if summary.click_count > 1 else ""
        url = summary.last_click_url
        link = (
            f"<a href='{escape(url)}' target='_blank'>{escape(short_url(url))}</a>"
            if url
            else ""
        )
        parts.append(f"clicked {times}{link}".rstrip())
    if summary.bounce_date:
        kind = summary.bounce_type if summary.bounce_type in BOUNCE_LABELS else ""
        parts.append(
            f"bounced{f' ({kind})' if kind else ''} {short_date(summary.bounce_date)}"
        )
    if summary.unsubscribe_date:
        parts.append(f"unsubscribed {short_date(summary.unsubscribe_date)}")
    if summary.abuse_date:
        parts.append(f"marked as spam {short_date(summary.abuse_date)}")
    line = " · ".join(part if "<a " in part else escape(part) for part in parts)
    return f"Mailchimp: <b>{escape(title)}</b>" + (f" — {line}" if line else "")


# ---------------------------------------------------------------- COPY text
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = frozenset("\\\t\n\r")


def copy_value(value):
    """One value in PostgreSQL's COPY text format (None -> \\N)."""
    if value is None:
        return "\\N"
    value = str(value)
    if _COPY_SPECIAL.isdisjoint(value):
        return value
    return value.translate(_COPY_ESCAPES)


def staging_rows(events, bodies):
    """``[(subscriber hash, event time, COPY text of the event's staging row
    without its leading partner id)]``, one per distinct event key, for
    ``mailchimp.activity._store_staged``: the per-event work that needs no
    database, done where the page was fetched.  ``bodies``: a ``ChatterBodies``.
    Events without a time (their key would not be stable) or without an
    action are left out.
    """
    rows, seen = [], set()
    for event in events:
        if event.key in seen or not event.stamp or not event.action:
            continue
        seen.add(event.key)
        bounce_type = event.bounce_type if event.action == "bounce" else None
        if bounce_type not in BOUNCE_LABELS:
            bounce_type = None
        url = event.url
        rows.append(
            (
                event.hash,
                event.stamp,
                "\t".join(
                    (
                        copy_value(event.action),
                        bounce_type or "\\N",
                        "\\N" if url is None else copy_value(url),
                        event.stamp,
                        event.key,
                        copy_value(bodies(event.action, bounce_type, url)),
                    )
                ),
            )
        )
    return rows


StagedEvent = namedtuple("StagedEvent", "action bounce_type url stamp key")
_COPY_UNESCAPES = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}


def _copy_text(value):
    """The value a ``copy_value`` text stands for."""
    if value == "\\N":
        return None
    if "\\" not in value:
        return value
    out, index = [], 0
    while index < len(value):
        pair = value[index : index + 2]
        if pair in _COPY_UNESCAPES:
            out.append(_COPY_UNESCAPES[pair])
            index += 2
        else:
            out.append(value[index])
            index += 1
    return "".join(out)


def staged_event(tail):
    """The event of one staging row text (``staging_rows``' third item)."""
    action, bounce_type, url, stamp, key, _body = tail.split("\t")
    return StagedEvent(
        _copy_text(action), _copy_text(bounce_type), _copy_text(url), stamp, key
    )
