"""Members of an audience: listing with incremental filters, CRUD, tags, activity."""

from dataclasses import astuple, dataclass

from .. import errors as E
from .. import members as M
from ..clock import floor_second, iso
from ..paging import bool_param, paginate
from ..render import member_json
from ..router import route
from .common import body_object, enum_param, get_list, since_param, time_param

SORT_FIELDS = ("timestamp_opt", "timestamp_signup", "last_changed")


@dataclass(frozen=True)
class _MemberQuery:
    """The filters and sort of a member listing, as read from its query string."""

    status: str | None
    since_lc: int | None
    before_lc: int | None
    since_opt: int | None
    before_opt: int | None
    unsub_since: int | None
    sort_field: str | None
    sort_dir: str
    email_type: str | None
    ueid: str | None
    vip_only: bool
    cat_id: str | None
    ids: tuple
    match: str
    archived_listed: bool
    by_id: bool


def _member_query(ctx):
    """Read and check the listing's query (errors as Mailchimp words them)."""
    q = ctx.query
    behaviour = ctx.state.behaviour
    status = enum_param(q, "status", M.ALL_STATUSES)
    since_lc, before_lc = (
        since_param(ctx, "since_last_changed"),
        time_param(q, "before_last_changed"),
    )
    since_opt, before_opt = (
        since_param(ctx, "since_timestamp_opt"),
        time_param(q, "before_timestamp_opt"),
    )
    unsub_since = since_param(ctx, "unsubscribed_since")
    if unsub_since is not None and status != "unsubscribed":
        raise E.invalid_resource(
            "unsubscribed_since can only be used with status=unsubscribed."
        )
    if bool_param(q, "since_last_campaign") and not status:
        raise E.invalid_resource("since_last_campaign requires a status.")
    sort_field = enum_param(q, "sort_field", SORT_FIELDS)
    sort_dir = enum_param(q, "sort_dir", ("ASC", "DESC"), "ASC")
    email_type = enum_param(q, "email_type", ("html", "text"))
    ueid = q.get("unique_email_id") or None
    vip_only = bool_param(q, "vip_only")
    cat_id = q.get("interest_category_id") or None
    ids = [i for i in (q.get("interest_ids") or "").split(",") if i]
    match = enum_param(q, "interest_match", ("any", "all", "none"), "any")
    if ids and not cat_id:
        raise E.invalid_resource("interest_ids requires interest_category_id.")
    return _MemberQuery(
        status,
        since_lc,
        before_lc,
        since_opt,
        before_opt,
        unsub_since,
        sort_field,
        sort_dir,
        email_type,
        ueid,
        vip_only,
        cat_id,
        tuple(ids),
        match,
        behaviour["archived_listed"],
        behaviour["same_second_order"] == "id",
    )


def _within(value, since, before):
    return (since is None or value >= since) and (before is None or value < before)


def _interests_match(m, ids, match):
    hits = sum(1 for i in ids if m["interests"].get(i))
    if match == "any":
        return hits != 0
    if match == "all":
        return hits == len(ids)
    return not hits  # "none"


def _matches(m, query):
    status = m["status"]
    if query.status:
        if status != query.status:
            return False
    elif status == "archived" and not query.archived_listed:
        return False
    last_changed = m["last_changed"]
    if not _within(last_changed, query.since_lc, query.before_lc):
        return False
    if not _within(m["timestamp_opt"], query.since_opt, query.before_opt):
        return False
    if query.unsub_since is not None and last_changed < query.unsub_since:
        return False
    if query.ueid and m["unique_email_id"] != query.ueid:
        return False
    if query.email_type and m["email_type"] != query.email_type:
        return False
    if query.vip_only and not m["vip"]:
        return False
    return not query.ids or _interests_match(m, query.ids, query.match)


def _filtered(ctx, lst):
    """Members matching the query filters, sorted; cached per audience version.

    The sandbox's behaviour switches apply: whether ``since_*`` keeps the times of
    its own second, whether archived members are listed without ``status``, how
    one second's members are ordered by a time sort.
    """
    query = _member_query(ctx)

    def build():
        out = [m for m in lst.members.values() if _matches(m, query)]
        if query.sort_field and query.by_id:
            out.sort(
                key=lambda m: (floor_second(m[query.sort_field]), m["id"]),
                reverse=(query.sort_dir == "DESC"),
            )
        elif query.sort_field:
            out.sort(
                key=lambda m: m[query.sort_field], reverse=(query.sort_dir == "DESC")
            )
        return out

    return lst.cached(("members", *astuple(query)), build)


@route("GET", "/lists/{list_id}/members")
def list_members(ctx, list_id):
    lst = get_list(ctx, list_id)
    page, total = paginate(_filtered(ctx, lst), ctx.query)
    return 200, {
        "members": [member_json(lst, m) for m in page],
        "list_id": lst.id,
        "total_items": total,
    }


