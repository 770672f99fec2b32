"""Collection paging (``count``/``offset``) and partial responses
(``fields``/``exclude_fields``), shared by every endpoint.

Mailchimp caps ``count`` at 1000; asking for more is a 400, not a silent clamp,
so a client that would rely on big pages finds out in tests.
"""

from .constants import DEFAULT_COUNT, MAX_COUNT
from .errors import field_errors


def int_param(query, name, default, minimum=0, maximum=None):
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise field_errors(
            [{"field": name, "message": f"{name} must be an integer."}]
        ) from None
    if value < minimum:
        raise field_errors(
            [{"field": name, "message": f"{name} must be {minimum} or greater."}]
        )
    if maximum is not None and value > maximum:
        raise field_errors(
            [
                {
                    "field": name,
                    "message": f"{name} must be less than or equal to {maximum}.",
                }
            ]
        )
    return value


def bool_param(query, name, default=False):
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    return str(raw).lower() in ("true", "1", "yes")


def page_bounds(query):
    """(offset, count) from the query, validated like Mailchimp."""
    count = int_param(query, "count", DEFAULT_COUNT, minimum=0, maximum=MAX_COUNT)
    offset = int_param(query, "offset", 0, minimum=0)
    return offset, count


def paginate(items, query):
    """Slice a sequence for the request; returns (page, total_items)."""
    offset, count = page_bounds(query)
    return items[offset : offset + count], len(items)


def _split(spec):
    if not spec:
        return []
    return [p.strip().split(".") for p in str(spec).split(",") if p.strip()]


def _include(obj, paths):
    if isinstance(obj, list):
        return [_include(x, paths) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key, value in obj.items():
        subs = [p[1:] for p in paths if p[0] == key]
        if not subs:
            continue
        if any(len(s) == 0 for s in subs):
            out[key] = value
        else:
            out[key] = _include(value, subs)
    return out


def _exclude(obj, paths):
    if isinstance(obj, list):
        return [_exclude(x, paths) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key, value in obj.items():
        subs = [p[1:] for p in paths if p[0] == key]
        if any(len(s) == 0 for s in subs):
            continue
        out[key] = _exclude(value, subs) if subs else value
    return out


def filter_fields(doc, query):
    """Apply ``fields`` then ``exclude_fields`` (comma-separated dot paths)."""
    if not isinstance(doc, dict | list):
        return doc
    inc = _split(query.get("fields"))
    exc = _split(query.get("exclude_fields"))
    if inc:
        doc = _include(doc, inc)
    if exc:
        doc = _exclude(doc, exc)
    return doc
