"""Webhook bodies, registration and URL checks
without Odoo (utils/webhook_events.py): F19."""

import datetime as dt
import logging
from urllib.parse import parse_qsl, urlencode

import pytest

from mailchimp_utils.webhook_events import (
    EVENTS,
    WebhookNotFollowed,
    WebhookParseError,
    WebhookTokenLogFilter,
    nest_form,
    parse_event,
    raw_body_problem,
    redact_webhook_paths,
    registration_payload,
    url_problem,
    webhook_url,
)


def form(fields):
    """As the server receives it: urlencoded, then parsed back into pairs."""
    return parse_qsl(urlencode(fields), keep_blank_values=True)


UNSUBSCRIBE = [
    ("type", "unsubscribe"),
    ("fired_at", "2009-03-26 21:40:57"),
    ("data[action]", "unsub"),
    ("data[reason]", "manual"),
    ("data[id]", "8a25ff1d98"),
    ("data[list_id]", "a6b5da1054"),
    ("data[email]", " Api+Unsub@Mailchimp.com "),
    ("data[email_type]", "html"),
    ("data[merges][EMAIL]", "api+unsub@mailchimp.com"),
    ("data[merges][FNAME]", "Mailchimp API"),
    ("data[merges][ADDRESS][city]", "Atlanta"),
    ("data[merges][INTERESTS]", "Group1,Group2"),
    ("data[ip_opt]", "10.20.10.30"),
    ("data[campaign_id]", "cb398d21d2"),
]


def test_unsubscribe_parsed_from_mailchimps_sample():
    event = parse_event(form(UNSUBSCRIBE))
    assert event.type == "unsubscribe"
    assert event.list_id == "a6b5da1054"
    assert event.email == "api+unsub@mailchimp.com"
    assert event.old_email == ""
    assert event.fired_at == dt.datetime(2009, 3, 26, 21, 40, 57)
    assert event.data["merges"]["FNAME"] == "Mailchimp API"
    assert event.data["merges"]["ADDRESS"] == {"city": "Atlanta"}
    assert event.data["reason"] == "manual"


def test_upemail_targets_the_new_address():
    event = parse_event(
        form(
            [
                ("type", "upemail"),
                ("fired_at", "2009-03-26 22:15:09"),
                ("data[list_id]", "a6b5da1054"),
                ("data[new_id]", "51aa6a3ed3"),
                ("data[new_email]", "New@Mailchimp.com"),
                ("data[old_email]", "old@mailchimp.com"),
            ]
        )
    )
    assert (event.type, event.email, event.old_email) == (
        "upemail",
        "new@mailchimp.com",
        "old@mailchimp.com",
    )


@pytest.mark.parametrize("kind", ["subscribe", "profile", "cleaned"])
def test_other_member_events_use_data_email(kind):
    event = parse_event(
        form([("type", kind), ("data[list_id]", "L1"), ("data[email]", "a@b.com")])
    )
    assert (event.type, event.list_id, event.email) == (kind, "L1", "a@b.com")
    assert event.fired_at is None  # missing: not an error


@pytest.mark.parametrize(
    "fields, reason",
    [
        (
            [("data[list_id]", "L1"), ("data[email]", "a@b.com")],
            "not a Mailchimp event",
        ),
        ([("type", "promotion"), ("data[list_id]", "L1")], "not a Mailchimp event"),
        ([("type", "unsubscribe"), ("data[email]", "a@b.com")], "list_id"),
        ([("type", "unsubscribe"), ("data[list_id]", "L1")], "address"),
        (
            [
                ("type", "profile"),
                ("data[list_id]", "L1"),
                ("data[email]", "not an email"),
            ],
            "address",
        ),
        (
            [
                ("type", "upemail"),
                ("data[list_id]", "L1"),
                ("data[new_email]", "n@b.com"),
            ],
            "old_email",
        ),
        ([("type", "subscribe"), ("data", "x")], "no data"),
        (
            [
                ("type", "subscribe"),
                ("data[list_id][x]", "L1"),
                ("data[email]", "a@b.com"),
            ],
            "list_id",
        ),
    ],
)
def test_bodies_that_are_not_member_events_are_refused(fields, reason):
    with pytest.raises(WebhookParseError, match=reason):
        parse_event(form(fields))


def test_a_campaign_event_is_a_delivery_the_sync_does_not_follow():
    with pytest.raises(WebhookNotFollowed):
        parse_event(
            form([("type", "campaign"), ("data[list_id]", "L1"), ("data[id]", "c1")])
        )
    # answered 200, not 400
    assert not issubclass(WebhookNotFollowed, WebhookParseError)


