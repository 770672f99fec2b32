"""Member write rules: the part of Mailchimp a sync connector trips over.

* id = md5(lower(email)); the path accepts the hash or the raw email.
* PUT is an upsert that needs ``email_address`` and ``status_if_new``; an
  omitted ``status`` keeps the current one.
* Explicit ``subscribed`` on an unsubscribed/cleaned/compliance-flagged member
  is refused ("Member In Compliance State").
* DELETE archives; delete-permanent forgets the address for good.
* PATCH/PUT on the old hash with a new ``email_address`` renames (subscribed only).

Every function here runs under ``state.lock`` and returns webhook events
(``webhooks.Event``) for the caller to deliver after the lock is released.
"""

import hashlib
import re

from . import consent
from . import errors as E
from .store import subscriber_hash
from .validation import check_email, email_problem, validate_merge_fields
from .webhooks import Event

STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
ALL_STATUSES = STATUSES + ("archived",)
HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
COMPLIANCE_DETAIL = (
    "{email} is in a compliance state due to unsubscribe, bounce, or "
    "compliance review and cannot be subscribed."
)
FORGOTTEN_DETAIL = (
    "{email} was permanently deleted and cannot be re-imported. "
    "The contact must re-subscribe to get back on the list."
)
SIMPLE_FIELDS = ("email_type", "language", "vip", "ip_signup", "ip_opt")


def resolve_hash(token):
    """Path token -> subscriber hash (raw emails are hashed, hashes lower-cased)."""
    token = str(token)
    if "@" in token:
        return subscriber_hash(token)
    if HEX32.match(token):
        return token.lower()
    return token


def find_member(lst, token):
    m = lst.members.get(resolve_hash(token))
    if m is None and not HEX32.match(str(token)) and "@" not in str(token):
        for cand in lst.members.values():  # contact_id lookup (rare)
            if cand["contact_id"] == token:
                return cand
    return m


def require_member(lst, token):
    m = find_member(lst, token)
    if m is None:
        raise E.not_found()
    return m


def make_member(state, lst, email, status, source="API - Generic", now=None):
    now = now or state.now_us()
    email = email.strip()
    h = subscriber_hash(email)
    return {
        "id": h,
        "email": email,
        "unique_email_id": hashlib.md5(
            f"{lst.id}:{email.lower()}".encode()
        ).hexdigest()[:10],
        "contact_id": hashlib.md5(
            f"{lst.api_key}:{email.lower()}".encode()
        ).hexdigest(),
        "web_id": state.next_int(),
        "list_id": lst.id,
        "status": status,
        "email_type": "html",
        "merge_fields": {},
        "interests": {},
        "language": "",
        "vip": False,
        "location": {"latitude": 0, "longitude": 0},
        "ip_signup": "",
        "ip_opt": "",
        "timestamp_signup": 0,
        "timestamp_opt": now if status == "subscribed" else 0,
        "last_changed": now,
        "source": source,
        "unsubscribe_reason": "",
        "tags": {},
        "compliance": False,
        "pre_archive_status": None,
        "marketing_permissions": {},  # permission id -> enabled (see consent.py)
    }


# ------------------------------------------------------------------ validation
def _check_status(value, field="status", allowed=STATUSES):
    if value not in allowed:
        raise E.field_errors(
            [
                {
                    "field": field,
                    "message": "Value is not one of the allowed values: {}.".format(
                        ", ".join(allowed)
                    ),
                }
            ]
        )
    return value


def _in_compliance(m):
    if m.get("compliance"):
        return True
    if m["status"] in ("unsubscribed", "cleaned"):
        return True
    return m["status"] == "archived" and m.get("pre_archive_status") in (
        "unsubscribed",
        "cleaned",
    )


def _check_not_forgotten(lst, email):
    if subscriber_hash(email) in lst.forgotten:
        raise E.ApiError(
            400, "Forgotten Email Not Subscribed", FORGOTTEN_DETAIL.format(email=email)
        )


def _check_merges(lst, body, *, is_new, current, skip):
    clean, errs = validate_merge_fields(
        lst.fields_by_tag(),
        body.get("merge_fields"),
        is_new=is_new,
        current=current,
        skip_required=skip,
    )
    if errs:
        raise E.invalid_resource("Your merge fields were invalid.", errs)
    return clean


