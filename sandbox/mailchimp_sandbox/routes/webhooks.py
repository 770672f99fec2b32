"""Audience webhooks: /lists/{list_id}/webhooks[/{webhook_id}].

Creation validates the URL with a GET outside the state lock (the receiver
may itself call the sandbox), unless validation was switched off through the
control API.
"""

from .. import errors as E
from ..paging import paginate
from ..render import webhook_json
from ..router import route
from ..validation import URL_RE
from ..webhooks import EVENT_TYPES, SOURCES, validate_url
from .common import body_object, get_list

DEFAULT_EVENTS = {e: True for e in EVENT_TYPES}
DEFAULT_SOURCES = {"user": True, "admin": True, "api": False}


def _flags(body, key, names, defaults):
    value = body.get(key)
    if value is None:
        return dict(defaults)
    if not isinstance(value, dict) or not all(
        isinstance(v, bool) for v in value.values()
    ):
        raise E.field_errors(
            [{"field": key, "message": "Value must be an object of booleans."}]
        )
    unknown = [k for k in value if k not in names]
    if unknown:
        raise E.field_errors(
            [{"field": f"{key}.{unknown[0]}", "message": "Unknown property."}]
        )
    out = {k: False for k in names}
    out.update(value)
    return out


def _get(lst, webhook_id):
    hook = lst.webhooks.get(webhook_id)
    if hook is None:
        raise E.not_found()
    return hook


@route("GET", "/lists/{list_id}/webhooks")
def list_webhooks(ctx, list_id):
    lst = get_list(ctx, list_id)
    hooks = [webhook_json(lst, h) for h in lst.webhooks.values()]
    page, total = paginate(hooks, ctx.query)
    return 200, {"webhooks": page, "list_id": lst.id, "total_items": total}


@route("POST", "/lists/{list_id}/webhooks", lock=False)
def create_webhook(ctx, list_id):
    with ctx.state.lock:
        lst = get_list(ctx, list_id)
        body = body_object(ctx)
        url = str(body.get("url") or "").strip()
        if not url:
            raise E.required("url")
        if not URL_RE.match(url):
            raise E.field_errors(
                [{"field": "url", "message": "Please provide a valid URL."}]
            )
        if any(h["url"] == url for h in lst.webhooks.values()):
            raise E.invalid_resource(
                "Sorry, you can't use the same URL for more than one webhook."
            )
        events = _flags(body, "events", EVENT_TYPES, DEFAULT_EVENTS)
        sources = _flags(body, "sources", SOURCES, DEFAULT_SOURCES)
        validate = ctx.state.webhook_validation
    if validate:
        ok, message = validate_url(url)
        if not ok:
            raise E.field_errors([{"field": "url", "message": message}])
    with ctx.state.lock:
        lst = get_list(ctx, list_id)
        hook = {
            "id": ctx.state.new_id(),
            "url": url,
            "events": events,
            "sources": sources,
        }
        lst.webhooks[hook["id"]] = hook
        return 200, webhook_json(lst, hook)


@route("GET", "/lists/{list_id}/webhooks/{webhook_id}")
def get_webhook(ctx, list_id, webhook_id):
    lst = get_list(ctx, list_id)
    return 200, webhook_json(lst, _get(lst, webhook_id))


@route("PATCH", "/lists/{list_id}/webhooks/{webhook_id}")
def update_webhook(ctx, list_id, webhook_id):
    lst = get_list(ctx, list_id)
    hook = _get(lst, webhook_id)
    body = body_object(ctx)
    if "url" in body:
        if not URL_RE.match(str(body["url"] or "")):
            raise E.field_errors(
                [{"field": "url", "message": "Please provide a valid URL."}]
            )
        hook["url"] = body["url"]
    for key, names, defaults in (
        ("events", EVENT_TYPES, DEFAULT_EVENTS),
        ("sources", SOURCES, DEFAULT_SOURCES),
    ):
        if key in body:
            _flags(body, key, names, defaults)  # validates
            hook[key].update(body[key])
    return 200, webhook_json(lst, hook)


@route("DELETE", "/lists/{list_id}/webhooks/{webhook_id}")
def delete_webhook(ctx, list_id, webhook_id):
    lst = get_list(ctx, list_id)
    del lst.webhooks[_get(lst, webhook_id)["id"]]
    return 204, None
