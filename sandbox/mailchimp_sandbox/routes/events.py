"""Custom events of a member: /lists/{list_id}/members/{subscriber_hash}/events."""

from .. import events as EV
from .. import members as M
from ..paging import paginate
from ..router import route
from .common import body_object, get_list


@route("POST", "/lists/{list_id}/members/{subscriber_hash}/events")
def add_member_event(ctx, list_id, subscriber_hash):
    lst = get_list(ctx, list_id)
    m = M.require_member(lst, subscriber_hash)
    EV.add_event(ctx.state, m, body_object(ctx))
    return 204, None


@route("GET", "/lists/{list_id}/members/{subscriber_hash}/events")
def list_member_events(ctx, list_id, subscriber_hash):
    lst = get_list(ctx, list_id)
    m = M.require_member(lst, subscriber_hash)
    page, total = paginate(EV.events_json(m), ctx.query)
    return 200, {"events": page, "total_items": total}
