"""Interest groups (F14), decided without a database.

Interests are created in Mailchimp; Odoo assigns them. Per pairing, a rule maps
an Odoo value to one interest: a contact tag, a boolean field, or one value of a
selection field. Several rules may point at one interest: it is on when any
of them holds.

What is sent (``interest_changes``), per mapped interest:

- Odoo's value is compared with the value Odoo had when the member was last
  synced (``synced``). Only a change in Odoo is sent, so a member whose
  interests did not change in Odoo sends nothing, and a choice the person made
  in Mailchimp (e.g. in the preference centre) stays until Odoo's value changes.
- An interest Odoo has never synced for that member (a member just linked, a
  new rule): linking never takes an interest away. Odoo sends it only when it
  is on in Odoo and not already on in Mailchimp (as last read).

Mailchimp -> Odoo: the member's interests are stored as read, shown on the
member; they are not written to contacts (a rule maps many Odoo values to one
interest and cannot be inverted without guessing).
"""

KINDS = ("tag", "boolean", "selection")


def rule_holds(rule, values):
    """Whether one rule holds for a contact's values.

    rule: {"kind": "tag", "tag_id": int} | {"kind": "boolean", "field": name} |
    {"kind": "selection", "field": name, "value": str}; values: {"category_id":
    iterable of tag ids, field name: value}.
    """
    kind = rule["kind"]
    if kind == "tag":
        return rule["tag_id"] in set(values.get("category_id") or ())
    if kind == "boolean":
        return bool(values.get(rule["field"]))
    if kind == "selection":
        return values.get(rule["field"]) == rule["value"]
    raise ValueError(f"Unknown interest rule kind {kind!r}; expected one of {KINDS}.")


def wanted_interests(rules, values):
    """{interest id: bool} for every interest the rules map (any rule holding: on)."""
    wanted = {}
    for rule in rules:
        wanted[rule["interest"]] = wanted.get(rule["interest"], False) or rule_holds(
            rule, values
        )
    return wanted


def interest_changes(wanted, synced=None, read=None):
    """{interest id: bool} to send for one member (empty: send nothing).

    wanted: Odoo's values now; synced: Odoo's values at the member's last sync
    (None or missing ids: never synced); read: the member's interests as last
    read from Mailchimp (None: unknown).
    """
    synced, read = synced or {}, read or {}
    changes = {}
    for interest, value in wanted.items():
        if interest in synced:
            if bool(synced[interest]) != value:
                changes[interest] = value
        elif value and read.get(interest) is not True:
            changes[interest] = True
    return changes


def new_member_interests(wanted):
    """Interests of a member new to the audience: the ones on (off is the default)."""
    return {interest: True for interest, value in wanted.items() if value}