def _check_interests(lst, body):
    interests = body.get("interests")
    if interests is None:
        return {}
    if not isinstance(interests, dict):
        raise E.field_errors(
            [
                {
                    "field": "interests",
                    "message": "Schema describes object, array found instead",
                }
            ]
        )
    known = lst.interest_index()
    for iid, val in interests.items():
        if iid not in known:
            raise E.invalid_resource(f"Invalid interest ID: '{iid}'.")
        if not isinstance(val, bool):
            raise E.field_errors(
                [{"field": f"interests.{iid}", "message": "Value must be a boolean."}]
            )
    return dict(interests)


def _check_simple(body):
    if "email_type" in body and body["email_type"] not in ("html", "text"):
        raise E.field_errors(
            [
                {
                    "field": "email_type",
                    "message": "Value is not one of the allowed values: html, text.",
                }
            ]
        )
    if "vip" in body and not isinstance(body["vip"], bool):
        raise E.field_errors([{"field": "vip", "message": "Value must be a boolean."}])
    loc = body.get("location")
    if loc is not None and not isinstance(loc, dict):
        raise E.field_errors(
            [{"field": "location", "message": "Value must be an object."}]
        )


def _timestamp(value, field):
    from .clock import parse_iso

    if value in (None, ""):
        return None
    try:
        return parse_iso(value)
    except ValueError:
        raise E.field_errors(
            [{"field": field, "message": "Please provide a valid ISO 8601 timestamp."}]
        ) from None


# --------------------------------------------------------------------- writes
def _apply_common(m, body, merges, interests, permissions=None):
    """Copy validated fields onto the member; returns True if the profile changed."""
    changed = False
    for tag, value in merges.items():
        if m["merge_fields"].get(tag, "") != value:
            m["merge_fields"][tag] = value
            changed = True
    for iid, value in interests.items():
        if m["interests"].get(iid, False) != value:
            m["interests"][iid] = value
            changed = True
    for key in SIMPLE_FIELDS:
        if key in body and body[key] is not None and m.get(key) != body[key]:
            m[key] = body[key]
            changed = True
    if isinstance(body.get("location"), dict):
        loc = {
            k: body["location"][k]
            for k in ("latitude", "longitude")
            if k in body["location"]
        }
        if loc and any(m["location"].get(k) != v for k, v in loc.items()):
            m["location"].update(loc)
            changed = True
    if consent.apply(m, permissions):
        changed = True
    for key in ("timestamp_signup", "timestamp_opt"):
        ts = _timestamp(body.get(key), key)
        if ts:
            m[key] = ts
    return changed


def _set_status(state, m, new_status, now, reason=None):
    old = m["status"]
    if old == new_status:
        return None
    if new_status == "archived":
        m["pre_archive_status"] = old
    m["status"] = new_status
    if new_status == "subscribed":
        m["timestamp_opt"] = now
        m["unsubscribe_reason"] = ""
    if new_status == "unsubscribed":
        m["unsubscribe_reason"] = reason or "N/A (Unsubscribed by an admin)"
    return old


def _status_events(lst, m, old, new, action="unsub", reason="manual"):
    if old is None:
        return []
    if new == "subscribed":
        return [Event("subscribe", lst, m)]
    if new == "unsubscribed":
        return [Event("unsubscribe", lst, m, action=action, reason=reason)]
    if new == "cleaned":
        return [
            Event(
                "cleaned",
                lst,
                m,
                reason=reason if reason in ("hard", "abuse") else "hard",
            )
        ]
    if new == "archived" and old == "subscribed":
        return [Event("unsubscribe", lst, m, action="delete", reason="manual")]
    return []


