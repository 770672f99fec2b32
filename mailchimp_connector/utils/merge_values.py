"""Which Odoo field may fill which Mailchimp
merge field (F11), and the value conversions.

Plain Python so the rules can be tested without Odoo and shown to the user as
they are. ``check_mapping`` refuses a pair with a sentence the admin can act on
and otherwise says which way values may flow:

======================  =================  =========  ================================
Odoo source             Mailchimp field    Flows      Why / how
======================  =================  =========  ================================
char                    text, phone, url,  push+pull  same string both ways; phone,
                        imageurl, zip                 url and zip are checked first
text                    text               push+pull  at most 255 characters
integer/float/monetary  number, text       push+pull  pull refuses text that is not a
                                                      number (integer: whole ones)
date                    date               push+pull  in the field's date_format
date                    text               push+pull  as YYYY-MM-DD
date, datetime          birthday           push       month/day only: no year to pull
                                                      back
datetime                date, text         push       the time would be lost or made
                                                      up on the way back
boolean                 text               push       sent as "Yes" / "No"
selection               dropdown, radio,   push+pull  by label; every label must be a
                        text                          dropdown/radio choice
many2one                text               push+name  pulled only as a name that the
                                                      caller resolves to a record
many2many               text               push       names joined with ", "
"first_name"/           text               push+pull  split of the partner's name the
"last_name"                                           way Mailchimp already splits it
                                                      (split_name_like)
"company"               text               push+pull  the company Odoo shows (its
                                                      parent company's name or its own
                                                      company name); pulled
                                                      into the company name
"address"               address            push+pull  street, street2, city, zip,
                                                      state, country together
======================  =================  =========  ================================

A pull also needs a target that keeps what is written: a related field (it
shows another record's value), a read-only one or one Odoo computes without an
inverse is push-only whatever its type (``pull_refusal`` says why), so a value
pulled into it can never be lost and then sent back as Odoo's own.

Everything else (html, one2many, binary, ...) is refused. No value is ever
truncated: a push over Mailchimp's 255-character limit, or a pull longer than
an Odoo char field's ``size``, raises ``ValueTooLong`` so the sync records the
contact as failed with the reason instead of silently losing text.

All Mailchimp-side values are in the form Mailchimp accepts and returns
(dates in the merge field's ``date_format``, numbers as numbers, address as a
dict of its six parts); ``normalize_mailchimp`` brings values read from
Mailchimp to that same form so the sync can compare them with what
``to_mailchimp`` produced. An address is compared part by part, complete or
not; ``value_to_send`` says what of a changed value Mailchimp can be sent
(Mailchimp refuses an address without street, city, state or zip).
"""

import datetime as dt
import enum
import hashlib
import json
import math
import re

# Mailchimp refuses longer merge values ("255 characters or less")
MAILCHIMP_TEXT_LIMIT = 255
PHONE_MAX_LENGTH = 50

MERGE_TYPE_LABELS = {
    "text": "Text",
    "number": "Number",
    "address": "Address",
    "phone": "Phone",
    "date": "Date",
    "url": "Website",
    "imageurl": "Image URL",
    "radio": "Radio Buttons",
    "dropdown": "Dropdown",
    "birthday": "Birthday",
    "zip": "Zip Code",
}
ODOO_TYPE_LABELS = {
    "char": "Char",
    "text": "Text",
    "html": "Html",
    "integer": "Integer",
    "float": "Float",
    "monetary": "Monetary",
    "date": "Date",
    "datetime": "Datetime",
    "boolean": "Boolean",
    "selection": "Selection",
    "many2one": "Many2one",
    "many2many": "Many2many",
    "one2many": "One2many",
}
SOURCE_KINDS = ("field", "first_name", "last_name", "company", "address")
DEFAULT_DATE_FORMATS = {"date": "MM/DD/YYYY", "birthday": "MM/DD"}

# Same practical rules as Mailchimp (and the sandbox): dotted local part, a
# domain of labels and a 2-63 letter top-level domain.
_EMAIL_RE = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
)
_NAMED_EMAIL_RE = re.compile(r"^[^<>]*<\s*([^<>\s]+)\s*>$")  # 'Jane Doe <jane@x.com>'
_URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_ZIP_RE = re.compile(r"^\d{5}(?:-\d{4})?$")  # Mailchimp's Zip Code type is US-only


