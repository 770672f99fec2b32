"""GDPR marketing permissions of an audience and of its members.

* An audience either has marketing permissions (the list's ``marketing_permissions``
  flag) or not. Mailchimp creates them in its UI (typically Email, Direct Mail,
  Customized Online Advertising); the API has no endpoint to list or create them:
  clients learn their ids from members. The control API adds them here.
* A member of such an audience shows every permission of the audience:
  ``[{marketing_permission_id, text, enabled}]`` (``enabled`` false until given).
  A member of an audience without them shows ``[]``.
* Writes (POST/PUT/PATCH member) take ``[{marketing_permission_id, enabled}]`` and
  change only the ids given. Batch subscribe items have no such field in the spec:
  it is ignored there.
* Validation (before anything changes): not an array -> "Schema describes array,
  object found instead" (Mailchimp's words); an id the audience does not have ->
  400 Invalid Resource "Invalid marketing permission ID: '<id>'." (the sandbox's
  words, modelled on the interests error).
"""

import hashlib

from . import errors as E

FIELD = "marketing_permissions"


def add_permissions(state, lst, texts):
    """Give the audience permissions with these texts (existing texts are kept once)
    and turn its ``marketing_permissions`` flag on. Returns [{id, text}]."""
    known = {text: pid for pid, text in lst.permissions.items()}
    for text in texts:
        text = str(text).strip()
        if not text or text in known:
            continue
        pid = hashlib.md5(f"{lst.id}:{text}:{state.next_int()}".encode()).hexdigest()[
            :10
        ]
        lst.permissions[pid] = text
        known[text] = pid
    lst.marketing_permissions = True
    lst.touch()
    return [
        {"marketing_permission_id": pid, "text": text}
        for pid, text in lst.permissions.items()
    ]


def check(lst, body):
    """The member write's permissions as {id: bool}, or None when the body has none."""
    value = body.get(FIELD)
    if value is None:
        return None
    if not isinstance(value, list):
        found = "object" if isinstance(value, dict) else type(value).__name__
        raise E.field_errors(
            [
                {
                    "field": FIELD,
                    "message": f"Schema describes array, {found} found instead",
                }
            ]
        )
    result = {}
    for item in value:
        if not isinstance(item, dict) or not item.get("marketing_permission_id"):
            raise E.field_errors(
                [
                    {
                        "field": f"{FIELD}.marketing_permission_id",
                        "message": "This value should not be blank.",
                    }
                ]
            )
        pid = str(item["marketing_permission_id"])
        if pid not in lst.permissions:
            raise E.invalid_resource(f"Invalid marketing permission ID: '{pid}'.")
        enabled = item.get("enabled", False)
        if not isinstance(enabled, bool):
            raise E.field_errors(
                [
                    {
                        "field": f"{FIELD}.enabled",
                        "message": "Schema describes boolean, "
                        f"{type(enabled).__name__} found instead",
                    }
                ]
            )
        result[pid] = enabled
    return result


def apply(m, permissions):
    """Store checked permissions on the member; True when one changed."""
    if not permissions:
        return False
    stored = m.setdefault(FIELD, {})
    changed = False
    for pid, enabled in permissions.items():
        if stored.get(pid, False) != enabled:
            stored[pid] = enabled
            changed = True
    return changed


def render(lst, m):
    """The member's permissions as Mailchimp shows them."""
    if not lst.marketing_permissions:
        return []
    stored = m.get(FIELD) or {}
    return [
        {
            "marketing_permission_id": pid,
            "text": text,
            "enabled": bool(stored.get(pid, False)),
        }
        for pid, text in lst.permissions.items()
    ]