def test_raw_bodies_that_are_not_worth_parsing():
    form = "application/x-www-form-urlencoded"
    assert raw_body_problem(form, urlencode(UNSUBSCRIBE).encode()) is None
    assert raw_body_problem(form, b"&".join([b"a=b"] * 500)) is None
    assert "more than 500" in raw_body_problem(form, b"&".join([b"a=b"] * 501))
    assert "not a form" in raw_body_problem("application/json", b"{}")
    assert "not a form" in raw_body_problem("multipart/form-data", b"")


def test_nesting_limits():
    assert nest_form([("a[b][c]", "1"), ("a[b][d]", "2"), ("e", "3")]) == {
        "a": {"b": {"c": "1", "d": "2"}},
        "e": "3",
    }
    with pytest.raises(WebhookParseError, match="too deep"):
        nest_form([("a[1][2][3][4][5]", "x")])
    with pytest.raises(WebhookParseError, match="more than"):
        nest_form([(f"k{i}", "v") for i in range(501)])
    with pytest.raises(WebhookParseError, match="malformed"):
        nest_form([("a]b[", "x")])


def test_registration_listens_to_member_events_from_people_not_the_api():
    payload = registration_payload("https://odoo.example.com/mailchimp/webhook/tok")
    assert payload["url"] == "https://odoo.example.com/mailchimp/webhook/tok"
    assert {e for e, on in payload["events"].items() if on} == set(EVENTS)
    assert payload["events"]["campaign"] is False
    assert payload["sources"] == {"user": True, "admin": True, "api": False}


def test_webhook_url():
    assert webhook_url("https://erp.example.com/", "T0k") == (
        "https://erp.example.com/mailchimp/webhook/T0k"
    )


@pytest.mark.parametrize(
    "url, api, problem",
    [
        ("https://erp.example.com/mailchimp/webhook/t", None, None),
        (
            "http://erp.example.com/mailchimp/webhook/t",
            "https://us1.api.mailchimp.com/3.0",
            None,
        ),
        ("http://localhost:8069/mailchimp/webhook/t", None, "local"),
        (
            "http://localhost:8069/mailchimp/webhook/t",
            "https://{dc}.api.mailchimp.com/3.0",
            "local",
        ),
        ("http://127.0.0.1:8069/x", "https://us1.api.mailchimp.com/3.0", "local"),
        ("http://[::1]:8069/x", None, "local"),
        ("http://192.168.1.10/x", None, "local"),
        ("http://10.0.0.3/x", None, "local"),
        ("http://odoo:8069/x", None, "local"),
        ("http://erp.local/x", None, "local"),
        ("ftp://erp.example.com/x", None, "scheme"),
        ("erp.example.com/x", None, "scheme"),
        ("", None, "scheme"),
        # the sandbox runs next to Odoo: a local address is reachable from it
        ("http://127.0.0.1:8069/x", "http://127.0.0.1:8090/{dc}/3.0", None),
        ("http://odoo:8069/x", "http://mailchimp-sandbox:8090/{dc}/3.0", None),
    ],
)
def test_url_problem(url, api, problem):
    assert url_problem(url, api) == problem


def test_tokens_are_redacted_from_access_log_lines():
    line = '127.0.0.1 - - [x] "POST /mailchimp/webhook/AbC-_123 HTTP/1.1" 200 - 3'
    assert redact_webhook_paths(line) == (
        '127.0.0.1 - - [x] "POST /mailchimp/webhook/*** HTTP/1.1" 200 - 3'
    )
    assert (
        redact_webhook_paths("/mailchimp/webhook/tok?x=1")
        == "/mailchimp/webhook/***?x=1"
    )
    assert redact_webhook_paths("/web/login") == "/web/login"
    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - "%s" %s %s',
        ("127.0.0.1", "GET /mailchimp/webhook/SeCrEt HTTP/1.1", "200", "-"),
        None,
    )
    assert WebhookTokenLogFilter().filter(record)
    assert "SeCrEt" not in record.getMessage()
    assert "/mailchimp/webhook/*** HTTP/1.1" in record.getMessage()
    untouched = logging.LogRecord(
        "werkzeug", logging.INFO, __file__, 1, "%s", ("GET /web",), None
    )
    assert WebhookTokenLogFilter().filter(untouched)
    assert untouched.args == ("GET /web",)