class Direction(enum.Flag):
    """Which way values of a mapping may flow."""

    NONE = 0
    PUSH = enum.auto()  # Odoo -> Mailchimp
    PULL = enum.auto()  # Mailchimp -> Odoo, written as from_mailchimp() returns it
    # Mailchimp -> Odoo only as a name to resolve to a record
    PULL_BY_NAME = enum.auto()

    @property
    def can_push(self):
        return bool(self & Direction.PUSH)

    @property
    def can_pull(self):
        return bool(self & (Direction.PULL | Direction.PULL_BY_NAME))


PUSH_ONLY = Direction.PUSH
PUSH_PULL = Direction.PUSH | Direction.PULL
PUSH_PULL_BY_NAME = Direction.PUSH | Direction.PULL_BY_NAME

# (odoo type, merge type) -> directions, for source_kind "field". The table in
# the module docstring is the readable version of this one.
FIELD_RULES = {
    ("char", "text"): PUSH_PULL,
    ("char", "phone"): PUSH_PULL,
    ("char", "url"): PUSH_PULL,
    ("char", "imageurl"): PUSH_PULL,
    ("char", "zip"): PUSH_PULL,
    ("text", "text"): PUSH_PULL,
    ("integer", "number"): PUSH_PULL,
    ("float", "number"): PUSH_PULL,
    ("monetary", "number"): PUSH_PULL,
    ("integer", "text"): PUSH_PULL,
    ("float", "text"): PUSH_PULL,
    ("monetary", "text"): PUSH_PULL,
    ("date", "date"): PUSH_PULL,
    ("date", "text"): PUSH_PULL,
    ("date", "birthday"): PUSH_ONLY,
    ("datetime", "date"): PUSH_ONLY,
    ("datetime", "birthday"): PUSH_ONLY,
    ("datetime", "text"): PUSH_ONLY,
    ("boolean", "text"): PUSH_ONLY,
    ("selection", "dropdown"): PUSH_PULL,
    ("selection", "radio"): PUSH_PULL,
    ("selection", "text"): PUSH_PULL,
    ("many2one", "text"): PUSH_PULL_BY_NAME,
    ("many2many", "text"): PUSH_ONLY,
}
# The composite and derived sources: what they fill, and as which Odoo type
# their values reach to_mailchimp()/from_mailchimp().
SPECIAL_RULES = {
    "address": ("address", "address", PUSH_PULL),
    "first_name": ("text", "char", PUSH_PULL),
    "last_name": ("text", "char", PUSH_PULL),
    "company": ("text", "char", PUSH_PULL),
}
# How each Odoo type is sent, to explain what a refused field could do instead.
_HOW_SENT = {
    "boolean": 'sent as "Yes" or "No"',
    "many2one": "its display name",
    "many2many": "the names joined with commas",
    "selection": "the option's label",
    "datetime": "date part only",
}
_UNMAPPABLE = {
    "html": "an Html field holds formatting that a Mailchimp field would show as raw "
    "tags; map a Char or Text field instead",
    "one2many": "a One2many field lists other records and cannot be kept in one "
    "Mailchimp field; map a field of the contact itself instead",
}


class MappingError(ValueError):
    """An Odoo source cannot be paired with a merge field; ``reason`` says why."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class MergeValueError(ValueError):
    """One value cannot be converted; the sync
    records it as a failed record with ``reason``."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class ValueTooLong(MergeValueError):
    """A value is longer than the other side keeps; we refuse rather than truncate."""


# ------------------------------------------------------------------------ mapping rules
def _merge_label(merge_type):
    return MERGE_TYPE_LABELS.get(merge_type, merge_type)


def _odoo_label(odoo_type):
    return ODOO_TYPE_LABELS.get(odoo_type, odoo_type)


def _targets_sentence(odoo_type):
    targets = [m for (o, m) in FIELD_RULES if o == odoo_type]
    labels = [_merge_label(m) for m in targets]
    labels = (
        ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else labels[0]
    )
    how = _HOW_SENT.get(odoo_type)
    return "it can fill a {} field{}".format(labels, f" ({how})" if how else "")


def _selection_labels(selection):
    if isinstance(selection, dict):
        return list(selection.values())
    return [label for _key, label in selection]