def create_member(
    state, lst, body, skip_merge_validation=False, source="API - Generic"
):
    """POST /lists/{id}/members: create only ("Member Exists" if present)."""
    if not isinstance(body, dict):
        raise E.field_errors(
            [{"field": "", "message": "Schema describes object, array found instead"}]
        )
    missing = [k for k in ("email_address", "status") if not body.get(k)]
    if missing:
        raise E.required(*missing)
    email = check_email(body["email_address"])
    status = _check_status(body["status"])
    existing = lst.members.get(subscriber_hash(email))
    if existing is not None and existing["status"] != "archived":
        raise E.ApiError(
            400,
            "Member Exists",
            f"{email} is already a list member. Use PUT to insert or update list "
            "members.",
        )
    if existing is not None:  # re-adding an archived contact
        return update_member(
            state, lst, existing, body, skip_merge_validation, put=True
        )
    _check_not_forgotten(lst, email)
    return _insert(state, lst, email, status, body, skip_merge_validation, source)


def _insert(state, lst, email, status, body, skip, source):
    _check_simple(body)
    merges = _check_merges(lst, body, is_new=True, current=None, skip=skip)
    interests = _check_interests(lst, body)
    permissions = consent.check(lst, body)
    now = state.now_us()
    m = make_member(state, lst, email, status, source=source, now=now)
    m["timestamp_signup"] = now
    _apply_common(m, body, merges, interests, permissions)
    lst.members[m["id"]] = m
    lst.touch()
    events = [Event("subscribe", lst, m)] if status == "subscribed" else []
    return m, True, events


def upsert_member(
    state, lst, token, body, skip_merge_validation=False, source="API - Generic"
):
    """PUT /lists/{id}/members/{hash}: add or update."""
    if not isinstance(body, dict):
        raise E.field_errors(
            [{"field": "", "message": "Schema describes object, array found instead"}]
        )
    missing = [k for k in ("email_address", "status_if_new") if not body.get(k)]
    if missing:
        raise E.required(*missing)
    _check_status(body["status_if_new"], "status_if_new")
    if body.get("status") is not None:
        _check_status(body["status"])
    m = find_member(lst, token)
    if m is None:
        email = check_email(body["email_address"])
        if subscriber_hash(email) != resolve_hash(token):
            raise E.invalid_resource(
                "The subscriber hash in the URL does not match the email_address in "
                "the body. Use md5(lowercase(email_address))."
            )
        _check_not_forgotten(lst, email)
        # as Mailchimp does: status_if_new is what counts for a new address,
        # status for an existing one
        status = body["status_if_new"]
        return _insert(state, lst, email, status, body, skip_merge_validation, source)
    return update_member(state, lst, m, body, skip_merge_validation, put=True)


def patch_member(state, lst, token, body, skip_merge_validation=False):
    """PATCH /lists/{id}/members/{hash}: partial update of an existing member."""
    if not isinstance(body, dict):
        raise E.field_errors(
            [{"field": "", "message": "Schema describes object, array found instead"}]
        )
    m = require_member(lst, token)
    if body.get("status") is not None:
        _check_status(body["status"])
    return update_member(state, lst, m, body, skip_merge_validation, put=False)


def update_member(state, lst, m, body, skip=False, put=False):
    """Validate everything first, then mutate: a failed call changes nothing."""
    _check_simple(body)
    new_email = None
    if body.get("email_address"):
        wanted = check_email(body["email_address"])
        if wanted.lower() != m["email"].lower():
            if m["status"] != "subscribed":
                raise E.invalid_resource(
                    "You can only update email addresses for members with a status of "
                    "subscribed."
                )
            new_hash = subscriber_hash(wanted)
            if new_hash in lst.members:
                raise E.invalid_resource(f"{wanted} is already a list member.")
            _check_not_forgotten(lst, wanted)
            new_email = wanted
        elif wanted != m["email"]:
            new_email = wanted  # case-only change keeps the hash
    status = body.get("status")
    if status is None and m["status"] == "archived" and put:
        status = body.get("status_if_new")  # re-adding an archived contact
    if (
        status == "subscribed"
        and _in_compliance(m)
        and not (m["status"] == "subscribed" and not m.get("compliance"))
    ):
        raise E.ApiError(
            400,
            "Member In Compliance State",
            COMPLIANCE_DETAIL.format(email=m["email"]),
        )
    was_archived = m["status"] == "archived"
    merges = _check_merges(
        lst, body, is_new=was_archived, current=m["merge_fields"], skip=skip
    )
    interests = _check_interests(lst, body)
    permissions = consent.check(lst, body)

    now = state.now_us()
    events = []
    old_email = m["email"]
    changed = _apply_common(m, body, merges, interests, permissions)
    if new_email and subscriber_hash(new_email) != m["id"]:
        rename(lst, m, new_email)
        events.append(
            Event("upemail", lst, m, old_email=old_email, new_email=new_email)
        )
        changed = True
    elif new_email:
        m["email"] = new_email
        changed = True
    old_status = _set_status(state, m, status, now) if status else None
    if old_status is not None:
        changed = True
        events += _status_events(lst, m, old_status, status)
    elif changed and m["status"] == "subscribed":
        events.append(Event("profile", lst, m))
    if changed:
        m["last_changed"] = now
        lst.touch()
    return m, False, events