@route("POST", "/lists/{list_id}/members")
def add_member(ctx, list_id):
    lst = get_list(ctx, list_id)
    m, _, events = M.create_member(
        ctx.state, lst, body_object(ctx), bool_param(ctx.query, "skip_merge_validation")
    )
    ctx.events += events
    return 200, member_json(lst, m)


@route("GET", "/lists/{list_id}/members/{subscriber_hash}")
def get_member(ctx, list_id, subscriber_hash):
    lst = get_list(ctx, list_id)
    return 200, member_json(lst, M.require_member(lst, subscriber_hash))


@route("PUT", "/lists/{list_id}/members/{subscriber_hash}")
def put_member(ctx, list_id, subscriber_hash):
    lst = get_list(ctx, list_id)
    m, _, events = M.upsert_member(
        ctx.state,
        lst,
        subscriber_hash,
        body_object(ctx),
        bool_param(ctx.query, "skip_merge_validation"),
    )
    ctx.events += events
    return 200, member_json(lst, m)


@route("PATCH", "/lists/{list_id}/members/{subscriber_hash}")
def patch_member(ctx, list_id, subscriber_hash):
    lst = get_list(ctx, list_id)
    m, _, events = M.patch_member(
        ctx.state,
        lst,
        subscriber_hash,
        body_object(ctx),
        bool_param(ctx.query, "skip_merge_validation"),
    )
    ctx.events += events
    return 200, member_json(lst, m)


@route("DELETE", "/lists/{list_id}/members/{subscriber_hash}")
def archive_member(ctx, list_id, subscriber_hash):
    lst = get_list(ctx, list_id)
    ctx.events += M.archive_member(ctx.state, lst, subscriber_hash)
    return 204, None


@route("POST", "/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent")
def delete_permanent(ctx, list_id, subscriber_hash):
    lst = get_list(ctx, list_id)
    ctx.events += M.delete_permanent(ctx.state, lst, subscriber_hash)
    return 204, None


@route("GET", "/lists/{list_id}/members/{subscriber_hash}/tags")
def member_tags(ctx, list_id, subscriber_hash):
    lst = get_list(ctx, list_id)
    m = M.require_member(lst, subscriber_hash)
    tags = [
        {"id": seg_id, "name": lst.segments[seg_id]["name"], "date_added": iso(added)}
        for seg_id, added in m["tags"].items()
        if seg_id in lst.segments
    ]
    page, total = paginate(tags, ctx.query)
    return 200, {"tags": page, "total_items": total}


@route("POST", "/lists/{list_id}/members/{subscriber_hash}/tags")
def update_member_tags(ctx, list_id, subscriber_hash):
    lst = get_list(ctx, list_id)
    m = M.require_member(lst, subscriber_hash)
    body = body_object(ctx)
    M.set_tags(ctx.state, lst, m, body.get("tags"))
    return 204, None


@route("GET", "/lists/{list_id}/members/{subscriber_hash}/activity")
def member_activity(ctx, list_id, subscriber_hash):
    from ..constants import MAX_MEMBER_ACTIVITY
    from ..reports import member_activity as activity

    lst = get_list(ctx, list_id)
    m = M.require_member(lst, subscriber_hash)
    events = activity(ctx.state, lst, m)
    actions = [a for a in (ctx.query.get("action") or "").split(",") if a]
    if actions:
        events = [e for e in events if e["action"] in actions]
    events = events[:MAX_MEMBER_ACTIVITY]
    return 200, {
        "email_id": m["id"],
        "list_id": lst.id,
        "contact_id": m["contact_id"],
        "activity": events,
        "total_items": len(events),
    }


FEED_TYPES = {
    "open": "open",
    "click": "click",
    "bounce": "bounce",
    "unsub": "unsub",
    "sent": "sent",
}


@route("GET", "/lists/{list_id}/members/{subscriber_hash}/activity-feed")
def member_activity_feed(ctx, list_id, subscriber_hash):
    from ..reports import member_activity as activity

    lst = get_list(ctx, list_id)
    m = M.require_member(lst, subscriber_hash)
    wanted = [a for a in (ctx.query.get("activity_filters") or "").split(",") if a]
    feed = []
    for e in activity(ctx.state, lst, m):
        if wanted and e["action"] not in wanted:
            continue
        item = {
            "activity_type": e["action"],
            "created_at_timestamp": e["timestamp"],
            "campaign_id": e["campaign_id"],
            "campaign_title": e["title"],
        }
        if e["action"] == "click":
            item["link_clicked"] = e["url"]
        if e["action"] == "bounce":
            item["bounce_type"] = e["type"]
            item["bounce_has_open_activity"] = False
        feed.append(item)
    page, total = paginate(feed, ctx.query)
    return 200, {
        "email_id": m["id"],
        "list_id": lst.id,
        "activity": page,
        "total_items": total,
    }