def pull_refusal(target):
    """Why values must not be pulled into an Odoo
    field, or None when it keeps what is written.

    ``target`` describes the field: ``{"related": bool, "readonly": bool,
    "computed": bool, "inverse": bool, "stored": bool}`` (missing keys are
    False). A related field shows another record's value, so a pull would
    change that record; Odoo recomputes a computed field without an inverse
    (or ignores what is written to it), so the value pulled would be lost and
    the next push would send Odoo's instead; a read-only field is not for a
    sync to write. An editable stored computed field (``readonly=False``, Odoo's
    "computed with a default" idiom) keeps what is written.
    """
    target = target or {}
    if target.get("related"):
        return (
            "it is a related field: it shows a value of another record, which a pull "
            "would change; map the field it comes from to read Mailchimp's values back"
        )
    if (
        target.get("computed")
        and not target.get("inverse")
        and (target.get("readonly") or not target.get("stored"))
    ):
        return (
            "Odoo computes it from other fields and would replace a value pulled into "
            "it, so it is only sent to Mailchimp"
        )
    if target.get("readonly"):
        return "it is read-only in Odoo, so it is only sent to Mailchimp"
    return None


# Why a pair that check_mapping accepts is push-only (the admin sees it on the mapping).
_PUSH_ONLY_REASONS = {
    ("date", "birthday"): "a birthday has no year to write back into a date",
    ("datetime", "birthday"): "a birthday has no year or time to write back",
    ("datetime", "date"): "the time of day would be lost or made up on the way back",
    ("datetime", "text"): "the time of day would be lost or made up on the way back",
    ("boolean", "text"): "a Text field may hold anything, not only Yes or No",
    (
        "many2many",
        "text",
    ): "names joined with commas cannot be turned back into records safely",
}


def why_not_pulled(source_kind, odoo_type, merge_type, target=None):
    """The reason an accepted pair is push-only ("" when it is pulled too)."""
    if source_kind == "field":
        reason = pull_refusal(target)
        if reason:
            return reason
        return _PUSH_ONLY_REASONS.get((odoo_type, merge_type), "")
    return ""


def check_mapping(
    source_kind, odoo_type, merge_type, *, selection=None, choices=None, target=None
):
    """Return the ``Direction`` allowed for the
    pair, or raise ``MappingError`` saying why not.

    ``selection`` (the Odoo field's ``[(key, label)]``) and ``choices`` (the
    merge field's ``options["choices"]``) are needed for dropdown/radio,
    because Mailchimp refuses any value that is not one of its choices.
    ``target`` describes the Odoo field (see ``pull_refusal``): a field that
    does not keep what is written makes the pair push-only.
    """
    directions = _check_types(
        source_kind, odoo_type, merge_type, selection=selection, choices=choices
    )
    if source_kind == "field" and directions.can_pull and pull_refusal(target):
        directions &= Direction.PUSH
    return directions


def _check_types(source_kind, odoo_type, merge_type, *, selection=None, choices=None):
    if source_kind not in SOURCE_KINDS:
        raise ValueError(
            "source_kind must be one of {}, not {!r}.".format(
                ", ".join(SOURCE_KINDS), source_kind
            )
        )
    if merge_type not in MERGE_TYPE_LABELS:
        raise MappingError(
            f"'{merge_type}' is not a Mailchimp merge field type; Mailchimp's types "
            f"are: {', '.join(MERGE_TYPE_LABELS)}."
        )
    if source_kind in SPECIAL_RULES:
        return _check_special(source_kind, merge_type)
    if merge_type == "address":
        raise MappingError(
            "A Mailchimp Address field can only be filled from the contact's whole "
            "address (street, street2, city, zip, state, country), not from one Odoo "
            f"{_odoo_label(odoo_type)} field. Choose the contact's address as the "
            "source, or map this field to a Text field."
        )
    if odoo_type in _UNMAPPABLE:
        raise MappingError(
            f"Odoo {_odoo_label(odoo_type)} fields cannot be mapped: "
            f"{_UNMAPPABLE[odoo_type]}."
        )
    directions = FIELD_RULES.get((odoo_type, merge_type))
    if directions is None:
        if not any(o == odoo_type for (o, _m) in FIELD_RULES):
            raise MappingError(
                f"Odoo {_odoo_label(odoo_type)} fields cannot be mapped to Mailchimp; "
                "map a Char, Text, number, date, Boolean, Selection, Many2one or "
                "Many2many field instead."
            )
        raise MappingError(
            f"An Odoo {_odoo_label(odoo_type)} field cannot fill a Mailchimp "
            f"{_merge_label(merge_type)} field; {_targets_sentence(odoo_type)}."
        )
    if odoo_type == "selection" and merge_type in ("dropdown", "radio"):
        if selection is None:
            raise TypeError(
                "check_mapping needs the Odoo field's selection to check a "
                f"{merge_type} field."
            )
        available = set(choices or [])
        missing = [
            label for label in _selection_labels(selection) if label not in available
        ]
        if missing:
            raise MappingError(
                "The Mailchimp {} field has no choice for these options of the Odoo "
                "field: {}. Add them as choices in Mailchimp (spelled exactly the "
                "same), or map the field to a Text field.".format(
                    _merge_label(merge_type), ", ".join(f"'{m}'" for m in missing)
                )
            )
    return directions