def rename(lst, m, new_email):
    """Re-key a member under md5(new email), keeping its tags."""
    old_hash = m["id"]
    new_hash = subscriber_hash(new_email)
    del lst.members[old_hash]
    m["id"] = new_hash
    m["email"] = new_email
    m["unique_email_id"] = hashlib.md5(
        f"{lst.id}:{new_email.lower()}".encode()
    ).hexdigest()[:10]
    lst.members[new_hash] = m
    for seg_id in m["tags"]:
        seg = lst.segments.get(seg_id)
        if seg is not None:
            seg["members"].discard(old_hash)
            seg["members"].add(new_hash)


def archive_member(state, lst, token):
    """DELETE /lists/{id}/members/{hash}: status becomes 'archived'."""
    m = require_member(lst, token)
    if m["status"] in ("cleaned", "pending", "archived"):
        raise E.ApiError(
            405,
            "Method Not Allowed",
            "Can not archive a contact that is bounced, pending or archived",
        )
    now = state.now_us()
    old = _set_status(state, m, "archived", now)
    m["last_changed"] = now
    lst.touch()
    return _status_events(lst, m, old, "archived")


def delete_permanent(state, lst, token):
    """POST .../actions/delete-permanent: erase and never allow re-import."""
    m = require_member(lst, token)
    events = []
    if m["status"] == "subscribed":
        events.append(Event("unsubscribe", lst, m, action="delete", reason="manual"))
    del lst.members[m["id"]]
    for seg_id in m["tags"]:
        seg = lst.segments.get(seg_id)
        if seg is not None:
            seg["members"].discard(m["id"])
    lst.forgotten.add(m["id"])
    lst.touch()
    return events


# ----------------------------------------------------------------------- tags
def tag_key(name):
    """Tag names are case-insensitive in Mailchimp:
    "Customers" and "customers" are one tag."""
    return " ".join(str(name or "").split()).casefold()


def find_tag(lst, name, exclude=None):
    """The static segment (tag) named ``name`` in any case, or None."""
    for seg in lst.segments.values():
        if (
            seg["type"] == "static"
            and tag_key(seg["name"]) == tag_key(name)
            and seg is not exclude
        ):
            return seg
    return None


def ensure_tag(state, lst, name):
    return find_tag(lst, name) or new_segment(state, lst, name, "static")


def new_segment(state, lst, name, seg_type, options=None):
    now = state.now_us()
    seg = {
        "id": state.next_int(),
        "name": name,
        "type": seg_type,
        "list_id": lst.id,
        "created_at": now,
        "updated_at": now,
        "members": set(),
        "options": options,
    }
    lst.segments[seg["id"]] = seg
    return seg


def add_to_segment(state, lst, seg, m):
    if m["id"] in seg["members"]:
        return False
    seg["members"].add(m["id"])
    m["tags"][seg["id"]] = state.now_us()
    seg["updated_at"] = state.now_us()
    lst.touch()
    return True


def remove_from_segment(state, lst, seg, m):
    if m["id"] not in seg["members"]:
        return False
    seg["members"].discard(m["id"])
    m["tags"].pop(seg["id"], None)
    seg["updated_at"] = state.now_us()
    lst.touch()
    return True


