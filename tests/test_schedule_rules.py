"""When a sync runs again after a failed run (utils/schedule_rules.py)."""

from datetime import timedelta

import pytest

from mailchimp_utils import mailchimp_errors as errors
from mailchimp_utils.schedule_rules import retry_delay, stop_kind

HOUR = timedelta(hours=1)


def test_the_wait_grows_with_the_streak_then_stays_at_thirty_minutes():
    waits = [retry_delay(streak, HOUR) for streak in range(1, 8)]
    assert waits == [timedelta(minutes=m) for m in (2, 5, 15, 30, 30, 30, 30)]


def test_the_wait_never_exceeds_the_interval():
    assert retry_delay(4, timedelta(minutes=20)) == timedelta(minutes=20)
    assert retry_delay(1, timedelta(minutes=1)) == timedelta(minutes=1)
    assert retry_delay(0, HOUR) == HOUR  # no failure: the usual interval


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (errors.MailchimpRateLimitError("slow down", status=429), "transient"),
        (errors.MailchimpServerError("boom", status=503), "transient"),
        (errors.MailchimpTimeoutError("no answer"), "transient"),
        (errors.MailchimpNetworkError("refused"), "transient"),
        (errors.MailchimpAuthError("revoked", status=401), "auth"),
        (errors.MailchimpWrongDatacenterError("us6 vs us1", status=403), "auth"),
        (errors.MailchimpConfigError("malformed key"), "auth"),
        (errors.MailchimpNotFoundError("no such list", status=404), None),
        (errors.MailchimpBadRequestError("bad", status=400), None),
        (ValueError("a bug"), None),
    ],
)
def test_what_stopped_a_run(error, kind):
    assert stop_kind(error) == kind
