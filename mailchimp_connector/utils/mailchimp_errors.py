"""Typed Mailchimp errors, so callers react to the kind of failure, not to text.

Mailchimp answers errors with ``application/problem+json`` (type, title,
status, detail, instance, sometimes ``errors[{field, message}]``).  The sync
code must tell apart "fix your key" (auth), "this person cannot be subscribed"
(compliance), "this record is gone" (not found), "fix the data" (invalid
resource) and "try again later" (rate limit, server, network).  ``transient`` says
whether a later retry may work.

An error carries what Mailchimp said (status, title, detail, field errors, its
reference), not sentences for a person: those are written once, translated, where
they are shown (``mailchimp.account._mailchimp_error_message``).  ``lead`` is the
one line ``str()`` falls back to when there is nothing else to say (logs).
"""

import re

# Titles Mailchimp uses, normalised by _token(): "Member In Compliance State" ->
# "memberincompliancestate".  The glossary codes (the tail of `type`) use the same form.
_COMPLIANCE = {
    "memberincompliancestate",
    "forgottenemailnotsubscribed",
    "compliancerelated",
}
_INVALID_RESOURCE = {"invalidresource"}
_WRONG_DC = {"wrongdatacenter"}


def _token(value):
    """'API Key Invalid' / '...errors/#API-Key-Invalid' -> 'apikeyinvalid'."""
    if not value:
        return ""
    value = str(value).rstrip("/")
    value = re.split(r"[#/]", value)[-1]
    return re.sub(r"[^a-z0-9]", "", value.lower())


class MailchimpError(Exception):
    """Base class: a Mailchimp call did not give the expected answer.

    Attributes mirror the problem document: ``status``, ``title``, ``detail``,
    ``error_type`` (its ``type``), ``instance`` (the id to quote to Mailchimp
    support), ``errors`` (list of ``{field, message}``) and ``request_id``
    (the X-Request-Id header), plus ``method``/``path`` of the call, the
    number of ``attempts`` made and ``retry_after`` (seconds Mailchimp asked
    to wait, when it said so).
    """

    transient = False
    lead = "Mailchimp returned an error."

    def __init__(
        self,
        detail=None,
        *,
        status=None,
        title=None,
        error_type=None,
        instance=None,
        errors=None,
        request_id=None,
        method=None,
        path=None,
        attempts=1,
        retry_after=None,
    ):
        self.status = status
        self.title = title
        self.detail = detail
        self.error_type = error_type
        self.instance = instance
        self.errors = [
            {"field": e.get("field") or "", "message": e.get("message") or ""}
            for e in (errors or [])
            if isinstance(e, dict)
        ]
        self.request_id = request_id
        self.method = method
        self.path = path
        self.attempts = attempts
        self.retry_after = retry_after
        super().__init__(self._summary())

    def _summary(self):
        parts = []
        if self.status:
            parts.append(f"HTTP {self.status}")
        if self.title:
            parts.append(str(self.title))
        head = " ".join(parts)
        text = (
            f"{head}: {self.detail}"
            if head and self.detail
            else (head or self.detail or self.lead)
        )
        if self.errors:
            text += f" [{self._field_errors()}]"
        if self.method and self.path:
            text += f" ({self.method} {self.path})"
        return text

    def _field_errors(self):
        return "; ".join(
            "{}: {}".format(e["field"], e["message"]) if e["field"] else e["message"]
            for e in self.errors
        )


class MailchimpConfigError(MailchimpError):
    """The connector is misconfigured (malformed
    key, bad base URL); no request was sent."""

    lead = "The Mailchimp connection is not configured correctly."


class MailchimpAuthError(MailchimpError):
    """401, or 403 APIKeyInvalid/Forbidden/UserDisabled: the key is refused."""

    lead = "Mailchimp refused the API key."


class MailchimpWrongDatacenterError(MailchimpAuthError):
    """403 WrongDatacenter: the key belongs to
    another data center than the host called."""

    lead = (
        "The Mailchimp API key belongs to a different data center than the one that "
        "was called."
    )


class MailchimpNotFoundError(MailchimpError):
    """404: the audience, member or other resource does not exist (or was deleted)."""

    lead = "The requested record does not exist in Mailchimp."


class MailchimpComplianceError(MailchimpError):
    """400 Member In Compliance State / Forgotten Email Not Subscribed: never retry."""

    lead = "Mailchimp will not subscribe this address."


class MailchimpInvalidResourceError(MailchimpError):
    """400 Invalid Resource: the data was refused; ``errors`` says which fields."""

    lead = "Mailchimp rejected the data that was sent."


class MailchimpBadRequestError(MailchimpError):
    """Any other 4xx (Member Exists, Bad Request,
    Method Not Allowed...): retrying will not help."""

    lead = "Mailchimp rejected the request."


class MailchimpRateLimitError(MailchimpError):
    """429 (or a bare 403 under load) still returned after the allowed retries."""

    transient = True
    lead = "Mailchimp is limiting the number of requests right now."


class MailchimpServerError(MailchimpError):
    """5xx still returned after the allowed retries (502 may carry an HTML page)."""

    transient = True
    lead = "Mailchimp had a temporary problem and could not answer."


class MailchimpNetworkError(MailchimpError):
    """Mailchimp could not be reached (connection refused, DNS, TLS), after retries."""

    transient = True
    lead = "Mailchimp could not be reached."


class MailchimpTimeoutError(MailchimpNetworkError):
    """Mailchimp did not answer in time (connect
    or read timeout, or a batch still running)."""

    lead = "Mailchimp did not answer in time."


def error_class_for(status, title=None, error_type=None, empty_body=False):
    """Pick the exception class for an HTTP error
    from its status and problem title/type."""
    tokens = {_token(title), _token(error_type)} - {""}
    if status in (401, 403) and tokens & _WRONG_DC:
        return MailchimpWrongDatacenterError
    if status in (400, 403) and tokens & _COMPLIANCE:
        return MailchimpComplianceError
    if status in (401, 403):
        if status == 403 and empty_body:
            return MailchimpRateLimitError  # bare 403: throttling, not a key problem
        return MailchimpAuthError
    if status == 404:
        return MailchimpNotFoundError
    if status == 429:
        return MailchimpRateLimitError
    if status is not None and status >= 500:
        return MailchimpServerError
    if tokens & _INVALID_RESOURCE:
        return MailchimpInvalidResourceError
    if status is not None and 400 <= status < 500:
        return MailchimpBadRequestError
    return MailchimpError