def _check_special(source_kind, merge_type):
    wanted, _odoo_type, directions = SPECIAL_RULES[source_kind]
    if merge_type == wanted:
        return directions
    if source_kind == "company":
        raise MappingError(
            "The contact's company name can only fill a Mailchimp Text field, not a "
            f"{_merge_label(merge_type)} field."
        )
    if source_kind == "address":
        raise MappingError(
            "The contact's address (street, city, zip, state, country) can only fill "
            f"a Mailchimp Address field, not a {_merge_label(merge_type)} field. To "
            "send one part of it, map that Odoo field (for example City) instead."
        )
    raise MappingError(
        "The contact's {} name (taken from its Name) can only fill a Mailchimp Text "
        "field, not a {} field.".format(
            "first" if source_kind == "first_name" else "last", _merge_label(merge_type)
        )
    )


def allowed_directions(odoo_type, merge_type):
    """Directions of a pair without the choices
    check (``Direction.NONE`` if refused)."""
    if odoo_type == "address":
        return PUSH_PULL if merge_type == "address" else Direction.NONE
    return FIELD_RULES.get((odoo_type, merge_type), Direction.NONE)


MAPPABLE_ODOO_TYPES = tuple(sorted({odoo_type for odoo_type, _m in FIELD_RULES}))


def fields_fitting(merge_type, partner_fields, choices=None):
    """The names of ``partner_fields`` ({name: {"type": ..., "selection": ...}})
    that ``check_mapping`` accepts as the source of a ``merge_type`` merge field
    (with its dropdown/radio ``choices``), sorted: what the Odoo field's
    drop-down offers while a mapping is chosen, instead of a refusal at save."""
    fitting = []
    for name, spec in partner_fields.items():
        try:
            _check_types(
                "field",
                spec.get("type"),
                merge_type,
                selection=spec.get("selection") or [],
                choices=choices,
            )
        except MappingError:
            continue
        fitting.append(name)
    return sorted(fitting)


# ---------------------------------------------------------------------- default mapping
_BIRTHDAY_NAMES = ("birthday", "birthdate", "birth_date", "date_of_birth", "dob")


def _birthday_fields(partner_fields):
    """Date fields that look like a birthday, best guess first (deterministic)."""
    found = []
    for name, spec in partner_fields.items():
        if spec.get("type") not in ("date", "datetime"):
            continue
        bare = name.removeprefix("x_")
        label = str(spec.get("string") or "").lower()
        if bare in _BIRTHDAY_NAMES or "birth" in bare or "birth" in label:
            rank = (
                _BIRTHDAY_NAMES.index(bare)
                if bare in _BIRTHDAY_NAMES
                else len(_BIRTHDAY_NAMES)
            )
            found.append((spec["type"] != "date", rank, name))
    return [name for *_rank, name in sorted(found)]


def _candidates(tag, merge_type, partner_fields):
    """(source_kind, odoo_field) pairs worth trying for one merge field, best first."""
    if tag == "FNAME":
        return [("first_name", "name")] if "name" in partner_fields else []
    if tag == "LNAME":
        return [("last_name", "name")] if "name" in partner_fields else []
    if tag == "ADDRESS" or merge_type == "address":
        return [("address", None)] if {"street", "city"} <= set(partner_fields) else []
    if tag == "PHONE" or merge_type == "phone":
        return [("field", f) for f in ("phone", "mobile") if f in partner_fields]
    if tag == "COMPANY":
        # the company Odoo shows is computed (commercial_company_name): the "company"
        # source sends it and pulls into company_name, which keeps what is written
        if {"commercial_company_name", "company_name"} <= set(partner_fields):
            return [("company", None)]
        return [("field", "company_name")] if "company_name" in partner_fields else []
    if tag == "WEBSITE":
        return [("field", "website")] if "website" in partner_fields else []
    if "BIRTH" in tag or tag == "DOB":
        return [("field", f) for f in _birthday_fields(partner_fields)]
    return []


