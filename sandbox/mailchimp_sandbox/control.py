"""Control API under /_sandbox/ (no auth, JSON in and out).

Lets tests and benchmarks shape the sandbox over HTTP: reset, extra accounts,
seeding, latency, faults, the request log, campaigns, person/admin actions
with webhook delivery.  Each route calls the same-named ``State`` method so
in-process tests can do the same without HTTP.
"""

import json
import re

from .members import resolve_hash

_CONTROL = []


def control(method, pattern):
    regex = re.compile(
        "^/_sandbox" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$"
    )

    def deco(fn):
        _CONTROL.append((method, regex, fn))
        return fn

    return deco


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _need(body, *names):
    missing = [n for n in names if body.get(n) in (None, "")]
    if missing:
        raise ControlError(400, "missing: " + ", ".join(missing))


def handle(state, method, path, query, raw_body):
    """Returns (status, body bytes, content type)."""
    try:
        body = json.loads(raw_body) if raw_body and raw_body.strip() else {}
        if not isinstance(body, dict):
            raise TypeError("not an object")
    except (ValueError, TypeError):
        return _json(400, {"error": "body must be a JSON object"})
    allowed = []
    for m, regex, fn in _CONTROL:
        found = regex.match(path.rstrip("/") or path)
        if not found:
            continue
        if m != method:
            allowed.append(m)
            continue
        try:
            out = fn(state, body, query, **found.groupdict())
        except ControlError as exc:
            return _json(exc.status, {"error": exc.message})
        except KeyError as exc:
            return _json(404, {"error": str(exc).strip("'\"")})
        except (ValueError, TypeError) as exc:
            return _json(400, {"error": str(exc)})
        if isinstance(out, tuple):
            return out
        return _json(200, out)
    if allowed:
        return _json(405, {"error": "method not allowed", "allowed": allowed})
    return _json(404, {"error": f"no control route {method} {path}", "routes": index()})


def _json(status, doc):
    return status, json.dumps(doc).encode(), "application/json; charset=utf-8"


def index():
    return sorted({f"{m} {r.pattern[1:-1]}" for m, r, _ in _CONTROL})


@control("GET", "")
def _index(state, body, query):
    return {"routes": index()}


@control("GET", "/health")
def _health(state, body, query):
    """Liveness for docker-compose's healthcheck."""
    return {"status": "ok", "lists": len(state.lists), "accounts": len(state.accounts)}


@control("POST", "/reset")
def _reset(state, body, query):
    state.reset()
    return {"ok": True}


@control("GET", "/accounts")
def _accounts(state, body, query):
    with state.lock:
        return {"accounts": [a.public() for a in state.accounts.values()]}


@control("POST", "/accounts")
def _create_account(state, body, query):
    return state.create_account(
        api_key=body.get("api_key"),
        account_name=body.get("account_name"),
        email=body.get("email"),
        default_list=bool(body.get("default_list")),
    )


@control("POST", "/accounts/revoke")
def _revoke(state, body, query):
    _need(body, "api_key")
    return state.revoke_key(body["api_key"])


@control("POST", "/accounts/rotate")
def _rotate(state, body, query):
    _need(body, "api_key", "new_api_key")
    return state.rotate_key(body["api_key"], body["new_api_key"])


@control("POST", "/accounts/disable")
def _disable(state, body, query):
    _need(body, "api_key")
    return state.disable_account(body["api_key"])


@control("POST", "/lists")
def _create_list(state, body, query):
    from .constants import DEFAULT_API_KEY

    list_id = state.create_list(
        body.get("api_key") or DEFAULT_API_KEY, body.get("name") or "Audience"
    )
    return {"id": list_id}


@control("POST", "/lists/{list_id}/seed")
def _seed(state, body, query, list_id):
    _need(body, "count")
    return state.seed(
        list_id,
        body["count"],
        status=body.get("status") or "subscribed",
        start=body.get("start") or 0,
        merge_fields=body.get("merge_fields"),
        spread_seconds=body.get("spread_seconds") or 0,
    )


@control("POST", "/lists/{list_id}/member-action")
def _member_action(state, body, query, list_id):
    _need(body, "email", "action")
    return state.member_action(
        list_id,
        body["email"],
        body["action"],
        source=body.get("source") or "user",
        merges=body.get("merges"),
        new_email=body.get("new_email"),
        reason=body.get("reason"),
    )


