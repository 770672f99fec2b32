"""Route table and the transport-free dispatcher.

``dispatch`` runs one API call (already authenticated) and returns a
``Result``.  It is used by the HTTP server and by the /batches worker, which
executes each operation against these same routes, so batch results are
exactly what the direct call would have answered.
"""

import json
import re

from . import errors as E
from .paging import filter_fields

_ROUTES = []


class Ctx:
    """What a handler sees of the request."""

    def __init__(self, state, account, method, path, query, body, base_url):
        self.state = state
        self.account = account
        self.api_key = account.api_key if account else None
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.base_url = base_url
        self.events = []  # webhook events produced by API writes (source "api")


class Result:
    def __init__(self, status, doc=None, headers=None, events=None):
        self.status = status
        self.doc = doc
        self.headers = headers or {}
        self.events = events or []


def route(method, pattern, lock=True):
    """Register ``handler(ctx, **path_params)`` -> (status, doc)."""
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

    def deco(fn):
        _ROUTES.append((method, regex, fn, lock))
        return fn

    return deco


def match(method, path):
    """(handler, params, lock) for the request; raises 404/405 problems."""
    allowed = []
    for m, regex, fn, lock in _ROUTES:
        found = regex.match(path)
        if not found:
            continue
        if m == method:
            from urllib.parse import unquote

            return fn, {k: unquote(v) for k, v in found.groupdict().items()}, lock
        allowed.append(m)
    if allowed:
        raise E.method_not_allowed(sorted(set(allowed)))
    raise E.not_found()


def parse_body(method, raw):
    if method not in ("POST", "PUT", "PATCH") or not raw or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise E.json_parse_error() from None


def dispatch(state, account, method, path, query, raw_body, base_url):
    """Run one API call. Errors are returned as problem Results (never raised)."""
    from . import routes  # noqa: F401 (importing registers the handlers)

    path = path.rstrip("/") or "/"
    try:
        handler, params, lock = match(method, path)
        body = parse_body(method, raw_body)
        ctx = Ctx(state, account, method, path, query, body, base_url)
        if lock:
            with state.lock:
                status, doc = handler(ctx, **params)
        else:
            status, doc = handler(ctx, **params)
        if isinstance(doc, dict | list) and status < 300:
            doc = filter_fields(doc, query)
        return Result(status, doc, events=ctx.events)
    except E.ApiError as exc:
        return Result(exc.status, exc, headers=exc.headers)
    except Exception:  # a sandbox bug must still answer like Mailchimp: 500 problem
        import traceback

        traceback.print_exc()
        err = E.internal_error()
        return Result(err.status, err)
