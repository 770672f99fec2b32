"""Helpers shared by the handlers."""

from .. import errors as E
from ..clock import parse_iso, since_bound


def get_list(ctx, list_id):
    lst = ctx.state.audience(list_id, ctx.api_key)
    if lst is None:
        raise E.not_found()
    return lst


def body_object(ctx):
    if not isinstance(ctx.body, dict):
        raise E.field_errors(
            [
                {
                    "field": "",
                    "message": "Schema describes object, "
                    + ("NULL" if ctx.body is None else type(ctx.body).__name__)
                    + " found instead",
                }
            ]
        )
    return ctx.body


def time_param(query, name):
    try:
        return parse_iso(query.get(name))
    except ValueError:
        raise E.field_errors(
            [
                {
                    "field": name,
                    "message": "The value must be an ISO 8601 timestamp, "
                    "e.g. 2015-10-21T15:41:36+00:00.",
                }
            ]
        ) from None


def enum_param(query, name, allowed, default=None):
    value = query.get(name)
    if value in (None, ""):
        return default
    if value not in allowed:
        raise E.field_errors(
            [
                {
                    "field": name,
                    "message": "Value is not one of the allowed values: {}.".format(
                        ", ".join(allowed)
                    ),
                }
            ]
        )
    return value


def since_param(ctx, name):
    """A ``since_*`` filter as the first tick it keeps (``>=``), per the sandbox's
    ``since`` behaviour switch: exclusive keeps only later seconds."""
    return since_bound(time_param(ctx.query, name), ctx.state.since_exclusive())