def default_mappings(merge_fields, partner_fields):
    """Propose the usual pairs (FNAME/LNAME, PHONE, ADDRESS, COMPANY, BIRTHDAY...).

    Only pairs that ``check_mapping`` accepts are proposed, each merge field
    and each Odoo source at most once. EMAIL is the match key, never a mapping.
    Returns ``[{merge_tag, source_kind, odoo_field}]`` in merge-field order
    (``odoo_field`` is "name" for the name halves and None for the company and
    the address).
    """
    proposals, used = [], set()
    for merge_field in merge_fields:
        tag = str(merge_field.get("tag") or "").upper()
        merge_type = merge_field.get("type")
        if not tag or tag == "EMAIL":
            continue
        choices = (merge_field.get("options") or {}).get("choices")
        for source_kind, odoo_field in _candidates(tag, merge_type, partner_fields):
            if (source_kind, odoo_field) in used:
                continue
            spec = partner_fields.get(odoo_field) or {}
            try:
                check_mapping(
                    source_kind,
                    spec.get("type"),
                    merge_type,
                    selection=spec.get("selection") or [],
                    choices=choices,
                    target=spec.get("target"),
                )
            except MappingError:
                continue
            used.add((source_kind, odoo_field))
            proposals.append(
                {"merge_tag": tag, "source_kind": source_kind, "odoo_field": odoo_field}
            )
            break
    return proposals


# ------------------------------------------------------------------------ names, emails
def split_name(name):
    """'Jean Claude Van Damme' -> ('Jean Claude
    Van', 'Damme'); one word is a first name."""
    words = str(name or "").split()
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], ""
    return " ".join(words[:-1]), words[-1]


def join_name(first, last):
    """Inverse of split_name, tolerating a missing half."""
    return " ".join(
        part for part in (str(first or "").strip(), str(last or "").strip()) if part
    )


def _words(text):
    return " ".join(str(text or "").split())


def split_name_like(name, hints=()):
    """Split a name into (first, last) the way Mailchimp already splits it.

    ``hints`` are the (first, last) pairs Mailchimp holds for the person, most
    trusted first (None for a half that is not mapped). A pair whose halves
    join into the name is returned as it is, so that a name pulled from
    Mailchimp ('Françoise' + 'da Silva') is never sent back re-split ('Françoise
    da' + 'Silva'). Otherwise a pair whose last name ends the name keeps that
    last name (a middle name added goes with the first name, as split_name
    does), then one whose first name starts it keeps that first name ('Françoise
    da Costa' -> 'Françoise' + 'da Costa'); else ``split_name``.
    """
    text = _words(name)
    if not text:
        return "", ""
    hints = [(first, last) for first, last in hints if _words(first) or _words(last)]
    for first, last in hints:
        if join_name(_words(first), _words(last)) == text:
            return str(first or ""), str(last or "")
    for first, last in hints:
        tail = _words(last)
        if tail and text.endswith(" " + tail):
            return text[: -len(tail) - 1], str(last)
        head = _words(first)
        if head and text.startswith(head + " "):
            return str(first), text[len(head) + 1 :]
    return split_name(text)


def normalize_email(email):
    """The match key (F9): trimmed, lower-cased address, or None when it is not one.

    'Jane <jane@x.com>' gives the address inside the brackets, as Odoo's own
    normalisation does. Fake-looking but well-formed addresses pass: refusing
    them is Mailchimp's call, reported per record.
    """
    if not isinstance(email, str):
        return None
    email = email.strip()
    named = _NAMED_EMAIL_RE.match(email)
    if named:
        email = named.group(1)
    email = email.lower()
    return email if _EMAIL_RE.match(email) else None


# --------------------------------------------------------------------------- address
_ADDRESS_KEYS = ("addr1", "addr2", "city", "state", "zip", "country")


def address_parts(street, street2, city, zip, state, country_code):
    """Odoo's address in Mailchimp's form, complete or not: the six parts, or ""
    when it has none. Compared part by part with Mailchimp's; ``value_to_send``
    decides whether Mailchimp can take it."""
    address = {
        "addr1": _clean(street),
        "addr2": _clean(street2),
        "city": _clean(city),
        "state": _clean(state),
        "zip": _clean(zip),
        "country": _clean(country_code).upper(),
    }
    return address if any(address.values()) else ""


