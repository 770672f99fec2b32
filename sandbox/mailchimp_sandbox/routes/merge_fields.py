"""Merge fields: /lists/{list_id}/merge-fields[/{merge_id}]."""

import re

from .. import errors as E
from ..constants import MAX_MERGE_FIELDS
from ..paging import paginate
from ..render import merge_field_json
from ..router import route
from ..validation import MERGE_TYPES
from .common import body_object, enum_param, get_list

TAG_RE = re.compile(r"^[A-Z0-9_]{1,10}$")
DEFAULT_OPTIONS = {
    "text": {"size": 25},
    "date": {"date_format": "MM/DD/YYYY"},
    "birthday": {"date_format": "MM/DD"},
    "address": {"default_country": 164},
    "phone": {"phone_format": "none"},
    "radio": {"choices": []},
    "dropdown": {"choices": []},
}
DATE_FORMATS = ("MM/DD/YYYY", "DD/MM/YYYY", "MM/DD", "DD/MM")


def _get(lst, merge_id):
    try:
        field = lst.merge_fields.get(int(merge_id))
    except ValueError:
        field = None
    if field is None:
        raise E.not_found()
    return field


def _check_options(ftype, options):
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise E.field_errors(
            [{"field": "options", "message": "Value must be an object."}]
        )
    if ftype in ("radio", "dropdown") and "choices" in options:
        choices = options["choices"]
        if not isinstance(choices, list) or not all(
            isinstance(c, str) for c in choices
        ):
            raise E.field_errors(
                [
                    {
                        "field": "options.choices",
                        "message": "Choices must be a list of strings.",
                    }
                ]
            )
    if "date_format" in options:
        allowed = (
            DATE_FORMATS[:2]
            if ftype == "date"
            else DATE_FORMATS[2:]
            if ftype == "birthday"
            else DATE_FORMATS
        )
        if str(options["date_format"]).upper() not in allowed:
            raise E.field_errors(
                [
                    {
                        "field": "options.date_format",
                        "message": "Value is not one of the allowed values: {}.".format(
                            ", ".join(allowed)
                        ),
                    }
                ]
            )
        options = dict(options, date_format=str(options["date_format"]).upper())
    return dict(options)


@route("GET", "/lists/{list_id}/merge-fields")
def list_merge_fields(ctx, list_id):
    lst = get_list(ctx, list_id)
    fields = list(lst.merge_fields.values())
    ftype = enum_param(ctx.query, "type", MERGE_TYPES)
    if ftype:
        fields = [f for f in fields if f["type"] == ftype]
    if ctx.query.get("required") not in (None, ""):
        want = ctx.query["required"].lower() == "true"
        fields = [f for f in fields if f["required"] == want]
    page, total = paginate(fields, ctx.query)
    return 200, {
        "merge_fields": [merge_field_json(f) for f in page],
        "list_id": lst.id,
        "total_items": total,
    }


@route("POST", "/lists/{list_id}/merge-fields")
def create_merge_field(ctx, list_id):
    lst = get_list(ctx, list_id)
    body = body_object(ctx)
    missing = [k for k in ("name", "type") if not body.get(k)]
    if missing:
        raise E.required(*missing)
    if body["type"] not in MERGE_TYPES:
        raise E.field_errors(
            [
                {
                    "field": "type",
                    "message": "Value is not one of the allowed values: {}.".format(
                        ", ".join(MERGE_TYPES)
                    ),
                }
            ]
        )
    if len(lst.merge_fields) >= MAX_MERGE_FIELDS:
        raise E.invalid_resource(
            f"This audience already has the maximum of {MAX_MERGE_FIELDS} merge fields."
        )
    tag = body.get("tag")
    if tag:
        tag = str(tag).upper()
        if not TAG_RE.match(tag):
            raise E.field_errors(
                [
                    {
                        "field": "tag",
                        "message": "Merge tags must be 10 characters or fewer, "
                        "using letters, digits and underscores.",
                    }
                ]
            )
        if tag in lst.fields_by_tag() or tag == "EMAIL":
            raise E.invalid_resource(
                f'A Merge Field with the tag "{tag}" already exists for this list.'
            )
    else:
        tag = f"MMERGE{lst.next_merge_id}"
    options = dict(DEFAULT_OPTIONS.get(body["type"], {}))
    options.update(_check_options(body["type"], body.get("options")))
    field = ctx.state.add_merge_field(
        lst,
        tag=tag,
        name=str(body["name"]),
        type=body["type"],
        options=options,
        required=bool(body.get("required", False)),
        default_value=body.get("default_value", ""),
        public=body.get("public", True),
        display_order=body.get("display_order"),
        help_text=body.get("help_text", ""),
    )
    lst.touch()
    return 200, merge_field_json(field)


@route("GET", "/lists/{list_id}/merge-fields/{merge_id}")
def get_merge_field(ctx, list_id, merge_id):
    return 200, merge_field_json(_get(get_list(ctx, list_id), merge_id))


@route("PATCH", "/lists/{list_id}/merge-fields/{merge_id}")
def update_merge_field(ctx, list_id, merge_id):
    lst = get_list(ctx, list_id)
    field = _get(lst, merge_id)
    body = body_object(ctx)
    if "type" in body and body["type"] != field["type"]:
        raise E.invalid_resource("The type of a merge field cannot be changed.")
    if "tag" in body and body["tag"] and str(body["tag"]).upper() != field["tag"]:
        tag = str(body["tag"]).upper()
        if not TAG_RE.match(tag):
            raise E.field_errors(
                [
                    {
                        "field": "tag",
                        "message": "Merge tags must be 10 characters or fewer, "
                        "using letters, digits and underscores.",
                    }
                ]
            )
        if tag in lst.fields_by_tag():
            raise E.invalid_resource(
                f'A Merge Field with the tag "{tag}" already exists for this list.'
            )
        old = field["tag"]
        for m in lst.members.values():
            if old in m["merge_fields"]:
                m["merge_fields"][tag] = m["merge_fields"].pop(old)
        field["tag"] = tag
    if "options" in body:
        field["options"].update(_check_options(field["type"], body["options"]))
    for k in (
        "name",
        "required",
        "default_value",
        "public",
        "display_order",
        "help_text",
    ):
        if k in body:
            field[k] = body[k]
    lst.touch()
    return 200, merge_field_json(field)


@route("DELETE", "/lists/{list_id}/merge-fields/{merge_id}")
def delete_merge_field(ctx, list_id, merge_id):
    lst = get_list(ctx, list_id)
    field = _get(lst, merge_id)
    del lst.merge_fields[field["merge_id"]]
    for m in lst.members.values():
        m["merge_fields"].pop(field["tag"], None)
    lst.touch()
    return 204, None
