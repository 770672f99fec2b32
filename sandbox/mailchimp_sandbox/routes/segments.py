"""Tags and segments: /lists/{list_id}/segments[...] and /tag-search.

Tags are static segments.  Saved (condition) segments can be created and read
but their membership is not computed: the sandbox keeps them empty.
"""

from .. import errors as E
from .. import members as M
from ..constants import MAX_SEGMENT_BULK
from ..paging import bool_param, paginate
from ..render import member_json, segment_json
from ..router import route
from ..store import subscriber_hash
from .common import body_object, enum_param, get_list, since_param, time_param


def _get(lst, segment_id):
    try:
        seg = lst.segments.get(int(segment_id))
    except ValueError:
        seg = None
    if seg is None:
        raise E.not_found()
    return seg


@route("GET", "/lists/{list_id}/segments")
def list_segments(ctx, list_id):
    lst = get_list(ctx, list_id)
    q = ctx.query
    segs = list(lst.segments.values())
    stype = enum_param(q, "type", ("saved", "static", "fuzzy"))
    if stype:
        segs = [s for s in segs if s["type"] == stype]
    for name, key, op in (
        ("since_created_at", "created_at", "ge"),
        ("before_created_at", "created_at", "lt"),
        ("since_updated_at", "updated_at", "ge"),
        ("before_updated_at", "updated_at", "lt"),
    ):
        t = since_param(ctx, name) if op == "ge" else time_param(q, name)
        if t is not None:
            segs = [s for s in segs if (s[key] >= t if op == "ge" else s[key] < t)]
    page, total = paginate(segs, q)
    return 200, {
        "segments": [segment_json(lst, s) for s in page],
        "list_id": lst.id,
        "total_items": total,
    }


def _emails_to_members(lst, emails, field):
    if not isinstance(emails, list) or not all(isinstance(e, str) for e in emails):
        raise E.field_errors(
            [{"field": field, "message": "Value must be a list of email addresses."}]
        )
    if len(emails) > MAX_SEGMENT_BULK:
        raise E.field_errors(
            [{"field": field, "message": f"Maximum of {MAX_SEGMENT_BULK} emails."}]
        )
    found, missing = [], []
    for e in emails:
        m = lst.members.get(subscriber_hash(e))
        (found.append(m) if m is not None else missing.append(e))
    return found, missing


@route("POST", "/lists/{list_id}/segments")
def create_segment(ctx, list_id):
    lst = get_list(ctx, list_id)
    body = body_object(ctx)
    name = str(body.get("name") or "").strip()
    if not name:
        raise E.required("name")
    static = body.get("static_segment")
    options = body.get("options")
    if static is not None and options:
        raise E.invalid_resource(
            "You can't create a segment with both static_segment and options."
        )
    if len(name) > 100:
        raise E.field_errors(
            [{"field": "name", "message": "Name must be 100 characters or fewer."}]
        )
    if static is not None and M.find_tag(lst, name) is not None:
        # tag names are case-insensitive: "VIP" exists, "vip" cannot be created
        raise E.bad_request(f'Sorry, a tag named "{name}" already exists.')
    if options:
        seg = M.new_segment(ctx.state, lst, name, "saved", options=options)
    else:
        found, _missing = _emails_to_members(lst, static or [], "static_segment")
        seg = M.new_segment(ctx.state, lst, name, "static")
        for m in found:
            M.add_to_segment(ctx.state, lst, seg, m)
    return 200, segment_json(lst, seg)


@route("GET", "/lists/{list_id}/segments/{segment_id}")
def get_segment(ctx, list_id, segment_id):
    lst = get_list(ctx, list_id)
    return 200, segment_json(lst, _get(lst, segment_id))


@route("PATCH", "/lists/{list_id}/segments/{segment_id}")
def update_segment(ctx, list_id, segment_id):
    lst = get_list(ctx, list_id)
    seg = _get(lst, segment_id)
    body = body_object(ctx)
    if "name" in body:
        if not str(body["name"] or "").strip():
            raise E.required("name")
        if (
            seg["type"] == "static"
            and M.find_tag(lst, body["name"], exclude=seg) is not None
        ):
            raise E.bad_request(
                f"Sorry, a tag named \"{body['name'].strip()}\" already exists."
            )
        seg["name"] = body["name"].strip()
    if seg["type"] == "static" and isinstance(body.get("static_segment"), list):
        found, _ = _emails_to_members(lst, body["static_segment"], "static_segment")
        for h in list(seg["members"]):
            m = lst.members.get(h)
            if m is not None:
                M.remove_from_segment(ctx.state, lst, seg, m)
        for m in found:
            M.add_to_segment(ctx.state, lst, seg, m)
    if seg["type"] == "saved" and body.get("options"):
        seg["options"] = body["options"]
    seg["updated_at"] = ctx.state.now_us()
    return 200, segment_json(lst, seg)