def state_label(code, name, uses_code, hints=()):
    """How to write an Odoo state in Mailchimp's address.

    What Mailchimp already holds for it wins when it names that state (its code
    or its name, compared without case, as the pull's lookup matches them):
    'Berlin' stays 'Berlin'. Otherwise the code where the country writes its
    addresses with state codes (``uses_code``: Odoo's address format has
    ``%(state_code)s``, e.g. 'IL' in the US), else the name ('Berlin', not
    Odoo's 'DE-BE', which nobody writes on a German address).
    """
    code, name = _clean(code), _clean(name)
    if not code and not name:
        return ""
    known = {part.lower() for part in (code, name) if part}
    for hint in hints:
        if _clean(hint) and _clean(hint).lower() in known:
            return _clean(hint)
    return code if uses_code and code else name or code


def address_from_mailchimp(value):
    """Mailchimp address (dict, or legacy string
    parts split by 2+ spaces) -> Odoo parts.

    Returns ``{street, street2, city, zip, state_name, country_code}`` with
    False for empty parts; ``state_name`` is whatever Mailchimp holds (a code
    such as "GA" or a name), to be matched against both by the caller. Legacy
    strings: 6 parts are addr1 addr2 city state zip country; with 4 or 5
    parts there is no addr2 (as Mailchimp and the sandbox read them).
    """
    if isinstance(value, str):
        parts = [
            part.strip() for part in re.split(r"\s{2,}", value.strip()) if part.strip()
        ]
        if len(parts) >= 6:
            value = dict(zip(_ADDRESS_KEYS, parts, strict=False))
        elif len(parts) >= 4:
            value = dict(
                zip(("addr1", "city", "state", "zip", "country"), parts, strict=False)
            )
        else:
            value = {"addr1": " ".join(parts)} if parts else {}
    value = value if isinstance(value, dict) else {}

    def part(key):
        return _clean(value.get(key)) or False

    country = part("country")
    return {
        "street": part("addr1"),
        "street2": part("addr2"),
        "city": part("city"),
        "zip": part("zip"),
        "state_name": part("state"),
        "country_code": country.upper() if country else False,
    }


def _clean(value):
    if value is None or value is False:
        return ""
    return str(value).strip()


# --------------------------------------------------------------------- value conversion
def is_empty(value):
    """None, False and "" (and empty containers) mean "no value"; 0 is a value."""
    if value is None or value is False:
        return True
    return isinstance(value, str | list | tuple | dict | set) and not value


def _date_pattern(merge_type, options):
    fmt = str(
        (options or {}).get("date_format") or DEFAULT_DATE_FORMATS[merge_type]
    ).upper()
    return fmt.replace("YYYY", "%Y").replace("MM", "%m").replace("DD", "%d"), fmt