def set_tags(state, lst, m, tags):
    """POST .../members/{hash}/tags: active tags
    are created if unknown; inactive removed."""
    if not isinstance(tags, list):
        raise E.required("tags")
    for t in tags:
        if not isinstance(t, dict) or not str(t.get("name") or "").strip():
            raise E.field_errors(
                [{"field": "tags.name", "message": "This value should not be blank."}]
            )
        if t.get("status") not in ("active", "inactive"):
            raise E.field_errors(
                [
                    {
                        "field": "tags.status",
                        "message": "Value is not one of the allowed values: active, "
                        "inactive.",
                    }
                ]
            )
    for t in tags:
        name = t["name"].strip()
        if t["status"] == "active":
            add_to_segment(state, lst, ensure_tag(state, lst, name), m)
        else:
            seg = find_tag(lst, name)
            if seg is not None:
                remove_from_segment(state, lst, seg, m)


# ------------------------------------------------------------ batch subscribe
def batch_subscribe(
    state, lst, body, skip_merge_validation=False, skip_duplicate_check=False
):
    """POST /lists/{id}: up to 500 members;
    per-member failures go to errors[] in a 200."""
    from .constants import MAX_BATCH_SUBSCRIBE

    if not isinstance(body, dict) or not isinstance(body.get("members"), list):
        raise E.required("members")
    items = body["members"]
    if len(items) > MAX_BATCH_SUBSCRIBE:
        raise E.field_errors(
            [
                {
                    "field": "members",
                    "message": f"Maximum number of members is {MAX_BATCH_SUBSCRIBE}, "
                    f"{len(items)} given.",
                }
            ]
        )
    update_existing = bool(body.get("update_existing"))
    sync_tags = bool(body.get("sync_tags"))
    created, updated, errs, events = [], [], [], []
    seen = set()

    def fail(email, message, code="ERROR_GENERIC", field="", field_message=""):
        errs.append(
            {
                "email_address": email,
                "error": message,
                "error_code": code,
                "field": field,
                "field_message": field_message,
            }
        )

    for item in items:
        if not isinstance(item, dict):
            fail("", "Member data must be an object.")
            continue
        # the spec's batch-subscribe items have no marketing_permissions: ignored here
        item = {key: value for key, value in item.items() if key != consent.FIELD}
        email = str(item.get("email_address") or "").strip()
        problem = email_problem(email)
        if problem:
            fail(email, problem, field="email_address", field_message=problem)
            continue
        h = subscriber_hash(email)
        if h in seen:
            if not skip_duplicate_check:
                fail(
                    email,
                    f"{email} was already in the request. Duplicate addresses are not "
                    "allowed (use skip_duplicate_check=true to keep the first one).",
                )
            continue
        seen.add(h)
        try:
            existing = lst.members.get(h)
            if existing is not None and existing["status"] != "archived":
                if not update_existing:
                    fail(
                        email,
                        f"{email} is already a list member, do you want to update? "
                        "please provide update_existing:true in the request body",
                        code="ERROR_CONTACT_EXISTS",
                    )
                    continue
                m, _, ev = update_member(
                    state, lst, existing, item, skip_merge_validation
                )
                updated.append(m)
            elif existing is not None:
                put_item = dict(item, status_if_new=item.get("status") or "subscribed")
                m, _, ev = update_member(
                    state, lst, existing, put_item, skip_merge_validation, put=True
                )
                updated.append(m)
            else:
                if not item.get("status"):
                    fail(
                        email,
                        "Member must have a status.",
                        field="status",
                        field_message="This value should not be blank.",
                    )
                    continue
                _check_status(item["status"])
                _check_not_forgotten(lst, email)
                m, _, ev = _insert(
                    state,
                    lst,
                    email,
                    item["status"],
                    item,
                    skip_merge_validation,
                    "API - Generic",
                )
                created.append(m)
            events += ev
            if isinstance(item.get("tags"), list):
                _batch_tags(state, lst, m, item["tags"], sync_tags)
        except E.ApiError as exc:
            field, msg = "", ""
            if exc.errors:
                field, msg = (
                    exc.errors[0].get("field", ""),
                    exc.errors[0].get("message", ""),
                )
            message = (
                msg if exc.detail == E.INVALID_RESOURCE_DETAIL and msg else exc.detail
            )
            fail(email, message, field=field, field_message=msg)
    return created, updated, errs, events


