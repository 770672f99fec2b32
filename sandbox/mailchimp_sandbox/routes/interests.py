"""Groups: /lists/{list_id}/interest-categories[/{id}[/interests[/{id}]]]."""

from collections import OrderedDict

from .. import errors as E
from ..paging import paginate
from ..render import category_json, interest_json
from ..router import route
from .common import body_object, enum_param, get_list

CATEGORY_TYPES = ("checkboxes", "dropdown", "radio", "hidden")


def _cat(lst, cid):
    cat = lst.categories.get(cid)
    if cat is None:
        raise E.not_found()
    return cat


def _interest(cat, iid):
    interest = cat["interests"].get(iid)
    if interest is None:
        raise E.not_found()
    return interest


@route("GET", "/lists/{list_id}/interest-categories")
def list_categories(ctx, list_id):
    lst = get_list(ctx, list_id)
    cats = list(lst.categories.values())
    ctype = enum_param(ctx.query, "type", CATEGORY_TYPES)
    if ctype:
        cats = [c for c in cats if c["type"] == ctype]
    page, total = paginate(cats, ctx.query)
    return 200, {
        "list_id": lst.id,
        "categories": [category_json(lst, c) for c in page],
        "total_items": total,
    }


@route("POST", "/lists/{list_id}/interest-categories")
def create_category(ctx, list_id):
    lst = get_list(ctx, list_id)
    body = body_object(ctx)
    missing = [k for k in ("title", "type") if not body.get(k)]
    if missing:
        raise E.required(*missing)
    if body["type"] not in CATEGORY_TYPES:
        raise E.field_errors(
            [
                {
                    "field": "type",
                    "message": "Value is not one of the allowed values: {}.".format(
                        ", ".join(CATEGORY_TYPES)
                    ),
                }
            ]
        )
    if any(c["title"] == body["title"] for c in lst.categories.values()):
        raise E.invalid_resource(
            f"Cannot add \"{body['title']}\" because it already exists on the list."
        )
    cat = {
        "id": ctx.state.new_id(),
        "title": body["title"],
        "type": body["type"],
        "display_order": int(body.get("display_order") or len(lst.categories)),
        "interests": OrderedDict(),
    }
    lst.categories[cat["id"]] = cat
    return 200, category_json(lst, cat)


@route("GET", "/lists/{list_id}/interest-categories/{category_id}")
def get_category(ctx, list_id, category_id):
    lst = get_list(ctx, list_id)
    return 200, category_json(lst, _cat(lst, category_id))


@route("PATCH", "/lists/{list_id}/interest-categories/{category_id}")
def update_category(ctx, list_id, category_id):
    lst = get_list(ctx, list_id)
    cat = _cat(lst, category_id)
    body = body_object(ctx)
    if "type" in body and body["type"] not in CATEGORY_TYPES:
        raise E.field_errors(
            [
                {
                    "field": "type",
                    "message": "Value is not one of the allowed values: {}.".format(
                        ", ".join(CATEGORY_TYPES)
                    ),
                }
            ]
        )
    if "title" in body and not body["title"]:
        raise E.required("title")
    for k in ("title", "type", "display_order"):
        if k in body:
            cat[k] = body[k]
    return 200, category_json(lst, cat)


@route("DELETE", "/lists/{list_id}/interest-categories/{category_id}")
def delete_category(ctx, list_id, category_id):
    lst = get_list(ctx, list_id)
    cat = _cat(lst, category_id)
    for iid in cat["interests"]:
        for m in lst.members.values():
            m["interests"].pop(iid, None)
    del lst.categories[cat["id"]]
    lst.touch()
    return 204, None


@route("GET", "/lists/{list_id}/interest-categories/{category_id}/interests")
def list_interests(ctx, list_id, category_id):
    lst = get_list(ctx, list_id)
    cat = _cat(lst, category_id)
    page, total = paginate(list(cat["interests"].values()), ctx.query)
    return 200, {
        "interests": [interest_json(lst, cat, i) for i in page],
        "list_id": lst.id,
        "category_id": cat["id"],
        "total_items": total,
    }


@route("POST", "/lists/{list_id}/interest-categories/{category_id}/interests")
def create_interest(ctx, list_id, category_id):
    lst = get_list(ctx, list_id)
    cat = _cat(lst, category_id)
    body = body_object(ctx)
    if not body.get("name"):
        raise E.required("name")
    if any(i["name"] == body["name"] for i in cat["interests"].values()):
        raise E.invalid_resource(
            f"Cannot add \"{body['name']}\" because it already exists on the list."
        )
    interest = {
        "id": ctx.state.new_id(),
        "name": body["name"],
        "display_order": int(body.get("display_order") or len(cat["interests"]) + 1),
    }
    cat["interests"][interest["id"]] = interest
    lst.touch()
    return 200, interest_json(lst, cat, interest)


@route(
    "GET", "/lists/{list_id}/interest-categories/{category_id}/interests/{interest_id}"
)
def get_interest(ctx, list_id, category_id, interest_id):
    lst = get_list(ctx, list_id)
    cat = _cat(lst, category_id)
    return 200, interest_json(lst, cat, _interest(cat, interest_id))


@route(
    "PATCH",
    "/lists/{list_id}/interest-categories/{category_id}/interests/{interest_id}",
)
def update_interest(ctx, list_id, category_id, interest_id):
    lst = get_list(ctx, list_id)
    cat = _cat(lst, category_id)
    interest = _interest(cat, interest_id)
    body = body_object(ctx)
    if "name" in body and not body["name"]:
        raise E.required("name")
    for k in ("name", "display_order"):
        if k in body:
            interest[k] = body[k]
    return 200, interest_json(lst, cat, interest)


@route(
    "DELETE",
    "/lists/{list_id}/interest-categories/{category_id}/interests/{interest_id}",
)
def delete_interest(ctx, list_id, category_id, interest_id):
    lst = get_list(ctx, list_id)
    cat = _cat(lst, category_id)
    interest = _interest(cat, interest_id)
    del cat["interests"][interest["id"]]
    for m in lst.members.values():
        m["interests"].pop(interest["id"], None)
    lst.touch()
    return 204, None
