"""When a sync runs again after a run stopped on an error (plain Python, no Odoo).

A temporary error (throttling, a Mailchimp server error, a timeout, the network)
is tried again within minutes, waiting longer while it lasts; an error that
only a person can fix (a rejected or malformed API key) waits for that fix.
"""

from datetime import timedelta

from . import mailchimp_errors as mc_errors

# waits before the 1st, 2nd, 3rd, then every next try of a streak of failed runs
RETRY_MINUTES = (2, 5, 15, 30)
TRANSIENT_ERRORS = (
    mc_errors.MailchimpRateLimitError,
    mc_errors.MailchimpServerError,
    mc_errors.MailchimpNetworkError,  # timeouts included
)
KEY_ERRORS = (mc_errors.MailchimpAuthError, mc_errors.MailchimpConfigError)


def stop_kind(error):
    """Why a run stopped, as far as scheduling goes: "auth" when the account's key
    must be fixed first, "transient" when trying again later can succeed, else None
    (the next run comes at the usual time)."""
    if isinstance(error, KEY_ERRORS):
        return "auth"
    if isinstance(error, TRANSIENT_ERRORS):
        return "transient"
    return None


def retry_delay(streak, interval):
    """How long after the ``streak``-th failed run in a row (1 for the first) the
    next try comes: 2, 5, 15, then 30 minutes, never later than the sync's
    ``interval`` (a timedelta) would bring it."""
    if streak < 1:
        return interval
    minutes = RETRY_MINUTES[min(streak, len(RETRY_MINUTES)) - 1]
    return min(timedelta(minutes=minutes), interval)
