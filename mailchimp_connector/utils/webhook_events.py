"""Mailchimp audience webhooks without a database (F19).

- ``registration_payload``: what ``POST /lists/{id}/webhooks`` gets: the five
  member events, sources user and admin but never api (our own writes must not
  come back as events).
- ``parse_event``: a delivery's form fields (``type``, ``fired_at``,
  ``data[merges][FNAME]``...) into a ``WebhookEvent``; a body that is not a
  Mailchimp delivery raises ``WebhookParseError``, a delivery of an event the
  sync does not follow (``campaign``) ``WebhookNotFollowed``.
- ``url_problem``: whether Mailchimp can reach the webhook URL at all (a
  localhost or private address cannot be reached from Mailchimp's servers).
- ``redact_webhook_paths`` / ``WebhookTokenLogFilter``: the token is a secret,
  so the HTTP access log shows ``/mailchimp/webhook/***``.
"""

import datetime as dt
import ipaddress
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .merge_values import normalize_email

WEBHOOK_PATH = "/mailchimp/webhook"
# the member events a pairing follows; "campaign" is not a member event
EVENTS = ("subscribe", "unsubscribe", "profile", "upemail", "cleaned")
ALL_EVENTS = EVENTS + ("campaign",)
SOURCES = {"user": True, "admin": True, "api": False}
# a real delivery is a few kB; larger bodies get 413 unread
MAX_BODY_BYTES = 1024 * 1024
MAX_FIELDS = 500  # a real delivery has a few dozen; more is not Mailchimp
MAX_DEPTH = 4  # data[merges][GROUPINGS][0][name]
_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_REDACT_RE = re.compile(rf"({re.escape(WEBHOOK_PATH)}/)[^\s\"'?/#]+")


class WebhookParseError(ValueError):
    """The body is not a Mailchimp delivery: the sender gets a 4xx."""


class WebhookNotFollowed(Exception):
    """A well-formed delivery of an event the sync does not follow: answered 200
    and ignored, so that Mailchimp does not send it again for an hour."""


@dataclass(frozen=True)
class WebhookEvent:
    """One delivery: which audience, whose address, what happened.

    ``email`` is the address of the member as it is now (for ``upemail``, the
    new one), normalized; ``old_email`` is set for ``upemail`` only.
    """

    type: str
    list_id: str
    email: str
    old_email: str = ""
    fired_at: dt.datetime | None = None
    data: dict = field(default_factory=dict, compare=False)


def registration_payload(url):
    """The body of ``POST /lists/{list_id}/webhooks`` for one pairing."""
    return {
        "url": url,
        "events": {event: event in EVENTS for event in ALL_EVENTS},
        "sources": dict(SOURCES),
    }


def webhook_url(base_url, token):
    return f"{(base_url or '').rstrip('/')}{WEBHOOK_PATH}/{token}"


def raw_body_problem(mimetype, body):
    """Why a delivery's raw body is not worth parsing, or None.

    Checked before Odoo parses the form (``ir.http._pre_dispatch``), so that a body
    of a million tiny fields is refused in microseconds instead of being parsed for
    a second: Mailchimp sends one urlencoded form of a few dozen fields.
    """
    if mimetype != "application/x-www-form-urlencoded":
        return f"not a form: {str(mimetype)[:40]!r}"
    if body.count(b"&") >= MAX_FIELDS:
        return f"more than {MAX_FIELDS} fields"
    return None


def nest_form(pairs):
    """Bracket keys into nested dicts: ``data[merges][FNAME]=Ann`` ->
    ``{"data": {"merges": {"FNAME": "Ann"}}}``. The last value of a key wins."""
    out = {}
    for count, (key, value) in enumerate(pairs, 1):
        if count > MAX_FIELDS:
            raise WebhookParseError(f"more than {MAX_FIELDS} fields")
        match = _KEY_RE.match(key or "")
        if not match:
            raise WebhookParseError(f"malformed field name {key[:40]!r}")
        parts = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        if len(parts) > MAX_DEPTH + 1:
            raise WebhookParseError(f"field name nested too deep: {key[:40]!r}")
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return out


def parse_fired_at(value):
    """``YYYY-MM-DD HH:MM:SS`` (Mailchimp sends no timezone; it is UTC) or None."""
    try:
        return dt.datetime.strptime((value or "").strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def parse_event(pairs):
    """A form-encoded delivery (``(key, value)`` pairs) into a ``WebhookEvent``."""
    body = nest_form(pairs)
    kind = body.get("type")
    if kind not in ALL_EVENTS:
        raise WebhookParseError(f"not a Mailchimp event: {str(kind)[:20]!r}")
    if kind not in EVENTS:
        raise WebhookNotFollowed(kind)
    data = body.get("data")
    if not isinstance(data, dict):
        raise WebhookParseError("no data")
    list_id = data.get("list_id")
    if not isinstance(list_id, str) or not list_id.strip():
        raise WebhookParseError("no data[list_id]")
    old_email = ""
    if kind == "upemail":
        email = normalize_email(_text(data.get("new_email")))
        old_email = normalize_email(_text(data.get("old_email")))
        if not old_email:
            raise WebhookParseError("no data[old_email]")
    else:
        email = normalize_email(_text(data.get("email")))
    if not email:
        raise WebhookParseError("no member address")
    return WebhookEvent(
        type=kind,
        list_id=list_id.strip(),
        email=email,
        old_email=old_email,
        fired_at=parse_fired_at(_text(body.get("fired_at"))),
        data=data,
    )


def _text(value):
    return value if isinstance(value, str) else ""


# ------------------------------------------------------------------------- reachability
def _is_local_host(host):
    host = (host or "").strip("[]").lower().rstrip(".")
    if (
        not host
        or host == "localhost"
        or host.endswith((".localhost", ".local", ".internal"))
    ):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        # a name without a dot ("odoo", "web") only resolves inside a private network
        return "." not in host
    return not address.is_global


def url_problem(url, api_base_url=None):
    """Why Mailchimp could not deliver to ``url``, or None.

    Returns ``"scheme"`` (not http/https), ``"local"`` (localhost, a private
    address or a bare host name: Mailchimp's servers cannot reach it). A local
    address is fine when the API itself is local (the project's sandbox runs
    next to Odoo and can reach it).
    """
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "scheme"
    if _is_local_host(parts.hostname):
        api_host = urlsplit(api_base_url or "").hostname
        if not (api_host and _is_local_host(api_host)):
            return "local"
    return None


# --------------------------------------------------------------------------- logs
def redact_webhook_paths(text):
    """``/mailchimp/webhook/<token>`` -> ``/mailchimp/webhook/***``."""
    return _REDACT_RE.sub(r"\1***", text) if isinstance(text, str) else text


class WebhookTokenLogFilter(logging.Filter):
    """Keeps webhook tokens out of the HTTP access log (werkzeug logs every path)."""

    def filter(self, record):
        if WEBHOOK_PATH in str(record.msg) or any(
            isinstance(arg, str) and WEBHOOK_PATH in arg for arg in record.args or ()
        ):
            record.msg = redact_webhook_paths(record.getMessage())
            record.args = ()
        return True
