"""Mailchimp's error model: application/problem+json documents.

Every failure the sandbox produces goes through ``ApiError`` so clients always
see ``{type, title, status, detail, instance}`` (plus ``errors[]`` on
validation failures) and never an HTML page, except where Mailchimp itself
answers with HTML (CDN 502) or an empty body (bare 403), which ``faults``
produces directly.
"""

from .constants import ERROR_DOC_URL

INVALID_RESOURCE_DETAIL = (
    "The resource submitted could not be validated. "
    "For field-specific details, see the 'errors' array."
)


class ApiError(Exception):
    """An error answer. ``status``/``title``/``detail`` go into the problem body."""

    def __init__(self, status, title, detail, errors=None, headers=None):
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    def body(self, instance):
        doc = {
            "type": ERROR_DOC_URL,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
        }
        if self.errors is not None:
            doc["errors"] = self.errors
        return doc


def not_found(detail="The requested resource could not be found."):
    return ApiError(404, "Resource Not Found", detail)


def method_not_allowed(allowed=None):
    headers = {"Allow": ", ".join(allowed)} if allowed else None
    return ApiError(
        405,
        "Method Not Allowed",
        "The requested method and resource are not compatible. "
        "See the Allow header for this resource's available methods.",
        headers=headers,
    )


def invalid_resource(detail=INVALID_RESOURCE_DETAIL, errors=None):
    return ApiError(400, "Invalid Resource", detail, errors=errors)


def field_errors(errors):
    """400 Invalid Resource listing ``[{field, message}]``."""
    return invalid_resource(INVALID_RESOURCE_DETAIL, errors)


def required(*names):
    return field_errors(
        [{"field": n, "message": "This value should not be blank."} for n in names]
    )


def bad_request(detail, errors=None):
    return ApiError(400, "Bad Request", detail, errors=errors)


def json_parse_error():
    return ApiError(
        400, "JSON Parse Error", "We encountered an unspecified JSON parsing error."
    )


def too_many_requests(detail):
    return ApiError(429, "Too Many Requests", detail)


def internal_error():
    return ApiError(
        500,
        "Internal Server Error",
        "An unexpected internal error has occurred. Please contact Support for more "
        "information.",
    )