def _as_date(value):
    """Odoo date/datetime values (objects or their ISO strings) -> date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.datetime.fromisoformat(str(value).strip()).date()
    except ValueError:
        raise MergeValueError(f"'{value}' is not a date.") from None


def _as_datetime(value):
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise MergeValueError(f"'{value}' is not a date and time.") from None


def _parse_mailchimp_date(value, merge_type, options):
    """A Mailchimp date/birthday string -> date (year 2000 for birthdays, a leap year).

    The field's own date_format is tried first; YYYY-MM-DD is also accepted
    because the API may hand dates back in ISO form whatever the display format.
    """
    if isinstance(value, dt.date):
        return _as_date(value)
    text = str(value).strip()
    pattern, fmt = _date_pattern(merge_type, options)
    if merge_type == "birthday":
        attempts = [(text + "/2000", pattern + "/%Y")]
    else:
        attempts = [(text, pattern)]
    attempts.append((text[:10], "%Y-%m-%d"))
    for candidate, candidate_pattern in attempts:
        try:
            parsed = dt.datetime.strptime(candidate, candidate_pattern).date()
        except ValueError:
            continue
        return parsed.replace(year=2000) if merge_type == "birthday" else parsed
    raise MergeValueError(f"'{text}' is not a date in the format {fmt}.")


def _format_date(value, merge_type, options):
    day = _as_date(value)
    pattern, _fmt = _date_pattern(merge_type, options)
    # strftime pads the year of early dates inconsistently across platforms
    return (
        pattern.replace("%Y", "%04d" % day.year)
        .replace("%m", "%02d" % day.month)
        .replace("%d", "%02d" % day.day)
    )


def _as_number(value):
    """A finite number; integral values become
    int so 3.0 and 3 compare and hash alike."""
    if isinstance(value, bool):
        raise MergeValueError(f"{value!r} is not a number.")
    if isinstance(value, int | float):
        number = value
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise MergeValueError(f"'{value}' is not a number.") from None
    if isinstance(number, float):
        if not math.isfinite(number):
            raise MergeValueError(f"'{value}' is not a number Mailchimp can store.")
        if number.is_integer():
            return int(number)
    return number


def _check_length(text, limit, what):
    if len(text) > limit:
        raise ValueTooLong(
            "The value is %d characters long; %s keeps at most %d. Shorten it in Odoo "
            "or Mailchimp." % (len(text), what, limit)
        )
    return text


def _name_of(value):
    """A many2one value as Odoo gives it ('name',
    (id, 'name') or a record) -> its name."""
    if isinstance(value, tuple | list):
        return str(value[1]) if len(value) > 1 else ""
    if hasattr(value, "display_name"):
        return str(value.display_name or "")
    return str(value)


def _selection_pairs(selection):
    if selection is None:
        raise TypeError(
            "Converting a selection value needs the Odoo field's selection."
        )
    return (
        list(selection.items())
        if isinstance(selection, dict)
        else [tuple(pair) for pair in selection]
    )


def _require(odoo_type, merge_type, pull):
    directions = allowed_directions(odoo_type, merge_type)
    if not (directions.can_pull if pull else directions.can_push):
        raise MappingError(
            "Values of an Odoo {} field are not {} a Mailchimp {} field.".format(
                _odoo_label(odoo_type),
                "read back from" if pull else "sent to",
                _merge_label(merge_type),
            )
        )


def to_mailchimp(value, odoo_type, merge_type, options=None, *, selection=None):
    """One Odoo value -> the merge value Mailchimp accepts (empty -> "").

    Use odoo_type "address" with a dict of address_parts' arguments (the
    address comes back with all its parts, complete or not: see
    ``value_to_send``), and "char" for the first/last name halves and the
    company. Raises ``MergeValueError``
    (``ValueTooLong``) for a value Mailchimp would refuse, so the sync records
    that contact as failed with the reason and goes on with the others.
    """
    _require(odoo_type, merge_type, pull=False)
    if odoo_type == "boolean":
        return "Yes" if value else "No"  # False is a value here, not "unknown"
    if is_empty(value):
        return ""
    if odoo_type == "address":
        return address_parts(
            **{
                key: value.get(key)
                for key in ("street", "street2", "city", "zip", "state", "country_code")
            }
        )
    if merge_type == "number":
        return _as_number(value)
    if merge_type in ("date", "birthday"):
        return _format_date(value, merge_type, options)
    if odoo_type == "selection":
        labels = dict(_selection_pairs(selection))
        if value not in labels:
            raise MergeValueError(f"'{value}' is not an option of the Odoo field.")
        text = str(labels[value])
        choices = (options or {}).get("choices") or []
        if merge_type in ("dropdown", "radio") and text not in choices:
            raise MergeValueError(
                "'{}' is not one of the Mailchimp field's choices ({}).".format(
                    text, ", ".join(choices)
                )
            )
    elif odoo_type in ("integer", "float", "monetary"):
        text = str(_as_number(value))
    elif odoo_type == "date":
        text = _as_date(value).isoformat()
    elif odoo_type == "datetime":
        text = _as_datetime(value).strftime("%Y-%m-%d %H:%M:%S")
    elif odoo_type == "many2one":
        text = _name_of(value)
    elif odoo_type == "many2many":
        text = ", ".join(
            name for name in (_name_of(item).strip() for item in value) if name
        )
    else:
        text = str(value)
    return _check_text(text, merge_type)


def _check_text(text, merge_type):
    """Mailchimp's own checks of the string types, made early for a clear reason."""
    if merge_type == "phone":
        text = text.strip()
        _check_length(text, PHONE_MAX_LENGTH, "a Mailchimp Phone field")
        if len(re.sub(r"\D", "", text)) < 3:
            raise MergeValueError(f"'{text}' is not a phone number Mailchimp accepts.")
        return text
    if merge_type in ("url", "imageurl"):
        text = text.strip()
        if text and "://" not in text:
            text = "http://" + text  # as Odoo itself completes a website
        if not _URL_RE.match(text):
            raise MergeValueError(f"'{text}' is not a web address Mailchimp accepts.")
    if merge_type == "zip":
        text = text.strip()
        if not _ZIP_RE.match(text):
            raise MergeValueError(
                f"'{text}' is not a US ZIP code; Mailchimp's Zip Code field takes "
                "12345 or 12345-6789 only. Map postcodes to a Text field or send them "
                "in the Address field."
            )
    return _check_length(text, MAILCHIMP_TEXT_LIMIT, "Mailchimp")