@route("DELETE", "/lists/{list_id}/segments/{segment_id}")
def delete_segment(ctx, list_id, segment_id):
    lst = get_list(ctx, list_id)
    seg = _get(lst, segment_id)
    for h in list(seg["members"]):
        m = lst.members.get(h)
        if m is not None:
            m["tags"].pop(seg["id"], None)
    del lst.segments[seg["id"]]
    lst.touch()
    return 204, None


@route("POST", "/lists/{list_id}/segments/{segment_id}")
def bulk_segment(ctx, list_id, segment_id):
    lst = get_list(ctx, list_id)
    seg = _get(lst, segment_id)
    if seg["type"] != "static":
        raise E.bad_request(
            "Only static segments (tags) can have members added or removed."
        )
    body = body_object(ctx)
    add, add_missing = _emails_to_members(
        lst, body.get("members_to_add", []), "members_to_add"
    )
    rem, rem_missing = _emails_to_members(
        lst, body.get("members_to_remove", []), "members_to_remove"
    )
    added = [m for m in add if M.add_to_segment(ctx.state, lst, seg, m)]
    removed = [m for m in rem if M.remove_from_segment(ctx.state, lst, seg, m)]
    already = [m["email"] for m in add if m not in added]
    not_in = [m["email"] for m in rem if m not in removed]
    errs = []
    if add_missing or rem_missing:
        errs.append(
            {
                "email_addresses": add_missing + rem_missing,
                "error": "Email addresses do not belong to this list",
            }
        )
    if already:
        errs.append(
            {
                "email_addresses": already,
                "error": "Email addresses already exist in this segment",
            }
        )
    if not_in:
        errs.append(
            {
                "email_addresses": not_in,
                "error": "Email addresses are not in this segment",
            }
        )
    return 200, {
        "members_added": [member_json(lst, m) for m in added],
        "members_removed": [member_json(lst, m) for m in removed],
        "errors": errs,
        "total_added": len(added),
        "total_removed": len(removed),
        "error_count": sum(len(e["email_addresses"]) for e in errs),
    }


@route("GET", "/lists/{list_id}/segments/{segment_id}/members")
def segment_members(ctx, list_id, segment_id):
    lst = get_list(ctx, list_id)
    seg = _get(lst, segment_id)
    q = ctx.query
    members = [m for m in lst.members.values() if m["id"] in seg["members"]]
    if not bool_param(q, "include_cleaned"):
        members = [m for m in members if m["status"] != "cleaned"]
    if not bool_param(q, "include_transactional"):
        members = [m for m in members if m["status"] != "transactional"]
    if not bool_param(q, "include_unsubscribed"):
        members = [m for m in members if m["status"] != "unsubscribed"]
    page, total = paginate(members, q)
    return 200, {"members": [member_json(lst, m) for m in page], "total_items": total}


@route("POST", "/lists/{list_id}/segments/{segment_id}/members")
def add_segment_member(ctx, list_id, segment_id):
    lst = get_list(ctx, list_id)
    seg = _get(lst, segment_id)
    if seg["type"] != "static":
        raise E.bad_request(
            "Only static segments (tags) can have members added or removed."
        )
    body = body_object(ctx)
    if not body.get("email_address"):
        raise E.required("email_address")
    m = lst.members.get(subscriber_hash(body["email_address"]))
    if m is None:
        raise E.invalid_resource(
            f"{body['email_address']} is not a member of this list."
        )
    M.add_to_segment(ctx.state, lst, seg, m)
    return 200, member_json(lst, m)


@route("DELETE", "/lists/{list_id}/segments/{segment_id}/members/{subscriber_hash}")
def remove_segment_member(ctx, list_id, segment_id, subscriber_hash):
    lst = get_list(ctx, list_id)
    seg = _get(lst, segment_id)
    m = M.require_member(lst, subscriber_hash)
    if not M.remove_from_segment(ctx.state, lst, seg, m):
        raise E.not_found()
    return 204, None


@route("GET", "/lists/{list_id}/tag-search")
def tag_search(ctx, list_id):
    lst = get_list(ctx, list_id)
    name = (ctx.query.get("name") or "").lower()
    tags = [
        {"id": s["id"], "name": s["name"]}
        for s in lst.segments.values()
        if s["type"] == "static" and name in s["name"].lower()
    ]
    return 200, {"tags": tags, "total_items": len(tags)}
