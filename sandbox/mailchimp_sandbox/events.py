"""Custom member events (``POST/GET /lists/{id}/members/{hash}/events``).

What the spec says and nothing more: ``name`` is required and "must be 2-30
characters in length"; ``properties`` is an object of strings; ``occurred_at``
an ISO 8601 date-time; ``is_syncing`` a boolean (events sent with it do not
trigger automations, which the sandbox does not run anyway). The member must
exist (404 otherwise, as every member sub-resource). Events are kept on the
member in the order they were added; a permanent delete erases them with it.
"""

from . import errors as E
from .clock import iso, parse_iso

NAME_MIN, NAME_MAX = 2, 30


def _field(field, message):
    return E.field_errors([{"field": field, "message": message}])


def add_event(state, m, body):
    """Validate ``body`` (spec ``Events``) and store the event on member ``m``."""
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise E.required("name")
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise _field("name", f"Must be {NAME_MIN}-{NAME_MAX} characters in length.")
    properties = body.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        raise _field(
            "properties",
            f"Schema describes object, {type(properties).__name__} found instead",
        )
    for key, value in properties.items():
        if not isinstance(value, str):
            raise _field(
                f"properties.{key}",
                f"Schema describes string, {type(value).__name__} found instead",
            )
    if "is_syncing" in body and not isinstance(body["is_syncing"], bool):
        raise _field("is_syncing", "Schema describes boolean.")
    occurred = body.get("occurred_at")
    if occurred in (None, ""):
        occurred_us = state.now_us()
    else:
        try:
            occurred_us = parse_iso(occurred) if isinstance(occurred, str) else None
        except ValueError:
            occurred_us = None
        if occurred_us is None:
            raise _field(
                "occurred_at",
                "The value must be an ISO 8601 timestamp, e.g. "
                "2015-10-21T15:41:36+00:00.",
            )
    m.setdefault("events", []).append(
        {
            "name": name,
            "properties": dict(properties),
            "occurred_at": occurred_us,
            "is_syncing": bool(body.get("is_syncing", False)),
        }
    )


def events_json(m):
    """The member's events as the API shows them (spec ``Event``)."""
    return [
        {
            "name": event["name"],
            "properties": dict(event["properties"]),
            "occurred_at": iso(event["occurred_at"]),
        }
        for event in m.get("events", [])
    ]