def from_mailchimp(
    value, odoo_type, merge_type, options=None, *, selection=None, size=None
):
    """One merge value -> the value to write in Odoo (empty -> False).

    many2one gives the name to resolve (e.g. with name_search); "address"
    always gives address_from_mailchimp's dict so empty parts clear Odoo's.
    ``size`` is the Odoo char field's size: longer text raises ``ValueTooLong``.
    """
    _require(odoo_type, merge_type, pull=True)
    if odoo_type == "address":
        return address_from_mailchimp(value)
    if is_empty(value):
        return False
    if odoo_type in ("integer", "float", "monetary"):
        number = _as_number(value)
        if odoo_type == "integer":
            if not isinstance(number, int):
                raise MergeValueError(f"'{value}' is not a whole number.")
            return number
        return float(number)
    if odoo_type == "date":
        if merge_type == "date":
            return _parse_mailchimp_date(value, merge_type, options)
        try:
            return dt.date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise MergeValueError(
                f"'{value}' is not a date written YYYY-MM-DD."
            ) from None
    text = str(value).strip() if odoo_type == "many2one" else str(value)
    if odoo_type == "selection":
        pairs = _selection_pairs(selection)
        for key, label in pairs:
            if label == text:
                return key
        for key, _label in pairs:
            if key == text:
                return key
        raise MergeValueError(
            "'{}' matches no option of the Odoo field ({}).".format(
                text, ", ".join(str(label) for _k, label in pairs)
            )
        )
    if size:
        _check_length(text, size, "the Odoo field")
    return text or False


def normalize_mailchimp(value, merge_type, options=None):
    """A merge value as read from Mailchimp (member or webhook) -> to_mailchimp's form.

    Needed before comparing with Odoo's side: dates may come back in ISO
    form, numbers as strings, addresses as legacy strings. Values that do not
    parse are returned as they are (they then simply differ).
    """
    if is_empty(value):
        return ""
    try:
        if merge_type == "number":
            return _as_number(value)
        if merge_type in ("date", "birthday"):
            return _format_date(
                _parse_mailchimp_date(value, merge_type, options), merge_type, options
            )
    except MergeValueError:
        return value
    if merge_type == "address":
        parts = address_from_mailchimp(value)
        return address_parts(
            parts["street"],
            parts["street2"],
            parts["city"],
            parts["zip"],
            parts["state_name"],
            parts["country_code"],
        )
    return value


def value_to_send(merge_type, value, mailchimp_value):
    """What to send Mailchimp for a value Odoo
    changed, or None when there is nothing to send.

    ``mailchimp_value`` is what Mailchimp holds as far as the sync knows (its
    normalised form; "" or None when nothing). Nothing is sent when Mailchimp
    already has the value. An address must be complete (street, city, state,
    zip) for Mailchimp: an address Odoo emptied clears Mailchimp's; one it
    cannot take is left out when Mailchimp has none (nothing is lost: there is
    nothing to overwrite) and otherwise raises ``MergeValueError``, so the
    contact is reported instead of Mailchimp's address being wiped.
    """
    if canonical(value) == canonical(mailchimp_value):
        return None
    if merge_type != "address" or not isinstance(value, dict):
        return value
    missing = [
        part
        for part in ("addr1", "city", "state", "zip")
        if not _clean(value.get(part))
    ]
    if not missing:
        return {
            key: _clean(value.get(key))
            if key != "country"
            else _clean(value.get(key)).upper()
            for key in _ADDRESS_KEYS
        }
    if is_empty(mailchimp_value):
        return None
    labels = {"addr1": "street", "city": "city", "state": "state", "zip": "zip"}
    raise MergeValueError(
        "Mailchimp needs a complete address (street, city, state and zip) and this one "
        "has no {}; Mailchimp keeps its own until the address is completed in "
        "Odoo.".format(" and no ".join(labels[part] for part in missing))
    )


# --------------------------------------------------------------------- change detection
def canonical(value):
    """A JSON-friendly form where equal merge values
    are equal (None/False -> "", 3.0 -> 3)."""
    if is_empty(value) and not isinstance(value, list | tuple):
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(key): canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def values_fingerprint(values):
    """A short stable hash of merge values, stored
    to tell cheaply whether anything changed."""
    payload = json.dumps(
        canonical(dict(values or {})),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