@control("POST", "/lists/{list_id}/compliance")
def _compliance(state, body, query, list_id):
    _need(body, "email")
    state.set_compliance(list_id, body["email"], body.get("flagged", True))
    return {"ok": True}


@control("POST", "/lists/{list_id}/marketing-permissions")
def _marketing_permissions(state, body, query, list_id):
    _need(body, "permissions")
    if not isinstance(body["permissions"], list):
        raise ControlError(400, "permissions must be a list of texts")
    return {
        "marketing_permissions": state.add_marketing_permissions(
            list_id, body["permissions"]
        )
    }


@control("GET", "/state/{list_id}/members/{member}")
def _raw_member(state, body, query, list_id, member):
    from urllib.parse import unquote

    m = state.get_member(list_id, unquote(member))
    if m is None:
        raise ControlError(404, "no such member")
    return m


@control("POST", "/latency")
def _latency(state, body, query):
    state.set_latency(body.get("seconds", 0))
    return {"seconds": state.latency}


@control("GET", "/behaviour")
def _get_behaviour(state, body, query):
    return dict(state.behaviour)


@control("POST", "/behaviour")
def _set_behaviour(state, body, query):
    return state.set_behaviour(**body)


@control("POST", "/clock")
def _clock(state, body, query):
    return state.freeze_clock(bool(body.get("frozen", True)))


@control("POST", "/limits")
def _limits(state, body, query):
    return state.set_limits(body.get("max_connections"), body.get("request_timeout"))


@control("GET", "/faults")
def _faults(state, body, query):
    return {"faults": state.faults.list()}


@control("POST", "/faults")
def _add_fault(state, body, query):
    _need(body, "status")
    return state.add_fault(
        body["status"],
        count=body.get("count", 1),
        method=body.get("method"),
        path_pattern=body.get("path_pattern"),
        retry_after=body.get("retry_after"),
        hang=body.get("hang"),
    )


@control("DELETE", "/faults")
def _clear_faults(state, body, query):
    state.clear_faults()
    return {"ok": True}


@control("GET", "/requests")
def _requests(state, body, query):
    entries = state.request_log()
    return {"requests": entries, "total_items": len(entries)}


@control("DELETE", "/requests")
def _clear_requests(state, body, query):
    state.clear_request_log()
    return {"ok": True}


@control("POST", "/campaigns")
def _campaign(state, body, query):
    _need(body, "list_id")
    from .constants import DEFAULT_API_KEY

    kwargs = {
        k: body[k]
        for k in (
            "send_time",
            "recipients",
            "events",
            "generate",
            "title",
            "preview_text",
            "from_name",
            "apply_to_members",
        )
        if k in body
    }
    return state.create_campaign(
        body.get("api_key") or DEFAULT_API_KEY,
        body["list_id"],
        body.get("subject") or "Sandbox campaign",
        **kwargs,
    )


@control("POST", "/campaigns/{campaign_id}/events")
def _campaign_events(state, body, query, campaign_id):
    _need(body, "events")
    return state.add_campaign_events(campaign_id, body["events"])


@control("POST", "/webhooks/validation")
def _validation(state, body, query):
    state.set_webhook_validation(body.get("enabled", True))
    return {"enabled": state.webhook_validation}


@control("GET", "/webhooks/deliveries")
def _deliveries(state, body, query):
    if str(query.get("wait", "")).lower() in ("1", "true"):
        state.webhooks.wait_idle()
    return {"deliveries": state.webhook_deliveries()}


@control("DELETE", "/webhooks/deliveries")
def _clear_deliveries(state, body, query):
    state.webhooks.clear_log()
    return {"ok": True}


@control("POST", "/batches/config")
def _batch_config(state, body, query):
    return state.batches.configure(
        paused=body.get("paused"), operation_delay=body.get("operation_delay")
    )


@control("GET", "/batch-results/{name}")
def _batch_results(state, body, query, name):
    batch_id = name.removesuffix(".tar.gz")
    data = state.batches.result_tar(batch_id)
    if data is None:
        raise ControlError(404, "no results for this batch")
    return 200, data, "application/x-gzip"


_ = resolve_hash  # re-exported for control users
