"""Input rules Mailchimp enforces on contacts: email syntax, "fake" addresses
and merge-field values.

The fake-address rule is the sandbox's own stand-in for Mailchimp's opaque
anti-abuse check: local part exactly ``test``, ``fake`` or ``asdf``, or a
domain ending ``.invalid``, ``.test`` or ``.example`` (so ``example.com``
addresses stay valid).
"""

import re
from datetime import datetime

from .errors import invalid_resource

EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
FAKE_LOCAL_PARTS = {"test", "fake", "asdf"}
FAKE_SUFFIXES = (".invalid", ".test", ".example")

MERGE_TYPES = (
    "text",
    "number",
    "address",
    "phone",
    "date",
    "url",
    "imageurl",
    "radio",
    "dropdown",
    "birthday",
    "zip",
)
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
ZIP_RE = re.compile(r"^\d{5}(?:-\d{4})?$")


def email_problem(email):
    """Return the Mailchimp error detail for a bad address, or None if acceptable."""
    if not isinstance(email, str) or not EMAIL_RE.match(email.strip()):
        return "Please provide a valid email address."
    local, _, domain = email.strip().lower().rpartition("@")
    if local in FAKE_LOCAL_PARTS or domain.endswith(FAKE_SUFFIXES):
        return (
            f"{email.strip()} looks fake or invalid, please enter a real email address."
        )
    return None


def check_email(email):
    """Raise 400 Invalid Resource like Mailchimp for a bad or fake address."""
    problem = email_problem(email)
    if problem:
        raise invalid_resource(problem)
    return email.strip()


def _date_pattern(date_format):
    """Turn Mailchimp's ``MM/DD/YYYY``-style format into a strptime pattern."""
    fmt = (date_format or "MM/DD/YYYY").upper()
    return fmt.replace("YYYY", "%Y").replace("MM", "%m").replace("DD", "%d")


def _valid_date(value, date_format, with_year=True):
    pattern = _date_pattern(date_format)
    try:
        if with_year:
            datetime.strptime(value, pattern)
        else:
            datetime.strptime(value + "/2000", pattern + "/%Y")  # 2000 is a leap year
        return True
    except ValueError:
        return False


def _check_address(value, _opts):
    if isinstance(value, str):
        parts = [p.strip() for p in re.split(r"\s{2,}", value.strip())]
        if len(parts) >= 4:
            value = dict(
                zip(
                    ("addr1", "city", "state", "zip", "country"),
                    parts,
                    strict=False,
                )
            )
        else:
            return value, "Please enter a complete address"
    if not isinstance(value, dict):
        return value, "Please enter a complete address"
    missing = [
        k
        for k in ("addr1", "city", "state", "zip")
        if not str(value.get(k) or "").strip()
    ]
    if missing:
        return value, "Please enter a complete address (missing: {})".format(
            ", ".join(missing)
        )
    clean = {
        k: str(value.get(k) or "")
        for k in ("addr1", "addr2", "city", "state", "zip", "country")
    }
    clean["country"] = clean["country"] or "US"
    return clean, None


def _check_number(value, _opts):
    if isinstance(value, bool):
        return value, "Please enter a number"
    if isinstance(value, int | float):
        return value, None
    try:
        num = float(str(value).strip())
    except ValueError:
        return value, "Please enter a number"
    return (int(num) if num.is_integer() and "." not in str(value) else num), None


def _check_text(value, _opts):
    if len(value) > 255:
        return value, "Please enter a value of 255 characters or less"
    return value, None


def _check_choice(value, opts):
    if value not in (opts.get("choices") or []):
        return value, "Please choose one of the available options: {}".format(
            ", ".join(opts.get("choices") or [])
        )
    return value, None


def _check_date(value, opts):
    if not _valid_date(value, opts.get("date_format") or "MM/DD/YYYY"):
        return value, "Please enter the date in the format %s" % (
            opts.get("date_format") or "MM/DD/YYYY"
        )
    return value, None


def _check_birthday(value, opts):
    if not _valid_date(value, opts.get("date_format") or "MM/DD", with_year=False):
        return value, "Please enter the birthday in the format %s" % (
            opts.get("date_format") or "MM/DD"
        )
    return value, None


def _check_url(value, _opts):
    if not URL_RE.match(value):
        return value, "Please enter a valid URL"
    return value, None


def _check_zip(value, _opts):
    if not ZIP_RE.match(value.strip()):
        return value, "Please enter a valid zip code"
    return value.strip(), None


def _check_phone(value, _opts):
    if len(re.sub(r"\D", "", value)) < 3 or len(value) > 50:
        return value, "Please enter a valid phone number"
    return value, None


# the checks of the types whose value is text (the others take it as Mailchimp does)
_TEXT_CHECKS = {
    "text": _check_text,
    "radio": _check_choice,
    "dropdown": _check_choice,
    "date": _check_date,
    "birthday": _check_birthday,
    "url": _check_url,
    "imageurl": _check_url,
    "zip": _check_zip,
    "phone": _check_phone,
}


def check_merge_value(field, value):
    """Validate and normalise one merge value.
    Returns (value, error message or None)."""
    mtype = field["type"]
    opts = field.get("options") or {}
    if value is None or value == "":
        return "", None
    if mtype == "address":
        return _check_address(value, opts)
    if isinstance(value, dict | list):
        return value, "Please enter a single value"
    if mtype == "number":
        return _check_number(value, opts)
    value = str(value)
    check = _TEXT_CHECKS.get(mtype)
    return check(value, opts) if check else (value, None)


def validate_merge_fields(
    fields_by_tag, values, *, is_new, current=None, skip_required=False
):
    """Check ``merge_fields`` from a request against the audience's fields.

    Unknown tags are ignored (Mailchimp drops them silently).  A required field
    must end up non-empty unless ``skip_required``.  Returns (clean values,
    errors[{field, message}]).
    """
    values = values or {}
    if not isinstance(values, dict):
        return {}, [
            {
                "field": "merge_fields",
                "message": "Data did not match any of the schemas described in anyOf.",
            }
        ]
    clean, errors = {}, []
    for tag, value in values.items():
        field = fields_by_tag.get(tag)
        if field is None:
            continue
        norm, err = check_merge_value(field, value)
        if err:
            errors.append({"field": tag, "message": err})
        else:
            clean[tag] = norm
    if not skip_required:
        current = current or {}
        for tag, field in fields_by_tag.items():
            if not field.get("required"):
                continue
            final = clean[tag] if tag in clean else current.get(tag, "")
            if (tag in clean or is_new) and final in ("", None):
                errors.append({"field": tag, "message": "Please enter a value"})
    return clean, errors
