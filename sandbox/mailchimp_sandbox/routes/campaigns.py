"""Campaigns and reports (read-only; campaigns are created via the control API)."""

from .. import errors as E
from ..members import resolve_hash
from ..paging import page_bounds, paginate
from ..router import route
from .common import enum_param, since_param, time_param

CAMPAIGN_STATUSES = (
    "save",
    "paused",
    "schedule",
    "sending",
    "sent",
    "canceled",
    "canceling",
    "archived",
)
CAMPAIGN_TYPES = ("regular", "plaintext", "absplit", "rss", "variate")


def _campaigns(ctx):
    return [c for c in ctx.state.campaigns.values() if c.api_key == ctx.api_key]


def _get(ctx, campaign_id):
    camp = ctx.state.campaigns.get(campaign_id)
    if camp is None or camp.api_key != ctx.api_key:
        raise E.not_found()
    return camp


def _filter(ctx, camps):
    q = ctx.query
    status = enum_param(q, "status", CAMPAIGN_STATUSES)
    if status and status != "sent":
        camps = []
    ctype = enum_param(q, "type", CAMPAIGN_TYPES)
    if ctype and ctype != "regular":
        camps = []
    for name, attr, op in (
        ("since_send_time", "send_us", "ge"),
        ("before_send_time", "send_us", "lt"),
        ("since_create_time", "create_us", "ge"),
        ("before_create_time", "create_us", "lt"),
    ):
        t = since_param(ctx, name) if op == "ge" else time_param(q, name)
        if t is not None:
            camps = [
                c
                for c in camps
                if (getattr(c, attr) >= t if op == "ge" else getattr(c, attr) < t)
            ]
    if q.get("list_id"):
        camps = [c for c in camps if c.list_id == q["list_id"]]
    if q.get("member_id"):
        h = resolve_hash(q["member_id"])
        camps = [c for c in camps if h in c.index]
    return camps


def _sorted(ctx, camps):
    field = enum_param(ctx.query, "sort_field", ("create_time", "send_time"))
    if field:
        attr = "create_us" if field == "create_time" else "send_us"
        camps = sorted(
            camps,
            key=lambda c: getattr(c, attr),
            reverse=enum_param(ctx.query, "sort_dir", ("ASC", "DESC"), "ASC") == "DESC",
        )
    return camps


@route("GET", "/campaigns")
def list_campaigns(ctx):
    camps = _sorted(ctx, _filter(ctx, _campaigns(ctx)))
    page, total = paginate(camps, ctx.query)
    return 200, {"campaigns": [c.json(ctx.state) for c in page], "total_items": total}


@route("GET", "/campaigns/{campaign_id}")
def get_campaign(ctx, campaign_id):
    return 200, _get(ctx, campaign_id).json(ctx.state)


@route("GET", "/reports")
def list_reports(ctx):
    camps = _sorted(ctx, _filter(ctx, _campaigns(ctx)))
    page, total = paginate(camps, ctx.query)
    return 200, {"reports": [c.report(ctx.state) for c in page], "total_items": total}


@route("GET", "/reports/{campaign_id}")
def get_report(ctx, campaign_id):
    return 200, _get(ctx, campaign_id).report(ctx.state)


@route("GET", "/reports/{campaign_id}/email-activity")
def email_activity(ctx, campaign_id):
    camp = _get(ctx, campaign_id)
    since = since_param(ctx, "since")
    idx = camp.with_activity_since(since)
    offset, count = page_bounds(ctx.query)
    page = idx[offset : offset + count]
    return 200, {
        "emails": [camp.email_activity(ctx.state, i, since) for i in page],
        "campaign_id": camp.id,
        "total_items": len(idx),
    }


@route("GET", "/reports/{campaign_id}/open-details")
def open_details(ctx, campaign_id):
    camp = _get(ctx, campaign_id)
    since = since_param(ctx, "since")
    idx, total = camp.opened_since(since)
    offset, count = page_bounds(ctx.query)
    return 200, {
        "members": [
            camp.open_details(ctx.state, i, since) for i in idx[offset : offset + count]
        ],
        "campaign_id": camp.id,
        "total_items": len(idx),
        "total_opens": total,
        "total_proxy_excluded_opens": total,
    }


def _recipient(camp, subscriber_hash):
    i = camp.index.get(resolve_hash(subscriber_hash))
    if i is None:
        raise E.not_found()
    return i


@route("GET", "/reports/{campaign_id}/email-activity/{subscriber_hash}")
def member_email_activity(ctx, campaign_id, subscriber_hash):
    camp = _get(ctx, campaign_id)
    return 200, camp.email_activity(
        ctx.state, _recipient(camp, subscriber_hash), since_param(ctx, "since")
    )


@route("GET", "/reports/{campaign_id}/sent-to")
def sent_to(ctx, campaign_id):
    from ..reports import sent_to as render

    camp = _get(ctx, campaign_id)
    offset, count = page_bounds(ctx.query)
    page = range(camp.n)[offset : offset + count]
    return 200, {
        "sent_to": [render(ctx.state, camp, i) for i in page],
        "campaign_id": camp.id,
        "total_items": camp.n,
    }


@route("GET", "/reports/{campaign_id}/sent-to/{subscriber_hash}")
def sent_to_member(ctx, campaign_id, subscriber_hash):
    from ..reports import sent_to as render

    camp = _get(ctx, campaign_id)
    return 200, render(ctx.state, camp, _recipient(camp, subscriber_hash))


@route("GET", "/reports/{campaign_id}/unsubscribed")
def unsubscribed(ctx, campaign_id):
    from ..reports import unsubscribed as render

    camp = _get(ctx, campaign_id)
    page, total = paginate(camp.unsub_idx, ctx.query)
    return 200, {
        "unsubscribes": [render(ctx.state, camp, i) for i in page],
        "campaign_id": camp.id,
        "total_items": total,
    }


@route("GET", "/reports/{campaign_id}/unsubscribed/{subscriber_hash}")
def unsubscribed_member(ctx, campaign_id, subscriber_hash):
    from ..reports import unsubscribed as render

    camp = _get(ctx, campaign_id)
    i = _recipient(camp, subscriber_hash)
    if i not in set(camp.unsub_idx):
        raise E.not_found()
    return 200, render(ctx.state, camp, i)


@route("GET", "/reports/{campaign_id}/abuse-reports")
def abuse_reports(ctx, campaign_id):
    """Not paged (the API takes no count/offset here): every complaint at once."""
    from ..reports import abuse_reports as render

    camp = _get(ctx, campaign_id)
    reports = [report for i in camp.abuse_idx for report in render(ctx.state, camp, i)]
    return 200, {
        "abuse_reports": reports,
        "campaign_id": camp.id,
        "total_items": len(reports),
    }
