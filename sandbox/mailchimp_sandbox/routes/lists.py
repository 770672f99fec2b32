"""Audiences: /lists, /lists/{list_id} and batch subscribe (POST /lists/{list_id})."""

from .. import errors as E
from ..members import batch_subscribe
from ..paging import bool_param, paginate
from ..render import list_json, member_json
from ..router import route
from ..store import subscriber_hash
from ..validation import email_problem
from .common import body_object, enum_param, get_list, since_param, time_param

LIST_SETTINGS = (
    "permission_reminder",
    "email_type_option",
    "double_optin",
    "use_archive_bar",
    "notify_on_subscribe",
    "notify_on_unsubscribe",
    "visibility",
    "marketing_permissions",
    "has_welcome",
)


def _validate_list_body(body, creating):
    errs = []
    required = (
        "name",
        "contact",
        "permission_reminder",
        "campaign_defaults",
        "email_type_option",
    )
    if creating:
        errs += [
            {"field": k, "message": "This value should not be blank."}
            for k in required
            if body.get(k) in (None, "")
        ]
    if "name" in body and not str(body.get("name") or "").strip():
        errs.append({"field": "name", "message": "This value should not be blank."})
    contact = body.get("contact")
    if contact is not None:
        if not isinstance(contact, dict):
            errs.append({"field": "contact", "message": "Value must be an object."})
        elif creating:
            errs += [
                {"field": f"contact.{k}", "message": "This value should not be blank."}
                for k in ("company", "address1", "city", "country")
                if not contact.get(k)
            ]
    defaults = body.get("campaign_defaults")
    if defaults is not None:
        if not isinstance(defaults, dict):
            errs.append(
                {"field": "campaign_defaults", "message": "Value must be an object."}
            )
        else:
            if creating:
                errs += [
                    {
                        "field": f"campaign_defaults.{k}",
                        "message": "This value should not be blank.",
                    }
                    for k in ("from_name", "from_email", "subject", "language")
                    if k not in defaults
                ]
            if defaults.get("from_email") and email_problem(defaults["from_email"]):
                errs.append(
                    {
                        "field": "campaign_defaults.from_email",
                        "message": "Please provide a valid email address.",
                    }
                )
    if body.get("visibility") not in (None, "pub", "prv"):
        errs.append(
            {
                "field": "visibility",
                "message": "Value is not one of the allowed values: pub, prv.",
            }
        )
    if errs:
        raise E.field_errors(errs)


@route("GET", "/lists")
def list_lists(ctx):
    q = ctx.query
    lists = [
        audience
        for audience in ctx.state.lists.values()
        if audience.api_key == ctx.api_key
    ]
    since, before = (
        since_param(ctx, "since_date_created"),
        time_param(q, "before_date_created"),
    )
    if since:
        lists = [audience for audience in lists if audience.date_created_us >= since]
    if before:
        lists = [audience for audience in lists if audience.date_created_us < before]
    if q.get("email"):
        h = subscriber_hash(q["email"])
        lists = [audience for audience in lists if h in audience.members]
    if enum_param(q, "sort_field", ("date_created",)):
        lists.sort(
            key=lambda audience: audience.date_created_us,
            reverse=enum_param(q, "sort_dir", ("ASC", "DESC"), "ASC") == "DESC",
        )
    page, total = paginate(lists, q)
    return 200, {
        "lists": [list_json(ctx.state, audience) for audience in page],
        "total_items": total,
        "constraints": {
            "may_create": True,
            "max_instances": 1000,
            "current_total_instances": total,
        },
    }


@route("POST", "/lists")
def create_list(ctx):
    body = body_object(ctx)
    _validate_list_body(body, creating=True)
    settings = {k: body[k] for k in LIST_SETTINGS if k in body}
    contact = dict(body["contact"])
    for k in ("address2", "state", "zip", "phone"):
        contact.setdefault(k, "")
    lst = ctx.state._new_list(
        ctx.api_key,
        body["name"].strip(),
        contact=contact,
        campaign_defaults=dict(body["campaign_defaults"]),
        **settings,
    )
    return 200, list_json(ctx.state, lst)


@route("GET", "/lists/{list_id}")
def get_list_info(ctx, list_id):
    return 200, list_json(ctx.state, get_list(ctx, list_id))


@route("PATCH", "/lists/{list_id}")
def update_list(ctx, list_id):
    lst = get_list(ctx, list_id)
    body = body_object(ctx)
    # The spec (SubscriberList2) marks the same five fields required on PATCH as on
    # POST; nothing observed of Mailchimp says otherwise, so the sandbox enforces
    # the spec.
    _validate_list_body(body, creating=True)
    if "name" in body:
        lst.name = body["name"].strip()
    if isinstance(body.get("contact"), dict):
        lst.contact.update(body["contact"])
    if isinstance(body.get("campaign_defaults"), dict):
        lst.campaign_defaults.update(body["campaign_defaults"])
    for k in LIST_SETTINGS:
        if k in body:
            setattr(lst, k, body[k])
    return 200, list_json(ctx.state, lst)


@route("DELETE", "/lists/{list_id}")
def delete_list(ctx, list_id):
    lst = get_list(ctx, list_id)
    del ctx.state.lists[lst.id]
    return 204, None


@route("POST", "/lists/{list_id}")
def batch_subscribe_route(ctx, list_id):
    lst = get_list(ctx, list_id)
    body = body_object(ctx)
    created, updated, errs, events = batch_subscribe(
        ctx.state,
        lst,
        body,
        skip_merge_validation=bool_param(ctx.query, "skip_merge_validation"),
        skip_duplicate_check=bool_param(ctx.query, "skip_duplicate_check"),
    )
    ctx.events += events
    return 200, {
        "new_members": [member_json(lst, m) for m in created],
        "updated_members": [member_json(lst, m) for m in updated],
        "errors": errs,
        "total_created": len(created),
        "total_updated": len(updated),
        "error_count": len(errs),
    }