def _batch_tags(state, lst, m, tags, sync_tags):
    """A batch item's ``tags``: added, and with ``sync_tags`` the others removed."""
    names = [t if isinstance(t, str) else t.get("name") for t in tags]
    names = [n for n in names if n]
    if sync_tags:
        current = [
            lst.segments[s]["name"] for s in list(m["tags"]) if s in lst.segments
        ]
        set_tags(
            state,
            lst,
            m,
            [{"name": n, "status": "inactive"} for n in current if n not in names],
        )
    set_tags(state, lst, m, [{"name": n, "status": "active"} for n in names])


# ------------------------------------------------------------------- seeding
def seed_members(state, lst, count, status, start, merge_fields, spread_seconds=0):
    """Control API seeding: no validation, no webhooks, ~100k members per second.

    With ``spread_seconds`` the members' ``last_changed`` (and signup) are spread
    evenly over that many seconds before now, as in an audience built over time;
    otherwise they all carry the moment of the seeding, as after an import.
    """
    import time

    t0 = time.perf_counter()
    spread_us = int(float(spread_seconds or 0) * 1_000_000)
    past = state.now_us() - spread_us if spread_us else None
    created = 0
    templated = {
        k: v for k, v in merge_fields.items() if isinstance(v, str) and "{n}" in v
    }
    fixed = {k: v for k, v in merge_fields.items() if k not in templated}
    members = lst.members
    for n in range(start, start + count):
        email = f"member{n:06d}@seed-mail.com"
        h = subscriber_hash(email)
        if h in members or h in lst.forgotten:
            continue
        m = make_member(state, lst, email, status, source="Import")
        if past is not None:
            m["last_changed"] = past + (n - start) * spread_us // max(count, 1)
        m["timestamp_signup"] = m["last_changed"]
        if fixed:
            m["merge_fields"].update(fixed)
        for k, v in templated.items():
            m["merge_fields"][k] = v.replace("{n}", str(n))
        members[h] = m
        created += 1
    lst.touch()
    return {
        "list_id": lst.id,
        "created": created,
        "total_members": len(members),
        "seconds": round(time.perf_counter() - t0, 3),
    }


# ------------------------------------------------------- person/admin actions
def external_action(
    state, lst, email, action, merges=None, new_email=None, reason=None
):
    """What a person or admin does in Mailchimp's UI/forms (no compliance checks)."""
    if action not in ("subscribe", "unsubscribe", "profile", "upemail", "cleaned"):
        raise ValueError("action must be subscribe|unsubscribe|profile|upemail|cleaned")
    now = state.now_us()
    m = find_member(lst, email)
    events = []
    if m is None:
        if action != "subscribe":
            raise KeyError(f"{email} is not a member of {lst.id}")
        m = make_member(
            state, lst, email, "subscribed", source="Hosted Signup Form", now=now
        )
        m["timestamp_signup"] = now
        lst.members[m["id"]] = m
        lst.forgotten.discard(m["id"])  # a person may rejoin through a form
        m["merge_fields"].update(merges or {})
        events.append(Event("subscribe", lst, m))
    elif action == "subscribe":
        m["compliance"] = False
        m["merge_fields"].update(merges or {})
        _set_status(state, m, "subscribed", now)
        events.append(Event("subscribe", lst, m))
    elif action == "unsubscribe":
        _set_status(
            state,
            m,
            "unsubscribed",
            now,
            reason="N/A (Unsubscribed by user)"
            if reason in (None, "manual")
            else reason,
        )
        events.append(
            Event("unsubscribe", lst, m, action="unsub", reason=reason or "manual")
        )
    elif action == "cleaned":
        _set_status(state, m, "cleaned", now)
        events.append(Event("cleaned", lst, m, reason=reason or "hard"))
    elif action == "profile":
        m["merge_fields"].update(merges or {})
        events.append(Event("profile", lst, m))
    elif action == "upemail":
        if not new_email:
            raise ValueError("upemail needs new_email")
        old_email = m["email"]
        if subscriber_hash(new_email) in lst.members:
            raise ValueError(f"{new_email} is already a member")
        rename(lst, m, new_email.strip())
        events.append(
            Event("upemail", lst, m, old_email=old_email, new_email=m["email"])
        )
    m["last_changed"] = now
    lst.touch()
    from .render import member_json

    return member_json(lst, m), events
