"""API-key and identity helpers for Mailchimp, kept free of any I/O.

The data center ("dc") lives in the key's suffix and decides the API host, so
a malformed key must be refused before any request is built. ``redact`` exists
because the key must never reach a log line, an exception or a cassette.
"""

import base64
import hashlib
import re

from .mailchimp_errors import MailchimpConfigError

# A Mailchimp API key is 32 hex characters, a dash and the data center (us6, us21...).
_KEY_RE = re.compile(r"^(?P<secret>[0-9a-fA-F]{32})-(?P<dc>[a-z]+[0-9]+)$")
REDACTED = "***"


def parse_api_key(api_key):
    """Return the data center of ``api_key`` (``"...-us6"`` -> ``"us6"``).

    Raises MailchimpConfigError with a message that says what is wrong and
    never repeats the key itself.
    """
    if not isinstance(api_key, str) or not api_key.strip():
        raise MailchimpConfigError("No Mailchimp API key was given.")
    key = api_key.strip()
    match = _KEY_RE.match(key)
    if match:
        return match.group("dc")
    if "-" not in key:
        reason = (
            "it has no data-center suffix; a Mailchimp API key ends with a dash and "
            "the data center, for example '-us6'"
        )
    else:
        secret, _sep, dc = key.rpartition("-")
        if not re.fullmatch(r"[a-z]+[0-9]+", dc):
            reason = "its suffix after the last dash is not a data center such as 'us6'"
        else:
            reason = (
                "the part before the data center should be 32 hexadecimal characters "
                "(it has %d characters)" % len(secret)
            )
    raise MailchimpConfigError(
        f"The Mailchimp API key is malformed: {reason}. Copy the whole key again from "
        "Mailchimp (Profile > Extras > API keys)."
    )


def basic_auth_token(username, api_key):
    """The base64 token that HTTP Basic auth puts on the wire for this key."""
    raw = f"{username}:{api_key}"
    return base64.b64encode(raw.encode("utf-8")).decode("ascii")


def redact(text, *secrets):
    """Return ``text`` with every secret replaced by ``***``.

    For an API key, its 32-hex part alone is hidden too, since a truncated
    copy of a key is still a key.
    """
    if text is None:
        return None
    text = str(text)
    for raw in secrets:
        if not raw:
            continue
        secret = str(raw).strip()
        variants = {secret}
        match = _KEY_RE.match(secret)
        if match:
            variants.add(match.group("secret"))
        for variant in sorted(variants, key=len, reverse=True):
            if len(variant) >= 8:  # never blank out trivial substrings
                text = text.replace(variant, REDACTED)
    return text


def subscriber_hash(email):
    """Mailchimp's member id: md5 of the trimmed, lower-cased email address."""
    if not isinstance(email, str) or not email.strip():
        raise ValueError("An email address is required to compute a subscriber hash.")
    return hashlib.md5(email.strip().lower().encode("utf-8")).hexdigest()
